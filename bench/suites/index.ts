import type { BenchSuite } from '../lib/types.js';
import { bullmqSuite } from './bullmq.js';
import { dashboardSuite } from './dashboard.js';
import { escalationSuite } from './escalation.js';
import { fleetSuite } from './fleet.js';
import { graphileWorkerSuite } from './graphile-worker.js';
import { growthSuite } from './growth.js';
import { hotPathSuite } from './hot-path.js';
import { instructionsSuite } from './instructions.js';
import { isolationSuite } from './isolation.js';
import { iterateSuite } from './iterate.js';
import { iterateShutdownSuite } from './iterate-shutdown.js';
import { killDelivery } from './kill-delivery.js';
import { pgBossSuite } from './pg-boss.js';
import { roundTripsSuite } from './round-trips.js';

/** Every suite `npm run bench` runs, in order. Add new ones here. */
export const suites: BenchSuite[] = [
  iterateSuite,
  iterateShutdownSuite,
  escalationSuite,
  killDelivery,
  pgBossSuite,
  hotPathSuite,
  graphileWorkerSuite,
  isolationSuite,
  bullmqSuite,
  fleetSuite,
  dashboardSuite,
  growthSuite,
  roundTripsSuite,
  instructionsSuite,
];
