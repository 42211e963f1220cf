import type { IncomingMessage } from 'node:http';
import { checkKnownKeys, expected } from '../core/errors.js';
import type { FleetOptions, FleetSnapshot } from '../core/fleet.js';
import type { JobRef } from '../core/job-ref.js';
import { milliseconds } from '../core/options.js';
import type { KillRequest } from '../core/store.js';
import type { TerminateOptions, TerminateResult } from '../terminator/terminator.js';
import { Credentials, type DashboardTokens, type DashboardUser } from './auth.js';

/** What the dashboard needs to stop jobs: a `Terminator` (`createTerminator()`) has it. */
export interface DashboardTerminator {
  terminate(ref: JobRef, options?: TerminateOptions): Promise<TerminateResult>;
  /** The fleet view; a terminator with a presence store has it. */
  fleet?(options?: FleetOptions): Promise<FleetSnapshot>;
}

/** A stored request with its bookkeeping, as `postgresStore().listRequests()` answers it. */
export interface HistoryRequest extends KillRequest {
  readonly deliveredBy?: string;
  readonly deliveredAt?: Date;
  readonly expired?: boolean;
}

/** Where the request history comes from: `postgresStore()` has it. */
export interface RequestHistory {
  listRequests(options?: { pending?: boolean; limit?: number }): Promise<readonly HistoryRequest[]>;
}

/** Where the running jobs come from: `terminator.fleet()` by default. */
export interface FleetSource {
  fleet(options?: FleetOptions): Promise<FleetSnapshot>;
}

export interface DashboardOptions {
  /** Terminates jobs; usually one made with a store that does not receive requests, and the queues' adapters. */
  readonly terminator: DashboardTerminator;
  /** The kill request history. @default the terminator's store, when it can list requests */
  readonly requests?: RequestHistory;
  /** The fleet (workers and running jobs). @default the terminator, when it has `fleet()` */
  readonly fleet?: FleetSource;
  /**
   * Who may sign in. Clients send `Authorization: Bearer <secret>`; the page
   * signs in once with the secret and keeps an HttpOnly cookie. Secrets are
   * at least 16 characters. Either this or `authorize` is required: the
   * dashboard has no open mode.
   */
  readonly tokens?: DashboardTokens;
  /**
   * Your own authentication (a session from your app, a proxy's header):
   * return the user, or undefined to refuse (401). Tried before tokens.
   * State-changing routes authorised this way still need the CSRF header the
   * page sends, unless your hook itself authenticates by a header browsers
   * do not send on their own.
   */
  readonly authorize?: (req: IncomingMessage) => DashboardUser | undefined | Promise<DashboardUser | undefined>;
  /**
   * The path the handler answers under when it sees full URLs (node:http).
   * Frameworks that strip their mount path (Express's `app.use('/jobs', h)`)
   * need none. @default ''
   */
  readonly basePath?: string;
  /** The page's title. @default 'jobterm' */
  readonly title?: string;
  /** How long a sign-in lasts, in ms. @default 12 hours */
  readonly sessionTtl?: number;
  /** How often the page refreshes, in ms (1000 to 10000). @default 1000 */
  readonly refreshInterval?: number;
  /** Longest `wait` a terminate call may ask for, in ms. @default 60_000 */
  readonly maxWait?: number;
}

export interface ResolvedDashboardOptions {
  readonly terminator: DashboardTerminator;
  readonly requests: RequestHistory | undefined;
  readonly fleet: FleetSource | undefined;
  readonly credentials: Credentials;
  readonly authorize: DashboardOptions['authorize'];
  readonly basePath: string;
  readonly title: string;
  readonly sessionTtl: number;
  readonly refreshInterval: number;
  readonly maxWait: number;
}

export const DASHBOARD_DEFAULTS = Object.freeze({
  basePath: '',
  title: 'jobterm',
  sessionTtl: 12 * 60 * 60 * 1000,
  refreshInterval: 1000,
  maxWait: 60_000,
});

const KEYS = [
  'terminator',
  'requests',
  'fleet',
  'tokens',
  'authorize',
  'basePath',
  'title',
  'sessionTtl',
  'refreshInterval',
  'maxWait',
];

export function resolveDashboardOptions(options: DashboardOptions): ResolvedDashboardOptions {
  if (typeof options !== 'object' || options === null) throw expected('options', 'an object', options);
  checkKnownKeys('createDashboard() options', options, KEYS);
  const { terminator } = options;
  if (typeof terminator?.terminate !== 'function') {
    throw expected('terminator', 'a Terminator (createTerminator())', terminator);
  }
  const requests = options.requests ?? historyOf(terminator);
  if (requests !== undefined && typeof requests.listRequests !== 'function') {
    throw expected('requests', 'an object with listRequests(), such as postgresStore() or redisStore()', requests);
  }
  const fleet = options.fleet ?? fleetOf(terminator);
  if (fleet !== undefined && typeof fleet.fleet !== 'function') {
    throw expected('fleet', 'an object with fleet(), such as a Terminator', fleet);
  }
  if (options.tokens !== undefined && (typeof options.tokens !== 'object' || options.tokens === null)) {
    throw expected('tokens', 'an object `{ admin?, read? }`', options.tokens);
  }
  if (options.tokens !== undefined) checkKnownKeys('tokens', options.tokens, ['admin', 'read']);
  const credentials = new Credentials(options.tokens ?? {});
  if (options.authorize !== undefined && typeof options.authorize !== 'function') {
    throw expected('authorize', 'a function (req) => user | undefined', options.authorize);
  }
  if (credentials.size === 0 && options.authorize === undefined) {
    throw new TypeError(
      'Expected `tokens` or `authorize`: the dashboard is closed by default, give it at least one admin or read token',
    );
  }
  const basePath = options.basePath ?? DASHBOARD_DEFAULTS.basePath;
  if (typeof basePath !== 'string' || (basePath !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath))) {
    throw expected('basePath', "'' or a path like /jobs (no trailing slash)", basePath);
  }
  const title = options.title ?? DASHBOARD_DEFAULTS.title;
  if (typeof title !== 'string' || title.length === 0 || title.length > 100) {
    throw expected('title', 'a string of 1 to 100 characters', title);
  }
  const refreshInterval = milliseconds(
    'refreshInterval',
    options.refreshInterval ?? DASHBOARD_DEFAULTS.refreshInterval,
  );
  if (refreshInterval < 1000 || refreshInterval > 10_000) {
    throw expected('refreshInterval', 'between 1000 and 10000 ms', refreshInterval);
  }
  return {
    terminator,
    requests,
    fleet,
    credentials,
    authorize: options.authorize,
    basePath,
    title,
    sessionTtl: milliseconds('sessionTtl', options.sessionTtl ?? DASHBOARD_DEFAULTS.sessionTtl),
    refreshInterval,
    maxWait: milliseconds('maxWait', options.maxWait ?? DASHBOARD_DEFAULTS.maxWait),
  };
}

/** The terminator's store, when it keeps a history (postgresStore() does). */
function historyOf(terminator: DashboardTerminator): RequestHistory | undefined {
  const store = (terminator as { options?: { store?: unknown } }).options?.store;
  return typeof (store as RequestHistory | undefined)?.listRequests === 'function'
    ? (store as RequestHistory)
    : undefined;
}

/** The terminator itself, when its store keeps presence (otherwise its fleet() would only throw). */
function fleetOf(terminator: DashboardTerminator): FleetSource | undefined {
  if (typeof terminator.fleet !== 'function') return undefined;
  const store = (terminator as { options?: { store?: unknown } }).options?.store;
  if (store !== undefined && typeof (store as Partial<FleetSource>).fleet !== 'function') return undefined;
  return terminator as FleetSource;
}
