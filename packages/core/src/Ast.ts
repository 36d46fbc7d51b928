/**
 * The query AST: plain data, the one language every store interprets.
 *
 * A condition is a tree of `And` / `Or` / `Not` over `Field` predicates. A field predicate names a path of
 * segments into an encoded document (`["params", "lr"]`), an operator, and an encoded JSON value. The value is
 * always data: no store may read it as an operator.
 *
 * Two trees use this shape. The one the user writes (after normalisation) may have paths that cross relations
 * (`["transform", "key"]`) or name features; the one a driver receives has been planned by core so every path
 * stays inside one table's documents.
 */
import { expectedNesting, isPlainObject, nesting } from "./Limits.js"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

export type Path = ReadonlyArray<string>

/** A JSON copy of a value, or what stopped it (the part that is not JSON, and what was expected there). */
export type Copied = { readonly json: Json } | { readonly expected: string; readonly value: unknown }

/**
 * Copies a user value into plain JSON: valid dates become ISO strings; `NaN`/`Infinity`, functions, class
 * instances and what `Limits.nesting` refuses (cycles, nesting past `maxDepth`, more than `maxValues` values)
 * are refused. The copy is built with own properties only, so a `"__proto__"` key stays data, and nothing the
 * caller later mutates can change it.
 */
export const toJson = (v: unknown): Copied => {
  // Checked whole first: the copy below expands shared subtrees and recurses without bounds of its own.
  const found = nesting(v)
  return found === undefined ? copy(v) : { expected: expectedNesting(found), value: found === "cycle" ? "[cycle]" : v }
}

const copy = (v: unknown): Copied => {
  if (v === null || typeof v === "string" || typeof v === "boolean") return { json: v }
  if (typeof v === "number") return Number.isFinite(v) ? { json: v } : { expected: "a finite number", value: v }
  if (v instanceof Date)
    return Number.isNaN(v.getTime()) ? { expected: "a valid date", value: v } : { json: v.toISOString() }
  if (typeof v !== "object") return { expected: "JSON data", value: v }
  if (Array.isArray(v)) {
    // Every slot, in place: a hole is a null (as `JSON.stringify` and params write it, and as `Limits` counts
    // it), never skipped, which would move the elements after it to other indexes.
    const items: Array<Json> = []
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) {
        items.push(null)
        continue
      }
      const copied = copy(v[i])
      if (!("json" in copied)) return copied
      items.push(copied.json)
    }
    return { json: items }
  }
  if (!isPlainObject(v)) return { expected: "plain JSON data", value: v }
  const entries: Array<[string, Json]> = []
  for (const [k, x] of Object.entries(v)) {
    const copied = copy(x)
    if (!("json" in copied)) return copied
    entries.push([k, copied.json])
  }
  return { json: Object.fromEntries(entries) }
}

export const operators = [
  "eq",
  "ne",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "notIn",
  "contains",
  "icontains",
  "startsWith",
  "istartsWith",
  "endsWith",
  "iendsWith",
  "iexact",
  "isNull",
  "range",
  "regex"
] as const

export type Operator = (typeof operators)[number]

export const isOperator = (s: string): s is Operator => (operators as ReadonlyArray<string>).includes(s)

/** Operators that only make sense on strings. */
export const stringOperators: ReadonlySet<Operator> = new Set([
  "contains",
  "icontains",
  "startsWith",
  "istartsWith",
  "endsWith",
  "iendsWith",
  "iexact",
  "regex"
])

/** Operators that compare by order. */
export const orderOperators: ReadonlySet<Operator> = new Set(["gt", "gte", "lt", "lte", "range"])

export interface Field {
  readonly _tag: "Field"
  readonly path: Path
  readonly op: Operator
  /** `in`/`notIn`: an array; `range`: `[low, high]` inclusive; `isNull`: a boolean; otherwise a scalar. */
  readonly value: Json
}

export interface And {
  readonly _tag: "And"
  readonly conds: ReadonlyArray<Cond>
}

export interface Or {
  readonly _tag: "Or"
  readonly conds: ReadonlyArray<Cond>
}

export interface Not {
  readonly _tag: "Not"
  readonly cond: Cond
}

export type Cond = Field | And | Or | Not

export const field = (path: Path, op: Operator, value: Json): Field => ({ _tag: "Field", path, op, value })
export const and = (conds: ReadonlyArray<Cond>): Cond => (conds.length === 1 ? conds[0]! : { _tag: "And", conds })
export const or = (conds: ReadonlyArray<Cond>): Cond => (conds.length === 1 ? conds[0]! : { _tag: "Or", conds })
export const not = (cond: Cond): Not => ({ _tag: "Not", cond })
/** `And([])` matches everything; `Or([])` matches nothing. */
export const always: Cond = { _tag: "And", conds: [] }
export const never: Cond = { _tag: "Or", conds: [] }

export type Direction = "asc" | "desc"

export interface OrderKey {
  readonly path: Path
  readonly direction: Direction
}

/**
 * A keyset cursor: the order-key values and the id of the last row of the previous page. Rows strictly after
 * it in the query's order (which always ends with `id`) come next.
 */
export interface Cursor {
  readonly values: ReadonlyArray<Json>
  readonly id: number
}

export interface FindSpec {
  readonly where: Cond
  /** Without an explicit `id` key, drivers break ties by ascending `id`. */
  readonly orderBy: ReadonlyArray<OrderKey>
  readonly limit?: number | undefined
  readonly offset?: number | undefined
  readonly after?: Cursor | undefined
}

/** Collects every path a condition reads. */
export const paths = (cond: Cond): ReadonlyArray<Path> => {
  switch (cond._tag) {
    case "Field":
      return [cond.path]
    case "Not":
      return paths(cond.cond)
    default:
      return cond.conds.flatMap(paths)
  }
}

/**
 * The field predicates of `cond`, first to last, walked with a stack of its own: a query with a few hundred
 * thousand keys would overflow the call stack of a recursive walk, or of a spread into `push`.
 */
export function* predicates(cond: Cond): Generator<Field> {
  const pending: Array<Cond> = [cond]
  while (pending.length > 0) {
    const c = pending.pop()!
    if (c._tag === "Not") pending.push(c.cond)
    else if (c._tag !== "Field") for (let i = c.conds.length - 1; i >= 0; i--) pending.push(c.conds[i]!)
    else yield c
  }
}
