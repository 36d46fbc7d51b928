/**
 * Writes: each call (insert, update, remove, batch, and a declaration that adds indexes) is planned here as
 * its net effect on documents, index entries and unique claims, and applied by the one Lua script. The plan
 * records what it assumed about every document it touches (its SHA-1, or that it is absent); if anything
 * changed in between, the script refuses and the write is planned again from fresh reads. Unique claims
 * are checked by the script against the live hashes, so two processes racing for one (key, version) get
 * one record and one `UniqueViolation`.
 */
import { randomBytes } from "node:crypto"
import type { Redis } from "ioredis"
import { Driver, Evaluator, showValue, StoreError } from "@lineage/core"
import type { Ast } from "@lineage/core"
import type { Catalog } from "./Catalog.js"
import { idKey, memberOf } from "./Encoding.js"
import type { KeySpace } from "./Keys.js"
import * as Scripts from "./Scripts.js"
import { indexesOf, type StoredTable } from "./Tables.js"

type Doc = Evaluator.Doc

export interface Namespace {
  readonly client: Redis
  readonly keys: KeySpace
  readonly catalog: Catalog
  readonly tokenTtlMs: number
  /** Writes found already applied under their token: re-sent after their reply was lost. */
  readonly replays: { count: number }
}

/** A violated claim, reported by name once the script says which claim lost. */
interface ClaimInfo {
  readonly table: string
  readonly unique: Driver.UniqueSpec
  readonly values: ReadonlyArray<Ast.Json>
}

/** The script's arguments, built step by step; keys are numbered as they are first used. */
export class ScriptCall {
  readonly keys: Array<string>
  private readonly keyIndex = new Map<string, number>()
  /** Documents that must hold what the plan read: `key, sha1(raw)`. */
  readonly guards: Array<string> = []
  /** Documents that must still be absent. */
  readonly absent: Array<string> = []
  readonly floors: Array<string> = []
  readonly releases: Array<string> = []
  readonly claims: Array<string> = []
  readonly claimInfo: Array<ClaimInfo> = []
  readonly zrems: Array<string> = []
  /** Index members to add, by index key: the script adds each index's in one command. */
  private readonly adds = new Map<string, Array<string>>()
  readonly sets: Array<string> = []
  readonly dels: Array<string> = []
  readonly hsets: Array<string> = []
  /** Sorted sets whose whole membership must be as read: `key, sha1(members joined by ",")`. */
  readonly setGuards: Array<string> = []
  bump = false

  constructor(keys: KeySpace, token: string) {
    this.keys = [keys.schemaVersion, keys.token(token)]
  }

  ref(key: string): string {
    let i = this.keyIndex.get(key)
    if (i === undefined) {
      this.keys.push(key)
      i = this.keys.length
      this.keyIndex.set(key, i)
    }
    return String(i)
  }

  guard(key: string, raw: string | null): void {
    if (raw === null) this.absent.push(this.ref(key))
    else this.guards.push(this.ref(key), Scripts.sha1(raw))
  }

  /** `ref`: the index key's reference. */
  zadd(ref: string, member: string): void {
    let members = this.adds.get(ref)
    if (members === undefined) this.adds.set(ref, (members = []))
    members.push("0", member)
  }

  get isEmpty(): boolean {
    return this.sets.length === 0 && this.dels.length === 0 && this.hsets.length === 0 && this.adds.size === 0 && this.claims.length === 0
  }

  args(version: string, ttlMs: number): Array<string> {
    const counts = [
      this.guards.length / 2,
      this.floors.length / 2,
      this.releases.length / 3,
      this.claims.length / 3,
      this.zrems.length / 2,
      this.adds.size,
      this.sets.length / 2,
      this.dels.length,
      this.hsets.length / 3,
      this.bump ? 1 : 0,
      this.setGuards.length / 2,
      this.absent.length
    ]
    const out = [version, String(ttlMs), counts.join(" ")]
    for (const part of [this.guards, this.absent, this.setGuards, this.floors, this.releases, this.claims, this.zrems, this.sets, this.dels, this.hsets])
      for (const a of part) out.push(a)
    for (const [ref, members] of this.adds) {
      out.push(ref, String(members.length / 2))
      for (const m of members) out.push(m)
    }
    return out
  }
}

export type Outcome = { readonly _tag: "Done" } | { readonly _tag: "Replan"; readonly reloadSchema: boolean }

/** Runs a planned call and turns the reply into done, re-plan, or a typed failure. */
export const execute = async (ns: Namespace, call: ScriptCall, version: string): Promise<Outcome> => {
  const reply = await Scripts.run(ns.client, Scripts.apply, call.keys, call.args(version, ns.tokenTtlMs))
  if (reply === "APPLIED") ns.replays.count++
  if (reply === "OK" || reply === "APPLIED") return { _tag: "Done" }
  if (Array.isArray(reply)) {
    const [tag, detail] = reply as [string, string | number]
    if (tag === "SCHEMA") return { _tag: "Replan", reloadSchema: true }
    if (tag === "STALE") return { _tag: "Replan", reloadSchema: false }
    if (tag === "UNIQUE") {
      const info = call.claimInfo[Number(detail) - 1]!
      throw StoreError.uniqueViolation(info.table, info.unique.name, info.unique.fields, info.values)
    }
  }
  throw StoreError.invalid(`the write script replied ${showValue(reply)}`)
}

export const newToken = (): string => randomBytes(12).toString("base64url")

/** One document's state while a write is simulated. */
interface Slot {
  readonly table: StoredTable
  readonly id: number
  readonly key: string
  /** What the plan assumes is stored now: raw JSON, or null for absent. */
  readonly beforeRaw: string | null
  readonly before: Doc | undefined
  after: Doc | undefined
  afterRaw: string | null
}

/** A table's Redis keys besides its documents'. */
interface Layout {
  readonly indexes: ReadonlyArray<readonly [Ast.Path, string]>
  readonly unique: ReadonlyMap<Driver.UniqueSpec, string>
}

const admit = (table: string, doc: Doc): void => {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw StoreError.invalid(`${table} documents must be JSON objects, got ${showValue(doc)}`)
  if (!Number.isSafeInteger(doc["id"])) throw StoreError.invalid(`${table} documents need an integer id, got ${showValue(doc["id"])}`)
}

/** What a planned write returns to its caller once applied. */
export interface Planned {
  readonly call: ScriptCall
  readonly version: string
  /** For `update`: the new document of each Update op, in order. */
  readonly updated: ReadonlyArray<Doc>
  /** For `remove`: how many of the documents existed. */
  readonly removed: number
}

/**
 * Simulates `ops` in order over what is stored (reading the documents they change), raising the errors the
 * memory store would raise at the op that causes them, and returns the net effect as a script call.
 * `readInserts`: also read the ids being inserted (after a refusal, to tell a taken id from a race).
 */
export const plan = async (ns: Namespace, ops: ReadonlyArray<Driver.WriteOp>, token: string, readInserts: boolean): Promise<Planned> => {
  // Every table from one copy of the schema, whose version the script will check.
  let schema = await ns.catalog.current()
  if (ops.some((op) => !schema.tables.has(op.table))) schema = await ns.catalog.reload()
  const tables = new Map<string, StoredTable>()
  for (const op of ops) {
    const table = schema.tables.get(op.table)
    if (table === undefined) throw StoreError.invalid(`unknown table "${op.table}": declare it first`)
    tables.set(op.table, table)
  }
  const version = schema.version

  for (const op of ops) if (op._tag === "Insert") for (const doc of op.docs) admit(op.table, doc)

  // One MGET for every document whose current state the ops depend on.
  const toRead = new Set<string>()
  for (const op of ops) {
    if (op._tag === "Update") toRead.add(ns.keys.doc(op.table, op.id))
    else if (op._tag === "Delete") for (const id of op.ids) toRead.add(ns.keys.doc(op.table, id))
    else if (readInserts) for (const doc of op.docs) toRead.add(ns.keys.doc(op.table, doc["id"] as number))
  }
  const readKeys = [...toRead]
  const raws = readKeys.length === 0 ? [] : await ns.client.mget(readKeys)
  const stored = new Map<string, string | null>(readKeys.map((k, i) => [k, raws[i] ?? null]))

  // Each table's index and unique-hash keys, built once per write rather than once per document.
  const layouts = new Map<StoredTable, Layout>()
  const layoutOf = (table: StoredTable): Layout => {
    let layout = layouts.get(table)
    if (layout === undefined) {
      layout = {
        indexes: indexesOf(table).map((path) => [path, ns.keys.index(table.name, path)] as const),
        unique: new Map(table.unique.map((u) => [u, ns.keys.unique(table.name, u.fields)]))
      }
      layouts.set(table, layout)
    }
    return layout
  }

  const slots = new Map<string, Slot>()
  /** Unique claims as the simulation goes: `uniqueKey \0 field` → id. */
  const owners = new Map<string, number>()
  const claimKey = (table: StoredTable, u: Driver.UniqueSpec, field: string) => `${layoutOf(table).unique.get(u)}\u0000${field}`
  const claimAll = (slot: Slot, doc: Doc) => {
    for (const u of slot.table.unique) {
      const f = Driver.uniqueKey(u, doc)
      if (f !== undefined) owners.set(claimKey(slot.table, u, f), slot.id)
    }
  }
  const releaseAll = (slot: Slot, doc: Doc) => {
    for (const u of slot.table.unique) {
      const f = Driver.uniqueKey(u, doc)
      if (f !== undefined && owners.get(claimKey(slot.table, u, f)) === slot.id) owners.delete(claimKey(slot.table, u, f))
    }
  }
  const checkClaims = (slot: Slot, doc: Doc) => {
    for (const u of slot.table.unique) {
      const f = Driver.uniqueKey(u, doc)
      if (f === undefined) continue
      const owner = owners.get(claimKey(slot.table, u, f))
      if (owner !== undefined && owner !== slot.id) throw StoreError.uniqueViolation(slot.table.name, u.name, u.fields, Driver.uniqueValues(u, doc))
    }
  }
  const slotOf = (table: StoredTable, id: number): Slot => {
    const key = ns.keys.doc(table.name, id)
    let slot = slots.get(key)
    if (slot === undefined) {
      const beforeRaw = stored.get(key) ?? null
      const before = beforeRaw === null ? undefined : (JSON.parse(beforeRaw) as Doc)
      slot = { table, id, key, beforeRaw, before, after: before, afterRaw: beforeRaw }
      slots.set(key, slot)
      if (before !== undefined) claimAll(slot, before)
    }
    return slot
  }
  // Documents read but not yet touched still hold their claims against the batch.
  for (const op of ops) {
    const table = tables.get(op.table)!
    if (op._tag === "Update") slotOf(table, op.id)
    else if (op._tag === "Delete") for (const id of op.ids) slotOf(table, id)
    else if (readInserts) for (const doc of op.docs) slotOf(table, doc["id"] as number)
  }

  const updated: Array<Doc> = []
  let removed = 0
  const floors = new Map<string, number>()
  for (const op of ops) {
    const table = tables.get(op.table)!
    switch (op._tag) {
      case "Insert": {
        const ids = new Set<number>()
        const prepared = op.docs.map((doc) => {
          const id = doc["id"] as number
          const slot = slotOf(table, id)
          if (slot.after !== undefined || ids.has(id)) throw StoreError.uniqueViolation(table.name, "id", ["id"], [id])
          ids.add(id)
          // A private copy in its stored form: later mutation by the caller cannot reach it.
          const raw = JSON.stringify(doc)
          return { slot, raw, doc: JSON.parse(raw) as Doc }
        })
        for (const { slot, doc } of prepared) {
          checkClaims(slot, doc)
          claimAll(slot, doc)
        }
        for (const { slot, raw, doc } of prepared) {
          slot.after = doc
          slot.afterRaw = raw
          const seq = ns.keys.seq(table.name)
          floors.set(seq, Math.max(floors.get(seq) ?? -Infinity, slot.id))
        }
        break
      }
      case "Update": {
        const slot = slotOf(table, op.id)
        const current = slot.after
        if (current === undefined) throw StoreError.notFound(table.name, op.id)
        Driver.checkExpect(table.name, op.id, current, op.expect)
        if (op.patch["id"] !== undefined && op.patch["id"] !== op.id)
          throw StoreError.invalid(`cannot change the id of ${table.name} row ${op.id}`)
        const raw = JSON.stringify({ ...current, ...op.patch })
        const next = JSON.parse(raw) as Doc
        releaseAll(slot, current)
        checkClaims(slot, next)
        claimAll(slot, next)
        slot.after = next
        slot.afterRaw = raw
        updated.push(JSON.parse(raw) as Doc)
        break
      }
      case "Delete": {
        for (const id of op.ids) {
          const slot = slotOf(table, id)
          if (slot.after === undefined) continue
          removed++
          releaseAll(slot, slot.after)
          slot.after = undefined
          slot.afterRaw = null
        }
        break
      }
    }
  }

  const call = new ScriptCall(ns.keys, token)
  for (const slot of slots.values()) {
    if (slot.beforeRaw === slot.afterRaw) continue
    call.guard(slot.key, slot.beforeRaw)
    const { before, after, id, table } = slot
    const layout = layoutOf(table)
    const idPart = idKey(id)
    for (const [path, indexKey] of layout.indexes) {
      const old = before === undefined ? undefined : memberOf(Evaluator.read(before, path), idPart)
      const next = after === undefined ? undefined : memberOf(Evaluator.read(after, path), idPart)
      if (old === next) continue
      const key = call.ref(indexKey)
      if (old !== undefined) call.zrems.push(key, old)
      if (next !== undefined) call.zadd(key, next)
    }
    for (const u of table.unique) {
      const old = before === undefined ? undefined : Driver.uniqueKey(u, before)
      const next = after === undefined ? undefined : Driver.uniqueKey(u, after)
      if (old === next) continue
      const key = call.ref(layout.unique.get(u)!)
      if (old !== undefined) call.releases.push(key, old, String(id))
      if (next !== undefined) {
        call.claims.push(key, next, String(id))
        call.claimInfo.push({ table: table.name, unique: u, values: Driver.uniqueValues(u, after!) })
      }
    }
    if (slot.afterRaw === null) call.dels.push(call.ref(slot.key))
    else call.sets.push(call.ref(slot.key), slot.afterRaw)
  }
  // Ids chosen without `reserveIds` must not be handed out later either.
  for (const [seq, floor] of floors) call.floors.push(call.ref(seq), String(floor))
  return { call, version, updated, removed }
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Most re-plans come from a racing writer on the same document; past this, something keeps interfering. */
const maxReplans = 200

/**
 * Plans and applies `ops` until the script accepts the plan or a typed failure is found. `token` names this
 * write across re-sends, so a write whose reply was lost is never applied twice.
 */
export const write = async (
  ns: Namespace,
  ops: ReadonlyArray<Driver.WriteOp>,
  token: string,
  onPlanned: (planned: Planned) => void = () => {}
): Promise<Planned> => {
  let readInserts = false
  for (let attempt = 0; attempt < maxReplans; attempt++) {
    const planned = await plan(ns, ops, token, readInserts)
    if (planned.call.isEmpty) return planned
    // The caller keeps the plan whose script is in flight: if the reply is lost, the token tells whether it applied.
    onPlanned(planned)
    const outcome = await execute(ns, planned.call, planned.version)
    if (outcome._tag === "Done") return planned
    if (outcome.reloadSchema) await ns.catalog.reload()
    else readInserts = true
    // Back off a little under heavy contention so the winner's neighbours are not all re-planning at once.
    if (attempt >= 3) await pause(Math.random() * Math.min(2 ** attempt, 50))
  }
  throw StoreError.unavailable(`a write was refused ${maxReplans} times by concurrent changes; giving up`)
}

/** True when the write named by `token` was applied (its reply may have been lost with the connection). */
export const applied = async (ns: Namespace, token: string): Promise<boolean> => {
  const found = (await ns.client.exists(ns.keys.token(token))) === 1
  if (found) ns.replays.count++
  return found
}
