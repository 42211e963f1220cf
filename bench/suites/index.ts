import type { BenchSuite } from '../lib/types.js';
import { escalationSuite } from './escalation.js';
import { graphileWorkerSuite } from './graphile-worker.js';
import { growthSuite } from './growth.js';
import { instructionsSuite } from './instructions.js';
import { iterateSuite } from './iterate.js';
import { iterateShutdownSuite } from './iterate-shutdown.js';
import { killDelivery } from './kill-delivery.js';
import { pgBossSuite } from './pg-boss.js';

/** Every suite `npm run bench` runs, in order. Add new ones here. */
export const suites: BenchSuite[] = [
  iterateSuite,
  iterateShutdownSuite,
  escalationSuite,
  killDelivery,
  pgBossSuite,
  graphileWorkerSuite,
  growthSuite,
  instructionsSuite,
];
