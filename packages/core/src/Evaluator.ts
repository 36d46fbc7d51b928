/**
 * The reference evaluator: what every query means. Stores may compile queries to native form, but the
 * conformance suite demands that they return exactly what this module returns over the same documents.
 *
 * Semantics, in short:
 * - A missing path reads as `null`.
 * - `eq`/`in` use JSON equality (object key order does not matter); `eq null` is `isNull`.
 * - `ne`/`notIn` are the negations of `eq`/`in`, so they match `null` fields.
 * - Order operators compare numbers with numbers and strings with strings (by Unicode code point, as MongoDB
 *   and Redis order bytes); any other pairing, including `null`, does not match.
 * - String operators match only string fields; the `i` variants compare `toLowerCase()` forms.
 * - `regex` is an RE2 pattern, unanchored, matched by code point in linear time (see `Regex`).
 * - Sorting puts `null` first ascending (last descending), then booleans, numbers, strings, arrays, objects.
 */
import { type Cond, type Cursor, type Direction, type FindSpec, isOperator, type Json, type Operator, type OrderKey, type Path } from "./Ast.js"
import { showValue, StoreError } from "./Errors.js"
import { maxDepth } from "./Limits.js"
import * as Regex from "./Regex.js"

export type Doc = { readonly [key: string]: Json }

export const read = (doc: Doc, path: Path): Json => {
  let current: Json | undefined = doc
  for (const segment of path) {
    // Own properties only: a path like ["constructor"] must not reach the prototype.
    if (current === null || typeof current !== "object" || Array.isArray(current) || !Object.hasOwn(current, segment))
      return null
    current = (current as { readonly [key: string]: Json })[segment]
  }
  return current ?? null
}

/** Compares strings by code point, which is UTF-8 byte order (MongoDB's and Redis's), not UTF-16 unit order. */
export const compareStrings = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) {
      // Surrogates (0xD800-0xDFFF) stand for code points above 0xFFFF, so they sort after 0xE000-0xFFFF.
      const xs = x >= 0xd800 && x <= 0xdfff
      const ys = y >= 0xd800 && y <= 0xdfff
      if (xs !== ys) return xs ? 1 : -1
      return x < y ? -1 : 1
    }
  }
  return a.length - b.length
}

/** A value's type rank, the first key of `compareJson`: null, boolean, number, string, array, object. */
export const rank = (v: Json): number => {
  if (v === null) return 0
  switch (typeof v) {
    case "boolean":
      return 1
    case "number":
      return 2
    case "string":
      return 3
    default:
      return Array.isArray(v) ? 4 : 5
  }
}

/** A total order over JSON values, used for sorting and cursors. */
export const compareJson = (a: Json, b: Json): number => {
  const ra = rank(a)
  const rb = rank(b)
  if (ra !== rb) return ra - rb
  switch (ra) {
    case 0:
      return 0
    case 1:
      return a === b ? 0 : a ? 1 : -1
    case 2:
      return (a as number) - (b as number)
    case 3:
      return compareStrings(a as string, b as string)
    default:
      return compareStrings(canonical(a), canonical(b))
  }
}

/** JSON text with object keys sorted: equal values give equal text. */
export const canonical = (v: Json): string => {
  if (v === null || typeof v !== "object") return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`
  const obj = v as { readonly [key: string]: Json }
  return `{${Object.keys(obj)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(obj[k]!)}`)
    .join(",")}}`
}

export const equalJson = (a: Json, b: Json): boolean => {
  if (a === b) return true
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false
  return canonical(a) === canonical(b)
}

const comparable = (a: Json, b: Json): boolean =>
  (typeof a === "number" && typeof b === "number") || (typeof a === "string" && typeof b === "string")

/** Matchers by pattern. Few: each one's state cache grows with the text it meets, to megabytes. */
const matchers = new Map<string, Regex.Matcher>()
const maxMatchers = 16

/** `pattern` compiled; a `StoreError` (Invalid) saying why when the dialect refuses it. */
export const compileRegex = (pattern: string): Regex.Matcher => {
  let matcher = matchers.get(pattern)
  if (matcher === undefined) {
    const compiled = Regex.compile(pattern)
    if ("refused" in compiled) throw StoreError.invalid(`regex ${showValue(pattern)} refused (RE2 syntax): ${compiled.refused}`)
    if (matchers.size >= maxMatchers) matchers.clear()
    matchers.set(pattern, compiled)
    matcher = compiled
  }
  return matcher
}

const stringTest = (v: Json, arg: Json, test: (s: string, a: string) => boolean): boolean =>
  typeof v === "string" && typeof arg === "string" && test(v, arg)

const lower = (s: string) => s.toLowerCase()

/** What an operator means: whether a stored value `v` matches the query value `arg`. */
type Test = (v: Json, arg: Json) => boolean

const eq: Test = (v, arg) => (arg === null ? v === null : equalJson(v, arg))
const isIn: Test = (v, arg) => Array.isArray(arg) && arg.some((a) => eq(v, a))
const gte: Test = (v, arg) => comparable(v, arg) && compareJson(v, arg) >= 0
const lte: Test = (v, arg) => comparable(v, arg) && compareJson(v, arg) <= 0

/** Every operator's test: a `Record` over `Operator`, so an operator added to the AST must be given one here. */
const tests: Readonly<Record<Operator, Test>> = {
  eq,
  ne: (v, arg) => !eq(v, arg),
  gt: (v, arg) => comparable(v, arg) && compareJson(v, arg) > 0,
  gte,
  lt: (v, arg) => comparable(v, arg) && compareJson(v, arg) < 0,
  lte,
  in: isIn,
  notIn: (v, arg) => !isIn(v, arg),
  range: (v, arg) => Array.isArray(arg) && arg.length === 2 && gte(v, arg[0]!) && lte(v, arg[1]!),
  isNull: (v, arg) => (v === null) === (arg === true),
  contains: (v, arg) => stringTest(v, arg, (s, a) => s.includes(a)),
  icontains: (v, arg) => stringTest(v, arg, (s, a) => lower(s).includes(lower(a))),
  startsWith: (v, arg) => stringTest(v, arg, (s, a) => s.startsWith(a)),
  istartsWith: (v, arg) => stringTest(v, arg, (s, a) => lower(s).startsWith(lower(a))),
  endsWith: (v, arg) => stringTest(v, arg, (s, a) => s.endsWith(a)),
  iendsWith: (v, arg) => stringTest(v, arg, (s, a) => lower(s).endsWith(lower(a))),
  iexact: (v, arg) => stringTest(v, arg, (s, a) => lower(s) === lower(a)),
  regex: (v, arg) => stringTest(v, arg, (s, a) => compileRegex(a).test(s))
}

/** The test of `op`; an operator outside `Ast.operators` (from an unchecked caller) is a bug, not a silent false. */
const testOf = (op: Operator): Test => {
  if (!Object.hasOwn(tests, op)) throw new Error(`unknown operator ${String(op)}`)
  return tests[op]
}

export const testValue = (v: Json, op: Operator, arg: Json): boolean => testOf(op)(v, arg)

/**
 * Levels (And, Or, Not, and the field predicate at the bottom) a driver accepts in one condition: what core
 * can send, a query of `maxDepth` levels and the two the planner may add (the default branch above, a
 * relation's semi-join below). It keeps every recursion over a condition (this check, `predicate`, a store's
 * compiler) far from the stack's end, and MongoDB's filters under its limit of 100 levels.
 */
export const maxConditionDepth = maxDepth + 2

/**
 * Throws a `StoreError` unless the evaluator can answer `cond`: core only builds valid trees, but a driver
 * called directly must fail with a typed error, never a defect.
 */
export const check = (cond: Cond, level = 1): void => {
  if (level > maxConditionDepth)
    throw StoreError.invalid(`a condition nested more than ${maxConditionDepth} levels deep (And, Or, Not, field): at most ${maxConditionDepth}`)
  switch (cond?._tag) {
    case "Field":
      if (!Array.isArray(cond.path) || !cond.path.every((s) => typeof s === "string"))
        throw StoreError.invalid(`a field path must be an array of strings, got ${showValue(cond.path)}`)
      if (!isOperator(cond.op)) throw StoreError.unsupported(`unknown operator "${String(cond.op)}"`)
      if (cond.op === "regex" && typeof cond.value === "string") compileRegex(cond.value)
      return
    case "And":
    case "Or":
      if (!Array.isArray(cond.conds)) throw StoreError.invalid(`${cond._tag} needs an array of conditions, got ${showValue(cond.conds)}`)
      for (const c of cond.conds) check(c, level + 1)
      return
    case "Not":
      check(cond.cond, level + 1)
      return
    default:
      // Typed as `never` so a new kind of condition must be handled above; untyped callers still reach here.
      throw StoreError.invalid(`not a condition: ${showValue(cond satisfies never)}`)
  }
}

/** Lists longer than this are looked up in a set: an `id in [12,000 ids]` re-check must not cost 12,000 comparisons per document. */
const shortList = 8

/** Membership under `eq`'s equality: `===` for scalars (never NaN), canonical text for objects and arrays. */
const membership = (list: ReadonlyArray<Json>): ((v: Json) => boolean) => {
  const scalars = new Set<Json>()
  const objects = new Set<string>()
  for (const a of list) {
    if (a !== null && typeof a === "object") objects.add(canonical(a))
    else scalars.add(a)
  }
  return (v) => (v !== null && typeof v === "object" ? objects.has(canonical(v)) : v === v && scalars.has(v))
}

/**
 * `cond` as a function of a document, worked out once per query rather than once per document; it answers
 * exactly as `testValue` does, operator by operator.
 */
export const predicate = (cond: Cond): ((doc: Doc) => boolean) => {
  switch (cond._tag) {
    case "Field": {
      const { path, op, value } = cond
      if (op === "regex" && typeof value === "string") {
        const matcher = compileRegex(value)
        return (doc) => {
          const v = read(doc, path)
          return typeof v === "string" && matcher.test(v)
        }
      }
      if ((op === "in" || op === "notIn") && Array.isArray(value) && value.length > shortList) {
        const has = membership(value)
        return op === "in" ? (doc) => has(read(doc, path)) : (doc) => !has(read(doc, path))
      }
      const test = testOf(op)
      return (doc) => test(read(doc, path), value)
    }
    case "And": {
      const parts = cond.conds.map(predicate)
      return (doc) => parts.every((p) => p(doc))
    }
    case "Or": {
      const parts = cond.conds.map(predicate)
      return (doc) => parts.some((p) => p(doc))
    }
    case "Not": {
      const part = predicate(cond.cond)
      return (doc) => !part(doc)
    }
  }
}

/** Whether one document matches; to test many against one condition, build its `predicate` once. */
export const matches = (doc: Doc, cond: Cond): boolean => predicate(cond)(doc)

/** A find's condition and cursor as one predicate. */
export const accepts = (spec: FindSpec): ((doc: Doc) => boolean) => {
  const where = predicate(spec.where)
  const { after, orderBy } = spec
  return after === undefined ? where : (doc) => where(doc) && isAfter(orderBy, after, doc)
}

const sign = (direction: Direction) => (direction === "asc" ? 1 : -1)

/** The order every query uses: its keys, then `id` ascending unless `id` is already a key. */
export const fullOrder = (orderBy: ReadonlyArray<OrderKey>): ReadonlyArray<OrderKey> =>
  orderBy.some((k) => k.path.length === 1 && k.path[0] === "id")
    ? orderBy
    : [...orderBy, { path: ["id"], direction: "asc" }]

export const compareDocs = (orderBy: ReadonlyArray<OrderKey>) => {
  // Resolved once, not per comparison: sorts call this n log n times.
  const keys = fullOrder(orderBy).map((k) => ({ path: k.path, sign: sign(k.direction) }))
  if (keys.length === 1 && keys[0]!.path.length === 1 && keys[0]!.path[0] === "id") {
    const s = keys[0]!.sign
    return (a: Doc, b: Doc): number => ((a["id"] as number) - (b["id"] as number)) * s
  }
  return (a: Doc, b: Doc): number => {
    for (const key of keys) {
      const c = compareJson(read(a, key.path), read(b, key.path))
      if (c !== 0) return c * key.sign
    }
    return 0
  }
}

/** The cursor that points just past `doc` in this order. */
export const cursorOf = (orderBy: ReadonlyArray<OrderKey>, doc: Doc): Cursor => ({
  values: orderBy.map((k) => read(doc, k.path)),
  id: doc["id"] as number
})

/** True when `doc` comes strictly after `cursor` in this order. */
export const isAfter = (orderBy: ReadonlyArray<OrderKey>, cursor: Cursor, doc: Doc): boolean => {
  const keys = fullOrder(orderBy)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const bound: Json = i < orderBy.length ? (cursor.values[i] ?? null) : cursor.id
    const c = compareJson(read(doc, key.path), bound) * sign(key.direction)
    if (c !== 0) return c > 0
  }
  return false
}

/** The reference answer of a find over a whole table. */
export const find = (docs: Iterable<Doc>, spec: FindSpec): Array<Doc> => {
  const accepted = accepts(spec)
  const hits: Array<Doc> = []
  for (const doc of docs) if (accepted(doc)) hits.push(doc)
  hits.sort(compareDocs(spec.orderBy))
  const start = spec.offset ?? 0
  return hits.slice(start, spec.limit === undefined ? undefined : start + spec.limit)
}
