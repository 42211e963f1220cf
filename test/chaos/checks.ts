// The chaos suite's verdict: from what the workers logged (chaos.events,
// chaos.items), the kill requests, what terminate() answered, what the
// controller did to processes, and the queue's own final rows, it finds every
// violation of DESIGN.md's semantics and counts the re-runs that are allowed.
// Pure: no database, so a failing run's data can be re-checked by hand.
import type { FinalState } from './adapters/types.js';
import type { ChaosPayload } from './jobs.js';
import type { EventRow } from './schema.js';

export interface RequestRow {
  job_id: string;
  status: string;
  outcome: string | null;
  resolved_at_ms: number | null;
  requested_at_ms: number;
}

export interface TerminateCall {
  jobId: string;
  wait: boolean;
  at: number;
  /** When the call resolved or rejected. */
  endedAt: number;
  status?: string;
  error?: string;
}

export interface WorkerRecord {
  readonly pid: number;
  /** How the controller ended it, if it did. */
  readonly killedWith?: 'SIGKILL' | 'SIGTERM';
  readonly exit?: { code: number | null; signal: string | null };
  readonly messages: ReadonlyArray<{ event: string } & Record<string, unknown>>;
  readonly stderrTail: string;
}

/** Something the controller did to the workers or the database, to read beside a violation. */
export interface Disturbance {
  readonly at: number;
  readonly what: string;
  /** The worker it was done to, when it was done to one. */
  readonly pid?: number;
}

export interface ChaosData {
  readonly queue: string;
  readonly jobs: ReadonlyMap<string, ChaosPayload>;
  readonly events: readonly EventRow[];
  readonly items: ReadonlyArray<{ job_id: string; item: number }>;
  readonly requests: readonly RequestRow[];
  readonly calls: readonly TerminateCall[];
  readonly workers: readonly WorkerRecord[];
  readonly finals: ReadonlyMap<string, FinalState>;
  /** Rows a worker still held locked right after its clean exit (graphile-worker), by pid. */
  readonly lockedAfterCleanExit: ReadonlyArray<{ pid: number; ids: string[] }>;
  readonly disturbances?: readonly Disturbance[];
}

export interface Verdict {
  readonly violations: string[];
  /** For each job named in a violation, its logged timeline, to read with the violation. */
  readonly timelines: string[];
  readonly figures: Record<string, number>;
  /** Allowed but worth reading: errors that made jobs retry, events lost by the harness. */
  readonly notes: string[];
}

interface Run {
  readonly start: EventRow;
  end?: EventRow;
  settle?: EventRow;
  died: boolean;
}

export function judge(data: ChaosData): Verdict {
  const violations: string[] = [];
  const notes: string[] = [];
  const figures: Record<string, number> = {
    jobs: data.jobs.size,
    runs: 0,
    'terminate() calls': data.calls.length,
    'confirmed terminated': 0,
    'recovery re-runs (after SIGKILL)': 0,
    'put-backs (stopped in time)': 0,
    'put-backs (outlasted shutdownTimeout)': 0,
    'iterate() resumptions': 0,
    're-runs after an error': 0,
    "re-runs after the queue's completion write was cut": 0,
    crashes: 0,
  };
  for (const call of data.calls) {
    const key = `terminate() answered ${call.status ?? 'an error'}`;
    figures[key] = (figures[key] ?? 0) + 1;
  }
  const sigkilled = new Set(data.workers.filter((w) => w.killedWith === 'SIGKILL').map((w) => w.pid));
  const byJob = groupBy(data.events, (e) => e.job_id);
  const itemsByJob = groupBy(data.items, (i) => i.job_id);
  const requestsByJob = groupBy(data.requests, (r) => r.job_id);
  const callsByJob = groupBy(data.calls, (c) => c.jobId);

  for (const [jobId, payload] of data.jobs) {
    const what = `${data.queue} job ${jobId} (${payload.key}, ${payload.kind})`;
    const events = (byJob.get(jobId) ?? []).slice().sort((a, b) => a.at_ms - b.at_ms);
    const runs = toRuns(events, sigkilled);
    figures.runs! += runs.length;
    const final = data.finals.get(jobId);
    const requests = requestsByJob.get(jobId) ?? [];
    const calls = callsByJob.get(jobId) ?? [];
    const targeted = requests.length > 0 || calls.length > 0;

    // Did the job see it? A normal return without having seen the token is the
    // job's completion; jobterm must not record it terminated or interrupted.
    for (const run of runs) {
      const how = run.end?.detail.how;
      if (
        how === 'returned' &&
        run.end?.detail.saw !== true &&
        run.settle !== undefined &&
        run.settle.detail.escalated !== true
      ) {
        violations.push(
          `(b) ${what}: returned normally without seeing its termination, yet was recorded ${String(run.settle.detail.status)} (${String(run.settle.detail.kind)})`,
        );
      }
    }

    // Re-runs and their causes.
    for (let i = 1; i < runs.length; i++) {
      const previous = runs[i - 1]!;
      const how = previous.end?.detail.how;
      const completed = how === 'returned' && !(previous.settle?.detail.escalated === true);
      if (previous.settle !== undefined) {
        const status = previous.settle.detail.status;
        if (status === 'terminated') continue; // (a) below
        if (payload.kind === 'iterate') figures['iterate() resumptions']!++;
        else if (previous.settle.detail.escalated === true) figures['put-backs (outlasted shutdownTimeout)']!++;
        else figures['put-backs (stopped in time)']!++;
      } else if (previous.died) {
        figures['recovery re-runs (after SIGKILL)']!++;
      } else if (completed) {
        const cut = completionCut(previous, data);
        if (cut !== undefined) {
          figures["re-runs after the queue's completion write was cut"]!++;
          notes.push(`${what}: run ${i + 1} follows a completion whose write was cut: ${cut}`);
          continue;
        }
        violations.push(`(b) ${what}: ran again (run ${i + 1}) after it completed on pid ${previous.start.pid}`);
      } else if (how === 'threw-error') {
        figures['re-runs after an error']!++;
        notes.push(`${what}: run ${i} failed: ${String(previous.end?.detail.error).slice(0, 160)}`);
      } else {
        notes.push(
          `${what}: run ${i + 1} follows a run with no logged end (how ${String(how)}) on pid ${previous.start.pid}`,
        );
      }
    }

    // (b) a plain task completes exactly once.
    if (payload.kind === 'plain') {
      const completions = runs.filter((r) => r.end?.detail.how === 'returned');
      const unexplained = completions.filter(
        (r, i) =>
          i < completions.length - 1 && !r.died && r.settle === undefined && completionCut(r, data) === undefined,
      );
      if (completions.length > 1 && unexplained.length > 0) {
        violations.push(`(b) ${what}: a plain task completed ${completions.length} times`);
      }
    }

    // (a) a job confirmed terminated never starts or completes afterwards.
    const confirmations = [
      ...calls.filter((c) => c.status === 'terminated').map((c) => c.endedAt),
      ...requests.filter((r) => r.outcome === 'terminated' && r.resolved_at_ms !== null).map((r) => r.resolved_at_ms!),
    ];
    if (confirmations.length > 0) {
      figures['confirmed terminated']!++;
      const confirmedAt = Math.min(...confirmations);
      for (const run of runs) {
        if (run.start.at_ms > confirmedAt) {
          violations.push(
            `(a) ${what}: started on pid ${run.start.pid} ${run.start.at_ms - confirmedAt} ms after it was confirmed terminated`,
          );
        }
      }
      if (final?.state !== 'terminated') {
        violations.push(`(a) ${what}: confirmed terminated, but the queue ends it ${final?.state} (${final?.detail})`);
      }
    }

    // (b) a job never targeted completes.
    if (!targeted && final?.state !== 'completed') {
      violations.push(`(b) ${what}: never targeted, but the queue ends it ${final?.state} (${final?.detail})`);
    }
    // A job whose request answered already_finished was not killed by it.
    if (
      calls.some((c) => c.status === 'already_finished') &&
      final?.state === 'terminated' &&
      confirmations.length === 0
    ) {
      notes.push(`${what}: terminate() answered already_finished, yet it ended terminated by a later request`);
    }

    // (c) nothing locked or active once every worker shut down.
    if (final === undefined || final.state === 'active' || final.locked) {
      violations.push(
        `(c) ${what}: still ${final?.state ?? 'missing'} after every worker shut down (${final?.detail})`,
      );
    } else if (final.state === 'queued') {
      violations.push(`(c) ${what}: still queued after the drain (${final.detail})`);
    }

    // (d) no request left open for a finished job.
    for (const request of requests) {
      if (
        request.status !== 'resolved' &&
        final !== undefined &&
        final.state !== 'queued' &&
        final.state !== 'active'
      ) {
        violations.push(`(d) ${what}: its kill request is still ${request.status}, the job ended ${final.state}`);
      }
    }

    // (e) every item of every iterated job processed at least once, none skipped.
    if (payload.kind === 'iterate') {
      const seen = new Set((itemsByJob.get(jobId) ?? []).map((i) => i.item));
      const total = payload.items ?? 20;
      const upTo = final?.state === 'completed' ? total - 1 : Math.max(-1, ...seen);
      const missing: number[] = [];
      for (let i = 0; i <= upTo; i++) if (!seen.has(i)) missing.push(i);
      if (missing.length > 0) {
        violations.push(
          `(e) ${what}: items ${missing.join(', ')} of 0..${upTo} never processed (ended ${final?.state})`,
        );
      }
    }
  }

  // (c) a worker that exited cleanly left nothing locked.
  for (const { pid, ids } of data.lockedAfterCleanExit) {
    if (ids.length > 0)
      violations.push(`(c) ${data.queue} worker ${pid} exited cleanly leaving jobs ${ids.join(', ')} locked`);
  }

  // (f) no unhandled rejection, crash or leaked listener in any worker.
  for (const worker of data.workers) {
    const who = `${data.queue} worker ${worker.pid}`;
    for (const message of worker.messages) {
      if (message.event === 'crash') {
        figures.crashes!++;
        violations.push(`(f) ${who}: ${message.what}: ${String(message.error).slice(0, 2_000)}`);
      }
      if (message.event === 'warning') {
        if (message.name === 'MaxListenersExceededWarning')
          violations.push(`(f) ${who}: leaked listeners: ${message.message}`);
        else notes.push(`${who}: warning ${message.name}: ${message.message}`);
      }
      if (message.event === 'shutdown-end') {
        if (message.running !== 0)
          violations.push(`(f) ${who}: ${message.running} jobs still registered at shutdown end`);
        if (Number(message.lostEvents) > 0) notes.push(`${who}: the harness lost ${message.lostEvents} events`);
      }
      if (message.event === 'jobterm-error') {
        // The store's own reports (lost LISTEN, unreachable server) are expected under chaos: counted, not listed.
        const key = `jobterm 'error' events (${String(message.during)})`;
        figures[key] = (figures[key] ?? 0) + 1;
        if (message.during !== 'store') {
          notes.push(`${who}: jobterm error during ${message.during}: ${String(message.error).slice(0, 160)}`);
        }
      }
    }
    const exit = worker.exit;
    // A worker that could not reach PostgreSQL at start (the restart) exits 75 and is started again: not a crash.
    const startFailed = exit?.code === 75 && worker.messages.some((m) => m.event === 'start-failed');
    if (worker.killedWith !== 'SIGKILL' && exit !== undefined && exit.code !== 0 && !startFailed) {
      figures.crashes!++;
      violations.push(
        `(f) ${who}: exited with code ${exit.code} signal ${exit.signal} (${worker.killedWith ?? 'not stopped by the test'})\n${worker.stderrTail}`,
      );
    }
    if (worker.killedWith === 'SIGTERM' && !worker.messages.some((m) => m.event === 'shutdown-end')) {
      violations.push(`(f) ${who}: SIGTERM, but no shutdown-end\n${worker.stderrTail}`);
    }
  }
  figures.violations = violations.length;
  const timelines: string[] = [];
  const firstAt = Math.min(...data.events.map((e) => e.at_ms));
  const killedAt = new Map(data.workers.filter((w) => w.killedWith).map((w) => [w.pid, w.killedWith]));
  for (const jobId of new Set(violations.map((v) => / job (\S+) \(/.exec(v)?.[1]).filter((id) => id !== undefined))) {
    if (timelines.length >= 40) break;
    const jobEvents = byJob.get(jobId!) ?? [];
    const lines = jobEvents.map((e) => ({
      at: e.at_ms,
      line: `    +${e.at_ms - firstAt} ms pid ${e.pid}${killedAt.has(e.pid) ? ` (${killedAt.get(e.pid)}ed)` : ''} ${e.event} ${JSON.stringify(e.detail)}`,
    }));
    lines.push(...aroundJob(data, jobEvents, firstAt));
    lines.sort((a, b) => a.at - b.at);
    const requests = (requestsByJob.get(jobId!) ?? []).map(
      (r) =>
        `    request ${r.status} ${r.outcome ?? ''} requested +${Math.round(r.requested_at_ms - firstAt)} ms` +
        (r.resolved_at_ms === null ? '' : `, resolved +${Math.round(r.resolved_at_ms - firstAt)} ms`),
    );
    const calls = (callsByJob.get(jobId!) ?? []).map(
      (c) =>
        `    terminate(wait ${c.wait}) +${c.at - firstAt} ms -> ${c.status ?? c.error} at +${c.endedAt - firstAt} ms`,
    );
    timelines.push(
      `  job ${jobId} (final: ${data.finals.get(jobId!)?.detail}):\n${[...lines.map((l) => l.line), ...requests, ...calls].join('\n')}`,
    );
  }
  return { violations, figures, notes, timelines };
}

/**
 * How long after a job's body returned the queue's own completion write can
 * still be in flight: the body's log write lands first, then jobterm hands
 * the result back and the queue completes the job (pg-boss's complete()),
 * within milliseconds, more on this loaded machine under chaos.
 */
const COMPLETION_WRITE_MS = 500;

/**
 * The disturbance that cut the queue's own completion write of a run that
 * returned, if one did: the controller killed a pool connection of the run's
 * worker, or restarted PostgreSQL, between just before the body returned and
 * COMPLETION_WRITE_MS after. pg-boss 12 then fails the job it could not
 * complete (#processJobs calls fail() when its complete() throws), spending
 * an attempt, and it runs again (at once, or after its expiry when the fail
 * was cut too); the same happens without jobterm, which writes nothing for a
 * completion. Seen with seeds 1105658070 and 74123222: the re-run's
 * retry_count was 1.
 */
function completionCut(run: Run, data: ChaosData): string | undefined {
  const returnedAt = run.end?.at_ms;
  if (returnedAt === undefined) return undefined;
  const from = returnedAt - 100;
  const to = returnedAt + COMPLETION_WRITE_MS;
  let restartBegan: number | undefined;
  for (const d of data.disturbances ?? []) {
    if (d.what === 'PostgreSQL restart begins') restartBegan = d.at;
    if (d.what === 'PostgreSQL back' && restartBegan !== undefined && restartBegan <= to && d.at >= from) {
      return `PostgreSQL restarted from +${restartBegan - returnedAt} to +${d.at - returnedAt} ms after it returned`;
    }
    if (d.at < from || d.at > to) continue;
    if (d.pid === run.start.pid && d.what.startsWith('killed its pool connection')) {
      return `${d.what} ${d.at - returnedAt} ms after it returned, on pid ${d.pid}`;
    }
  }
  return undefined;
}

/** Messages of queue or jobterm errors, in what a worker reported. */
const ERROR_EVENTS = new Set(['queue-error', 'jobterm-error', 'crash', 'start-failed']);

/**
 * What happened around a job's runs that its own events do not say: the
 * controller's disturbances (any worker's, the job's workers' marked), and
 * the errors its workers reported, from a second before its first event to a
 * second after its last.
 */
function aroundJob(data: ChaosData, events: readonly EventRow[], firstAt: number): Array<{ at: number; line: string }> {
  if (events.length === 0) return [];
  const from = Math.min(...events.map((e) => e.at_ms)) - 1_000;
  const to = Math.max(...events.map((e) => e.at_ms)) + 1_000;
  const pids = new Set(events.map((e) => e.pid));
  const lines: Array<{ at: number; line: string }> = [];
  for (const d of data.disturbances ?? []) {
    if (d.at < from || d.at > to) continue;
    const whose = d.pid === undefined ? '' : ` pid ${d.pid}${pids.has(d.pid) ? ' (ran this job)' : ''}`;
    lines.push({ at: d.at, line: `    +${d.at - firstAt} ms  controller:${whose} ${d.what}` });
  }
  for (const worker of data.workers) {
    if (!pids.has(worker.pid)) continue;
    for (const m of worker.messages) {
      const at = Number(m.at);
      if (!ERROR_EVENTS.has(m.event) || !(at >= from && at <= to)) continue;
      const { event, at: _at, ...rest } = m;
      lines.push({
        at,
        line: `    +${at - firstAt} ms pid ${worker.pid} reported ${event} ${JSON.stringify(rest).slice(0, 300)}`,
      });
    }
  }
  return lines;
}

function toRuns(events: readonly EventRow[], sigkilled: ReadonlySet<number>): Run[] {
  const runs: Run[] = [];
  const byRunId = new Map<string, Run>();
  for (const event of events) {
    if (event.event === 'start') {
      const run: Run = { start: event, died: sigkilled.has(event.pid) };
      runs.push(run);
      byRunId.set(event.run_id, run);
    } else if (event.event === 'body-end') {
      const run = byRunId.get(event.run_id);
      if (run !== undefined) run.end = event;
    }
  }
  // A settle belongs to the latest run of the job on the same process that started before it.
  for (const event of events) {
    if (event.event !== 'settled') continue;
    const run = runs.filter((r) => r.start.pid === event.pid && r.start.at_ms <= event.at_ms).at(-1);
    if (run !== undefined && run.settle === undefined) run.settle = event;
  }
  // A run whose process was SIGKILLed only died if the kill came before it ended in the queue.
  for (const run of runs) if (run.died && run.settle !== undefined) run.died = false;
  return runs;
}

function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = map.get(k);
    if (list === undefined) map.set(k, [row]);
    else list.push(row);
  }
  return map;
}
