/**
 * The one Lua script that writes, and the call that carries a prepared write to it. A write is prepared in
 * TypeScript (where the JSON, the index encoding and the unique keys live, shared with the reference
 * evaluator) and handed to Redis as guarded steps; the script checks every guard before changing anything, so
 * a write applies whole or not at all, and a connection lost at any moment leaves either the old state or the
 * new one. The script touches only the keys it is given (KEYS), as Redis Cluster requires.
 *
 * The steps travel in `sections`, declared once below: `ScriptCall.args` packs them in that order, and the
 * script's reading of where each section starts is generated from the same declaration.
 */
import type { Ast, Driver } from "@lineage/core"
import type { KeySpace } from "./Keys.js"
import * as Scripts from "./Scripts.js"

/**
 * The sections of the script's arguments, in the order they are packed. `arity` is the number of arguments
 * per entry; the entries of a `grouped` section have a length of their own, so it must come last. A key is
 * sent as its number in KEYS.
 */
export const sections = [
  { name: "guards", arity: 2, holds: "documents that must hold what the write read: key, SHA-1 of the JSON" },
  { name: "absent", arity: 1, holds: "documents that must still be absent: key" },
  { name: "indexGuards", arity: 2, holds: "indexes whose whole membership must be as read: key, SHA-1 of the members joined by ','" },
  { name: "floors", arity: 2, holds: "id sequences to raise to at least a value: key, value" },
  { name: "releases", arity: 3, holds: "unique claims to drop if the id still holds them: hash key, field, id" },
  { name: "claims", arity: 3, holds: "unique claims to take, refused if another id holds them: hash key, field, id" },
  { name: "zrems", arity: 2, holds: "index entries to remove: key, member" },
  { name: "sets", arity: 2, holds: "documents to store: key, JSON" },
  { name: "dels", arity: 1, holds: "documents to delete: key" },
  { name: "hsets", arity: 3, holds: "hash fields to set: key, field, value" },
  { name: "zadds", arity: "grouped", holds: "index entries to add, by index: key, n, then n times '0, member'" }
] as const satisfies ReadonlyArray<{ readonly name: string; readonly arity: number | "grouped"; readonly holds: string }>

export type Section = (typeof sections)[number]["name"]
type Listed = Extract<(typeof sections)[number], { readonly arity: number }>["name"]
type Grouped = Extract<(typeof sections)[number], { readonly arity: "grouped" }>["name"]

/**
 * The ARGV index of the sections' entry counts, after the header: ARGV[1] the schema version the write was prepared
 * against, [2] the token's lifetime (ms), [3] `1` to bump the schema version. The sections follow the counts.
 */
export const countsArg = 4

/**
 * The script from its body: a preamble generated from `sections` sets `count.<section>`, its number of entries,
 * and `start.<section>`, the ARGV index of its first argument. Throws when the body reads a section that is
 * not declared or leaves one unread, so the two sides cannot drift apart.
 */
export const assemble = (body: string): string => {
  const read = new Set([...body.matchAll(/\b(?:count|start)\.(\w+)/g)].map((m) => m[1]!))
  const declared = new Set<string>(sections.map((s) => s.name))
  const unknown = [...read].filter((name) => !declared.has(name))
  const unread = [...declared].filter((name) => !read.has(name))
  if (unknown.length > 0 || unread.length > 0)
    throw new Error(`the write script reads undeclared sections [${unknown.join(", ")}] and leaves unread [${unread.join(", ")}]`)
  const lines = [`local n = {}`, `for c in string.gmatch(ARGV[${countsArg}], '%d+') do n[#n + 1] = tonumber(c) end`, `local count, start = {}, {}`]
  let previous: (typeof sections)[number] | undefined
  sections.forEach((section, i) => {
    lines.push(`-- ${section.name}: ${section.holds}`, `count.${section.name} = n[${i + 1}]`)
    if (previous === undefined) lines.push(`start.${section.name} = ${countsArg + 1}`)
    else if (previous.arity === "grouped") throw new Error(`the grouped section "${previous.name}" must be the last`)
    else lines.push(`start.${section.name} = start.${previous.name} + ${previous.arity} * count.${previous.name}`)
    previous = section
  })
  return `${lines.join("\n")}\n${body}`
}

/**
 * KEYS[1]: schema version; KEYS[2]: this write's token; other keys are referenced by number from ARGV.
 *
 * Replies: `OK`; `APPLIED` (this token already applied: a re-sent write); `{SCHEMA, v}` (the schema
 * changed: prepare again); `{STALE, i}` (a guard failed: a document changed since it was read: prepare again);
 * `{UNIQUE, i}` (claim i is held by another document).
 */
const body = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'APPLIED' end
local version = redis.call('GET', KEYS[1]) or '0'
if version ~= ARGV[1] then return {'SCHEMA', version} end
local a
local function key() local k = KEYS[tonumber(ARGV[a])]; a = a + 1; return k end
local function arg() local v = ARGV[a]; a = a + 1; return v end

-- Validate everything first: nothing below may fail once the first write is made.
a = start.guards
for i = 1, count.guards do
  local k = key()
  local cur = redis.call('GET', k)
  if (not cur) or redis.sha1hex(cur) ~= arg() then return {'STALE', i} end
end
-- Documents the write saw absent (an insert's), checked a chunk at a time.
a = start.absent
local absent = {}
for i = 1, count.absent do
  absent[#absent + 1] = key()
  if #absent == 1000 or i == count.absent then
    if redis.call('EXISTS', unpack(absent)) > 0 then return {'STALE', 0} end
    absent = {}
  end
end
-- Whole-index guards (a declaration building a new index over every document): the membership of the
-- table's id index is what the write saw, so no document was added or removed since.
a = start.indexGuards
for i = 1, count.indexGuards do
  local k = key()
  if redis.sha1hex(table.concat(redis.call('ZRANGE', k, 0, -1), ',')) ~= arg() then return {'STALE', 0} end
end
-- A claim on a field this write releases is no conflict.
a = start.releases
local released = {}
for i = 1, count.releases do
  local k = key()
  local f = arg()
  released[k .. '\\0' .. f] = arg()
end
a = start.claims
for i = 1, count.claims do
  local k = key()
  local f = arg()
  local id = arg()
  local owner = redis.call('HGET', k, f)
  if owner and owner ~= id and released[k .. '\\0' .. f] ~= owner then return {'UNIQUE', i} end
end

-- Apply.
a = start.floors
for i = 1, count.floors do
  local k = key()
  local floor = arg()
  if tonumber(redis.call('GET', k) or '0') < tonumber(floor) then redis.call('SET', k, floor) end
end
a = start.releases
for i = 1, count.releases do
  local k = key()
  local f = arg()
  if redis.call('HGET', k, f) == arg() then redis.call('HDEL', k, f) end
end
a = start.claims
for i = 1, count.claims do
  local k = key()
  local f = arg()
  redis.call('HSET', k, f, arg())
end
a = start.zrems
for i = 1, count.zrems do
  local k = key()
  redis.call('ZREM', k, arg())
end
-- Documents in one MSET per chunk: a redis.call costs more than the SET it makes.
a = start.sets
local kv = {}
for i = 1, count.sets do
  kv[#kv + 1] = key()
  kv[#kv + 1] = arg()
  if #kv == 1000 or i == count.sets then
    redis.call('MSET', unpack(kv))
    kv = {}
  end
end
a = start.dels
for i = 1, count.dels do redis.call('DEL', key()) end
a = start.hsets
for i = 1, count.hsets do
  local k = key()
  local f = arg()
  redis.call('HSET', k, f, arg())
end
-- Index additions, grouped by index with their scores in place: straight from ARGV, one ZADD per chunk.
a = start.zadds
for i = 1, count.zadds do
  local k = key()
  local entries = tonumber(arg())
  for c = 0, entries - 1, 500 do
    local m = math.min(500, entries - c)
    redis.call('ZADD', k, unpack(ARGV, a + 2 * c, a + 2 * (c + m) - 1))
  end
  a = a + 2 * entries
end
if ARGV[3] == '1' then redis.call('INCR', KEYS[1]) end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 'OK'
`

export const script = Scripts.script(assemble(body))

/** A claim the script may refuse, kept to name the violated constraint when it does. */
export interface ClaimInfo {
  readonly table: string
  readonly unique: Driver.UniqueSpec
  readonly values: ReadonlyArray<Ast.Json>
}

/** The script's arguments, built step by step; keys are numbered as they are first used. */
export class ScriptCall {
  readonly keys: Array<string>
  private readonly keyIndex = new Map<string, number>()
  /** The entries of each section but the grouped one, as packed. */
  private readonly listed: Record<Listed, Array<string>> = {
    guards: [],
    absent: [],
    indexGuards: [],
    floors: [],
    releases: [],
    claims: [],
    zrems: [],
    sets: [],
    dels: [],
    hsets: []
  }
  /** The grouped section's entries by key: each index's members, added by the script in one command. */
  private readonly grouped: Record<Grouped, Map<string, Array<string>>> = { zadds: new Map() }
  /** The claims' constraints and values, in the order of the `claims` section. */
  readonly claimInfo: Array<ClaimInfo> = []
  /** Bump the schema version: the call changes the schema. */
  bump = false

  constructor(keys: KeySpace, token: string) {
    this.keys = [keys.schemaVersion, keys.token(token)]
  }

  private ref(key: string): string {
    let i = this.keyIndex.get(key)
    if (i === undefined) {
      this.keys.push(key)
      i = this.keys.length
      this.keyIndex.set(key, i)
    }
    return String(i)
  }

  /** The document at `key` must still be `raw` (or absent, for null). */
  guard(key: string, raw: string | null): void {
    if (raw === null) this.listed.absent.push(this.ref(key))
    else this.listed.guards.push(this.ref(key), Scripts.sha1(raw))
  }

  /** The sorted set at `key` must still hold exactly `members`. */
  guardMembers(key: string, members: ReadonlyArray<string>): void {
    this.listed.indexGuards.push(this.ref(key), Scripts.sha1(members.join(",")))
  }

  raiseFloor(key: string, floor: number): void {
    this.listed.floors.push(this.ref(key), String(floor))
  }

  release(key: string, field: string, id: number): void {
    this.listed.releases.push(this.ref(key), field, String(id))
  }

  claim(key: string, field: string, id: number, info: ClaimInfo): void {
    this.listed.claims.push(this.ref(key), field, String(id))
    this.claimInfo.push(info)
  }

  zrem(key: string, member: string): void {
    this.listed.zrems.push(this.ref(key), member)
  }

  zadd(key: string, member: string): void {
    let members = this.grouped.zadds.get(key)
    if (members === undefined) {
      this.ref(key)
      this.grouped.zadds.set(key, (members = []))
    }
    members.push("0", member)
  }

  set(key: string, raw: string): void {
    this.listed.sets.push(this.ref(key), raw)
  }

  del(key: string): void {
    this.listed.dels.push(this.ref(key))
  }

  hset(key: string, field: string, value: string): void {
    this.listed.hsets.push(this.ref(key), field, value)
  }

  /** How many entries `section` holds. */
  count(section: Section): number {
    const s = sections.find((s) => s.name === section)!
    return s.arity === "grouped" ? this.grouped[s.name].size : this.listed[s.name].length / s.arity
  }

  /** Nothing to store: no document, claim, hash field or index entry is added or deleted. */
  get isEmpty(): boolean {
    return (["sets", "dels", "hsets", "claims", "zadds"] as const).every((s) => this.count(s) === 0)
  }

  args(version: string, ttlMs: number): Array<string> {
    // The counts are known once the sections are packed.
    const out = [version, String(ttlMs), this.bump ? "1" : "0", ""]
    const counts: Array<number> = []
    for (const s of sections) {
      if (s.arity === "grouped") {
        const groups = this.grouped[s.name]
        counts.push(groups.size)
        for (const [key, members] of groups) {
          out.push(this.ref(key), String(members.length / 2))
          for (const m of members) out.push(m)
        }
      } else {
        const entries = this.listed[s.name]
        counts.push(entries.length / s.arity)
        for (const a of entries) out.push(a)
      }
    }
    out[countsArg - 1] = counts.join(" ")
    return out
  }
}
