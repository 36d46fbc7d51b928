/**
 * Documents as stored: BSON bytes plus two decoded views (see `DecodedDocument`), helpers for paths,
 * canonical keys (BSON equality), shell-style formatting (for E11000 messages) and re-typing of numbers.
 */
import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, deserialize, serialize, type Document } from "bson"
import type { DecodedDocument } from "./Wire.js"

/** One stored document. Never mutated: updates store a new StoredDoc. */
export interface StoredDoc extends DecodedDocument {
  readonly bytes: Uint8Array
}

/** Deep copy through BSON: the stored value can never alias anything the caller holds. */
export const store = (exact: Document): StoredDoc => {
  const bytes = serialize(exact)
  return { bytes, view: deserialize(bytes), exact: deserialize(bytes, { promoteValues: false }) }
}

/** A fresh, mutable promoted copy of a stored document (mingo's updater mutates in place). */
export const freshView = (doc: StoredDoc): Document => deserialize(doc.bytes)

export const isPlainObject = (u: unknown): u is Document => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto: unknown = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

export const isNumeric = (u: unknown): boolean =>
  typeof u === "number" ||
  u instanceof Long ||
  u instanceof Int32 ||
  u instanceof Double ||
  u instanceof Decimal128

/** Reads a dotted path without array traversal; `undefined` when missing. */
export const getPath = (doc: unknown, path: string): unknown => {
  let current: unknown = doc
  for (const segment of path.split(".")) {
    if (Array.isArray(current)) {
      const i = Number(segment)
      if (!Number.isInteger(i) || String(i) !== segment) return undefined
      current = current[i]
    } else if (isPlainObject(current)) {
      current = Object.prototype.hasOwnProperty.call(current, segment) ? current[segment] : undefined
    } else {
      return undefined
    }
  }
  return current
}

/**
 * Values reached by a dotted path the way mongod's query system walks it: arrays along the way are
 * traversed element by element. Used by `distinct`.
 */
export const collectPath = (value: unknown, segments: ReadonlyArray<string>, out: Array<unknown>): void => {
  const [head, ...rest] = segments
  if (head === undefined) {
    if (Array.isArray(value)) out.push(...value)
    else if (value !== undefined) out.push(value)
    return
  }
  if (Array.isArray(value)) {
    const i = Number(head)
    if (Number.isInteger(i) && String(i) === head) {
      collectPath(value[i], rest, out)
      return
    }
    for (const item of value) if (isPlainObject(item)) collectPath(item[head], rest, out)
    return
  }
  if (isPlainObject(value)) collectPath(value[head], rest, out)
}

/** Sets a dotted path, creating intermediate objects (used to build upsert seeds and overlays). */
export const setPath = (doc: Document, path: string, value: unknown): void => {
  const segments = path.split(".")
  let current: Document = doc
  for (let i = 0; i < segments.length - 1; i++) {
    const key = segments[i] ?? ""
    const next: unknown = current[key]
    if (isPlainObject(next)) current = next
    else {
      const created: Document = {}
      current[key] = created
      current = created
    }
  }
  current[segments[segments.length - 1] ?? ""] = value
}

const numericKey = (n: number | bigint | string): string => `n:${String(n)}`

/**
 * A string equal for two values exactly when mongod considers them equal in an index key:
 * numbers compare by value across int/long/double, objects by ordered fields.
 */
export const canonical = (u: unknown): string => {
  if (u === undefined || u === null) return "null"
  if (typeof u === "number") return numericKey(Object.is(u, -0) ? 0 : u)
  if (u instanceof Int32 || u instanceof Double) return numericKey(u.value)
  if (u instanceof Long) {
    const n = u.toNumber()
    return Number.isSafeInteger(n) ? numericKey(n) : numericKey(u.toString())
  }
  if (u instanceof Decimal128) {
    const n = Number(u.toString())
    return numericKey(n)
  }
  if (typeof u === "string") return `s:${JSON.stringify(u)}`
  if (typeof u === "boolean") return `b:${String(u)}`
  if (u instanceof Date) return `d:${u.getTime()}`
  if (u instanceof ObjectId) return `o:${u.toHexString()}`
  if (u instanceof Binary) return `x:${u.sub_type}:${Buffer.from(u.buffer).toString("base64")}`
  if (u instanceof Timestamp) return `t:${u.toString()}`
  if (u instanceof RegExp) return `r:${u.source}/${u.flags}`
  if (Array.isArray(u)) return `[${u.map(canonical).join(",")}]`
  if (isPlainObject(u)) {
    return `{${Object.entries(u).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`
  }
  return `?:${String(u)}`
}

/** Shell-style rendering, as mongod prints values in error messages (`{ email: "a@b.c" }`). */
export const formatValue = (u: unknown): string => {
  if (u === undefined || u === null) return "null"
  if (typeof u === "string") return JSON.stringify(u)
  if (typeof u === "number" || typeof u === "boolean") return String(u)
  if (u instanceof Int32 || u instanceof Double) return String(u.value)
  if (u instanceof Long) return u.toString()
  if (u instanceof Decimal128) return `NumberDecimal("${u.toString()}")`
  if (u instanceof Date) return `new Date(${u.getTime()})`
  if (u instanceof ObjectId) return `ObjectId('${u.toHexString()}')`
  if (Array.isArray(u)) return `[ ${u.map(formatValue).join(", ")} ]`
  if (isPlainObject(u)) {
    const entries = Object.entries(u)
    return entries.length === 0 ? "{}" : `{ ${entries.map(([k, v]) => `${k}: ${formatValue(v)}`).join(", ")} }`
  }
  return String(u)
}

const numberOf = (u: unknown): number | undefined => {
  if (typeof u === "number") return u
  if (u instanceof Int32 || u instanceof Double) return u.value
  if (u instanceof Long) return u.toNumber()
  return undefined
}

/**
 * Gives numbers computed on the promoted view their BSON type back. `sources` are exact values at the same
 * position, most specific first (the update's own values, then the document before the update). A number
 * equal to a source's value takes the source's type; otherwise a Double or Long old value keeps its type
 * (mongod's arithmetic keeps the wider type); otherwise the number is encoded the JS way.
 */
export const retype = (view: unknown, sources: ReadonlyArray<unknown>): unknown => {
  if (Array.isArray(view)) {
    return view.map((item, i) =>
      retype(item, sources.map((s) => (Array.isArray(s) ? s[i] : isPlainObject(s) ? s[String(i)] : undefined)))
    )
  }
  if (isPlainObject(view)) {
    const out: Document = {}
    for (const [key, value] of Object.entries(view)) {
      out[key] = retype(value, sources.map((s) => (isPlainObject(s) ? s[key] : undefined)))
    }
    return out
  }
  if (typeof view !== "number") return view
  for (const source of sources) {
    if (source instanceof Int32 || source instanceof Double || source instanceof Long) {
      if (numberOf(source) === view) return source
    }
  }
  const previous = sources[sources.length - 1]
  if (previous instanceof Double) return new Double(view)
  if (previous instanceof Long && Number.isSafeInteger(view)) return Long.fromNumber(view)
  return view
}

/** `_id` first, as mongod stores new documents. */
export const idFirst = (doc: Document, id: unknown): Document => {
  const out: Document = { _id: id }
  for (const [k, v] of Object.entries(doc)) if (k !== "_id") out[k] = v
  return out
}
