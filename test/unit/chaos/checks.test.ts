// The chaos suite's judge must itself be able to fail: each violation, fed a
// timeline that commits it, is reported, and the allowed re-runs are counted,
// not reported.
import { describe, expect, it } from 'vitest';
import type { FinalState } from '../../chaos/adapters/types.js';
import { type ChaosData, type Disturbance, judge } from '../../chaos/checks.js';
import type { ChaosPayload } from '../../chaos/jobs.js';
import type { EventRow } from '../../chaos/schema.js';

const completed: FinalState = { state: 'completed', locked: false, detail: 'row deleted' };
const terminated: FinalState = { state: 'terminated', locked: false, detail: 'attempts 50/50' };

function data(overrides: Partial<ChaosData> & { payload?: ChaosPayload }): ChaosData {
  const payload = overrides.payload ?? { key: 'k', kind: 'plain', ms: 100 };
  return {
    queue: 'q',
    jobs: new Map([['1', payload]]),
    events: [],
    items: [],
    requests: [],
    calls: [],
    workers: [],
    finals: new Map([['1', completed]]),
    lockedAfterCleanExit: [],
    ...overrides,
  };
}

const ev = (
  event: EventRow['event'],
  at: number,
  detail: Record<string, unknown> = {},
  run = 'r1',
  pid = 10,
): EventRow => ({
  job_id: '1',
  run_id: run,
  event,
  pid,
  at_ms: at,
  detail,
});

describe('judge()', () => {
  it('a plain task that ran once and completed: no violation', () => {
    const verdict = judge(data({ events: [ev('start', 1), ev('body-end', 2, { how: 'returned', saw: false })] }));
    expect(verdict.violations).toEqual([]);
    expect(verdict.figures.runs).toBe(1);
  });

  it('(b) a plain task that returned during a shutdown, was put back and ran again', () => {
    const verdict = judge(
      data({
        events: [
          ev('start', 1),
          ev('body-end', 2, { how: 'returned', saw: false }),
          ev('settled', 3, { status: 'interrupted', kind: 'shutdown', escalated: false }),
          ev('start', 4, {}, 'r2', 11),
          ev('body-end', 5, { how: 'returned', saw: false }, 'r2', 11),
        ],
      }),
    );
    expect(verdict.violations.join('\n')).toMatch(
      /\(b\).*returned normally without seeing its termination, yet was recorded interrupted/,
    );
  });

  it('a re-run after a SIGKILL is counted, not a violation', () => {
    const verdict = judge(
      data({
        events: [
          ev('start', 1),
          ev('start', 4, {}, 'r2', 11),
          ev('body-end', 5, { how: 'returned', saw: false }, 'r2', 11),
        ],
        workers: [{ pid: 10, killedWith: 'SIGKILL', messages: [], stderrTail: '' }],
      }),
    );
    expect(verdict.violations).toEqual([]);
    expect(verdict.figures['recovery re-runs (after SIGKILL)']).toBe(1);
  });

  it('(b) a job that completed runs again without its worker dying', () => {
    const verdict = judge(
      data({
        payload: { key: 'k', kind: 'loop', ms: 100 },
        events: [ev('start', 1), ev('body-end', 2, { how: 'returned', saw: false }), ev('start', 4, {}, 'r2')],
      }),
    );
    expect(verdict.violations.join('\n')).toMatch(/ran again \(run 2\) after it completed/);
  });

  describe("a re-run after the queue's own completion write was cut", () => {
    // Seed 74123222: the body returned, 2 ms later the controller killed an idle pool connection of
    // that worker, and pg-boss, its complete() failed, failed the job and ran it again (retry_count 1).
    const rerun = (disturbances: Disturbance[]) =>
      judge(
        data({
          events: [
            ev('start', 1_000),
            ev('body-end', 2_000, { how: 'returned', saw: false }),
            ev('start', 2_010, {}, 'r2'),
            ev('body-end', 3_000, { how: 'returned', saw: false }, 'r2'),
          ],
          disturbances,
        }),
      );

    it('is counted, not a violation, when a pool connection of its worker was killed as it returned', () => {
      const verdict = rerun([{ at: 2_002, what: 'killed its pool connection (idle: WITH next AS ...)', pid: 10 }]);
      expect(verdict.violations).toEqual([]);
      expect(verdict.figures["re-runs after the queue's completion write was cut"]).toBe(1);
      expect(verdict.notes.join('\n')).toMatch(/run 2 follows a completion whose write was cut: killed its pool/);
    });

    it('is counted when PostgreSQL was restarting as it returned', () => {
      const verdict = rerun([
        { at: 1_500, what: 'PostgreSQL restart begins' },
        { at: 2_800, what: 'PostgreSQL back' },
      ]);
      expect(verdict.violations).toEqual([]);
    });

    it("stays a violation when the kill was another worker's, or came too late to cut the write", () => {
      for (const disturbances of [
        [{ at: 2_002, what: 'killed its pool connection (idle: ...)', pid: 11 }],
        [{ at: 2_002, what: 'killed its listener connection (idle: LISTEN ...)', pid: 10 }],
        [{ at: 2_600, what: 'killed its pool connection (idle: ...)', pid: 10 }],
        [
          { at: 500, what: 'PostgreSQL restart begins' },
          { at: 900, what: 'PostgreSQL back' },
        ],
      ]) {
        const verdict = rerun(disturbances);
        expect(verdict.violations.join('\n')).toMatch(/ran again \(run 2\) after it completed/);
        expect(verdict.violations.join('\n')).toMatch(/a plain task completed 2 times/);
      }
    });
  });

  it("a violated job's timeline shows the disturbances and its workers' errors around it, not others'", () => {
    const verdict = judge(
      data({
        events: [
          ev('start', 1_000),
          ev('body-end', 2_000, { how: 'returned', saw: false }),
          ev('start', 12_000, {}, 'r2', 11),
        ],
        disturbances: [
          { at: 1_500, what: 'SIGTERM', pid: 10 },
          { at: 1_900, what: 'killed its pool connection (active: UPDATE pgboss.job)', pid: 12 },
          { at: 30_000, what: 'SIGKILL', pid: 10 },
        ],
        workers: [
          {
            pid: 10,
            killedWith: 'SIGTERM',
            messages: [
              { event: 'queue-error', at: 2_100, error: 'Connection terminated unexpectedly' },
              { event: 'shutdown-end', at: 2_200 },
            ],
            stderrTail: '',
          },
          { pid: 12, messages: [{ event: 'queue-error', at: 1_950, error: 'not this job' }], stderrTail: '' },
        ],
      }),
    );
    const timeline = verdict.timelines.join('\n');
    expect(timeline).toMatch(/\+500 ms {2}controller: pid 10 \(ran this job\) SIGTERM/);
    expect(timeline).toMatch(/\+900 ms {2}controller: pid 12 killed its pool connection/);
    expect(timeline).toMatch(/\+1100 ms pid 10 reported queue-error .*Connection terminated unexpectedly/);
    expect(timeline).not.toMatch(/SIGKILL|not this job|shutdown-end/);
    // In time order, after the job's own events.
    expect(timeline.indexOf('SIGTERM')).toBeGreaterThan(timeline.indexOf('+0 ms pid 10 start'));
    expect(timeline.indexOf('SIGTERM')).toBeLessThan(timeline.indexOf('body-end'));
  });
  it('(a) a start after the kill was confirmed, and a confirmed kill that the queue ends completed', () => {
    const verdict = judge(
      data({
        events: [ev('start', 100)],
        calls: [{ jobId: '1', wait: true, at: 10, endedAt: 50, status: 'terminated' }],
        finals: new Map([['1', completed]]),
      }),
    );
    const all = verdict.violations.join('\n');
    expect(all).toMatch(/\(a\).*started on pid 10 50 ms after it was confirmed terminated/);
    expect(all).toMatch(/\(a\).*confirmed terminated, but the queue ends it completed/);
  });

  it('(b) an untargeted job that does not complete; (c) one left active; (d) an open request for an ended job', () => {
    expect(judge(data({ finals: new Map([['1', terminated]]) })).violations.join('\n')).toMatch(
      /\(b\).*never targeted/,
    );
    expect(
      judge(data({ finals: new Map([['1', { state: 'active', locked: true, detail: 'active' }]]) })).violations.join(
        '\n',
      ),
    ).toMatch(/\(c\)/);
    const open = judge(
      data({
        requests: [{ job_id: '1', status: 'pending', outcome: null, resolved_at_ms: null, requested_at_ms: 1 }],
      }),
    );
    expect(open.violations.join('\n')).toMatch(/\(d\).*still pending, the job ended completed/);
  });

  it('(e) an iterated job that skipped an item', () => {
    const verdict = judge(
      data({
        payload: { key: 'k', kind: 'iterate', ms: 0, items: 4 },
        items: [0, 1, 3].map((item) => ({ job_id: '1', item })),
      }),
    );
    expect(verdict.violations.join('\n')).toMatch(/\(e\).*items 2 of 0\.\.3 never processed/);
  });

  it('(f) a crash, a leak warning, an unexpected exit code', () => {
    const verdict = judge(
      data({
        events: [ev('start', 1), ev('body-end', 2, { how: 'returned', saw: false })],
        workers: [
          {
            pid: 10,
            killedWith: 'SIGTERM',
            exit: { code: 1, signal: null },
            messages: [
              { event: 'crash', what: 'unhandledRejection', error: 'boom' },
              { event: 'warning', name: 'MaxListenersExceededWarning', message: '11 abort listeners' },
            ],
            stderrTail: '',
          },
        ],
      }),
    );
    const all = verdict.violations.join('\n');
    expect(all).toMatch(/\(f\).*unhandledRejection/);
    expect(all).toMatch(/\(f\).*leaked listeners/);
    expect(all).toMatch(/\(f\).*exited with code 1/);
    expect(all).toMatch(/\(f\).*no shutdown-end/);
    expect(verdict.figures.crashes).toBe(2);
  });
});
