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
import type { Driver } from "@lineage/core"
import { Ast, Evaluator } from "@lineage/core"
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

/**
 * Whether an operator is compiled to a server-side filter (some as supersets re-checked by the evaluator);
 * the others filter only by type on the server, or not at all, and the evaluator answers.
 */
const native: Record<Ast.Operator, boolean> = {
  eq: true,
  ne: true,
  gt: true,
  gte: true,
  lt: true,
  lte: true,
  in: true,
  notIn: true,
  range: true,
  isNull: true,
  startsWith: true,
  contains: true,
  endsWith: true,
  icontains: false,
  istartsWith: false,
  iendsWith: false,
  iexact: false,
  regex: false
}

export const nativeOperators: ReadonlyArray<Ast.Operator> = Ast.operators.filter((op) => native[op])

type Comparison = "gt" | "gte" | "lt" | "lte"

const isNum = (v: Json): v is number => typeof v === "number"
const isStr = (v: Json): v is string => typeof v === "string"
const isNumberPair = (v: Json): v is readonly [number, number] => Array.isArray(v) && v.length === 2 && isNum(v[0]!) && isNum(v[1]!)

// --- `_id`: every document's id is an integer, so id predicates are exact on the primary key. ---------------

type IdRule = (value: Json) => Compiled

const idBound =
  (op: Comparison): IdRule =>
  (v) =>
    isNum(v) ? exact({ _id: { [`$${op}`]: v } }) : nothing

const ids = (v: Json): Array<number> => (Array.isArray(v) ? v.filter(isNum) : [])

/** A string operator never matches a number. */
const neverOnId: IdRule = () => nothing

const onId: Record<Ast.Operator, IdRule> = {
  eq: (v) => (isNum(v) ? exact({ _id: { $eq: v } }) : nothing),
  ne: (v) => (isNum(v) ? exact({ _id: { $ne: v } }) : all),
  in: (v) => exact({ _id: { $in: ids(v) } }),
  notIn: (v) => exact({ _id: { $nin: ids(v) } }),
  gt: idBound("gt"),
  gte: idBound("gte"),
  lt: idBound("lt"),
  lte: idBound("lte"),
  range: (v) => (isNumberPair(v) ? exact({ _id: { $gte: v[0], $lte: v[1] } }) : nothing),
  isNull: (v) => (v === true ? nothing : all),
  contains: neverOnId,
  icontains: neverOnId,
  startsWith: neverOnId,
  istartsWith: neverOnId,
  endsWith: neverOnId,
  iendsWith: neverOnId,
  iexact: neverOnId,
  regex: neverOnId
}

// --- top-level fields: exact, on order keys. -----------------------------------------------------------

/** The keys of one type lie in [rank, next rank): bounds keep comparisons within the argument's type. */
const typeRange = (v: number | string) => (isNum(v) ? { lo: rank.number, hi: rank.string } : { lo: rank.string, hi: rank.array })

const bound = (op: Comparison, v: Json): Filter | undefined => {
  if (!isNum(v) && !isStr(v)) return undefined
  const key = orderKey(v)!
  const { lo, hi } = typeRange(v)
  return op === "gt" || op === "gte" ? { [`$${op}`]: key, $lt: hi } : { [`$${op}`]: key, $gte: lo }
}

/** A regex over a string's order key (rank prefix + image); undefined when NUL forbids a BSON regex. */
const keyRegex = (body: string): Filter | undefined => (body.includes("\u0000") ? undefined : { $regex: body })

/** A rule for a top-level field, given its value and how to put a condition on the field's order key. */
type TopRule = (value: Json, on: (cond: Filter) => Filter) => Compiled

/** Every string, and only strings: their order keys lie in the string rank. */
const stringKeys = (on: (cond: Filter) => Filter): Filter => on({ $gte: rank.string, $lt: rank.array })

const topBound =
  (op: Comparison): TopRule =>
  (v, on) => {
    const b = bound(op, v)
    return b === undefined ? nothing : exact(on(b))
  }

/** `$in` with null also matches a missing key, which is how null is stored. */
const topMembership =
  (op: "$in" | "$nin"): TopRule =>
  (v, on) =>
    exact(on({ [op]: Array.isArray(v) ? v.map((x) => orderKey(x) ?? null) : [] }))

/** The image of a string may contain the image of another unaligned (astral escapes): a superset. */
const topSubstring =
  (end: "" | "$"): TopRule =>
  (v, on) => {
    if (!isStr(v)) return nothing
    const r = keyRegex(`^3[\\s\\S]*${escapeRegex(orderKey(v)!.slice(1))}${end}`)
    return superset(r === undefined ? stringKeys(on) : on(r))
  }

/** ECMAScript's toLowerCase and `u` patterns are not PCRE's: only the type is native. */
const stringTypeOnly: TopRule = (v, on) => (isStr(v) ? superset(stringKeys(on)) : nothing)

const onTop: Record<Ast.Operator, TopRule> = {
  eq: (v, on) => exact(v === null ? on({ $exists: false }) : on({ $eq: orderKey(v) })),
  ne: (v, on) => exact(v === null ? on({ $exists: true }) : on({ $ne: orderKey(v) })),
  in: topMembership("$in"),
  notIn: topMembership("$nin"),
  gt: topBound("gt"),
  gte: topBound("gte"),
  lt: topBound("lt"),
  lte: topBound("lte"),
  range: (v, on) => {
    if (!Array.isArray(v) || v.length !== 2) return nothing
    const lo = bound("gte", v[0]!)
    const hi = bound("lte", v[1]!)
    if (lo === undefined || hi === undefined || typeof v[0] !== typeof v[1]) return nothing
    return exact({ $and: [on(lo), on(hi)] })
  },
  isNull: (v, on) => exact(on({ $exists: v !== true })),
  startsWith: (v, on) => {
    if (!isStr(v)) return nothing
    const r = keyRegex(`^${escapeRegex(orderKey(v)!)}`)
    return r === undefined ? superset(stringKeys(on)) : exact(on(r))
  },
  contains: topSubstring(""),
  endsWith: topSubstring("$"),
  icontains: stringTypeOnly,
  istartsWith: stringTypeOnly,
  iendsWith: stringTypeOnly,
  iexact: stringTypeOnly,
  regex: stringTypeOnly
}

// --- nested paths: supersets on the escaped copy. -----------------------------------------------------

const scalar = (v: Json): v is number | string | boolean => typeof v === "number" || typeof v === "string" || typeof v === "boolean"

/** A rule for a nested path, given its value and how to put a condition on the path's escaped copy. */
type NestedRule = (value: Json, on: (cond: Filter) => Compiled) => Compiled

/** Numbers only: a server comparing strings by UTF-16 units would not give a superset. */
const nestedBound =
  (op: Comparison): NestedRule =>
  (v, on) =>
    isNum(v) ? on({ [`$${op}`]: v }) : anything

/** A string literal as a regex; a BSON regex cannot hold NUL. */
const nestedRegex =
  (prefix: "^" | ""): NestedRule =>
  (v, on) =>
    isStr(v) && !v.includes("\u0000") ? on({ $regex: `${prefix}${escapeRegex(v)}` }) : anything

/** No server filter is a superset: every document is a candidate. */
const evaluatorOnly: NestedRule = () => anything

const onNested: Record<Ast.Operator, NestedRule> = {
  eq: (v, on) => (scalar(v) ? on({ $eq: v }) : anything),
  in: (v, on) => (Array.isArray(v) && v.every(scalar) ? on({ $in: v }) : anything),
  gt: nestedBound("gt"),
  gte: nestedBound("gte"),
  lt: nestedBound("lt"),
  lte: nestedBound("lte"),
  range: (v, on) => (isNumberPair(v) ? on({ $gte: v[0], $lte: v[1] }) : anything),
  startsWith: nestedRegex("^"),
  contains: nestedRegex(""),
  ne: evaluatorOnly,
  notIn: evaluatorOnly,
  isNull: evaluatorOnly,
  endsWith: evaluatorOnly,
  icontains: evaluatorOnly,
  istartsWith: evaluatorOnly,
  iendsWith: evaluatorOnly,
  iexact: evaluatorOnly,
  regex: evaluatorOnly
}

const field = (f: Ast.Field): Compiled => {
  // An empty path reads the document itself: never null, never a scalar.
  if (f.path.length === 0) return anything
  if (f.path.length > 1) {
    const path = `d.${escapePath(f.path)}`
    return onNested[f.op](f.value, (cond) => superset({ [path]: cond }))
  }
  if (f.path[0] === "id") return onId[f.op](f.value)
  const path = `o.${escapeKey(f.path[0]!)}`
  return onTop[f.op](f.value, (cond) => ({ [path]: cond }))
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

/** One order key of a keyset cursor: rows after its bound (undefined: none is), rows equal to it (undefined: none is). */
interface Step {
  readonly after: Filter | undefined
  readonly equal: Filter | undefined
}

/** Ids are numbers: a bound of another type lies before every id (null, booleans) or after every id. */
const idStep = (bound: Json, asc: boolean): Step => {
  if (isNum(bound)) return { after: { _id: { [asc ? "$gt" : "$lt"]: bound } }, equal: { _id: { $eq: bound } } }
  const belowNumbers = bound === null || typeof bound === "boolean"
  return { after: belowNumbers === asc ? { _id: { $exists: true } } : undefined, equal: undefined }
}

/** Null is stored as a missing key, which sorts first ascending and last descending, as in the evaluator. */
const fieldStep = (field: string, bound: Json, asc: boolean): Step => {
  const k = orderKey(bound)
  if (k === undefined) return { after: asc ? { [field]: { $exists: true } } : undefined, equal: { [field]: { $exists: false } } }
  return {
    after: asc ? { [field]: { $gt: k } } : { $or: [{ [field]: { $lt: k } }, { [field]: { $exists: false } }] },
    equal: { [field]: { $eq: k } }
  }
}

/**
 * Rows strictly after `cursor` in a native order: (k1 after v1) or (k1 = v1 and k2 after v2) or …, ending
 * with `_id`.
 */
export const afterFilter = (orderBy: ReadonlyArray<Ast.OrderKey>, cursor: Ast.Cursor): Filter => {
  const branches: Array<Filter> = []
  const equal: Array<Filter> = []
  for (const [i, key] of Evaluator.fullOrder(orderBy).entries()) {
    const field = sortField(key)!
    const bound: Json = i < orderBy.length ? (cursor.values[i] ?? null) : cursor.id
    const asc = key.direction === "asc"
    const step = field === "_id" ? idStep(bound, asc) : fieldStep(field, bound, asc)
    if (step.after !== undefined) branches.push({ $and: [...equal, step.after] })
    if (step.equal === undefined) break
    equal.push(step.equal)
  }
  return branches.length === 0 ? nothing.filter : { $or: branches }
}
