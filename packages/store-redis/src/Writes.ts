/**
 * Writes: each call (insert, update, remove, batch, and a declaration that adds indexes) is prepared here as
 * its net effect on documents, index entries and unique claims, and applied by the one Lua script. The prepared write
 * records what it assumed about every document it touches (its SHA-1, or that it is absent); if anything
 * changed in between, the script refuses and the write is prepared again from fresh reads. Unique claims
 * are checked by the script against the live hashes, so two processes racing for one (key, version) get
 * one record and one `UniqueViolation`.
 */
import { randomBytes } from "node:crypto"
import type { ChainableCommander } from "ioredis"
import { Driver, Evaluator, showValue, StoreError } from "@lineage/core"
import type { Ast } from "@lineage/core"
import type { Catalog } from "./Catalog.js"
import type { RedisClient } from "./Client.js"
import type { WaitForReplicas } from "./Connection.js"
import { idKey, memberOf } from "./Encoding.js"
import type { KeySpace } from "./Keys.js"
import * as Scripts from "./Scripts.js"
import { indexesOf, type StoredTable } from "./Tables.js"
import { ScriptCall, script } from "./WriteScript.js"

type Doc = Evaluator.Doc

export interface Namespace {
  readonly client: RedisClient
  readonly keys: KeySpace
  readonly catalog: Catalog
  readonly tokenTtlMs: number
  /** Replicas that must acknowledge each write, if any. */
  readonly wait?: WaitForReplicas | undefined
  /** Writes found already applied under their token: re-sent after their reply was lost. */
  readonly replays: { count: number }
  /** What this client last wrote to documents (see `Written`). */
  readonly written: Written
}

/** At most this many documents' JSON is kept per namespace: past it the oldest go (a guess only saves a read). */
export const maxWritten = 1_024

/** A document whose JSON is longer than this is not kept: it would hold memory for the driver's life to save one read. */
export const maxWrittenDocBytes = 16 * 1_024

/** At most this much JSON is kept per namespace: past it the least recently written go. */
export const maxWrittenBytes = 4 * 1_024 * 1_024

/**
 * The JSON this client last wrote to each document key, by which an update of a document it wrote is prepared
 * without reading it first. A guess, never an answer: any other client may have changed the document since. A
 * write prepared from guesses applies only if every document it changes still holds exactly the guessed JSON
 * (the script's guards); whatever else the guesses would decide (a refusal, nothing to change) is decided again
 * from fresh reads (see `prepareFromWritten`).
 *
 * Bounded by count (`maxWritten`) and by the bytes of UTF-8 JSON (`maxWrittenBytes`, each document at most
 * `maxWrittenDocBytes`), which in memory take at most twice as many.
 */
export class Written {
  /** In the order last written, the least recent first. */
  readonly #docs = new Map<string, { readonly raw: string; readonly bytes: number }>()
  #bytes = 0

  get(key: string): string | undefined {
    return this.#docs.get(key)?.raw
  }

  /** How many documents' JSON is kept. */
  get size(): number {
    return this.#docs.size
  }

  /** The bytes of JSON kept. */
  get bytes(): number {
    return this.#bytes
  }

  /** Keeps what an applied write left in its documents; a removed document, and one too large to keep, is forgotten. */
  remember({ written }: Pick<Prepared, "written">): void {
    for (const [key, raw] of written) {
      this.#forget(key)
      // A string's UTF-8 is never shorter than its length: a long one is too large without being measured.
      if (raw === null || raw.length > maxWrittenDocBytes) continue
      const bytes = Buffer.byteLength(raw)
      if (bytes > maxWrittenDocBytes) continue
      this.#docs.set(key, { raw, bytes })
      this.#bytes += bytes
    }
    while (this.#docs.size > maxWritten || this.#bytes > maxWrittenBytes) this.#forget(this.#docs.keys().next().value!)
  }

  #forget(key: string): void {
    const doc = this.#docs.get(key)
    if (doc === undefined) return
    this.#docs.delete(key)
    this.#bytes -= doc.bytes
  }
}

export type Outcome = { readonly _tag: "Done" } | { readonly _tag: "Retry"; readonly reloadSchema: boolean }

/** Runs a prepared call and turns the reply into done, retry (prepare again), or a typed failure. */
export const execute = async (ns: Namespace, call: ScriptCall, version: string): Promise<Outcome> => {
  const reply = await Scripts.run(ns.client, script, call.keys, call.args(version, ns.tokenTtlMs))
  if (reply === "APPLIED") ns.replays.count++
  if (reply === "OK" || reply === "APPLIED") return { _tag: "Done" }
  if (Array.isArray(reply)) {
    const [tag, detail] = reply as [string, string | number]
    if (tag === "SCHEMA") return { _tag: "Retry", reloadSchema: true }
    if (tag === "STALE") return { _tag: "Retry", reloadSchema: false }
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
  /** What the prepared write assumes is stored now: raw JSON, or null for absent. */
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

/**
 * Each table's layout, worked out once per namespace and stored table rather than once per write: a stored
 * table is never changed (a schema reload makes new ones), so its layout holds as long as it is used.
 */
const layouts = new WeakMap<KeySpace, WeakMap<StoredTable, Layout>>()

const layoutOf = (keys: KeySpace, table: StoredTable): Layout => {
  let byTable = layouts.get(keys)
  if (byTable === undefined) layouts.set(keys, (byTable = new WeakMap()))
  let layout = byTable.get(table)
  if (layout === undefined) {
    layout = {
      indexes: indexesOf(table).map((path) => [path, keys.index(table.name, path)] as const),
      unique: new Map(table.unique.map((u) => [u, keys.unique(table.name, u.fields)]))
    }
    byTable.set(table, layout)
  }
  return layout
}

/**
 * A write's ops applied in order to the documents they touch, starting from what was read: each document's
 * state, who holds each unique claim, and the highest id inserted per table.
 */
class Simulation {
  readonly slots = new Map<string, Slot>()
  /** Id sequence key → the highest id inserted. */
  readonly floors = new Map<string, number>()
  /** `uniqueKey \0 field` → the id holding that claim. */
  private readonly owners = new Map<string, number>()

  constructor(
    private readonly keys: KeySpace,
    private readonly stored: ReadonlyMap<string, string | null>
  ) {}

  /** Document `id` as the write has left it so far; a stored document holds its claims from its first visit. */
  slot(table: StoredTable, id: number): Slot {
    const key = this.keys.doc(table.name, id)
    let slot = this.slots.get(key)
    if (slot === undefined) {
      const beforeRaw = this.stored.get(key) ?? null
      const before = beforeRaw === null ? undefined : (JSON.parse(beforeRaw) as Doc)
      slot = { table, id, key, beforeRaw, before, after: before, afterRaw: beforeRaw }
      this.slots.set(key, slot)
      if (before !== undefined) this.claim(slot, before)
    }
    return slot
  }

  claim(slot: Slot, doc: Doc): void {
    for (const u of slot.table.unique) {
      const f = Driver.uniqueKey(u, doc)
      if (f !== undefined) this.owners.set(this.claimKey(slot.table, u, f), slot.id)
    }
  }

  release(slot: Slot, doc: Doc): void {
    for (const u of slot.table.unique) {
      const f = Driver.uniqueKey(u, doc)
      if (f === undefined) continue
      const key = this.claimKey(slot.table, u, f)
      if (this.owners.get(key) === slot.id) this.owners.delete(key)
    }
  }

  /** Fails with `UniqueViolation` when another document holds one of `doc`'s claims. */
  checkClaims(slot: Slot, doc: Doc): void {
    for (const u of slot.table.unique) {
      const f = Driver.uniqueKey(u, doc)
      if (f === undefined) continue
      const owner = this.owners.get(this.claimKey(slot.table, u, f))
      if (owner !== undefined && owner !== slot.id) throw StoreError.uniqueViolation(slot.table.name, u.name, u.fields, Driver.uniqueValues(u, doc))
    }
  }

  raiseFloor(table: StoredTable, id: number): void {
    const seq = this.keys.seq(table.name)
    this.floors.set(seq, Math.max(this.floors.get(seq) ?? -Infinity, id))
  }

  private claimKey(table: StoredTable, u: Driver.UniqueSpec, field: string): string {
    return `${layoutOf(this.keys, table).unique.get(u)}\u0000${field}`
  }
}

/** Every table the ops name, from one copy of the schema, whose version the script will check. */
const tablesOf = async (ns: Namespace, ops: ReadonlyArray<Driver.WriteOp>): Promise<{ readonly tables: ReadonlyMap<string, StoredTable>; readonly version: string }> => {
  let schema = await ns.catalog.current()
  if (ops.some((op) => !schema.tables.has(op.table))) schema = await ns.catalog.reload()
  const tables = new Map<string, StoredTable>()
  for (const op of ops) {
    const table = schema.tables.get(op.table)
    if (table === undefined) throw StoreError.invalid(`unknown table "${op.table}": declare it first`)
    tables.set(op.table, table)
  }
  return { tables, version: schema.version }
}

/** The documents whose stored state `op` depends on; an insert's only when `readInserts`. */
const readIds = (op: Driver.WriteOp, readInserts: boolean): ReadonlyArray<number> => {
  switch (op._tag) {
    case "Insert":
      return readInserts ? op.docs.map((doc) => doc["id"] as number) : []
    case "Update":
      return [op.id]
    case "Delete":
      return op.ids
    default:
      return op satisfies never
  }
}

/** The keys of every document the ops depend on, each once. */
const readKeysOf = (keys: KeySpace, ops: ReadonlyArray<Driver.WriteOp>, readInserts: boolean): Array<string> => {
  const toRead = new Set<string>()
  for (const op of ops) for (const id of readIds(op, readInserts)) toRead.add(keys.doc(op.table, id))
  return [...toRead]
}

/**
 * Starts the simulation from the documents the ops depend on, as `raws` (in the order of `readKeys`) holds them:
 * documents read but not yet touched hold their claims against the whole write.
 */
const startSimulation = (
  keys: KeySpace,
  tables: ReadonlyMap<string, StoredTable>,
  ops: ReadonlyArray<Driver.WriteOp>,
  readInserts: boolean,
  readKeys: ReadonlyArray<string>,
  raws: ReadonlyArray<string | null>
): Simulation => {
  const sim = new Simulation(keys, new Map(readKeys.map((k, i) => [k, raws[i] ?? null])))
  for (const op of ops) for (const id of readIds(op, readInserts)) sim.slot(tables.get(op.table)!, id)
  return sim
}

/** Inserts `docs`: each id must be free, and the unique claims of all of them checked before any is taken. */
const simulateInsert = (sim: Simulation, table: StoredTable, docs: ReadonlyArray<Doc>): void => {
  const ids = new Set<number>()
  const prepared = docs.map((doc) => {
    const id = doc["id"] as number
    const slot = sim.slot(table, id)
    if (slot.after !== undefined || ids.has(id)) throw StoreError.uniqueViolation(table.name, "id", ["id"], [id])
    ids.add(id)
    // A private copy in its stored form: later mutation by the caller cannot reach it.
    const raw = JSON.stringify(doc)
    return { slot, raw, doc: JSON.parse(raw) as Doc }
  })
  for (const { slot, doc } of prepared) {
    sim.checkClaims(slot, doc)
    sim.claim(slot, doc)
  }
  for (const { slot, raw, doc } of prepared) {
    slot.after = doc
    slot.afterRaw = raw
    sim.raiseFloor(table, slot.id)
  }
}

/** Applies an update's patch and returns the new document. */
const simulateUpdate = (sim: Simulation, table: StoredTable, op: Extract<Driver.WriteOp, { _tag: "Update" }>): Doc => {
  const slot = sim.slot(table, op.id)
  const current = slot.after
  if (current === undefined) throw StoreError.notFound(table.name, op.id)
  Driver.checkExpect(table.name, op.id, current, op.expect)
  const raw = JSON.stringify({ ...current, ...op.patch })
  const next = JSON.parse(raw) as Doc
  sim.release(slot, current)
  sim.checkClaims(slot, next)
  sim.claim(slot, next)
  slot.after = next
  slot.afterRaw = raw
  return JSON.parse(raw) as Doc
}

/** Removes the documents `ids` and returns how many existed. */
const simulateDelete = (sim: Simulation, table: StoredTable, ids: ReadonlyArray<number>): number => {
  let removed = 0
  for (const id of ids) {
    const slot = sim.slot(table, id)
    if (slot.after === undefined) continue
    removed++
    sim.release(slot, slot.after)
    slot.after = undefined
    slot.afterRaw = null
  }
  return removed
}

/** Applies `ops` in order, raising the errors the memory store would raise at the op that causes them. */
const simulate = (sim: Simulation, tables: ReadonlyMap<string, StoredTable>, ops: ReadonlyArray<Driver.WriteOp>): Pick<Prepared, "updated" | "removed"> => {
  const updated: Array<Doc> = []
  let removed = 0
  for (const op of ops) {
    const table = tables.get(op.table)!
    switch (op._tag) {
      case "Insert":
        simulateInsert(sim, table, op.docs)
        break
      case "Update":
        updated.push(simulateUpdate(sim, table, op))
        break
      case "Delete":
        removed += simulateDelete(sim, table, op.ids)
        break
      default:
        op satisfies never
    }
  }
  return { updated, removed }
}

/** Adds to `call` the index entries a changed document removes and adds. */
const changeIndexes = (call: ScriptCall, { before, after, id }: Slot, layout: Layout): void => {
  const idPart = idKey(id)
  for (const [path, indexKey] of layout.indexes) {
    const old = before === undefined ? undefined : memberOf(Evaluator.read(before, path), idPart)
    const next = after === undefined ? undefined : memberOf(Evaluator.read(after, path), idPart)
    if (old === next) continue
    if (old !== undefined) call.zrem(indexKey, old)
    if (next !== undefined) call.zadd(indexKey, next)
  }
}

/** Adds to `call` the unique claims a changed document releases and takes. */
const changeClaims = (call: ScriptCall, { before, after, id, table }: Slot, layout: Layout): void => {
  for (const u of table.unique) {
    const old = before === undefined ? undefined : Driver.uniqueKey(u, before)
    const next = after === undefined ? undefined : Driver.uniqueKey(u, after)
    if (old === next) continue
    const hash = layout.unique.get(u)!
    if (old !== undefined) call.release(hash, old, id)
    if (next !== undefined) call.claim(hash, next, id, { table: table.name, unique: u, values: Driver.uniqueValues(u, after!) })
  }
}

/** The script call that turns what was read into what the simulation ended with, guarded by what was read. */
const callFor = (sim: Simulation, keys: KeySpace, token: string): ScriptCall => {
  const call = new ScriptCall(keys, token)
  for (const slot of sim.slots.values()) {
    if (slot.beforeRaw === slot.afterRaw) continue
    call.guard(slot.key, slot.beforeRaw)
    const layout = layoutOf(keys, slot.table)
    changeIndexes(call, slot, layout)
    changeClaims(call, slot, layout)
    if (slot.afterRaw === null) call.del(slot.key)
    else call.set(slot.key, slot.afterRaw)
  }
  // Ids chosen without `reserveIds` must not be handed out later either.
  for (const [seq, floor] of sim.floors) call.raiseFloor(seq, floor)
  return call
}

/** What a prepared write returns to its caller once applied. */
export interface Prepared {
  readonly call: ScriptCall
  readonly version: string
  /** For `update`: the new document of each Update op, in order. */
  readonly updated: ReadonlyArray<Doc>
  /** For `remove`: how many of the documents existed. */
  readonly removed: number
  /** The JSON the write leaves in each document it changes, null where it removes one. */
  readonly written: ReadonlyMap<string, string | null>
}

/** The prepared write of a finished simulation. */
const preparedOf = (sim: Simulation, keys: KeySpace, token: string, version: string, result: Pick<Prepared, "updated" | "removed">): Prepared => {
  const written = new Map<string, string | null>()
  for (const slot of sim.slots.values()) if (slot.beforeRaw !== slot.afterRaw) written.set(slot.key, slot.afterRaw)
  return { call: callFor(sim, keys, token), version, ...result, written }
}

/**
 * Simulates `ops` in order over what is stored (reading the documents they change), raising the errors the
 * memory store would raise at the op that causes them, and returns the net effect as a script call.
 * `readInserts`: also read the ids being inserted (after a refusal, to tell a taken id from a race).
 */
export const prepare = async (ns: Namespace, ops: ReadonlyArray<Driver.WriteOp>, token: string, readInserts: boolean): Promise<Prepared> => {
  const { tables, version } = await tablesOf(ns, ops)
  const readKeys = readKeysOf(ns.keys, ops, readInserts)
  const raws = readKeys.length === 0 ? [] : await ns.client.mget(readKeys)
  const sim = startSimulation(ns.keys, tables, ops, readInserts, readKeys, raws)
  return preparedOf(sim, ns.keys, token, version, simulate(sim, tables, ops))
}

/**
 * `prepare` without reading, from what this client last wrote (`Written`), when it wrote every document the ops
 * read. Only a write that changes each of them is kept, so that the script's guards check every guess it rests
 * on; undefined (prepare from fresh reads) otherwise, and when the guesses lead to a refusal.
 */
const prepareFromWritten = async (ns: Namespace, ops: ReadonlyArray<Driver.WriteOp>, token: string): Promise<Prepared | undefined> => {
  const readKeys = readKeysOf(ns.keys, ops, false)
  const raws = readKeys.map((key) => ns.written.get(key))
  if (readKeys.length === 0 || raws.includes(undefined)) return undefined
  const { tables, version } = await tablesOf(ns, ops)
  const sim = startSimulation(ns.keys, tables, ops, false, readKeys, raws as ReadonlyArray<string>)
  let result: Pick<Prepared, "updated" | "removed">
  try {
    result = simulate(sim, tables, ops)
  } catch {
    return undefined
  }
  const prepared = preparedOf(sim, ns.keys, token, version, result)
  return readKeys.every((key) => prepared.written.has(key)) ? prepared : undefined
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Most retries come from a racing writer on the same document; past this, something keeps interfering. */
const maxRetries = 200

/**
 * Prepares and applies `ops` until the script accepts the prepared write or a typed failure is found, then waits
 * for replicas if the namespace asks (`replicated`). `token` names this write across re-sends, so a write whose
 * reply was lost is never applied twice.
 */
export const write = async (
  ns: Namespace,
  ops: ReadonlyArray<Driver.WriteOp>,
  token: string,
  onPrepared: (prepared: Prepared) => void = () => {}
): Promise<Prepared> => {
  let readInserts = false
  for (let attempt = 0; attempt < maxRetries; attempt++) {
    // A refused guess is not tried again: the documents changed since this client wrote them.
    const guessed = attempt === 0 ? await prepareFromWritten(ns, ops, token) : undefined
    const prepared = guessed ?? (await prepare(ns, ops, token, readInserts))
    if (prepared.call.isEmpty) return prepared
    // The caller keeps the prepared write whose script is in flight: if the reply is lost, the token tells whether it applied.
    onPrepared(prepared)
    const outcome = await execute(ns, prepared.call, prepared.version)
    if (outcome._tag === "Done") {
      ns.written.remember(prepared)
      await replicated(ns, token)
      return prepared
    }
    if (outcome.reloadSchema) await ns.catalog.reload()
    else if (guessed === undefined) readInserts = true
    // Back off a little under heavy contention so the winner's neighbours are not all preparing again at once.
    if (attempt >= 3) await pause(Math.random() * Math.min(2 ** attempt, 50))
  }
  throw StoreError.unavailable(`a write was refused ${maxRetries} times by concurrent changes; giving up`)
}

/**
 * `commands`, then `WAIT replicas timeoutMs`, in one pipeline: on one connection to the primary that serves the
 * namespace now (the commands' keys are the namespace's). The commands include a write, so WAIT covers all
 * that primary applied before it, on any connection. Returns the commands' replies and how many replicas
 * acknowledged.
 */
const withWait = async (
  wait: WaitForReplicas,
  commands: ChainableCommander
): Promise<{ readonly replies: ReadonlyArray<unknown>; readonly acked: number }> => {
  const results = (await commands.wait(wait.replicas, wait.timeoutMs).exec()) ?? []
  for (const [e] of results) if (e) throw e
  const replies = results.map(([, reply]) => reply)
  return { replies: replies.slice(0, -1), acked: Number(replies[replies.length - 1]) }
}

/** Fails `Unavailable` (retryable) when fewer replicas than asked acknowledged what `applied` names. */
const enoughReplicas = (wait: WaitForReplicas, acked: number, applied: string): void => {
  if (acked < wait.replicas)
    throw StoreError.unavailable(`${applied} on the primary; acknowledged by ${acked} of ${wait.replicas} replicas within ${wait.timeoutMs} ms`)
}

/**
 * With `waitForReplicas`, waits for replicas to acknowledge the write applied under `token`, and fails
 * (`Unavailable`, retryable) unless enough did in time. PEXPIRE finds the token only on a primary that holds
 * the write (the script wrote both in one step), and, being a write itself, makes WAIT cover the write too,
 * though it came on another connection or before a failover.
 */
export const replicated = async (ns: Namespace, token: string): Promise<void> => {
  const wait = ns.wait
  if (wait === undefined) return
  const { replies, acked } = await withWait(wait, ns.client.pipeline().pexpire(ns.keys.token(token), ns.tokenTtlMs))
  if (Number(replies[0]) !== 1)
    throw StoreError.unavailable(
      "the write is not on the primary that serves its namespace now (a failover lost it before a replica had it): a retry applies it again"
    )
  enoughReplicas(wait, acked, "the write is applied")
}

/**
 * With `waitForReplicas`, waits for replicas to hold the schema at `version` or later, as `replicated` does for a
 * write: INCRBY 0 of the schema version is a write (so WAIT covers every declaration the primary applied) that
 * reads the version. A version behind `version` means a failover lost the declaration: a retry makes it again.
 */
export const schemaReplicated = async (ns: Namespace, version: string): Promise<void> => {
  const wait = ns.wait
  if (wait === undefined) return
  const { replies, acked } = await withWait(wait, ns.client.pipeline().incrby(ns.keys.schemaVersion, 0))
  if (Number(replies[0]) < Number(version))
    throw StoreError.unavailable(
      "the declaration is not on the primary that serves its namespace now (a failover lost it before a replica had it): a retry makes it again"
    )
  enoughReplicas(wait, acked, "the declaration is applied")
}

/**
 * Reserves `count` ids of `table` (INCRBY of its counter); the last one. With `waitForReplicas`, fails
 * (`Unavailable`, retryable) unless enough replicas acknowledged the reservation: a reservation a failover
 * lost would hand the same ids out again. A failed reservation's ids are never handed out; a retry takes others.
 */
export const reserve = async (ns: Namespace, table: string, count: number): Promise<number> => {
  const wait = ns.wait
  if (wait === undefined) return ns.client.incrby(ns.keys.seq(table), count)
  const { replies, acked } = await withWait(wait, ns.client.pipeline().incrby(ns.keys.seq(table), count))
  enoughReplicas(wait, acked, "the ids are reserved")
  return Number(replies[0])
}

/** True when the write named by `token` was applied (its reply may have been lost with the connection). */
export const applied = async (ns: Namespace, token: string): Promise<boolean> => {
  const found = (await ns.client.exists(ns.keys.token(token))) === 1
  if (found) ns.replays.count++
  return found
}
