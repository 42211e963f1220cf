// Bad-input sweep (issue 10), part 1: every option and argument of the public
// functions that need no database, swept with fast-check. Each input is
// accepted or refused with a TypeError naming the field; nothing throws
// anything else, and nothing leaks (accepted terminators are closed).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { graphileWorkerAdapter, makeJobtermPreset, wrapTaskList } from '../../src/adapters/graphile-worker/index.js';
import { pgBossAdapter, pgBossJobterm } from '../../src/adapters/pg-boss/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { memoryProgressStore } from '../../src/core/progress.js';
import { iterate } from '../../src/iteration/index.js';
import { postgresStore } from '../../src/stores/postgres/index.js';
import { createTerminator } from '../../src/terminator/terminator.js';
import { acceptedOrNamed, acceptedOrNamedAsync, anyValue, hostileString } from './inputs.js';

const RUNS = { numRuns: 60 };
const URL_OK = 'postgres://nobody@127.0.0.1:1/nowhere';

/** `field` is refused or accepted under `key`; an unknown key is always refused, named. */
const someOptionKey = fc.string({ minLength: 1, maxLength: 12 });

describe('createTerminator(options)', () => {
  const KEYS = [
    'store',
    'progress',
    'shutdownTimeout',
    'killTimeout',
    'handleSignals',
    'adapters',
    'workerId',
    'logger',
  ];

  it.each(KEYS)('`%s`: any value is accepted or refused with a TypeError naming it', async (key) => {
    await fc.assert(
      fc.asyncProperty(anyValue, async (value) => {
        let terminator: ReturnType<typeof createTerminator> | undefined;
        const accepted = acceptedOrNamed(
          () => {
            terminator = createTerminator({ logger: silentLogger, [key]: value } as never);
          },
          key === 'adapters' && Array.isArray(value) && value.length > 0
            ? 'adapter'
            : key === 'logger'
              ? 'logger.debug'
              : key,
        );
        await terminator?.close();
        return accepted || terminator === undefined;
      }),
      RUNS,
    );
  });

  it('an unknown option is refused, named', () => {
    fc.assert(
      fc.property(
        someOptionKey.filter((k) => !KEYS.includes(k) && k !== '__proto__'),
        anyValue,
        (key, value) => {
          expect(acceptedOrNamed(() => createTerminator({ [key]: value } as never), key)).toBe(false);
        },
      ),
      RUNS,
    );
  });

  it('a non-object is refused, named `options`', () => {
    fc.assert(
      fc.property(
        anyValue.filter((v) => typeof v !== 'object' || v === null),
        (value) => {
          if (value === undefined) return;
          expect(acceptedOrNamed(() => createTerminator(value as never), 'options')).toBe(false);
        },
      ),
      RUNS,
    );
  });
});

describe('terminator.terminate(ref, options), terminator.run(ref, job, options), shutdown(options)', () => {
  const terminator = createTerminator({ logger: silentLogger, progress: memoryProgressStore() });
  const ref = { queue: 'custom', id: '1' };

  it.each(['queue', 'id', 'name'])('ref.%s: any value is accepted or refused, named `job.<part>`', async (part) => {
    await fc.assert(
      fc.asyncProperty(anyValue, async (value) => {
        await acceptedOrNamedAsync(() => terminator.terminate({ ...ref, [part]: value } as never), `job.${part}`);
        await acceptedOrNamedAsync(
          () => terminator.run({ ...ref, [part]: value } as never, () => 'done'),
          `job.${part}`,
        );
      }),
      RUNS,
    );
  });

  it('a ref that is not an object is refused, named `job`', async () => {
    await fc.assert(
      fc.asyncProperty(
        anyValue.filter((v) => typeof v !== 'object' || v === null),
        async (value) => {
          await expect(acceptedOrNamedAsync(() => terminator.terminate(value as never), 'job')).resolves.toBe(false);
        },
      ),
      RUNS,
    );
  });

  it.each(['reason', 'requestedBy', 'wait', 'timeout', 'signal'])(
    'terminate() option `%s`: accepted or refused, named',
    async (key) => {
      await fc.assert(
        fc.asyncProperty(anyValue, async (value) => {
          // No store and no such job running: an accepted call answers not_found at once.
          await acceptedOrNamedAsync(() => terminator.terminate(ref, { [key]: value } as never), key);
        }),
        RUNS,
      );
    },
  );

  it('run(): a job that is not a function, and any maxRuntime, are accepted or refused, named', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, anyValue, async (job, maxRuntime) => {
        await acceptedOrNamedAsync(() => terminator.run(ref, job as never), 'job');
        await acceptedOrNamedAsync(() => terminator.run(ref, () => 1, { maxRuntime } as never), 'maxRuntime');
      }),
      RUNS,
    );
    expect(terminator.running()).toEqual([]);
  });

  it('shutdown({ timeout }): accepted or refused, named (on a terminator of its own)', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, async (timeout) => {
        const own = createTerminator({ logger: silentLogger });
        await acceptedOrNamedAsync(() => own.shutdown({ timeout } as never), 'timeout');
        await own.close();
      }),
      { numRuns: 30 },
    );
  });
});

describe('iterate(options), inside a job', () => {
  const terminator = createTerminator({ logger: silentLogger, progress: memoryProgressStore() });
  const valid = {
    source: () => [{ item: 1, cursor: 1 }],
    each: () => undefined,
  };
  const KEYS = ['source', 'each', 'progress', 'job', 'saveEvery', 'maxRuntime', 'throttle'] as const;

  it.each(KEYS)('`%s`: accepted or refused with a TypeError naming it', async (key) => {
    await fc.assert(
      fc.asyncProperty(anyValue, async (value) => {
        let n = 0;
        const outcome = await terminator.run({ queue: 'custom', id: `iterate-${key}-${n++}` }, () =>
          acceptedOrNamedAsync(() => iterate({ ...valid, [key]: value } as never), fieldFor(key, value)),
        );
        // The sweep's own assertion failed inside the job: surface it.
        if (outcome.status === 'failed') throw outcome.error;
      }),
      RUNS,
    );
  });

  // Found by this sweep (fixed here): iterate() called its hooks and used `progress` and what
  // `source` returned without checking them, failing with "options.onStart is not a function".
  it.each(['onStart', 'onResume', 'onInterrupt', 'onComplete'])(
    '`%s` that is not a function is refused, named',
    async (key) => {
      const outcome = await terminator.run({ queue: 'custom', id: `iterate-${key}` }, () =>
        acceptedOrNamedAsync(() => iterate({ ...valid, [key]: 5 } as never), key),
      );
      if (outcome.status === 'failed') throw outcome.error;
      expect(outcome).toEqual({ status: 'completed', value: false });
    },
  );

  it.each([null, 0, 'x', () => 1])('`throttle: %s` (not an object) is refused, named `throttle`', async (value) => {
    const outcome = await terminator.run({ queue: 'custom', id: 'iterate-throttle-shape' }, () =>
      acceptedOrNamedAsync(() => iterate({ ...valid, throttle: value } as never), 'throttle'),
    );
    if (outcome.status === 'failed') throw outcome.error;
    expect(outcome).toEqual({ status: 'completed', value: false });
  });

  it('a `source` that returns no iterable is refused, named', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, async (returned) => {
        const outcome = await terminator.run({ queue: 'custom', id: 'iterate-source-return' }, () =>
          acceptedOrNamedAsync(() => iterate({ ...valid, source: () => returned } as never), 'source'),
        );
        if (outcome.status === 'failed') throw outcome.error;
      }),
      RUNS,
    );
  });
});

function fieldFor(key: string, value: unknown): string {
  if (key === 'saveEvery') {
    const v = value as { items?: unknown; ms?: unknown } | null;
    return typeof v === 'object' && v !== null && v.items !== undefined ? 'saveEvery.items' : 'saveEvery.ms';
  }
  if (key === 'throttle') {
    // Found by this sweep: `throttle: null` failed with the raw "Cannot read properties of null".
    if (typeof value !== 'object' || value === null) return 'throttle';
    return typeof (value as { when?: unknown }).when === 'function' ? 'throttle.delay' : 'throttle.when';
  }
  if (key === 'job') return typeof value === 'object' && value !== null ? 'job.queue' : 'job';
  return key;
}

describe('postgresStore(options)', () => {
  const KEYS = [
    'connectionString',
    'pool',
    'schema',
    'migrate',
    'receiveRequests',
    'pollInterval',
    'requestTtl',
    'pruneInterval',
    'reconnectDelay',
    'maxReconnectDelay',
    'connectionTimeout',
  ];

  it.each(KEYS)('`%s`: accepted or refused with a TypeError naming it, and never echoes a password', async (key) => {
    await fc.assert(
      fc.asyncProperty(anyValue, async (value) => {
        const options: Record<string, unknown> =
          key === 'pool' ? { pool: value } : { connectionString: URL_OK, logger: silentLogger, [key]: value };
        let store: ReturnType<typeof postgresStore> | undefined;
        try {
          store = postgresStore(options as never);
        } catch (error) {
          const message = String((error as Error).message);
          expect(message).not.toContain('nobody@');
          expect((error as Error).name).toBe('TypeError');
          expect(message).toMatch(key === 'pool' ? /`(pool|options)`/ : new RegExp(`\`(${key}|options)\``));
        }
        await store?.close();
      }),
      RUNS,
    );
  });
});

describe("the adapters' factories", () => {
  const terminator = createTerminator({ logger: silentLogger });

  it('makeJobtermPreset / wrapTaskList: terminator, maxRuntime, schema', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        acceptedOrNamed(() => makeJobtermPreset({ terminator: value } as never), 'terminator');
        acceptedOrNamed(() => makeJobtermPreset({ terminator, maxRuntime: value } as never), 'maxRuntime');
        acceptedOrNamed(() => wrapTaskList({}, { terminator, schema: value } as never), 'schema');
        acceptedOrNamed(() => wrapTaskList(value as never, { terminator }), 'tasks');
      }),
      RUNS,
    );
  });

  it('graphileWorkerAdapter / pgBossAdapter: connectionString, schema, pool', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, async (value) => {
        const made: Array<{ close?: () => Promise<void> }> = [];
        const keep = <T extends object>(adapter: T) => {
          made.push(adapter as never);
          return adapter;
        };
        acceptedOrNamed(() => keep(graphileWorkerAdapter({ connectionString: value } as never)), 'connectionString');
        acceptedOrNamed(
          () => keep(graphileWorkerAdapter({ connectionString: URL_OK, schema: value } as never)),
          'schema',
        );
        acceptedOrNamed(() => keep(graphileWorkerAdapter({ pool: value } as never)), 'pool');
        acceptedOrNamed(() => keep(pgBossAdapter({ connectionString: value } as never)), 'connectionString');
        acceptedOrNamed(() => keep(pgBossAdapter({ connectionString: URL_OK, schema: value } as never)), 'schema');
        acceptedOrNamed(() => keep(pgBossAdapter({ boss: value } as never)), 'boss');
        await Promise.all(made.map((adapter) => adapter.close?.()));
      }),
      RUNS,
    );
  });

  it('pgBossJobterm: boss, terminator, schema, stopBoss, maxRuntime', async () => {
    // A real PgBoss, never started: pgBossJobterm() checks its options before it touches the boss.
    const { PgBoss } = await import('pg-boss');
    const boss = new PgBoss({ connectionString: URL_OK });
    fc.assert(
      fc.property(anyValue, fc.constantFrom('boss', 'terminator', 'schema', 'stopBoss', 'maxRuntime'), (value, key) => {
        const own = createTerminator({ logger: silentLogger });
        acceptedOrNamed(
          () => pgBossJobterm({ boss, terminator: own, [key]: value } as never),
          key === 'stopBoss' && typeof value === 'object' && value !== null ? 'stopBoss.timeout' : key,
        );
        void own.close();
      }),
      RUNS,
    );
  });

  it('strings for schema names: SQL fragments never pass', () => {
    fc.assert(
      fc.property(hostileString, (schema) => {
        const accepted = acceptedOrNamed(
          () => postgresStore({ connectionString: URL_OK, schema, logger: silentLogger }),
          'schema',
        );
        if (accepted) expect(schema).toMatch(/^[a-z_][a-z0-9_]*$/);
      }),
      RUNS,
    );
  });
});
