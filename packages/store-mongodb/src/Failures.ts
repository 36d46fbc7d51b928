/**
 * Driver failures as typed `StoreError`s: a duplicate key is a `UniqueViolation` naming the constraint the
 * caller declared (recovered from the index name we gave it), a lost or unreachable server is `Unavailable`
 * (the one retryable reason), a request the server or the driver refuses is `Invalid` or `Unsupported`.
 * Messages are scrubbed of the password, in case some layer quotes it.
 */
import { MongoAPIError, MongoError, MongoNetworkError, MongoServerError, MongoServerSelectionError } from "mongodb"
import { Driver, StoreError } from "@lineage/core"
import type { Redacted } from "effect"

/** Unique indexes are named `lineage_u_<constraint, URI-encoded>`, so a duplicate-key error names its constraint. */
export const uniqueIndexName = (constraint: string): string => `lineage_u_${encodeURIComponent(constraint)}`

export const constraintOfIndex = (index: string): string | undefined => {
  if (!index.startsWith("lineage_u_")) return undefined
  try {
    return decodeURIComponent(index.slice("lineage_u_".length))
  } catch {
    return undefined
  }
}

/** Server codes meaning "not now": elections, shutdowns, unreachable members. */
const transientCodes = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 64, 50, 112, 251])

const isNetwork = (e: unknown): boolean =>
  e instanceof MongoNetworkError ||
  e instanceof MongoServerSelectionError ||
  (e instanceof MongoError &&
    (e.hasErrorLabel("RetryableWriteError") ||
      e.hasErrorLabel("TransientTransactionError") ||
      /PoolCleared|TopologyClosed|NotConnected|ServerClosed/.test(e.name) ||
      (typeof e.code === "number" && transientCodes.has(e.code))))

/** The first duplicate-key error of a (bulk) write, with the index it hit and the batch position. */
interface Duplicate {
  readonly index: string
  readonly position: number
}

const duplicateOf = (e: unknown): Duplicate | undefined => {
  if (!(e instanceof MongoError)) return undefined
  const rec = e as unknown as { readonly writeErrors?: unknown; readonly code?: unknown; readonly errmsg?: unknown; readonly message: string }
  const list: Array<{ readonly code?: unknown; readonly index?: unknown; readonly errmsg?: unknown }> = []
  if (Array.isArray(rec.writeErrors)) list.push(...(rec.writeErrors as Array<{ readonly code?: unknown; readonly index?: unknown; readonly errmsg?: unknown }>))
  else if (rec.writeErrors !== undefined && rec.writeErrors !== null) list.push(rec.writeErrors as { readonly code?: unknown })
  list.push({ code: rec.code, index: 0, errmsg: rec.message })
  for (const w of list) {
    if (w.code !== 11000) continue
    const index = /index: (\S+) dup key/.exec(String(w.errmsg ?? ""))?.[1]
    if (index !== undefined) return { index, position: typeof w.index === "number" ? w.index : 0 }
  }
  return undefined
}

/** What a write was about, to name the constraint, fields and values of a duplicate key. */
export interface WriteContext {
  readonly table: string
  readonly unique: ReadonlyArray<Driver.UniqueSpec>
  /** The documents sent, by batch position. */
  readonly docs: ReadonlyArray<Driver.Doc>
}

const uniqueViolation = (ctx: WriteContext, dup: Duplicate): StoreError | undefined => {
  const doc = ctx.docs[dup.position] ?? ctx.docs[0]
  if (dup.index === "_id_") return StoreError.uniqueViolation(ctx.table, "id", ["id"], [doc?.["id"] ?? null])
  const name = constraintOfIndex(dup.index)
  if (name === undefined) return undefined
  const spec = ctx.unique.find((u) => u.name === name)
  const fields = spec?.fields ?? []
  return StoreError.uniqueViolation(ctx.table, name, fields, doc === undefined || spec === undefined ? [] : Driver.uniqueValues(spec, doc))
}

/** Maps anything a driver call threw. */
export const failure = (what: string, e: unknown, secret?: Redacted.Redacted<string>, ctx?: WriteContext): StoreError => {
  if (e instanceof StoreError) return e
  const text = Driver.failureText(e, [secret])
  const dup = duplicateOf(e)
  if (dup !== undefined && ctx !== undefined) {
    const mapped = uniqueViolation(ctx, dup)
    if (mapped !== undefined) return mapped
  }
  if (isNetwork(e)) return StoreError.unavailable(`${what}: ${text}`, undefined)
  if (e instanceof MongoServerError) {
    if (e.code === 20) return StoreError.unsupported(`${what}: ${text}`)
    return StoreError.invalid(`${what}: MongoDB refused the request: ${text}`)
  }
  // The driver refused the request itself (bad arguments, a document above maxBsonObjectSize): sending it
  // again cannot help.
  if (e instanceof MongoAPIError) return StoreError.invalid(`${what}: ${text}`)
  if (e instanceof MongoError) return StoreError.unavailable(`${what}: ${text}`, undefined)
  return StoreError.invalid(`${what}: ${text}`)
}

