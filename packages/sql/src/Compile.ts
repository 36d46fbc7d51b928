/**
 * The query AST compiled to SQL over the `doc` column (see `Dialect` for the layout). Values are always bound
 * parameters; paths become escaped JSON path literals or expressions the dialect builds.
 *
 * Every predicate compiles onto a path's rank (the evaluator's type order) and the value expression of the
 * argument's type, so comparisons never cross types (`1` ≠ `"1"` ≠ `true`) and strings compare by code point.
 * Every compiled predicate is two-valued (never SQL NULL), so `NOT` is the evaluator's negation. A predicate
 * the dialect cannot express exactly (a path it cannot address, `i…` or `regex` without an engine function)
 * compiles to a SUPERSET and `exact` is false: the caller re-checks candidates with `Evaluator.predicate` and
 * applies offset, limit and count itself.
 */
import { Ast, Evaluator } from "@lineage/core"
import type { Dialect, PathSql } from "./Dialect.js"
import { type Fragment, join, param, raw, sql } from "./Sql.js"

type Json = Ast.Json

export interface Compiled {
  readonly where: Fragment
  readonly exact: boolean
}

const TRUE = raw("1 = 1")
const FALSE = raw("1 = 0")
const exact = (where: Fragment): Compiled => ({ where, exact: true })
const nothing = exact(FALSE)
const everything = exact(TRUE)
/** Every row, as a superset: the evaluator decides. */
const anything: Compiled = { where: TRUE, exact: false }

/** The expression and bound value comparing a path's value with `v` within `v`'s rank (never for null). */
const valueOf = (p: PathSql, v: Json): { readonly expr: string; readonly value: Fragment } => {
  switch (typeof v) {
    case "number":
      return { expr: p.number, value: param(v === 0 ? 0 : v) }
    case "string":
      return { expr: p.string, value: param(v) }
    default:
      return { expr: p.json, value: param(Evaluator.canonical(v)) }
  }
}

const isRank = (p: PathSql, rank: number): Fragment => raw(`${p.rank} = ${rank}`)

/** The path holds a value JSON-equal to `v` (`eq null` is "null or missing"). */
const equals = (p: PathSql, v: Json): Fragment => {
  if (v === null) return isRank(p, 0)
  const { expr, value } = valueOf(p, v)
  return sql`(${isRank(p, Evaluator.rank(v))} AND ${expr} = ${value})`
}

/** `in`: one `IN` list per rank, so an indexed path is probed once per type. */
const member = (p: PathSql, values: ReadonlyArray<Json>): Fragment => {
  // Grouped in place: a relation filter hands over tens of thousands of ids, so no copy per value.
  const byRank = new Map<number, Array<Json>>()
  for (const v of values) {
    const group = byRank.get(Evaluator.rank(v))
    if (group === undefined) byRank.set(Evaluator.rank(v), [v])
    else group.push(v)
  }
  const branches = [...byRank].map(([rank, vs]) => {
    if (rank === 0) return isRank(p, 0)
    const expr = valueOf(p, vs[0]!).expr
    return sql`(${isRank(p, rank)} AND ${expr} IN (${join(vs.map((v) => valueOf(p, v).value), ", ")}))`
  })
  return branches.length === 0 ? FALSE : sql`(${join(branches, " OR ")})`
}

type Comparison = "gt" | "gte" | "lt" | "lte"
const comparisons: Record<Comparison, string> = { gt: ">", gte: ">=", lt: "<", lte: "<=" }

/** Order operators pair numbers with numbers and strings with strings; anything else matches nothing. */
const compare = (p: PathSql, op: Comparison, v: Json): Fragment => {
  if (typeof v !== "number" && typeof v !== "string") return FALSE
  const { expr, value } = valueOf(p, v)
  return sql`(${isRank(p, Evaluator.rank(v))} AND ${expr} ${comparisons[op]} ${value})`
}

/** Negation that stays two-valued even if an engine function answered NULL. */
const not = (f: Fragment): Fragment => sql`(${f}) IS NOT TRUE`

/** A string test: only strings match, and only a string argument. */
const stringTest = (p: PathSql, v: Json, test: (text: Fragment, arg: Fragment) => Fragment): Fragment =>
  typeof v !== "string" ? FALSE : v === "" ? isRank(p, 3) : sql`(${isRank(p, 3)} AND ${test(raw(p.string), param(v))})`

/**
 * The least string after every string starting with `prefix` (its last code point moved up, past the
 * surrogates), or undefined when there is none to name (an empty prefix, or one ending in U+10FFFF).
 */
export const prefixEnd = (prefix: string): string | undefined => {
  const last = prefix.codePointAt(prefix.length - 1 - (/[\udc00-\udfff]$/.test(prefix) && prefix.length > 1 ? 1 : 0))
  if (last === undefined || last === 0x10ffff) return undefined
  const head = prefix.slice(0, prefix.length - String.fromCodePoint(last).length)
  return head + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1)
}

/** Holds exactly the strings from `lo` to before `hi` (`hi` undefined: no upper bound). */
const between = (expr: string, lo: string, hi: string | undefined): Fragment =>
  hi === undefined ? sql`${expr} >= ${param(lo)}` : sql`${expr} >= ${param(lo)} AND ${expr} < ${param(hi)}`

/**
 * `startsWith`: the exact test, and beside it the ranges of strings holding the prefix (strings order by code
 * point), implied by the test, which an index on the path's value — or, where the dialect says so, a unique
 * index on its JSON text — serves. A prefix with a lone surrogate has no range that survives the engine's UTF-8: only the test.
 */
const prefixed = (d: Dialect, p: PathSql, v: Json): Fragment => {
  const test = stringTest(p, v, d.startsWith)
  if (typeof v !== "string" || v === "" || /\p{Surrogate}/u.test(v)) return test
  const ranges = [between(p.string, v, prefixEnd(v))]
  // A string's JSON text is `"` and its characters escaped one by one: the prefix's text, unclosed, is a prefix.
  // The unique index holds the rows of rank <> 0 only: that very term lets the engine use it.
  if (d.jsonTextRanges === true) ranges.push(sql`${between(p.json, JSON.stringify(v).slice(0, -1), prefixEnd(JSON.stringify(v).slice(0, -1)))} AND ${p.rank} <> 0`)
  return sql`(${test} AND ${join(ranges, " AND ")})`
}

/** A case-insensitive test: exact on the engine's `toLowerCase`, else every string is a candidate. */
const foldedTest = (d: Dialect, p: PathSql, v: Json, test: (text: Fragment, arg: Fragment) => Fragment): Compiled => {
  if (typeof v !== "string") return nothing
  const lower = d.lower
  if (lower === undefined) return { where: isRank(p, 3), exact: false }
  // Every string starts with, ends with and contains "" (`iexact ""` is no such test: it goes on).
  if (v === "" && test !== eqText) return exact(isRank(p, 3))
  return exact(sql`(${isRank(p, 3)} AND ${test(lower(raw(p.string)), param(v.toLowerCase()))})`)
}

const eqText = (a: Fragment, b: Fragment): Fragment => sql`${a} = ${b}`

const predicate = (d: Dialect, p: PathSql, op: Ast.Operator, v: Json): Compiled => {
  switch (op) {
    case "eq":
      return exact(equals(p, v))
    case "ne":
      return exact(not(equals(p, v)))
    case "in":
      return exact(Array.isArray(v) ? member(p, v) : FALSE)
    case "notIn":
      return exact(Array.isArray(v) ? not(member(p, v)) : TRUE)
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return exact(compare(p, op, v))
    case "range":
      return exact(Array.isArray(v) && v.length === 2 ? sql`(${compare(p, "gte", v[0]!)} AND ${compare(p, "lte", v[1]!)})` : FALSE)
    case "isNull":
      return exact(v === true ? isRank(p, 0) : raw(`${p.rank} <> 0`))
    case "contains":
      return exact(stringTest(p, v, d.contains))
    case "startsWith":
      return exact(prefixed(d, p, v))
    case "endsWith":
      return exact(stringTest(p, v, d.endsWith))
    case "icontains":
      return foldedTest(d, p, v, d.contains)
    case "istartsWith":
      return foldedTest(d, p, v, d.startsWith)
    case "iendsWith":
      return foldedTest(d, p, v, d.endsWith)
    case "iexact":
      return foldedTest(d, p, v, eqText)
    case "regex": {
      if (typeof v !== "string") return nothing
      const regex = d.regex
      return regex === undefined ? { where: isRank(p, 3), exact: false } : exact(stringTest(p, v, regex))
    }
  }
}

/** The `id` column as a path: always a number. */
const idPath = (d: Dialect): PathSql => {
  const id = d.quote("id")
  return { rank: "2", number: id, string: id, json: id, sortKey: [id] }
}

const isId = (path: Ast.Path): boolean => path.length === 1 && path[0] === "id"

/** A value an id can equal: ids are safe integers, and the column is an integer one (binding `1.5` or `"1"` would fail). */
const isIdValue = (v: Json): v is number => Number.isSafeInteger(v)

const idParam = (v: number): Fragment => param(v === 0 ? 0 : v)

/**
 * `id` against a bound: an integer id passes `> v` as it passes `> ⌊v⌋` (`≥ v`: `≥ ⌈v⌉`, `< v`: `< ⌈v⌉`,
 * `≤ v`: `≤ ⌊v⌋`), and a bound past every safe integer is below or above every id. Only numbers compare with ids.
 */
const idCompare = (id: string, op: Comparison, v: Json): Fragment => {
  if (typeof v !== "number") return FALSE
  const upward = op === "gt" || op === "gte"
  const bound = op === "gt" || op === "lte" ? Math.floor(v) : Math.ceil(v)
  if (bound > Number.MAX_SAFE_INTEGER) return upward ? FALSE : TRUE
  if (bound < -Number.MAX_SAFE_INTEGER) return upward ? TRUE : FALSE
  return sql`${id} ${comparisons[op]} ${idParam(bound)}`
}

const idMember = (id: string, values: ReadonlyArray<Json>): Fragment => {
  const ids = values.filter(isIdValue)
  return ids.length === 0 ? FALSE : sql`${id} IN (${join(ids.map(idParam), ", ")})`
}

/** A predicate on the `id` column, which always holds an integer: other values are folded to constants, never bound. */
const idPredicate = (id: string, op: Ast.Operator, v: Json): Compiled => {
  switch (op) {
    case "eq":
      return exact(isIdValue(v) ? sql`${id} = ${idParam(v)}` : FALSE)
    case "ne":
      return exact(isIdValue(v) ? sql`${id} <> ${idParam(v)}` : TRUE)
    case "in":
      return exact(Array.isArray(v) ? idMember(id, v) : FALSE)
    case "notIn":
      return exact(Array.isArray(v) ? not(idMember(id, v)) : TRUE)
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return exact(idCompare(id, op, v))
    case "range":
      return exact(Array.isArray(v) && v.length === 2 ? sql`(${idCompare(id, "gte", v[0]!)} AND ${idCompare(id, "lte", v[1]!)})` : FALSE)
    case "isNull":
      return exact(v === true ? FALSE : TRUE)
    default:
      // The string operators: an id is no string.
      return nothing
  }
}

/** The SQL of a path, or undefined when the evaluator must read it (the document itself, an unaddressable path). */
export const pathSql = (d: Dialect, path: Ast.Path): PathSql | undefined =>
  isId(path) ? idPath(d) : path.length === 0 ? undefined : d.path(d.quote("doc"), path)

const field = (d: Dialect, f: Ast.Field): Compiled => {
  if (isId(f.path)) return idPredicate(d.quote("id"), f.op, f.value)
  const p = pathSql(d, f.path)
  return p === undefined ? anything : predicate(d, p, f.op, f.value)
}

/** Compiles a checked condition (run `Evaluator.check` first). */
export const compile = (d: Dialect, cond: Ast.Cond): Compiled => {
  switch (cond._tag) {
    case "Field":
      return field(d, cond)
    case "Not": {
      const inner = compile(d, cond.cond)
      // The complement of a superset is no superset: only an exact condition is negated in SQL.
      return inner.exact ? exact(not(inner.where)) : anything
    }
    case "And": {
      if (cond.conds.length === 0) return everything
      const parts = cond.conds.map((c) => compile(d, c))
      return { where: sql`(${join(parts.map((p) => p.where), " AND ")})`, exact: parts.every((p) => p.exact) }
    }
    case "Or": {
      if (cond.conds.length === 0) return nothing
      const parts = cond.conds.map((c) => compile(d, c))
      return { where: sql`(${join(parts.map((p) => p.where), " OR ")})`, exact: parts.every((p) => p.exact) }
    }
  }
}

// --- order and keyset cursors -------------------------------------------------------------------------

/** A key of the full order with its SQL. */
interface SqlKey {
  readonly id: boolean
  readonly p: PathSql
  readonly asc: boolean
}

/** The full order's keys in SQL, or undefined when some path can only be read by the evaluator. */
const sqlKeys = (d: Dialect, orderBy: ReadonlyArray<Ast.OrderKey>): ReadonlyArray<SqlKey> | undefined => {
  const keys: Array<SqlKey> = []
  for (const key of Evaluator.fullOrder(orderBy)) {
    const p = pathSql(d, key.path)
    if (p === undefined) return undefined
    keys.push({ id: isId(key.path), p, asc: key.direction === "asc" })
  }
  return keys
}

/** `ORDER BY` text equal to the evaluator's order, or undefined when the evaluator must sort. */
export const orderBy = (d: Dialect, order: ReadonlyArray<Ast.OrderKey>): string | undefined => {
  const keys = sqlKeys(d, order)
  if (keys === undefined) return undefined
  const seen = new Set<string>()
  const terms: Array<string> = []
  for (const k of keys) {
    // The id key's rank is a constant (a number in ORDER BY would name a column); a repeated path only ties.
    for (const expr of k.id ? k.p.sortKey : [k.p.rank, ...k.p.sortKey]) {
      if (seen.has(expr)) continue
      seen.add(expr)
      terms.push(`${expr} ${k.asc ? "ASC" : "DESC"}`)
    }
  }
  return terms.join(", ")
}

/** One key of a keyset cursor: rows after its bound, rows equal to it (undefined: none is). */
interface Step {
  readonly after: Fragment
  readonly equal: Fragment | undefined
}

/** Ids are numbers: a bound of another type lies before every id (null, booleans) or after every id. */
const idStep = (k: SqlKey, bound: Json): Step => {
  if (typeof bound === "number")
    return { after: idCompare(k.p.number, k.asc ? "gt" : "lt", bound), equal: isIdValue(bound) ? sql`${k.p.number} = ${idParam(bound)}` : undefined }
  const below = bound === null || typeof bound === "boolean"
  return { after: below === k.asc ? TRUE : FALSE, equal: undefined }
}

const fieldStep = (k: SqlKey, bound: Json): Step => {
  const rank = Evaluator.rank(bound)
  const beyond = k.asc ? ">" : "<"
  const otherRank = raw(`${k.p.rank} ${beyond} ${rank}`)
  if (rank === 0) return { after: otherRank, equal: isRank(k.p, 0) }
  const { expr, value } = valueOf(k.p, bound)
  return {
    after: sql`(${otherRank} OR (${isRank(k.p, rank)} AND ${expr} ${beyond} ${value}))`,
    equal: sql`(${isRank(k.p, rank)} AND ${expr} = ${value})`
  }
}

/**
 * Rows strictly after `cursor` in the full order: (k1 after v1) or (k1 = v1 and k2 after v2) or …, ending
 * with the id. Only for orders `orderBy` can express.
 */
export const after = (d: Dialect, order: ReadonlyArray<Ast.OrderKey>, cursor: Ast.Cursor): Fragment => {
  const keys = sqlKeys(d, order)!
  const branches: Array<Fragment> = []
  const equal: Array<Fragment> = []
  for (const [i, k] of keys.entries()) {
    const bound: Json = i < order.length ? (cursor.values[i] ?? null) : cursor.id
    const step = k.id ? idStep(k, bound) : fieldStep(k, bound)
    branches.push(join([...equal, step.after], " AND "))
    if (step.equal === undefined) break
    equal.push(step.equal)
  }
  return sql`(${join(branches.map((b) => sql`(${b})`), " OR ")})`
}
