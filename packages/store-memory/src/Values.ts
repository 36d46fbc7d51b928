/**
 * JSON values as the store holds them: frozen private copies, and Map keys that respect JSON equality.
 */
import { Evaluator } from "@lineage/core"
import type { Ast } from "@lineage/core"

type Json = Ast.Json
type Doc = Evaluator.Doc

/**
 * A deep copy that nobody else can mutate: callers keep their inputs, readers get the stored value itself
 * without copying on every read. Undefined members are dropped as `JSON.stringify` would.
 */
export const freezeClone = (value: Json): Json => {
  if (value === null || typeof value !== "object") return value
  if (Array.isArray(value)) return Object.freeze(value.map(freezeClone))
  const source = value as { readonly [key: string]: Json | undefined }
  const copy: { [key: string]: Json } = {}
  for (const key of Object.keys(source)) {
    const member = source[key]
    if (member === undefined) continue
    // Plain assignment to "__proto__" would set the prototype instead of a member.
    if (key === "__proto__") Object.defineProperty(copy, key, { value: freezeClone(member), enumerable: true })
    else copy[key] = freezeClone(member)
  }
  return Object.freeze(copy)
}

export const freezeDoc = (doc: Doc): Doc => freezeClone(doc) as Doc

/**
 * A Map key per JSON value such that two values get the same key exactly when `Evaluator.equalJson` holds.
 * Primitives are their own key (a Map already tells `1` from `"1"`); structures become canonical text,
 * tagged with a NUL prefix that no plain string key can carry.
 */
export type HashKey = string | number | boolean | null

export const hashKey = (value: Json): HashKey => {
  if (typeof value === "string") return value.charCodeAt(0) === 0 ? `\u0000s${value}` : value
  if (value === null || typeof value !== "object") return value
  return `\u0000j${Evaluator.canonical(value)}`
}

/** The distinct members of an `in` list: duplicates would yield the same ids twice. */
export const distinct = (values: ReadonlyArray<Json>): ReadonlyArray<Json> => {
  const seen = new Map<HashKey, Json>()
  for (const v of values) if (!seen.has(hashKey(v))) seen.set(hashKey(v), v)
  return [...seen.values()]
}
