import { checkKnownKeys, expected } from '../core/errors.js';
import type { FleetSnapshot } from '../core/fleet.js';
import { type JobRef, refKey, validateJobRef } from '../core/job-ref.js';
import { milliseconds, reasonMessage } from '../core/options.js';
import type { TerminateResult } from '../terminator/terminator.js';
import type { Access } from './access.js';
import { jobJson, parseFilter, refJson, selectJobs, workerJson } from './filters.js';
import { HttpError } from './json.js';
import { MAX_BULK } from './openapi.js';
import type { HistoryRequest, ResolvedDashboardOptions } from './options.js';

/**
 * The API's routes, as functions from checked input to a JSON answer. The
 * handler does routing, authentication and the CSRF rules; every input is
 * checked here before anything is written.
 */

const DEFAULT_JOB_LIMIT = 1000;
const MAX_JOB_LIMIT = 10_000;
const MAX_HISTORY_LIMIT = 1000;
/** How far back a job's detail looks for its requests. */
const DETAIL_HISTORY = 1000;

export class Api {
  constructor(private readonly options: ResolvedDashboardOptions) {}

  session(access: Access) {
    return {
      user: access.user,
      csrfToken: access.csrfToken ?? null,
      title: this.options.title,
      refreshInterval: this.options.refreshInterval,
      features: { fleet: this.options.fleet !== undefined, history: this.options.requests !== undefined },
    };
  }

  async workers(query: URLSearchParams) {
    const params = single(query, ['queue', 'worker', 'includeDead']);
    const includeDead = flag('includeDead', params.includeDead);
    const snapshot = await this.snapshot({
      ...(params.queue === undefined ? {} : { queue: part('queue', params.queue) }),
      ...(params.worker === undefined ? {} : { worker: part('worker', params.worker) }),
      ...(includeDead === undefined ? {} : { includeDead }),
    });
    const now = snapshot.at.getTime();
    return {
      at: snapshot.at,
      heartbeatInterval: snapshot.heartbeatInterval,
      workers: snapshot.workers.map((worker) => workerJson(worker, false, now)),
    };
  }

  /** Every worker with its jobs, for the page: one read per refresh. */
  async fleet() {
    const snapshot = await this.snapshot({});
    const now = snapshot.at.getTime();
    return {
      at: snapshot.at,
      heartbeatInterval: snapshot.heartbeatInterval,
      workers: snapshot.workers.map((worker) => workerJson(worker, true, now)),
    };
  }

  async jobs(query: URLSearchParams) {
    const { limit: rawLimit, ...rest } = single(query, [
      'queue',
      'name',
      'task',
      'worker',
      'state',
      'runningLongerThan',
      'limit',
    ]);
    const limit = count('limit', rawLimit, DEFAULT_JOB_LIMIT, MAX_JOB_LIMIT);
    const filter = parseFilter(rest, '');
    const snapshot = await this.snapshot(filter.queue === undefined ? {} : { queue: filter.queue });
    const jobs = selectJobs(snapshot, filter);
    const now = snapshot.at.getTime();
    return { at: snapshot.at, count: jobs.length, jobs: jobs.slice(0, limit).map((job) => jobJson(job, now)) };
  }

  async job(queue: string, id: string, query: URLSearchParams) {
    const params = single(query, ['name']);
    const ref = validateJobRef(params.name === undefined ? { queue, id } : { queue, id, name: params.name }, 'job');
    const key = refKey(ref);
    const [snapshot, history] = await Promise.all([
      this.options.fleet === undefined ? undefined : this.snapshot({ queue: ref.queue }),
      this.options.requests?.listRequests({ limit: DETAIL_HISTORY }),
    ]);
    const now = snapshot?.at.getTime() ?? Date.now();
    const running = snapshot === undefined ? [] : selectJobs(snapshot, {}).filter((job) => refKey(job.ref) === key);
    return {
      job: refJson(ref),
      running: running.map((job) => jobJson(job, now)),
      requests: (history ?? []).filter((request) => refKey(request.ref) === key).map(requestJson),
    };
  }

  async requests(query: URLSearchParams) {
    const params = single(query, ['pending', 'limit']);
    const history = this.options.requests;
    if (history === undefined) {
      throw new HttpError(501, 'No request history: pass `requests` (a postgresStore()) to createDashboard()');
    }
    const pending = flag('pending', params.pending) ?? false;
    const limit = count('limit', params.limit, 100, MAX_HISTORY_LIMIT);
    return { requests: (await history.listRequests({ pending, limit })).map(requestJson) };
  }

  async terminate(body: Record<string, unknown>, access: Access) {
    checkKnownKeys('body', body, ['job', 'reason', 'wait', 'timeout', 'force']);
    const ref = validateJobRef(body.job, 'job');
    const reason = reasonMessage('reason', body.reason, `terminated from the dashboard by ${access.user.name}`);
    const wait = optionalBoolean('wait', body.wait) ?? false;
    const force = optionalBoolean('force', body.force) ?? false;
    if (body.timeout !== undefined && !wait) throw new HttpError(400, '`timeout` applies only with `wait`', 'timeout');
    const timeout = body.timeout === undefined ? undefined : milliseconds('timeout', body.timeout);
    if (timeout !== undefined && timeout > this.options.maxWait) {
      throw expected('timeout', `at most ${this.options.maxWait} ms`, timeout);
    }
    const startedAt = performance.now();
    const result = await this.options.terminator.terminate(ref, {
      reason,
      requestedBy: access.user.name,
      wait,
      ...(timeout === undefined ? {} : { timeout }),
      ...(force ? { force } : {}),
    });
    return resultJson(result, performance.now() - startedAt);
  }

  /**
   * `{ filter, dryRun: true }` lists what a filter selects now; `{ jobs,
   * reason }` terminates exactly the jobs given (the dry run's list), never a
   * filter re-read, so a job that started in between is not swept along.
   */
  async bulkTerminate(body: Record<string, unknown>, access: Access) {
    checkKnownKeys('body', body, ['filter', 'dryRun', 'jobs', 'reason']);
    const dryRun = optionalBoolean('dryRun', body.dryRun) ?? false;
    if (dryRun) {
      if (body.jobs !== undefined || body.reason !== undefined) {
        throw new HttpError(400, 'A dry run takes only `filter`', body.jobs !== undefined ? 'jobs' : 'reason');
      }
      const raw = body.filter ?? {};
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw expected('filter', 'an object', raw);
      const filter = parseFilter(raw as Record<string, unknown>, 'filter.');
      const snapshot = await this.snapshot(filter.queue === undefined ? {} : { queue: filter.queue });
      const jobs = selectJobs(snapshot, filter);
      if (jobs.length > MAX_BULK) {
        throw new HttpError(400, `The filter selects ${jobs.length} jobs; narrow it to at most ${MAX_BULK}`, 'filter');
      }
      const now = snapshot.at.getTime();
      return { dryRun: true, count: jobs.length, jobs: jobs.map((job) => jobJson(job, now)) };
    }
    if (body.filter !== undefined) {
      throw new HttpError(400, "Terminating takes `jobs` (the dry run's list), not `filter`", 'filter');
    }
    if (!Array.isArray(body.jobs) || body.jobs.length === 0 || body.jobs.length > MAX_BULK) {
      throw expected('jobs', `an array of 1 to ${MAX_BULK} jobs \`{ queue, id, name? }\``, body.jobs);
    }
    const refs: JobRef[] = [];
    const seen = new Set<string>();
    body.jobs.forEach((item, i) => {
      const ref = validateJobRef(item, `jobs[${i}]`);
      checkKnownKeys(`jobs[${i}]`, item as object, ['queue', 'name', 'id']);
      if (!seen.has(refKey(ref))) refs.push(ref);
      seen.add(refKey(ref));
    });
    const reason = reasonMessage('reason', body.reason, `terminated from the dashboard by ${access.user.name}`);
    const startedAt = performance.now();
    const results = await mapLimited(refs, 8, async (ref) => {
      try {
        return resultJson(await this.options.terminator.terminate(ref, { reason, requestedBy: access.user.name }), 0);
      } catch (error) {
        return { status: 'error', job: refJson(ref), message: error instanceof Error ? error.message : String(error) };
      }
    });
    return { count: results.length, elapsedMs: performance.now() - startedAt, results };
  }

  private async snapshot(options: { queue?: string; worker?: string; includeDead?: boolean }): Promise<FleetSnapshot> {
    const fleet = this.options.fleet;
    if (fleet === undefined) {
      throw new HttpError(501, 'No fleet view: the terminator has no fleet() (a store that keeps presence gives one)');
    }
    return fleet.fleet(options);
  }
}

function resultJson(result: TerminateResult, elapsedMs: number) {
  return { status: result.status, job: refJson(result.ref), requestId: result.requestId ?? null, elapsedMs };
}

export function requestJson(request: HistoryRequest) {
  return {
    id: request.id,
    job: refJson(request.ref),
    status: request.expired ? 'expired' : request.status,
    outcome: request.outcome ?? null,
    reason: request.reason.message,
    requestedBy: request.reason.requestedBy ?? null,
    requestedAt: request.reason.requestedAt,
    expiresAt: request.expiresAt,
    deliveredBy: request.deliveredBy ?? null,
    deliveredAt: request.deliveredAt ?? null,
    resolvedBy: request.resolvedBy ?? null,
    resolvedAt: request.resolvedAt ?? null,
    /** From the request to its resolution, in ms. */
    tookMs:
      request.resolvedAt === undefined ? null : request.resolvedAt.getTime() - request.reason.requestedAt.getTime(),
  };
}

/** Query parameters, each at most once, none unknown. */
function single(query: URLSearchParams, known: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const key of query.keys()) {
    if (!known.includes(key)) throw new TypeError(`Unknown filter \`${key}\`: expected one of ${known.join(', ')}`);
    const all = query.getAll(key);
    if (all.length > 1) throw expected(key, 'given once', all);
    values[key] = all[0]!;
  }
  return values;
}

function part(what: string, value: string): string {
  if (value.length === 0 || value.length > 512)
    throw expected(what, 'a non-empty string of at most 512 characters', value);
  return value;
}

function flag(what: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === '1' || value === '') return true;
  if (value === 'false' || value === '0') return false;
  throw expected(what, 'true or false', value);
}

function count(what: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,7}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw expected(what, `a whole number from 1 to ${max}`, value);
  }
  return Number(value);
}

function optionalBoolean(what: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw expected(what, 'a boolean', value);
  return value;
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  });
  await Promise.all(lanes);
  return results;
}
