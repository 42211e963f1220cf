import { script } from './connection.js';

// Every script reads the clock with Redis's own TIME, so expiry and
// `requestedAt` do not depend on the clocks of the processes that call it.
// Keys of single requests are built inside the scripts from the prefix:
// the store targets one Redis server (not Redis Cluster), as BullMQ does by
// default.

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Stores a request unless the job has an open one; announces it either way
 * (delivery is idempotent, and a worker that missed it gets another chance).
 * KEYS: open (zset id -> expiresAt), jobs (hash jobKey -> id), recent (zset
 * id -> requestedAt), expiry (zset id -> expiresAt).
 * ARGV: prefix, id, jobKey, queue, name, jobId, message, requestedBy ('' for
 * none), expiresAt (ms), requests channel, keep (ms the hash outlives its
 * expiry, for pruning).
 * Returns { created (0|1), fields of the request as HGETALL gives them }.
 */
export const STORE_REQUEST = script(`${NOW}
local existing = redis.call('HGET', KEYS[2], ARGV[3])
if existing then
  local key = ARGV[1] .. ':request:' .. existing
  local state = redis.call('HMGET', key, 'status', 'expiresAt')
  if state[1] and state[1] ~= 'resolved' and tonumber(state[2]) > now then
    redis.call('PUBLISH', ARGV[10], existing)
    return { 0, redis.call('HGETALL', key) }
  end
  redis.call('ZREM', KEYS[1], existing)
end
local expiresAt = tonumber(ARGV[9])
if expiresAt <= now then return redis.error_reply('ERR jobterm: expiresAt is in the past') end
local key = ARGV[1] .. ':request:' .. ARGV[2]
redis.call('HSET', key, 'id', ARGV[2], 'jobKey', ARGV[3], 'queue', ARGV[4], 'name', ARGV[5], 'jobId', ARGV[6],
  'message', ARGV[7], 'requestedBy', ARGV[8], 'requestedAt', now, 'expiresAt', expiresAt, 'status', 'pending')
redis.call('PEXPIREAT', key, expiresAt + tonumber(ARGV[11]))
redis.call('HSET', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[1], expiresAt, ARGV[2])
redis.call('ZADD', KEYS[3], now, ARGV[2])
redis.call('ZADD', KEYS[4], expiresAt, ARGV[2])
redis.call('PUBLISH', ARGV[10], ARGV[2])
return { 1, redis.call('HGETALL', key) }
`);

/**
 * pending -> delivered, recording the deliverer; a resolved request keeps its
 * status but gets its first deliverer recorded. ARGV: request key, worker id.
 */
export const MARK_DELIVERED = script(`${NOW}
local state = redis.call('HMGET', ARGV[1], 'status', 'deliveredBy')
if not state[1] then return 0 end
if state[1] == 'resolved' then
  if state[2] then return 0 end
  redis.call('HSET', ARGV[1], 'deliveredBy', ARGV[2], 'deliveredAt', now)
  return 1
end
redis.call('HSET', ARGV[1], 'status', 'delivered', 'deliveredBy', ARGV[2], 'deliveredAt', now)
return 1
`);

/**
 * Records the outcome once and announces it; a second resolve changes and
 * announces nothing. KEYS: open, jobs. ARGV: request key, id, outcome,
 * worker id, resolved channel, unless delivered ('1': a requester or a sweep
 * that re-read the queue and found the job ended leaves a request that a
 * worker marked delivered to that worker, whose answer is on its way, unless
 * five minutes passed without one; as `resolve_request()` does in
 * PostgreSQL). Returns 1 when it resolved the request.
 */
export const RESOLVE = script(`${NOW}
local state = redis.call('HMGET', ARGV[1], 'status', 'jobKey', 'deliveredAt')
if not state[1] or state[1] == 'resolved' then return 0 end
if ARGV[6] == '1' and state[1] == 'delivered' and tonumber(state[3] or '0') > now - 300000 then return 0 end
redis.call('HSET', ARGV[1], 'status', 'resolved', 'outcome', ARGV[3], 'resolvedBy', ARGV[4], 'resolvedAt', now)
redis.call('ZREM', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[2], state[2]) == ARGV[2] then redis.call('HDEL', KEYS[2], state[2]) end
redis.call('PUBLISH', ARGV[5], ARGV[2])
return 1
`);

/** Every open, unexpired request: the full load (start, poll, resync). KEYS: open. ARGV: prefix. */
export const LOAD_OPEN = script(`${NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local out = {}
for _, id in ipairs(ids) do
  local fields = redis.call('HGETALL', ARGV[1] .. ':request:' .. id)
  if #fields > 0 then out[#out + 1] = fields end
end
return { now, out }
`);

/** The requests with these ids, whatever their state. ARGV: prefix, ids... */
export const LOAD_BY_IDS = script(`${NOW}
local out = {}
for i = 2, #ARGV do
  local fields = redis.call('HGETALL', ARGV[1] .. ':request:' .. ARGV[i])
  if #fields > 0 then out[#out + 1] = fields end
end
return { now, out }
`);

/** Newest first. KEYS: recent, open. ARGV: prefix, limit, pending only (0|1). */
export const LIST_RECENT = script(`${NOW}
local source = ARGV[3] == '1' and KEYS[2] or KEYS[1]
local ids = redis.call('ZREVRANGE', source, 0, -1)
local out = {}
local limit = tonumber(ARGV[2])
for _, id in ipairs(ids) do
  if #out >= limit then break end
  local fields = redis.call('HGETALL', ARGV[1] .. ':request:' .. id)
  if #fields > 0 then out[#out + 1] = fields end
end
return { now, out }
`);

/**
 * Deletes expired requests, resolved or not, and their index entries.
 * KEYS: open, jobs, recent, expiry. ARGV: prefix, batch size. Returns how many.
 */
export const PRUNE = script(`${NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local key = ARGV[1] .. ':request:' .. id
  local jobKey = redis.call('HGET', key, 'jobKey')
  if jobKey and redis.call('HGET', KEYS[2], jobKey) == id then redis.call('HDEL', KEYS[2], jobKey) end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
end
return #ids
`);
