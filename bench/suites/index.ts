import type { BenchSuite } from '../lib/types.js';

/** Every suite `npm run bench` runs, in order. Add new ones here. */
export const suites: BenchSuite[] = [];
