// The four kinds of job the chaos suite runs, the same on every adapter.
// Each body logs its start and its end (awaited, so the log is in the table
// before the queue hears of the ending), and says whether it saw its
// termination: the check for "a normal return is the job's completion unless
// the job saw its termination first" (DESIGN.md) needs to know.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminating, throwIfTerminating } from '../../src/core/context.js';
import { isJobTerminatedError } from '../../src/core/errors.js';
import { iterate } from '../../src/iteration/index.js';
import type { EventLog } from './event-log.js';

export type JobKind =
  /** Knows nothing of jobterm: sleeps `ms` (always shorter than shutdownTimeout) and returns. */
  | 'plain'
  /** Steps every 25 ms for `ms`, checking isTerminating(); once it sees it, throws (or returns, `returnOnSee`). */
  | 'loop'
  /** iterate() over `items` items of `itemMs` each, cursor saved every 3, optionally a `maxRuntime`. */
  | 'iterate'
  /** Ignores its token for `ms`, longer than killTimeout (and sometimes than shutdownTimeout), then returns. */
  | 'stubborn';

export interface ChaosPayload {
  readonly key: string;
  readonly kind: JobKind;
  readonly ms: number;
  readonly returnOnSee?: boolean;
  readonly items?: number;
  readonly itemMs?: number;
  readonly maxRuntime?: number;
}

/** How a body ended, as logged in `body-end`. */
export type BodyEnd = 'returned' | 'returned-after-seeing' | 'threw-termination' | 'threw-error';

/** Runs one job body for the job `jobId` (the queue's id). Call it inside a job that jobterm runs. */
export async function runChaosJob(payload: ChaosPayload, jobId: string, log: EventLog): Promise<unknown> {
  const runId = randomUUID();
  await log.event(jobId, runId, 'start', { kind: payload.kind, key: payload.key });
  let saw = false;
  let how: BodyEnd = 'returned';
  try {
    switch (payload.kind) {
      case 'plain':
      case 'stubborn':
        await sleep(payload.ms);
        break;
      case 'loop': {
        const until = Date.now() + payload.ms;
        while (Date.now() < until) {
          if (isTerminating()) {
            saw = true;
            if (payload.returnOnSee) {
              how = 'returned-after-seeing';
              break;
            }
            throwIfTerminating();
          }
          await sleep(25);
        }
        break;
      }
      case 'iterate': {
        const items = payload.items ?? 20;
        await iterate<number, number>({
          *source(cursor) {
            for (let i = cursor === undefined ? 0 : cursor + 1; i < items; i++) yield { item: i, cursor: i };
          },
          each: async (item) => {
            await sleep(payload.itemMs ?? 40);
            await log.item(jobId, item, runId);
          },
          saveEvery: { items: 3 },
          ...(payload.maxRuntime === undefined ? {} : { maxRuntime: payload.maxRuntime }),
        });
        break;
      }
    }
  } catch (error) {
    const terminated = isJobTerminatedError(error);
    await log.event(jobId, runId, 'body-end', {
      how: terminated ? 'threw-termination' : 'threw-error',
      saw: saw || terminated,
      ...(terminated ? {} : { error: String(error) }),
    });
    throw error;
  }
  await log.event(jobId, runId, 'body-end', { how, saw });
  return { key: payload.key };
}
