import { Worker } from 'node:worker_threads';

/**
 * The reference for the pooled runner: what `runInWorkerThread()` did before
 * the pools (jobterm 0.1): a fresh eval worker thread per call, that imports
 * the module, calls the export and exits.
 */
const CODE = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.module).then((mod) => mod[workerData.exportName](workerData.payload))
  .then((value) => parentPort.postMessage({ value }), (error) => parentPort.postMessage({ error: String(error) }));
`;

export async function freshThread(module: string, exportName: string, payload?: unknown): Promise<unknown> {
  // No loader, like the pooled isolates it is compared with (the module is plain JavaScript).
  const worker = new Worker(CODE, { eval: true, workerData: { module, exportName, payload }, execArgv: [] });
  try {
    const message = await new Promise<{ value?: unknown; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (message.error !== undefined) throw new Error(message.error);
    return message.value;
  } finally {
    await worker.terminate();
  }
}
