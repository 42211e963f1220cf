import { type JobRef, refKey } from '../../core/job-ref.js';
import type { KillRequest } from '../../core/store.js';

/**
 * The open kill requests a worker knows of, by job: what the hot path checks
 * at every job start, without a round trip.
 *
 * It is fed from several places whose answers can arrive out of order: the
 * full load (start, poll, resync), the lookups NOTIFY triggers, and this
 * process's own requests and resolutions. Every change bumps a generation;
 * a read remembers the generation it started at, and when its answer lands it
 * neither drops an entry learned after it started nor re-adds a request seen
 * resolved after it started (a tombstone). Request ids only move forward
 * (unknown, open, resolved or gone), so a tombstone is final; it is forgotten
 * once a full read that started after it completes, because that read's
 * snapshot already shows the request resolved.
 */
const TOMBSTONE_TTL = 60_000;

export class PendingRequests {
  private generation = 0;
  private readonly byJob = new Map<string, { request: KillRequest; generation: number }>();
  private readonly byId = new Map<string, string>();
  private readonly tombstones = new Map<string, number>();
  /** (time, generation) pairs, oldest first, for forgetOldTombstones(). */
  private readonly marks: Array<{ at: number; generation: number }> = [];

  /** The open request for a job, if any and not expired. */
  get(ref: JobRef): KillRequest | undefined {
    // Asked several times for every job; nearly always nothing is open, and
    // then no key needs building.
    if (this.byJob.size === 0) return undefined;
    const entry = this.byJob.get(refKey(ref));
    if (entry === undefined) return undefined;
    return entry.request.expiresAt.getTime() > Date.now() ? entry.request : undefined;
  }

  /** Every open request known, not expired. */
  all(): KillRequest[] {
    const now = Date.now();
    const open: KillRequest[] = [];
    for (const { request } of this.byJob.values()) if (request.expiresAt.getTime() > now) open.push(request);
    return open;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get size(): number {
    return this.byJob.size;
  }

  /** Call before sending a read; pass the result to `applyAll` or `applySome` with its answer. */
  beginRead(): number {
    return this.generation;
  }

  /** A request this process stored or learned for certain (it is newer than any read in flight). */
  add(request: KillRequest): void {
    if (this.tombstones.has(request.id)) return;
    this.put(request, ++this.generation);
  }

  /** A request this process resolved or saw resolved. */
  remove(id: string): void {
    const generation = ++this.generation;
    this.tombstones.set(id, generation);
    const key = this.byId.get(id);
    if (key === undefined) return;
    this.byId.delete(id);
    if (this.byJob.get(key)?.request.id === id) this.byJob.delete(key);
  }

  /**
   * Applies a full read of the open requests (started at `readGeneration`):
   * adds what it shows, drops what it no longer shows unless learned since.
   * Returns the requests that were not known before, to announce.
   */
  applyAll(readGeneration: number, open: readonly KillRequest[]): KillRequest[] {
    const seen = new Set<string>();
    const added: KillRequest[] = [];
    for (const request of open) {
      seen.add(request.id);
      if (this.isStale(request.id, readGeneration)) continue;
      if (!this.byId.has(request.id)) added.push(request);
      this.put(request, readGeneration);
    }
    for (const [key, entry] of [...this.byJob]) {
      if (!seen.has(entry.request.id) && entry.generation <= readGeneration) {
        this.byJob.delete(key);
        this.byId.delete(entry.request.id);
      }
    }
    for (const [id, generation] of [...this.tombstones]) {
      if (generation <= readGeneration) this.tombstones.delete(id);
    }
    return added;
  }

  /**
   * Applies a read of some ids (started at `readGeneration`): `open` holds
   * those still open; any other id asked about is resolved, expired or gone.
   * Returns the open ones that are not stale, to announce.
   */
  applySome(readGeneration: number, ids: Iterable<string>, open: readonly KillRequest[]): KillRequest[] {
    const openIds = new Set(open.map((request) => request.id));
    for (const id of ids) {
      if (!openIds.has(id)) this.remove(id);
    }
    const fresh: KillRequest[] = [];
    for (const request of open) {
      if (this.isStale(request.id, readGeneration)) continue;
      this.put(request, readGeneration);
      fresh.push(request);
    }
    return fresh;
  }

  /**
   * Incremental polls never run `applyAll`, which is what forgets
   * tombstones: forget those older than a minute instead, far longer than
   * any read in flight can take to land (the connection timeout is 10 s).
   */
  forgetOldTombstones(now = Date.now()): void {
    while (this.marks.length > 0 && this.marks[0]!.at <= now - TOMBSTONE_TTL) {
      const { generation } = this.marks.shift()!;
      for (const [id, at] of [...this.tombstones]) if (at <= generation) this.tombstones.delete(id);
    }
    if (this.tombstones.size > 0) this.marks.push({ at: now, generation: this.generation });
  }

  clear(): void {
    this.marks.length = 0;
    this.byJob.clear();
    this.byId.clear();
    this.tombstones.clear();
  }

  private isStale(id: string, readGeneration: number): boolean {
    const tombstone = this.tombstones.get(id);
    return tombstone !== undefined && tombstone > readGeneration;
  }

  private put(request: KillRequest, generation: number): void {
    const key = refKey(request.ref);
    const previous = this.byJob.get(key);
    // One open request per job (the unique index); a new id for the job replaced an expired one.
    if (previous !== undefined && previous.request.id !== request.id) this.byId.delete(previous.request.id);
    // Keep the newest generation an entry was learned at, so an older read landing late cannot drop it.
    const learned = previous?.request.id === request.id ? Math.max(previous.generation, generation) : generation;
    this.byJob.set(key, { request, generation: learned });
    this.byId.set(request.id, key);
  }
}
