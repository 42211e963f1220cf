import { JOBTERM_VERSION } from '../core/version.js';
import { dashboardCommand } from './commands/dashboard.js';
import { jobsCommand } from './commands/jobs.js';
import { migrateCommand } from './commands/migrate.js';
import { requestsCommand } from './commands/requests.js';
import { terminateCommand } from './commands/terminate.js';
import { withdrawCommand } from './commands/withdraw.js';
import { workersCommand } from './commands/workers.js';
import { type Command, EXIT, type Io } from './common.js';

const COMMANDS: readonly Command[] = [
  migrateCommand,
  terminateCommand,
  withdrawCommand,
  requestsCommand,
  workersCommand,
  jobsCommand,
  dashboardCommand,
];

const HELP = `Usage: jobterm <command> [options]

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(11)} ${command.summary}`).join('\n')}

Run 'jobterm <command> --help' for a command's options; 'jobterm --version' for the version.
Every command takes --database-url (default: $DATABASE_URL).`;

/** Runs one command line and returns the exit code; never throws. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(`jobterm: no command given (see 'jobterm --help')`);
    return EXIT.usage;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout(JOBTERM_VERSION);
    return EXIT.ok;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = COMMANDS.find((command) => command.name === rest[0]);
    io.stdout(topic?.help ?? HELP);
    return EXIT.ok;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    io.stderr(`jobterm: unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
    return EXIT.usage;
  }
  return command.run([...rest], io);
}
