'use strict';
/**
 * What runs inside an isolate (a pooled worker thread or child process), in
 * plain CommonJS: the same file loads from jobterm's sources (under tsx or
 * vitest), from its ESM build and from its CommonJS build, with Node's own
 * loader. tsup bundles it into dist/isolate-thread.cjs and
 * dist/isolate-process.cjs.
 *
 * It runs one job's isolated part at a time: imports the module, calls the
 * export with `(payload, token)` inside a context that any copy of jobterm
 * loaded in the isolate reads (`currentToken()`, `isTerminating()`,
 * `throwIfTerminating()`), and answers `{ ok, value | error, seen }`, where
 * `seen` is the job's "saw its termination" bit (DESIGN.md, "Did the job see
 * it?").
 *
 * The flag's layout must match src/isolation/flag.ts (a unit test checks it).
 */
const { AsyncLocalStorage } = require('node:async_hooks');
const { serialize } = require('node:v8');

const FLAG = Object.freeze({
  STATE: 0,
  VERSION: 1,
  LENGTH: 2,
  THREAD_ID: 3,
  HEADER_BYTES: 16,
  RUNNING: 0,
  TERMINATING: 1,
  FINISHED: 2,
});

/** A registered symbol, so every copy of jobterm in this isolate finds the job (src/core/context.ts). */
const CONTEXT = Symbol.for('jobterm.isolate.context');
const storage = new AsyncLocalStorage();
globalThis[CONTEXT] = () => storage.getStore();

const modules = new Map();

async function loadExport(href, exportName) {
  let mod = modules.get(href);
  if (mod === undefined) {
    mod = await import(href);
    modules.set(href, mod);
  }
  let fn = mod[exportName];
  // A CommonJS module's `module.exports = fn` arrives as `default`.
  if (fn === undefined && exportName !== 'default' && typeof mod.default === 'object' && mod.default !== null) {
    fn = mod.default[exportName];
  }
  if (typeof fn !== 'function') {
    const error = new TypeError(`Expected export \`${exportName}\` of ${href} to be a function, got ${typeof fn}`);
    error.code = 'JOBTERM_BAD_EXPORT';
    throw error;
  }
  return fn;
}

function terminatedError(reason, message) {
  const error = new Error(message ?? describeReason(reason));
  error.name = 'JobTerminatedError';
  error.reason = reason;
  return error;
}

function describeReason(reason) {
  const verb = reason.kind === 'kill' ? 'Terminated' : reason.kind === 'shutdown' ? 'Interrupted' : 'Timed out';
  return `${verb}: ${reason.message}${reason.requestedBy ? ` (by ${reason.requestedBy})` : ''}`;
}

function reviveReason(raw) {
  const reason = { kind: raw.kind, message: raw.message, requestedAt: new Date(raw.requestedAt) };
  if (raw.requestId !== undefined) reason.requestId = raw.requestId;
  if (raw.requestedBy !== undefined) reason.requestedBy = raw.requestedBy;
  return reason;
}

/**
 * The token the isolated export gets. `source` says whether and why the job
 * is terminating: a shared flag (threads: read with Atomics, so even a
 * synchronous loop sees it) or the last message from the parent (processes).
 */
class IsolateToken {
  constructor(source) {
    this.source = source;
    this.seen = false;
    this.controller = new AbortController();
    this.callbacks = [];
    this.fired = false;
    const token = this;
    const signal = this.controller.signal;
    const proto = AbortSignal.prototype;
    const abortedGetter = Object.getOwnPropertyDescriptor(proto, 'aborted').get;
    const reasonGetter = Object.getOwnPropertyDescriptor(proto, 'reason').get;
    // The signal instance is instrumented: reading it after the token fired is seeing it.
    Object.defineProperties(signal, {
      aborted: {
        get() {
          token.sync();
          const aborted = abortedGetter.call(this);
          if (aborted) token.seen = true;
          return aborted;
        },
      },
      reason: {
        get() {
          token.sync();
          const reason = reasonGetter.call(this);
          if (reason !== undefined) token.seen = true;
          return reason;
        },
      },
      throwIfAborted: {
        value() {
          token.sync();
          if (abortedGetter.call(this)) {
            token.seen = true;
            throw reasonGetter.call(this);
          }
        },
      },
    });
    this.signal = signal;
    this.isTerminating = () => {
      if (!this.sync()) return false;
      this.seen = true;
      return true;
    };
    this.throwIfTerminating = () => {
      if (!this.sync()) return;
      this.seen = true;
      throw terminatedError(this.source.reason());
    };
    this.onTerminate = (fn) => {
      if (typeof fn !== 'function') throw new TypeError(`Expected \`fn\` to be a function, got ${typeof fn}`);
      if (this.sync()) {
        this.call(fn);
        return () => {};
      }
      this.callbacks.push(fn);
      return () => {
        const index = this.callbacks.indexOf(fn);
        if (index !== -1) this.callbacks.splice(index, 1);
      };
    };
  }

  get reason() {
    return this.source.terminating() ? this.source.reason() : undefined;
  }

  get deadline() {
    return this.source.terminating() ? this.source.deadline() : undefined;
  }

  /** True when terminating; fires the signal and the callbacks the first time it finds out. */
  sync() {
    if (!this.source.terminating()) return false;
    if (!this.fired) {
      this.fired = true;
      const reason = this.source.reason();
      this.controller.abort(terminatedError(reason));
      const callbacks = this.callbacks;
      this.callbacks = [];
      for (const fn of callbacks) this.call(fn);
    }
    return true;
  }

  call(fn) {
    // A callback that ran is the job seeing its termination.
    this.seen = true;
    try {
      fn(this.source.reason());
    } catch (error) {
      process.emitWarning(`jobterm: an onTerminate callback threw in the isolate: ${error}`);
    }
  }
}

/** The flag a worker thread shares with its parent (see src/isolation/flag.ts). */
class SharedFlag {
  constructor(buffer) {
    this.words = new Int32Array(buffer, 0, FLAG.HEADER_BYTES / 4);
    this.bytes = new Uint8Array(buffer, FLAG.HEADER_BYTES);
    this.version = -1;
    this.cached = undefined;
  }
  terminating() {
    return Atomics.load(this.words, FLAG.STATE) === FLAG.TERMINATING;
  }
  read() {
    // A seqlock: the parent makes the version odd while it writes the bytes.
    for (;;) {
      const before = Atomics.load(this.words, FLAG.VERSION);
      if (before === this.version) return this.cached;
      if (before % 2 === 1) continue;
      const length = Atomics.load(this.words, FLAG.LENGTH);
      const text = Buffer.from(this.bytes.slice(0, length)).toString('utf8');
      if (Atomics.load(this.words, FLAG.VERSION) !== before) continue;
      const raw = JSON.parse(text);
      this.cached = { reason: reviveReason(raw.reason), deadline: raw.deadline ? new Date(raw.deadline) : undefined };
      this.version = before;
      return this.cached;
    }
  }
  reason() {
    return this.read().reason;
  }
  deadline() {
    return this.read().deadline;
  }
}

/** What a child process knows of its job's termination: the parent's last message. */
class MessageFlag {
  constructor() {
    this.state = undefined;
  }
  set(raw) {
    this.state = { reason: reviveReason(raw.reason), deadline: raw.deadline ? new Date(raw.deadline) : undefined };
  }
  terminating() {
    return this.state !== undefined;
  }
  reason() {
    return this.state.reason;
  }
  deadline() {
    return this.state.deadline;
  }
}

/** An error as it crosses back: its name, message, stack, code, reason and cause survive. */
function describeError(error, depth = 0) {
  if (!(error instanceof Error) && (typeof error !== 'object' || error === null)) {
    return { name: 'Error', message: String(error), thrown: typeof error };
  }
  const described = {
    name: typeof error.name === 'string' ? error.name : 'Error',
    message: typeof error.message === 'string' ? error.message : String(error),
  };
  if (typeof error.stack === 'string') described.stack = error.stack;
  if (typeof error.code === 'string' || typeof error.code === 'number') described.code = error.code;
  if (error.reason !== undefined && typeof error.reason === 'object') {
    try {
      described.reason = JSON.parse(JSON.stringify(error.reason));
    } catch {}
  }
  if (error.cause !== undefined && depth < 3) described.cause = describeError(error.cause, depth + 1);
  return described;
}

/**
 * Runs one task: `{ module, exportName, payload, ref }` with its flag.
 * Always resolves to an answer; never throws.
 */
async function runTask(task, flagSource, onToken) {
  const token = new IsolateToken(flagSource);
  onToken(token);
  // Terminated between the parent's post and now: the signal is aborted before the job starts.
  token.sync();
  let answer;
  try {
    const fn = await loadExport(task.module, task.exportName);
    const value = await storage.run({ token, ref: task.ref, progress: undefined }, () => fn(task.payload, token));
    answer = { ok: true, value, seen: token.seen };
  } catch (error) {
    answer = { ok: false, error: describeError(error), seen: token.seen };
  }
  return answer;
}

/**
 * Checks that a result can cross back, with the same serializer that carries
 * it; an answer that cannot becomes a clear error instead of a dead isolate.
 */
function crossable(answer) {
  if (!answer.ok) return answer;
  try {
    return { ok: true, value: serialize(answer.value), seen: answer.seen, serialized: true };
  } catch (error) {
    return {
      ok: false,
      error: {
        name: 'IsolateCloneError',
        message: `the result cannot be sent back from the isolate: ${error?.message}. Results must be structured-cloneable`,
        code: 'JOBTERM_RESULT_NOT_CLONEABLE',
      },
      seen: answer.seen,
    };
  }
}

module.exports = { FLAG, runTask, crossable, SharedFlag, MessageFlag, describeError };
