import { script } from './connection.js';

// Worker presence in Redis (docs/fleet.md, docs/redis-store.md). Each write
// is one Lua script, which Redis runs atomically: the check of the secret or
// of the dead threshold and the write it guards cannot be interleaved with
// another client's, so no WATCH/MULTI retry loop is needed. Clocks are
// Redis's TIME, never the callers'.
//
// Keys: <prefix>:workers (sorted set: instance id -> the ms at which it
// counts as dead, lastSeenAt + its own deadAfter) and
// <prefix>:worker:<instance id> (hash: secret = sha1 of the worker's secret,
// record = its last PresenceRecord as JSON, systems = the queue systems it
// serves as a JSON array, lastSeenAt, deadAfter, startedAt, rescueBy,
// rescueAt).

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Creates or refreshes a worker's record. Only the holder of the secret that
 * created it may refresh it (the hash keeps only its SHA-1, computed here,
 * so reading the hash does not give the secret away). While a rescue holds
 * it, answers `refused` and writes nothing.
 * KEYS: workers, worker. ARGV: instance id, secret, record JSON, deadAfter
 * (ms), systems JSON, startedAt (ms).
 */
export const HEARTBEAT = script(`${NOW}
if string.len(ARGV[2]) < 32 then return redis.error_reply('ERR jobterm: a presence secret has at least 32 characters') end
local hash = redis.sha1hex(ARGV[2])
local state = redis.call('HMGET', KEYS[2], 'secret', 'rescueBy')
local result = 'created'
if state[1] then
  if state[1] ~= hash then
    return redis.error_reply("NOPERM jobterm: worker " .. ARGV[1] .. " is another process's presence")
  end
  if state[2] then return 'refused' end
  result = 'refreshed'
end
local deadAfter = tonumber(ARGV[4])
redis.call('HSET', KEYS[2], 'secret', hash, 'record', ARGV[3], 'systems', ARGV[5], 'lastSeenAt', now,
  'deadAfter', deadAfter, 'startedAt', ARGV[6])
redis.call('ZADD', KEYS[1], now + deadAfter, ARGV[1])
return result
`);

/** Removes a record given its secret (a clean shutdown). KEYS: workers, worker. ARGV: instance id, secret. */
export const DEREGISTER = script(`
if redis.call('HGET', KEYS[2], 'secret') ~= redis.sha1hex(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`);

/**
 * Claims dead records for one rescuer: dead in Redis's clock by the worker's
 * own threshold, not claimed by another rescuer within the lease, and
 * serving only queue systems the rescuer can rescue. Atomic, so two rescuers
 * never claim the same record within a lease, and a heartbeat that landed
 * first keeps its worker alive.
 * KEYS: workers. ARGV: prefix, rescuer, lease (ms), limit, rescuer's queue systems JSON.
 * Returns { { instance id, record JSON, lastSeenAt }... }.
 */
export const CLAIM_DEAD = script(`${NOW}
local allowed = {}
for _, q in ipairs(cjson.decode(ARGV[5])) do allowed[q] = true end
local lease = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)) do
  if #out >= limit then break end
  local key = ARGV[1] .. ':worker:' .. id
  local f = redis.call('HMGET', key, 'record', 'systems', 'lastSeenAt', 'deadAfter', 'rescueBy', 'rescueAt')
  if not f[1] then
    redis.call('ZREM', KEYS[1], id)
  elseif tonumber(f[3]) + tonumber(f[4]) < now and (not f[5] or tonumber(f[6]) + lease < now) then
    local ok = true
    for _, q in ipairs(cjson.decode(f[2])) do if not allowed[q] then ok = false end end
    if ok then
      redis.call('HSET', key, 'rescueBy', ARGV[2], 'rescueAt', now)
      out[#out + 1] = { id, f[1], f[3] }
    end
  end
end
return out
`);

/** Removes a record this rescuer claimed. KEYS: workers, worker. ARGV: instance id, rescuer. */
export const COMPLETE_RESCUE = script(`
if redis.call('HGET', KEYS[2], 'rescueBy') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`);

/**
 * Every record (dead ones too; the caller filters).
 * KEYS: workers. ARGV: prefix. Returns { now, { { id, record, lastSeenAt, deadAfter }... } }.
 */
export const LIST_WORKERS = script(`${NOW}
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', ARGV[1] .. ':worker:' .. id, 'record', 'lastSeenAt', 'deadAfter')
  if f[1] then out[#out + 1] = { id, f[1], f[2], f[3] } end
end
return { now, out }
`);

/**
 * For each job, its open request's fields (or an empty list) and its saved
 * cursor (or false). KEYS: jobs, progress. ARGV: prefix, jobKeys...
 * Returns { now, { { fields, cursor }... } } in the order of the jobs.
 */
export const JOB_STATES = script(`${NOW}
local out = {}
for i = 2, #ARGV do
  local fields = {}
  local id = redis.call('HGET', KEYS[1], ARGV[i])
  if id then fields = redis.call('HGETALL', ARGV[1] .. ':request:' .. id) end
  out[#out + 1] = { fields, redis.call('HGET', KEYS[2], ARGV[i]) }
end
return { now, out }
`);

/** Records once that the request's job ignored its token past killTimeout. ARGV: request key, worker id. */
export const MARK_ESCALATED = script(`${NOW}
if redis.call('EXISTS', ARGV[1]) == 0 or redis.call('HEXISTS', ARGV[1], 'escalatedAt') == 1 then return 0 end
redis.call('HSET', ARGV[1], 'escalatedAt', now, 'escalatedBy', ARGV[2])
return 1
`);

/**
 * Takes back a request no worker applied yet: it expires now (no worker
 * applies it), leaves the open indexes, and its id is published on the
 * resolved channel so every worker drops it from memory.
 * KEYS: open, jobs, expiry. ARGV: request key, id, withdrawn by ('' for none),
 * resolved channel, keep (ms the hash outlives its expiry).
 */
export const WITHDRAW = script(`${NOW}
local state = redis.call('HMGET', ARGV[1], 'status', 'expiresAt', 'jobKey')
if not state[1] then return 'not_found' end
if state[1] ~= 'pending' then return state[1] end
if tonumber(state[2]) <= now then return 'expired' end
redis.call('HSET', ARGV[1], 'expiresAt', now, 'withdrawnAt', now, 'withdrawnBy', ARGV[3])
redis.call('PEXPIREAT', ARGV[1], now + tonumber(ARGV[5]))
redis.call('ZREM', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[2], state[3]) == ARGV[2] then redis.call('HDEL', KEYS[2], state[3]) end
redis.call('ZADD', KEYS[3], now, ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 'withdrawn'
`);
