import { describe, expect, it } from 'vitest';
import { isJobTerminatedError, JobTerminatedError } from '../../../src/core/errors.js';
import { makeReason } from '../../../src/core/reason.js';
import { TokenSource } from '../../../src/core/token.js';

const kill = makeReason('kill', 'operator asked', { requestedBy: 'alice' });
const shutdown = makeReason('shutdown', 'worker shutting down');

describe('TerminationToken', () => {
  it('is quiet until terminated, then aborts its signal once with a JobTerminatedError', () => {
    const source = new TokenSource({ callbackFailed() {} });
    const { token } = source;
    expect(token.isTerminating()).toBe(false);
    expect(token.reason).toBeUndefined();
    expect(() => token.throwIfTerminating()).not.toThrow();
    expect(token.signal.aborted).toBe(false);

    expect(source.terminate(kill)).toBe(true);
    expect(token.isTerminating()).toBe(true);
    expect(token.reason).toBe(kill);
    expect(token.signal.aborted).toBe(true);
    expect(isJobTerminatedError(token.signal.reason)).toBe(true);
    expect((token.signal.reason as JobTerminatedError).reason.kind).toBe('kill');
    expect(() => token.throwIfTerminating()).toThrow(JobTerminatedError);
    expect(() => token.throwIfTerminating()).toThrow('Terminated: operator asked (by alice)');
  });

  it('lets a kill replace a shutdown, but not the reverse', () => {
    const source = new TokenSource({ callbackFailed() {} });
    source.terminate(shutdown);
    expect(source.terminate(kill)).toBe(true);
    expect(source.token.reason?.kind).toBe('kill');
    expect(source.terminate(shutdown)).toBe(false);
    expect(source.token.reason?.kind).toBe('kill');
    // The signal aborted once, with the first reason: an AbortSignal cannot abort twice.
    expect((source.token.signal.reason as JobTerminatedError).reason.kind).toBe('shutdown');
  });

  it('runs onTerminate callbacks once, in order, and reports one that throws without stopping the others', () => {
    const reported: unknown[] = [];
    const source = new TokenSource({ callbackFailed: (error) => reported.push(error) });
    const calls: string[] = [];
    source.token.onTerminate(() => calls.push('a'));
    source.token.onTerminate(() => {
      calls.push('b');
      throw new Error('cleanup failed');
    });
    const unsubscribe = source.token.onTerminate(() => calls.push('never'));
    source.token.onTerminate((reason) => calls.push(`c:${reason.kind}`));
    unsubscribe();
    unsubscribe();
    source.terminate(shutdown);
    source.terminate(kill);
    expect(calls).toEqual(['a', 'b', 'c:shutdown']);
    expect(reported).toHaveLength(1);
    expect((reported[0] as Error).message).toBe('cleanup failed');
  });

  it('runs a callback added after termination at once', () => {
    const source = new TokenSource({ callbackFailed() {} });
    source.terminate(kill);
    const seen: string[] = [];
    source.token.onTerminate((reason) => seen.push(reason.message));
    expect(seen).toEqual(['operator asked']);
  });

  it('refuses a callback that is not a function', () => {
    const source = new TokenSource({ callbackFailed() {} });
    expect(() => source.token.onTerminate('x' as never)).toThrow(TypeError);
  });
});

describe('TerminationToken made lazily (the per-job hot path)', () => {
  it('its methods still work destructured, and are the same functions each time', () => {
    const source = new TokenSource({ callbackFailed() {} });
    const { isTerminating, throwIfTerminating, onTerminate } = source.token;
    expect(source.token.isTerminating).toBe(isTerminating);
    const seen: string[] = [];
    onTerminate((reason) => seen.push(reason.kind));
    expect(isTerminating()).toBe(false);
    source.terminate(kill);
    expect(isTerminating()).toBe(true);
    expect(() => throwIfTerminating()).toThrow('Terminated: operator asked (by alice)');
    expect(seen).toEqual(['kill']);
  });

  it('a signal first read after a shutdown then a kill is aborted with the first reason, as an eager one would be', () => {
    const source = new TokenSource({ callbackFailed() {} });
    source.terminate(shutdown);
    source.terminate(kill);
    const { signal } = source.token;
    expect(signal.aborted).toBe(true);
    expect((signal.reason as JobTerminatedError).reason.kind).toBe('shutdown');
    expect(source.token.signal).toBe(signal);
    expect(source.token.reason?.kind).toBe('kill');
  });
});

describe('isJobTerminatedError', () => {
  it('checks the name, so a copy from another jobterm instance still counts', () => {
    const foreign = Object.assign(new Error('Terminated: x'), { name: 'JobTerminatedError', reason: kill });
    expect(isJobTerminatedError(foreign)).toBe(true);
    expect(isJobTerminatedError(new Error('x'))).toBe(false);
    expect(isJobTerminatedError(undefined)).toBe(false);
    expect(isJobTerminatedError({ name: 'JobTerminatedError' })).toBe(false);
  });

  it('carries reason and cause', () => {
    const cause = new Error('socket closed');
    const error = new JobTerminatedError(kill, { cause });
    expect(error.name).toBe('JobTerminatedError');
    expect(error.reason).toBe(kill);
    expect(error.cause).toBe(cause);
  });
});
