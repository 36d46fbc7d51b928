/**
 * The query AST compiled to MongoDB filters and sorts. Never `$where`, `$function`, `$accumulator` or `$expr`:
 * every user value is wrapped in an operator we chose (`$eq`, `$in`, `$gt`, an escaped `$regex`, …) or turned
 * into an order-key string first, so no value can ever be read as an operator, and every user key is escaped.
 *
 * Top-level fields compile EXACTLY onto their order keys (`o.<field>`, see Encoding). Nested paths compile to a
 * SUPERSET on the escaped copy (`d.<path>`): MongoDB looks inside arrays on a path and compares embedded
 * documents by key order, the reference evaluator does neither, so such candidates are re-checked with
 * `Evaluator.predicate`. `exact` says whether the filter alone is the answer (then counts, skips and limits
 * run on the server).
 */
import type { Ast, Driver } from "@lineage/core"
import { Evaluator } from "@lineage/core"
import { escapeKey, escapePath, orderKey, rank } from "./Encoding.js"

type Json = Driver.Json
export type Filter = { readonly [key: string]: unknown }

export interface Compiled {
  readonly filter: Filter
  readonly exact: boolean
}

const all: Compiled = { filter: {}, exact: true }
/** Everything, but only as a superset: the evaluator decides. */
const anything: Compiled = { filter: {}, exact: false }
const nothing: Compiled = { filter: { _id: { $in: [] } }, exact: true }

const exact = (filter: Filter): Compiled => ({ filter, exact: true })
const superset = (filter: Filter): Compiled => ({ filter, exact: false })

/** Escapes regex metacharacters, so a user string is a literal in both PCRE (mongod) and JS (the emulator). */
export const escapeRegex = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&")

/** Operators compiled to server-side filters (some as supersets re-checked by the evaluator). */
export const nativeOperators: ReadonlyArray<Ast.Operator> = [
  "eq",
  "ne",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "notIn",
  "range",
  "isNull",
  "startsWith",
  "contains",
  "endsWith"
]

const isNum = (v: Json): v is number => typeof v === "number"
const isStr = (v: Json): v is string => typeof v === "string"

// --- `_id`: every document's id is an integer, so id predicates are exact on the primary key. ---------------

const idBound = (op: "gt" | "gte" | "lt" | "lte", value: Json): Compiled =>
  isNum(value) ? exact({ _id: { [`$${op}`]: value } }) : nothing

const onId = (f: Ast.Field): Compiled => {
  const v = f.value
  switch (f.op) {
    case "eq":
      return isNum(v) ? exact({ _id: { $eq: v } }) : nothing
    case "ne":
      return isNum(v) ? exact({ _id: { $ne: v } }) : all
    case "in":
      return exact({ _id: { $in: Array.isArray(v) ? v.filter(isNum) : [] } })
    case "notIn":
      return exact({ _id: { $nin: Array.isArray(v) ? v.filter(isNum) : [] } })
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return idBound(f.op, v)
    case "range":
      return Array.isArray(v) && v.length === 2 && isNum(v[0]!) && isNum(v[1]!)
        ? exact({ _id: { $gte: v[0], $lte: v[1] } })
        : nothing
    case "isNull":
      return v === true ? nothing : all
    default:
      return nothing // string operators never match a number
  }
}

// --- top-level fields: exact, on order keys. -----------------------------------------------------------

/** The keys of one type lie in [rank, next rank): bounds keep comparisons within the argument's type. */
const typeRange = (v: number | string) => (isNum(v) ? { lo: rank.number, hi: rank.string } : { lo: rank.string, hi: rank.array })

const bound = (op: "gt" | "gte" | "lt" | "lte", v: Json): Filter | undefined => {
  if (!isNum(v) && !isStr(v)) return undefined
  const key = orderKey(v)!
  const { lo, hi } = typeRange(v)
  return op === "gt" || op === "gte" ? { [`$${op}`]: key, $lt: hi } : { [`$${op}`]: key, $gte: lo }
}

/** A regex over a string's order key (rank prefix + image); `null` when NUL forbids a BSON regex. */
const keyRegex = (body: string): Filter | undefined => (body.includes("\u0000") ? undefined : { $regex: body })

const onTop = (f: Ast.Field, field: string): Compiled => {
  const path = `o.${escapeKey(field)}`
  const v = f.value
  const on = (cond: Filter): Filter => ({ [path]: cond })
  const strings = on({ $gte: rank.string, $lt: rank.array })
  switch (f.op) {
    case "eq":
      return v === null ? exact(on({ $exists: false })) : exact(on({ $eq: orderKey(v) }))
    case "ne":
      return v === null ? exact(on({ $exists: true })) : exact(on({ $ne: orderKey(v) }))
    case "in":
    case "notIn": {
      // `$in` with null also matches a missing key, which is how null is stored.
      const keys = Array.isArray(v) ? v.map((x) => orderKey(x) ?? null) : []
      return exact(on({ [f.op === "in" ? "$in" : "$nin"]: keys }))
    }
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      const b = bound(f.op, v)
      return b === undefined ? nothing : exact(on(b))
    }
    case "range": {
      if (!Array.isArray(v) || v.length !== 2) return nothing
      const lo = bound("gte", v[0]!)
      const hi = bound("lte", v[1]!)
      if (lo === undefined || hi === undefined || typeof v[0] !== typeof v[1]) return nothing
      return exact({ $and: [on(lo), on(hi)] })
    }
    case "isNull":
      return exact(on({ $exists: v !== true }))
    case "startsWith": {
      if (!isStr(v)) return nothing
      const r = keyRegex(`^${escapeRegex(orderKey(v)!)}`)
      return r === undefined ? superset(strings) : exact(on(r))
    }
    case "contains":
    case "endsWith": {
      // The image of a string may contain the image of another unaligned (astral escapes): a superset.
      if (!isStr(v)) return nothing
      const lit = escapeRegex(orderKey(v)!.slice(1))
      const r = keyRegex(f.op === "contains" ? `^3[\\s\\S]*${lit}` : `^3[\\s\\S]*${lit}$`)
      return superset(r === undefined ? strings : on(r))
    }
    default:
      // i-variants and regex: ECMAScript's toLowerCase and `u` patterns are not PCRE's; only the type is native.
      return isStr(v) ? superset(strings) : nothing
  }
}

// --- nested paths: supersets on the escaped copy. -----------------------------------------------------

const scalar = (v: Json): v is number | string | boolean => typeof v === "number" || typeof v === "string" || typeof v === "boolean"

const onNested = (f: Ast.Field): Compiled => {
  const path = `d.${escapePath(f.path)}`
  const v = f.value
  const on = (cond: Filter): Compiled => superset({ [path]: cond })
  switch (f.op) {
    case "eq":
      return scalar(v) ? on({ $eq: v }) : anything
    case "in":
      return Array.isArray(v) && v.every(scalar) ? on({ $in: v }) : anything
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      // Numbers only: a server comparing strings by UTF-16 units would not give a superset.
      return isNum(v) ? on({ [`$${f.op}`]: v }) : anything
    case "range":
      return Array.isArray(v) && v.length === 2 && isNum(v[0]!) && isNum(v[1]!) ? on({ $gte: v[0], $lte: v[1] }) : anything
    case "startsWith":
      return isStr(v) && !v.includes("\u0000") ? on({ $regex: `^${escapeRegex(v)}` }) : anything
    case "contains":
      return isStr(v) && !v.includes("\u0000") ? on({ $regex: escapeRegex(v) }) : anything
    default:
      return anything
  }
}

const field = (f: Ast.Field): Compiled => {
  if (f.path.length === 1) return f.path[0] === "id" ? onId(f) : onTop(f, f.path[0]!)
  // An empty path reads the document itself: never null, never a scalar.
  if (f.path.length === 0) return anything
  return onNested(f)
}

/** Compiles a checked condition (run `Evaluator.check` first). */
export const compile = (cond: Ast.Cond): Compiled => {
  switch (cond._tag) {
    case "Field":
      return field(cond)
    case "Not": {
      const inner = compile(cond.cond)
      // The complement of a superset is a subset: only an exact filter can be negated on the server.
      return inner.exact ? exact({ $nor: [inner.filter] }) : anything
    }
    case "And": {
      const parts = cond.conds.map(compile)
      const filters = parts.map((p) => p.filter).filter((x) => Object.keys(x).length > 0)
      return { filter: filters.length === 0 ? {} : filters.length === 1 ? filters[0]! : { $and: filters }, exact: parts.every((p) => p.exact) }
    }
    case "Or": {
      if (cond.conds.length === 0) return nothing
      const parts = cond.conds.map(compile)
      // A branch matching everything makes the whole `Or` match everything (exactly so only if that branch is exact).
      if (parts.some((p) => Object.keys(p.filter).length === 0))
        return { filter: {}, exact: parts.some((p) => p.exact && Object.keys(p.filter).length === 0) }
      return { filter: { $or: parts.map((p) => p.filter) }, exact: parts.every((p) => p.exact) }
    }
  }
}

// --- order and keyset cursors -------------------------------------------------------------------------

/** The server field a top-level order key sorts on, or undefined when the order must be applied in memory. */
const sortField = (key: Ast.OrderKey): string | undefined => {
  if (key.path.length !== 1) return undefined
  return key.path[0] === "id" ? "_id" : `o.${escapeKey(key.path[0]!)}`
}

/** A native sort equal to the evaluator's order, or undefined when some key is a nested path. */
export const nativeSort = (orderBy: ReadonlyArray<Ast.OrderKey>): ReadonlyArray<readonly [string, 1 | -1]> | undefined => {
  const out: Array<readonly [string, 1 | -1]> = []
  for (const key of Evaluator.fullOrder(orderBy)) {
    const f = sortField(key)
    if (f === undefined) return undefined
    // A repeated path can only tie (its first occurrence decided already), and a sort document has each key once.
    if (!out.some(([seen]) => seen === f)) out.push([f, key.direction === "asc" ? 1 : -1])
  }
  return out
}

/**
 * Rows strictly after `cursor` in a native order: (k1 after v1) or (k1 = v1 and k2 after v2) or …, ending
 * with `_id`. Null is stored as a missing key, which sorts first ascending and last descending, as in the
 * evaluator.
 */
export const afterFilter = (orderBy: ReadonlyArray<Ast.OrderKey>, cursor: Ast.Cursor): Filter => {
  const keys = Evaluator.fullOrder(orderBy)
  const branches: Array<Filter> = []
  const equal: Array<Filter> = []
  keys.forEach((key, i) => {
    const f = sortField(key)!
    const value: Json = i < orderBy.length ? (cursor.values[i] ?? null) : cursor.id
    const asc = key.direction === "asc"
    if (f === "_id") {
      const id = typeof value === "number" ? value : 0
      branches.push({ $and: [...equal, { _id: { [asc ? "$gt" : "$lt"]: id } }] })
      equal.push({ _id: { $eq: id } })
      return
    }
    const k = orderKey(value)
    const after: Filter | undefined =
      k === undefined
        ? asc
          ? { [f]: { $exists: true } }
          : undefined
        : asc
          ? { [f]: { $gt: k } }
          : { $or: [{ [f]: { $lt: k } }, { [f]: { $exists: false } }] }
    if (after !== undefined) branches.push({ $and: [...equal, after] })
    equal.push(k === undefined ? { [f]: { $exists: false } } : { [f]: { $eq: k } })
  })
  return branches.length === 0 ? nothing.filter : { $or: branches }
}
