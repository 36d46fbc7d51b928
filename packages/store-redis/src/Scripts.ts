/**
 * The one Lua script that writes. A write is planned in TypeScript (where the JSON, the index encoding and
 * the unique keys live, shared with the reference evaluator) and handed to Redis as a list of guarded
 * steps; the script checks every guard before changing anything, so a write applies whole or not at all,
 * and a connection lost at any moment leaves either the old state or the new one.
 *
 * The script touches only the keys it is given (KEYS), as Redis Cluster requires.
 */
import { createHash } from "node:crypto"
import type { Redis } from "ioredis"

export const sha1 = (text: string | Buffer): string => createHash("sha1").update(text).digest("hex")

/**
 * KEYS[1]: schema version; KEYS[2]: this write's token; other keys are referenced by number from ARGV.
 * ARGV[1]: schema version the plan was made against; ARGV[2]: token lifetime (ms); ARGV[3]: counts of
 * guards, id floors, unique releases, unique claims, index removals, indexes with additions, document
 * sets, document deletes, hash sets, whether to bump the schema version, whole-index guards and absent
 * documents; then the steps: guards, absent documents, whole-index guards, floors, releases, claims,
 * removals, sets, deletes, hash sets, and last the additions, each index as `key, count, 0, member, …`.
 *
 * Replies: `OK`; `APPLIED` (this token already applied: a re-sent write); `{SCHEMA, v}` (the schema
 * changed: re-plan); `{STALE, i}` (guard i failed: a document changed since it was read: re-plan);
 * `{UNIQUE, i}` (claim i is held by another document).
 */
export const applySource = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'APPLIED' end
local version = redis.call('GET', KEYS[1]) or '0'
if version ~= ARGV[1] then return {'SCHEMA', version} end
local n = {}
for c in string.gmatch(ARGV[3], '%d+') do n[#n + 1] = tonumber(c) end
local a = 4
local function key() local k = KEYS[tonumber(ARGV[a])]; a = a + 1; return k end
local function arg() local v = ARGV[a]; a = a + 1; return v end

-- Validate everything first: nothing below may fail once the first write is made.
for i = 1, n[1] do
  local k = key()
  local cur = redis.call('GET', k)
  if (not cur) or redis.sha1hex(cur) ~= arg() then return {'STALE', i} end
end
-- Documents the plan saw absent (an insert's), checked a chunk at a time.
local absent = {}
for i = 1, n[12] do
  absent[#absent + 1] = key()
  if #absent == 1000 or i == n[12] then
    if redis.call('EXISTS', unpack(absent)) > 0 then return {'STALE', 0} end
    absent = {}
  end
end
-- Whole-index guards (a declaration building a new index over every document): the membership of the
-- table's id index is what the plan saw, so no document was added or removed since.
for i = 1, n[11] do
  local k = key()
  if redis.sha1hex(table.concat(redis.call('ZRANGE', k, 0, -1), ',')) ~= arg() then return {'STALE', 0} end
end
local floors = a
a = a + 2 * n[2]
local releases = a
local released = {}
for i = 1, n[3] do
  local k = key()
  local f = arg()
  released[k .. '\\0' .. f] = arg()
end
local claims = a
for i = 1, n[4] do
  local k = key()
  local f = arg()
  local id = arg()
  local owner = redis.call('HGET', k, f)
  if owner and owner ~= id and released[k .. '\\0' .. f] ~= owner then return {'UNIQUE', i} end
end
local rest = a

-- Apply.
a = floors
for i = 1, n[2] do
  local k = key()
  local floor = arg()
  if tonumber(redis.call('GET', k) or '0') < tonumber(floor) then redis.call('SET', k, floor) end
end
a = releases
for i = 1, n[3] do
  local k = key()
  local f = arg()
  if redis.call('HGET', k, f) == arg() then redis.call('HDEL', k, f) end
end
a = claims
for i = 1, n[4] do
  local k = key()
  local f = arg()
  redis.call('HSET', k, f, arg())
end
a = rest
for i = 1, n[5] do
  local k = key()
  redis.call('ZREM', k, arg())
end
-- Documents in one MSET per chunk: a redis.call costs more than the SET it makes.
local kv = {}
for i = 1, n[7] do
  kv[#kv + 1] = key()
  kv[#kv + 1] = arg()
  if #kv == 1000 or i == n[7] then
    redis.call('MSET', unpack(kv))
    kv = {}
  end
end
for i = 1, n[8] do redis.call('DEL', key()) end
for i = 1, n[9] do
  local k = key()
  local f = arg()
  redis.call('HSET', k, f, arg())
end
-- Index additions, grouped by index with their scores in place: straight from ARGV, one ZADD per chunk.
for i = 1, n[6] do
  local k = key()
  local count = tonumber(arg())
  for c = 0, count - 1, 500 do
    local m = math.min(500, count - c)
    redis.call('ZADD', k, unpack(ARGV, a + 2 * c, a + 2 * (c + m) - 1))
  end
  a = a + 2 * count
end
if n[10] == 1 then redis.call('INCR', KEYS[1]) end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 'OK'
`

export interface Script {
  readonly source: string
  readonly sha: string
}

export const script = (source: string): Script => ({ source, sha: sha1(source) })

export const apply = script(applySource)

/**
 * What a query plan needs: KEYS[1] the schema version, KEYS[2] the table's id index, then the index key of
 * each predicate; ARGV[1] the prefetch limit of one range, ARGV[2] the members the script may return in all,
 * then `key number, min, max` per range. Replies the version, the table size, and per range its ZLEXCOUNT,
 * or, when that is at most the limit and the budget allows, the members themselves: a selective lookup then
 * needs no second trip for its ids. The caller bounds the ranges per call (see `Planner.rangesPerStep`).
 */
export const measureSource = `
local out = {redis.call('GET', KEYS[1]) or '0', redis.call('ZCARD', KEYS[2])}
local limit = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
for a = 3, #ARGV, 3 do
  local key = KEYS[tonumber(ARGV[a])]
  local min = ARGV[a + 1]
  local max = ARGV[a + 2]
  local n = redis.call('ZLEXCOUNT', key, min, max)
  if n == 0 then
    out[#out + 1] = {}
  elseif n <= limit and n <= budget then
    out[#out + 1] = redis.call('ZRANGEBYLEX', key, min, max)
    budget = budget - n
  else
    out[#out + 1] = n
  end
end
return out
`

export const measure = script(measureSource)

/** EVALSHA, loading the script on a server that does not have it yet (a fresh or restarted Redis). */
export const run = async (
  client: Redis,
  s: Script,
  keys: ReadonlyArray<string>,
  args: ReadonlyArray<string | Buffer>
): Promise<unknown> => {
  // One array, not spread arguments: a batch's write carries tens of thousands of them.
  const all = [...keys, ...args]
  try {
    return await client.evalsha(s.sha, keys.length, all)
  } catch (e) {
    if (e instanceof Error && e.message.startsWith("NOSCRIPT")) return client.eval(s.source, keys.length, all)
    throw e
  }
}
