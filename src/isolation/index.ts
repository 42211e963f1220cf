export { runInWorkerThread, type ThreadToken, type WorkerThreadOptions } from './worker-thread.js';
