/**
 * The lower level of the store interface: a driver keeps encoded JSON documents in tables and knows nothing of
 * the domain. Core declares the tables, encodes records, plans relations and features down to single-table
 * conditions, and lifts a driver into the typed `Store` service.
 *
 * Every document has an integer `id` (given by core from `reserveIds`) and a string `uid`.
 */
import { Effect, Redacted } from "effect"
import type { Cond, FindSpec, Json, Operator } from "./Ast.js"
import { showValue, StoreError } from "./Errors.js"
import { canonical, type Doc, equalJson, read } from "./Evaluator.js"
import * as Redaction from "./Redaction.js"
import { validated } from "./ValidatedDriver.js"

export type { Doc }
export { validated }

/**
 * A unique constraint over one or more top-level fields. As in SQL, a document with `null` in any of the
 * fields is not constrained.
 */
export interface UniqueSpec {
  readonly name: string
  readonly fields: ReadonlyArray<string>
}

/** What an index serves: `hash` for equality and `in`, `sorted` also for ranges, prefixes and ordering. */
export interface IndexSpec {
  readonly path: ReadonlyArray<string>
  readonly kind: "hash" | "sorted"
}

export interface TableSpec {
  readonly name: string
  readonly unique: ReadonlyArray<UniqueSpec>
  readonly indexes: ReadonlyArray<IndexSpec>
}

/** What a driver can do natively. Core and the conformance suite read it; nothing is assumed. */
export interface Capabilities {
  /** `batch` applies several writes atomically. */
  readonly transactions: boolean
  /** Operators compiled to native queries; the rest fall back to the reference evaluator. */
  readonly nativeOperators: ReadonlyArray<Operator>
  /** Several OS processes can share this store (the memory store cannot). */
  readonly shared: boolean
}

export type WriteOp =
  | { readonly _tag: "Insert"; readonly table: string; readonly docs: ReadonlyArray<Doc> }
  | { readonly _tag: "Update"; readonly table: string; readonly id: number; readonly patch: Doc; readonly expect?: Doc | undefined }
  | { readonly _tag: "Delete"; readonly table: string; readonly ids: ReadonlyArray<number> }

/**
 * What a store implements. Wrap it with `validated` (`Store.make` and `fromPromises` do, and so do the
 * bundled stores): every call is then checked before the implementation sees it, so an implementation never
 * receives a malformed request — a table name that is not a string or (in a store that is not `shared`) was
 * never declared, a malformed table spec, a document that is not a plain object with an integer `id` and a
 * string `uid`, a condition `Evaluator.check` refuses, a bad order key, limit, offset or cursor, an id that is
 * not a safe integer, a negative `reserveIds` count, a patch that changes the id, a batch op of another kind.
 * See `ValidatedDriver` for the full list. It only has to store, and to report what only it can know:
 * `StoreError.uniqueViolation` for a taken id or unique value, `StoreError.notFound` for an update of a
 * missing id, `StoreError.conflict` for a failed compare-and-set, `StoreError.unavailable` when it cannot
 * reach its storage, and (when `shared`) `StoreError.invalid` for a table no handle declared.
 */
export interface Driver {
  readonly name: string
  readonly capabilities: Capabilities
  /**
   * Adds the tables, unique constraints and indexes named that the store lacks, built over the documents it
   * holds; never drops one. Idempotent and additive: a spec may name only some of a table's constraints and
   * indexes (core declares each table once with its own, then each feature's index once, on its own), so a
   * call should cost what it adds, not what the table already has. Once it returns, queries see what it added.
   */
  readonly declare: (tables: ReadonlyArray<TableSpec>) => Effect.Effect<void, StoreError>
  /** Reserves `count` consecutive ids for `table` and returns the first. Ids are never reused. */
  readonly reserveIds: (table: string, count: number) => Effect.Effect<number, StoreError>
  /**
   * Inserts documents, all or none: a unique violation (with the batch or with stored rows) fails with
   * `UniqueViolation` naming the constraint and writes nothing.
   */
  readonly insert: (table: string, docs: ReadonlyArray<Doc>) => Effect.Effect<void, StoreError>
  /**
   * Sets the top-level fields of `patch` on one document and returns the new document. With `expect`, the
   * update applies only if the stored document has those top-level values (compare-and-set), else `Conflict`.
   * Missing id: `NotFound`. Unique constraints hold as on insert.
   */
  readonly update: (table: string, id: number, patch: Doc, expect?: Doc) => Effect.Effect<Doc, StoreError>
  /** Removes documents by id; returns how many existed. */
  readonly remove: (table: string, ids: ReadonlyArray<number>) => Effect.Effect<number, StoreError>
  /** Documents by id, in the order asked, skipping missing ones. */
  readonly get: (table: string, ids: ReadonlyArray<number>) => Effect.Effect<ReadonlyArray<Doc>, StoreError>
  readonly find: (table: string, spec: FindSpec) => Effect.Effect<ReadonlyArray<Doc>, StoreError>
  readonly count: (table: string, where: Cond) => Effect.Effect<number, StoreError>
  /** Applies writes atomically: all or none. Only when `capabilities.transactions`. */
  readonly batch?: ((ops: ReadonlyArray<WriteOp>) => Effect.Effect<void, StoreError>) | undefined
  /** Releases what the driver opened (never a client the user passed in). */
  readonly close: () => Effect.Effect<void>
}

/**
 * A driver written with async functions, for implementers who do not use Effect; `fromPromises` lifts it.
 * It receives only the requests `validated` lets through (see `Driver`), and reports a failure by throwing
 * (or rejecting with) a `StoreError` made with its static constructors:
 * - an id or unique value already taken: `StoreError.uniqueViolation(table, constraint, fields, values)`
 *   (the id's constraint is named "id");
 * - an update of an id that does not exist: `StoreError.notFound(table, id)`;
 * - an update whose `expect` does not hold: `StoreError.conflict(table, id, detail)` (`checkExpect` throws it);
 * - a table no handle declared (only a `shared` store is handed one): `StoreError.invalid(detail)`.
 * Anything else thrown becomes `StoreError.unavailable` (retryable), with the thrown value as its cause.
 */
export interface PromiseDriver {
  readonly name: string
  readonly capabilities: Capabilities
  readonly declare: (tables: ReadonlyArray<TableSpec>) => Promise<void>
  readonly reserveIds: (table: string, count: number) => Promise<number>
  readonly insert: (table: string, docs: ReadonlyArray<Doc>) => Promise<void>
  readonly update: (table: string, id: number, patch: Doc, expect?: Doc) => Promise<Doc>
  readonly remove: (table: string, ids: ReadonlyArray<number>) => Promise<number>
  readonly get: (table: string, ids: ReadonlyArray<number>) => Promise<ReadonlyArray<Doc>>
  readonly find: (table: string, spec: FindSpec) => Promise<ReadonlyArray<Doc>>
  readonly count: (table: string, where: Cond) => Promise<number>
  readonly batch?: ((ops: ReadonlyArray<WriteOp>) => Promise<void>) | undefined
  readonly close: () => Promise<void>
}

/** A thrown `StoreError` is the failure; anything else thrown means the store is unavailable. */
const lift =
  <A extends ReadonlyArray<unknown>, R>(name: string, f: (...args: A) => Promise<R>) =>
  (...args: A): Effect.Effect<R, StoreError> =>
    Effect.tryPromise({
      try: () => f(...args),
      catch: (e) => (e instanceof StoreError ? e : StoreError.unavailable(`${name} failed: ${String(e)}`, e))
    })

/**
 * A promise driver as a `Driver`, behind `validated`: malformed calls fail with `StoreError` before `d` is
 * called, and what `d` throws becomes a typed failure as `PromiseDriver` describes.
 */
export const fromPromises = (d: PromiseDriver): Driver =>
  validated({
    name: d.name,
    capabilities: d.capabilities,
    declare: lift("declare", d.declare),
    reserveIds: lift("reserveIds", d.reserveIds),
    insert: lift("insert", d.insert),
    update: lift("update", d.update),
    remove: lift("remove", d.remove),
    get: lift("get", d.get),
    find: lift("find", d.find),
    count: lift("count", d.count),
    batch: d.batch === undefined ? undefined : lift("batch", d.batch),
    close: () => Effect.promise(() => d.close())
  })

export type { Json }

// ---------------------------------------------------------------------------------------------------------
// Rules every driver applies the same way.

/**
 * A failure's message without the secrets its driver knows (a password, secret option values), each replaced
 * by `***`, longest first so a secret holding another goes whole: some layer may quote them.
 */
export const failureText = (e: unknown, secrets: ReadonlyArray<Redacted.Redacted<string> | string | undefined>): string =>
  secrets
    .map((s) => (Redacted.isRedacted(s) ? Redacted.value(s) : (s ?? "")))
    .filter((s) => s !== "")
    .sort((a, b) => b.length - a.length)
    .reduce((text, secret) => text.split(secret).join("***"), e instanceof Error ? e.message : String(e))

/** A store URL safe to show in a message (see `Redaction.url`). */
export const redactUrl = Redaction.url

/**
 * A store URL for a message about anything but its query values: `redactUrl`, cut at its query or fragment
 * (shown as `?…`). A value may be a secret under a name no rule knows (percent-encoded, or a driver's own),
 * so no message shows one. Redacted before it is cut: a password may hold a `?` or a `#`.
 */
export const urlWithoutQuery = (url: string): string => {
  const redacted = redactUrl(url)
  const cut = redacted.search(/[?#]/)
  return cut < 0 ? redacted : `${redacted.slice(0, cut)}?…`
}

/**
 * A store's own options, taken out of its URL's query: each at most once, names compared ignoring case (as
 * MongoDB compares its own). The rest is left for the caller to refuse or to pass on to its client library.
 * A refusal names options, never their values, which may be secrets.
 */
export const takeUrlOptions = (
  query: URLSearchParams,
  known: ReadonlyArray<string>
): { readonly options: ReadonlyMap<string, string>; readonly rest: URLSearchParams } | { readonly refused: string } => {
  const options = new Map<string, string>()
  const rest = new URLSearchParams()
  for (const [key, value] of query) {
    const name = known.find((k) => k.toLowerCase() === key.toLowerCase())
    if (name === undefined) rest.append(key, value)
    else if (options.has(name)) return { refused: `option "${name}" is given twice (${knownUrlOptions(known)})` }
    else options.set(name, value)
  }
  return { options, rest }
}

/** Why a URL is refused for options its store does not know: their names, and the known ones. */
export const unknownUrlOptions = (names: ReadonlyArray<string>, known: ReadonlyArray<string>): string =>
  `unknown option${names.length === 1 ? "" : "s"} ${names.map((n) => JSON.stringify(n)).join(", ")} (${knownUrlOptions(known)})`

const knownUrlOptions = (known: ReadonlyArray<string>): string =>
  known.length === 0 ? "it takes no options" : `known options: ${known.join(", ")}`

/**
 * A store's own options from its URL's query, refusing any other (see `takeUrlOptions` and
 * `unknownUrlOptions`): for a store that passes nothing of its URL's query on to its client library.
 */
export const onlyUrlOptions = (
  query: URLSearchParams,
  known: ReadonlyArray<string>
): { readonly options: ReadonlyMap<string, string> } | { readonly refused: string } => {
  const taken = takeUrlOptions(query, known)
  if ("refused" in taken) return taken
  const unknown = [...new Set(taken.rest.keys())]
  return unknown.length > 0 ? { refused: unknownUrlOptions(unknown, known) } : { options: taken.options }
}

/** The text of a store URL given as it is or as `Redacted`. */
export const urlText = (url: string | Redacted.Redacted<string>): string => (Redacted.isRedacted(url) ? Redacted.value(url) : url)

/** A percent-encoded part of a URL, decoded; undefined when it is not valid percent-encoding. */
export const decodeUrlPart = (part: string): string | undefined => {
  try {
    return decodeURIComponent(part)
  } catch {
    return undefined
  }
}

/** The values a document gives a unique constraint's fields. */
export const uniqueValues = (u: UniqueSpec, doc: Doc): Array<Json> => u.fields.map((f) => read(doc, [f]))

/**
 * The key a document claims under a unique constraint, or undefined when it is not constrained (SQL
 * semantics: a null or missing field leaves it free). Canonical JSON keeps 1 and "1" apart.
 */
export const uniqueKey = (u: UniqueSpec, doc: Doc): string | undefined => {
  const values = uniqueValues(u, doc)
  if (values.includes(null)) return undefined
  return canonical(values.length === 1 ? values[0]! : values)
}

/** Compare-and-set: throws `Conflict` unless `current` has every top-level value of `expect` (missing = null). */
export const checkExpect = (table: string, id: number, current: Doc, expect: Doc | undefined): void => {
  if (expect === undefined) return
  for (const field of Object.keys(expect)) {
    const wanted = expect[field]
    const actual = read(current, [field])
    if (wanted !== undefined && !equalJson(actual, wanted))
      throw StoreError.conflict(table, id, `${field} is ${showValue(actual)}, expected ${showValue(wanted)}`)
  }
}
