/**
 * Run parameters as lamindb stores them (`serialize_params_to_json`): plain JSON, `None` and empty lists
 * dropped, dates and URLs as strings, records as `"Registry[uid]"`, and secrets redacted (see Redaction), so
 * they never reach a store.
 */
import { Effect } from "effect"
import type * as Ast from "./Ast.js"
import { ValidationError } from "./Errors.js"
import { expectedNesting, maxDepth } from "./Limits.js"
import * as Redaction from "./Redaction.js"

export { marker as redacted } from "./Redaction.js"

export interface Serialized {
  readonly params: { readonly [key: string]: Ast.Json }
  /** Keys dropped because their values cannot be stored, for a warning. */
  readonly dropped: ReadonlyArray<string>
}

/**
 * Thrown where the recursion would go deeper than `maxDepth` (the params object being the first level, as in
 * `Limits.nesting`), to unwind it at once; `serialize` turns it into a ValidationError naming the path.
 */
class TooDeep {
  constructor(readonly path: string) {}
}

interface Walk {
  readonly dropped: Array<string>
  readonly seen: Set<object>
}

const isRecord = (v: object): v is { readonly uid: string } =>
  typeof (v as { uid?: unknown }).uid === "string" && Object.getPrototypeOf(v) !== Object.prototype

/** `Registry[uid]`, redacted like any string; a prototype without a constructor gives `Object`. */
const recordReference = (v: { readonly uid: string }): string => {
  const constructor = (v as { readonly constructor?: unknown }).constructor
  return Redaction.text(`${typeof constructor === "function" ? constructor.name : "Object"}[${v.uid}]`)
}

/** `v` as JSON at `path`, nested `depth` containers deep; undefined when it is not stored. */
const value = (v: unknown, path: string, depth: number, walk: Walk): Ast.Json | undefined => {
  if (v === null || v === undefined) return undefined
  if (typeof v === "string") return Redaction.text(v)
  if (typeof v === "boolean") return v
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v)
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
  if (typeof v !== "object") {
    walk.dropped.push(path)
    return undefined
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.toISOString()
  if (v instanceof URL) return Redaction.text(v.href)
  if (walk.seen.has(v)) {
    walk.dropped.push(path)
    return undefined
  }
  if (depth >= maxDepth) throw new TooDeep(path)
  walk.seen.add(v)
  try {
    if (isRecord(v)) return recordReference(v)
    if (Array.isArray(v)) {
      if (v.length === 0) return undefined
      return v.map((x, i) => value(x, `${path}[${i}]`, depth + 1, walk) ?? null)
    }
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) {
      walk.dropped.push(path)
      return undefined
    }
    return object(v as { readonly [k: string]: unknown }, `${path}.`, depth + 1, walk)
  } finally {
    walk.seen.delete(v)
  }
}

/**
 * A value under a secret-looking key is replaced whole, whatever its shape (a string, an object, a list);
 * booleans are kept, since they cannot hold a secret (`auth: true`).
 */
const object = (
  params: { readonly [k: string]: unknown },
  prefix: string,
  depth: number,
  walk: Walk
): { [key: string]: Ast.Json } => {
  // Collected as entries and built with fromEntries, so a "__proto__" key stays data.
  const out: Array<[string, Ast.Json]> = []
  for (const [k, v] of Object.entries(params)) {
    const key = Redaction.text(k)
    if (v !== null && v !== undefined && typeof v !== "boolean" && Redaction.isSecretKey(k)) {
      out.push([key, Redaction.marker])
      continue
    }
    const j = value(v, `${prefix}${key}`, depth, walk)
    if (j !== undefined) out.push([key, j])
  }
  return Object.fromEntries(out)
}

/** `params` as JSON with secrets redacted; params nested deeper than `maxDepth` are a ValidationError. */
export const serialize = (params: { readonly [key: string]: unknown }): Effect.Effect<Serialized, ValidationError> =>
  Effect.suspend(() => {
    const walk: Walk = { dropped: [], seen: new Set() }
    try {
      return Effect.succeed({ params: object(params, "", 1, walk), dropped: walk.dropped })
    } catch (e) {
      if (!(e instanceof TooDeep)) throw e
      return Effect.fail(
        new ValidationError({ registry: "Run", field: "params", value: e.path, expected: expectedNesting("tooDeep") })
      )
    }
  })
