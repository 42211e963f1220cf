// The `jobterm` bin. Sets the exit code and lets the process end by itself, so
// stdout is flushed and a leaked timer or connection would show as a hang in tests.
import { runCli } from './cli.js';

runCli(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`jobterm: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 3;
  },
);
