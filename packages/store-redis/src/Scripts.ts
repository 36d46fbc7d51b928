/**
 * The Lua scripts the store runs, and how it runs them: by SHA-1, loading a script on a server that lacks it.
 * The write script is `WriteScript`'s; here is the planner's `measure`.
 */
import { createHash } from "node:crypto"
import type { RedisClient } from "./Client.js"

export const sha1 = (text: string | Buffer): string => createHash("sha1").update(text).digest("hex")

export interface Script {
  readonly source: string
  readonly sha: string
}

export const script = (source: string): Script => ({ source, sha: sha1(source) })

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
  client: RedisClient,
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
