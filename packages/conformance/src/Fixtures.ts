/**
 * What driver-level cases share: small test tables, seeding, and assertions about typed failures and about
 * agreement with the reference evaluator. Tables are invented for the suite so no case depends on the domain.
 */
import assert from "node:assert/strict"
import { Ast, Driver, Evaluator, StoreError } from "@lineage/core"
import type { StoreErrorReason } from "@lineage/core"
import { Cause, Effect, Exit } from "effect"
import type { Backdoor, CaseContext } from "./Case.js"

type Doc = Driver.Doc

/** A versioned thing, like a Transform: a unique uid and a unique (key, version) pair. */
export const thing: Driver.TableSpec = {
  name: "thing",
  unique: [
    { name: "thing_uid", fields: ["uid"] },
    { name: "thing_key_version", fields: ["key", "version"] }
  ],
  indexes: [
    { path: ["key"], kind: "hash" },
    { path: ["n"], kind: "sorted" },
    { path: ["at"], kind: "sorted" }
  ]
}

/** A second table, so cases can tell tables apart; indexed differently to reach other query plans. */
export const note: Driver.TableSpec = {
  name: "note",
  unique: [{ name: "note_uid", fields: ["uid"] }],
  indexes: [{ path: ["name"], kind: "sorted" }]
}

/** No indexes at all: the store must answer by scanning (or its fallback) exactly as when indexed. */
export const bare: Driver.TableSpec = { name: "bare", unique: [], indexes: [] }

export const tables: ReadonlyArray<Driver.TableSpec> = [thing, note, bare]

export const run = <A>(effect: Effect.Effect<A, StoreError>): Promise<A> => Effect.runPromise(effect)

export const declareAll = (ctx: CaseContext): Promise<void> => run(ctx.driver.declare(tables))

/** Recognises a StoreError by tag, so a driver built against another copy of core still passes. */
export const isStoreError = (u: unknown): u is StoreError =>
  typeof u === "object" &&
  u !== null &&
  (u as { readonly _tag?: unknown })._tag === "StoreError" &&
  typeof (u as { readonly reason?: { readonly _tag?: unknown } }).reason?._tag === "string"

const describeValue = (u: unknown): string => {
  try {
    const s = JSON.stringify(u)
    return s === undefined ? String(u) : s.length > 300 ? `${s.slice(0, 300)}…` : s
  } catch {
    return String(u)
  }
}

/**
 * Runs an operation expected to fail and returns its StoreError. A success, a defect (a thrown exception) or
 * a failure of another type fails the assertion, saying which. The operation is a thunk so a driver that
 * throws before returning an effect is caught too.
 */
export const storeFailure = async (operation: () => Effect.Effect<unknown, StoreError>): Promise<StoreError> => {
  const exit = await Effect.runPromiseExit(Effect.suspend(operation))
  if (Exit.isSuccess(exit)) assert.fail(`expected a StoreError, but the operation succeeded with ${describeValue(exit.value)}`)
  const failure = Cause.findErrorOption(exit.cause)
  if (failure._tag === "None") {
    assert.fail(`expected a typed StoreError failure, got a defect or interruption: ${Cause.pretty(exit.cause)}`)
  }
  const error: unknown = failure.value
  assert.ok(isStoreError(error), `expected a StoreError, got ${describeValue(error)}`)
  return error
}

/** Like `storeFailure`, also demanding a reason. */
export const failsWith = async <T extends StoreErrorReason["_tag"]>(
  operation: () => Effect.Effect<unknown, StoreError>,
  tag: T
): Promise<Extract<StoreErrorReason, { readonly _tag: T }>> => {
  const error = await storeFailure(operation)
  assert.equal(error.reason._tag, tag, `expected reason ${tag}, got ${error.reason._tag}: ${describeValue(error.reason)}`)
  return error.reason as Extract<StoreErrorReason, { readonly _tag: T }>
}

/** A deterministic PRNG (mulberry32): shuffles must differ from id order yet repeat run to run. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const shuffle = <A>(items: ReadonlyArray<A>, seed = 7): Array<A> => {
  const random = prng(seed)
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/**
 * Gives rows ids from `reserveIds` and inserts them in one call, shuffled unless asked otherwise: a store
 * that merely returns rows in insertion order must not pass ordering cases by luck. Returns the docs in id
 * order.
 */
export const seed = async (
  ctx: CaseContext,
  table: string,
  rows: ReadonlyArray<Doc>,
  options: { readonly arrival?: "shuffled" | "reversed" | "inOrder" } = {}
): Promise<Array<Doc>> => {
  if (rows.length === 0) return []
  const first = await run(ctx.driver.reserveIds(table, rows.length))
  const docs: Array<Doc> = rows.map((r, i) => ({ id: first + i, ...r }))
  const arrival = options.arrival ?? "shuffled"
  await run(ctx.driver.insert(table, arrival === "inOrder" ? docs : arrival === "reversed" ? [...docs].reverse() : shuffle(docs)))
  return docs
}

/** Inserts one row under a fresh id and returns it. */
export const seedOne = async (ctx: CaseContext, table: string, row: Doc): Promise<Doc> => {
  const [doc] = await seed(ctx, table, [row])
  return doc!
}

export const idsOf = (docs: ReadonlyArray<Doc>): Array<number> => docs.map((d) => d["id"] as number)

export const uidsOf = (docs: ReadonlyArray<Doc>): Array<string> => docs.map((d) => String(d["uid"]))

export const findAll = (ctx: CaseContext, table: string, where: Ast.Cond = Ast.always): Promise<ReadonlyArray<Doc>> =>
  run(ctx.driver.find(table, { where, orderBy: [] }))

/**
 * Walks `table` page by page with keyset cursors (`Evaluator.cursorOf` of each page's last row) and returns
 * every row met, in order; `between` runs after each full page. Fails rather than looping forever when a
 * store ignores `after`.
 */
export const keysetWalk = async (
  ctx: CaseContext,
  table: string,
  walk: { readonly where: Ast.Cond; readonly orderBy: ReadonlyArray<Ast.OrderKey>; readonly pageSize: number; readonly maxRows: number },
  between?: (page: ReadonlyArray<Doc>) => Promise<void>
): Promise<Array<Doc>> => {
  const { where, orderBy, pageSize, maxRows } = walk
  const out: Array<Doc> = []
  let after: Ast.Cursor | undefined
  for (;;) {
    const page = await run(ctx.driver.find(table, { where, orderBy, limit: pageSize, after }))
    assert.ok(page.length <= pageSize, `a page of ${page.length} rows exceeds limit ${pageSize}`)
    out.push(...page)
    assert.ok(out.length <= maxRows, `the walk returned more than ${maxRows} rows: is "after" ignored?`)
    if (page.length < pageSize) return out
    after = Evaluator.cursorOf(orderBy, page[page.length - 1]!)
    if (between !== undefined) await between(page)
  }
}

/** Sorts persisted rows by id: a backdoor may return them in any order. */
export const persisted = async (backdoor: Backdoor, table: string): Promise<Array<Doc>> =>
  [...(await backdoor.all(table))].sort((a, b) => (a["id"] as number) - (b["id"] as number))

/**
 * The heart of the query cases: the driver's `find` and `count` must equal the reference evaluator over the
 * same documents, id for id and field for field.
 */
export const agrees = async (
  ctx: CaseContext,
  table: string,
  docs: ReadonlyArray<Doc>,
  spec: Ast.FindSpec,
  label = ""
): Promise<ReadonlyArray<Doc>> => {
  const want = Evaluator.find(docs, spec)
  const got = await run(ctx.driver.find(table, spec))
  const where = label === "" ? describeValue(spec) : `${label}: ${describeValue(spec)}`
  assert.deepStrictEqual(idsOf(got), idsOf(want), `find ids differ from the reference evaluator for ${where}`)
  assert.deepStrictEqual(got, want, `find documents differ from the reference evaluator for ${where}`)
  const count = await run(ctx.driver.count(table, spec.where))
  const wantCount = docs.filter(Evaluator.predicate(spec.where)).length
  assert.equal(count, wantCount, `count differs from the reference evaluator for ${describeValue(spec.where)}`)
  return got
}

export { describeValue }
