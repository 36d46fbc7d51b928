/**
 * Run parameters as lamindb stores them (`serialize_params_to_json`): plain JSON, `None` and empty lists
 * dropped, dates and URLs as strings, records as `"Registry[uid]"`, and secrets redacted (see Redaction), so
 * they never reach a store.
 */
import { Effect } from "effect"
import type * as Ast from "./Ast.js"
import { ValidationError } from "./Errors.js"
import { expectedNesting, maxDepth, maxValues } from "./Limits.js"
import * as Redaction from "./Redaction.js"

export { marker as redacted } from "./Redaction.js"

export interface Serialized {
  readonly params: { readonly [key: string]: Ast.Json }
  /** Keys dropped because their values cannot be stored, for a warning. */
  readonly dropped: ReadonlyArray<string>
}

/**
 * Thrown where the recursion would go deeper than `maxDepth` (the params object being the first level, as in
 * `Limits.nesting`) or past `maxValues` values (counted as `Limits.nesting` counts them: a subtree shared by
 * several parents once for each, as the copy expands it), to unwind at once; `serialize` turns it into a
 * ValidationError naming the path.
 */
class Refused {
  constructor(
    readonly path: string,
    readonly found: "tooDeep" | "tooLarge"
  ) {}
}

interface Walk {
  readonly dropped: Array<string>
  readonly seen: Set<object>
  values: number
}

/** Counts `n` more values, refusing past `maxValues`: the copy's work is bounded whatever `params` expands to. */
const count = (walk: Walk, n: number, path: string): void => {
  walk.values += n
  if (walk.values > maxValues) throw new Refused(path, "tooLarge")
}

const isRecord = (v: object): v is { readonly uid: string } =>
  typeof (v as { uid?: unknown }).uid === "string" && Object.getPrototypeOf(v) !== Object.prototype

/** `Registry[uid]`, redacted like any string; a prototype without a constructor gives `Object`. */
const recordReference = (v: { readonly uid: string }): string => {
  const constructor = (v as { readonly constructor?: unknown }).constructor
  return Redaction.text(`${typeof constructor === "function" ? constructor.name : "Object"}[${v.uid}]`)
}

/** `v` as JSON at `path`, nested `depth` containers deep; undefined when it is not stored. */
const value = (v: unknown, path: string, depth: number, walk: Walk, slotCounted = false): Ast.Json | undefined => {
  if (!slotCounted) count(walk, 1, path)
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
  if (depth >= maxDepth) throw new Refused(path, "tooDeep")
  walk.seen.add(v)
  try {
    if (isRecord(v)) return recordReference(v)
    if (Array.isArray(v)) {
      if (v.length === 0) return undefined
      // Every slot is a value, holes too (they are stored as nulls): counted here, before any is visited.
      count(walk, v.length, path)
      return v.map((x, i) => value(x, `${path}[${i}]`, depth + 1, walk, true) ?? null)
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

/** `params` as JSON with secrets redacted; params nested past `maxDepth` or of more than `maxValues` values are a ValidationError. */
export const serialize = (params: { readonly [key: string]: unknown }): Effect.Effect<Serialized, ValidationError> =>
  Effect.suspend(() => {
    const walk: Walk = { dropped: [], seen: new Set(), values: 0 }
    try {
      return Effect.succeed({ params: object(params, "", 1, walk), dropped: walk.dropped })
    } catch (e) {
      if (!(e instanceof Refused)) throw e
      return Effect.fail(new ValidationError({ registry: "Run", field: "params", value: e.path, expected: expectedNesting(e.found) }))
    }
  })
