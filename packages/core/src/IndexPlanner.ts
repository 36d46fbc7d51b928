/**
 * Query planning for stores that answer queries from their own indexes (the memory and Redis stores): which
 * index reads propose a query's candidates, and when walking an index in the query's order is cheaper. A
 * store supplies what only it knows, how many documents an indexed predicate matches (`IndexedTable`); the
 * rules of choosing are here. Stores that compile queries to a native query language do not use this module.
 *
 * A plan is plain data, so `explain` and tests can read it; the store's executor interprets it. Plans only
 * choose candidates: the store checks them with the reference evaluator, so a plan changes what an answer
 * costs, never the answer.
 */
import type { Cond, Direction, Field, FindSpec, Json, Operator, Path } from "./Ast.js"
import { canonical, fullOrder } from "./Evaluator.js"

/** The documents one index proposes for one predicate. */
export interface Lookup {
  readonly _tag: "Lookup"
  /** Which kind of index, where a store has several. */
  readonly index?: "primary" | "hash" | "sorted" | undefined
  readonly path: Path
  readonly op: Operator
  readonly value: Json
  /** How many candidates it proposes. */
  readonly estimated: number
}

/** Candidates from indexes: a lookup, or the candidates every part proposes (`Intersect`) or any part does. */
export type IndexAccess =
  | Lookup
  | { readonly _tag: "Intersect"; readonly parts: ReadonlyArray<IndexAccess>; readonly estimated: number }
  | { readonly _tag: "Union"; readonly parts: ReadonlyArray<IndexAccess>; readonly estimated: number }

/** Candidates for a filter: from indexes, or every document. */
export type FilterAccess = IndexAccess | { readonly _tag: "Scan"; readonly estimated: number }

/** Walks an index in the query's order, stopping once offset + limit documents matched. */
export interface IndexOrder {
  readonly _tag: "IndexOrder"
  readonly path: Path
  readonly direction: Direction
  readonly estimated: number
}

/** Where the documents a query checks come from. */
export type Access = FilterAccess | IndexOrder

export interface Plan {
  readonly table: string
  readonly access: Access
  /** Every document of the table is visited. */
  readonly fullScan: boolean
  /** Documents come out of an index already in order, so only about offset + limit of them are read. */
  readonly orderedByIndex: boolean
}

// ---------------------------------------------------------------------------------------------------------
// What an index serves.

/** One end of a `Between` interval. */
export interface Endpoint {
  readonly value: number | string
  readonly inclusive: boolean
}

/**
 * A contiguous run of index values in the evaluator's order (`Evaluator.compareJson`: null, booleans,
 * numbers, strings, arrays, objects), the order every index keeps. A store reads one as a range of its own
 * encoding.
 */
export type Interval =
  /** The values equal to `value` (`Evaluator.equalJson`). */
  | { readonly _tag: "Equal"; readonly value: Json }
  /** Every value but null (null sorts first). */
  | { readonly _tag: "NotNull" }
  /** Values of one type (number or string) between the bounds; a missing bound leaves that end of the type's run open. */
  | { readonly _tag: "Between"; readonly type: "number" | "string"; readonly low?: Endpoint | undefined; readonly high?: Endpoint | undefined }
  /** The strings starting with `prefix`: contiguous in any lexicographic order. */
  | { readonly _tag: "Prefix"; readonly prefix: string }

const equal = (value: Json): Interval => ({ _tag: "Equal", value })

const firstTime = <A>(seen: Set<A>, key: A): boolean => {
  if (seen.has(key)) return false
  seen.add(key)
  return true
}

/** The members of an `in` list, each once (by `Evaluator.equalJson`): a repeated one would propose its documents twice. */
const distinct = (values: ReadonlyArray<Json>): ReadonlyArray<Json> => {
  // Primitives compare as Set members do (0 and -0 alike, as JSON has them); structures by canonical text.
  const primitives = new Set<Json>()
  const structures = new Set<string>()
  return values.filter((v) => (v !== null && typeof v === "object" ? firstTime(structures, canonical(v)) : firstTime(primitives, v)))
}

const isOrdered = (v: Json): v is number | string => typeof v === "number" || typeof v === "string"

const typeOf = (v: number | string): "number" | "string" => (typeof v === "number" ? "number" : "string")

// Order operators match only values of their argument's own type (number or string), so another argument
// matches nothing.
const above = (arg: Json, inclusive: boolean): ReadonlyArray<Interval> =>
  isOrdered(arg) ? [{ _tag: "Between", type: typeOf(arg), low: { value: arg, inclusive } }] : []

const below = (arg: Json, inclusive: boolean): ReadonlyArray<Interval> =>
  isOrdered(arg) ? [{ _tag: "Between", type: typeOf(arg), high: { value: arg, inclusive } }] : []

const between = (arg: Json): ReadonlyArray<Interval> => {
  if (!Array.isArray(arg) || arg.length !== 2) return []
  const low: Json = arg[0]!
  const high: Json = arg[1]!
  if (!isOrdered(low) || !isOrdered(high) || typeof low !== typeof high) return []
  return [{ _tag: "Between", type: typeOf(low), low: { value: low, inclusive: true }, high: { value: high, inclusive: true } }]
}

/** The intervals holding exactly the values each operator an index serves accepts for its argument. */
const intervalsByOperator = {
  eq: (arg: Json) => [equal(arg)],
  in: (arg: Json) => (Array.isArray(arg) ? distinct(arg).map(equal) : []),
  gt: (arg: Json) => above(arg, false),
  gte: (arg: Json) => above(arg, true),
  lt: (arg: Json) => below(arg, false),
  lte: (arg: Json) => below(arg, true),
  range: between,
  startsWith: (arg: Json): ReadonlyArray<Interval> => (typeof arg === "string" ? [{ _tag: "Prefix", prefix: arg }] : []),
  isNull: (arg: Json): ReadonlyArray<Interval> => [arg === true ? equal(null) : { _tag: "NotNull" }]
} satisfies { readonly [Op in Operator]?: (arg: Json) => ReadonlyArray<Interval> }

export type IndexedOperator = keyof typeof intervalsByOperator

/** The operators an index can answer: a store planning over its indexes declares them as `nativeOperators`. */
export const indexedOperators: ReadonlyArray<IndexedOperator> = Object.keys(intervalsByOperator) as Array<IndexedOperator>

const isIndexed = (op: Operator): op is IndexedOperator => Object.hasOwn(intervalsByOperator, op)

/**
 * The intervals holding exactly the values a predicate accepts, or undefined when an index cannot answer its
 * operator. An empty list means nothing can match.
 */
export const intervalsFor = (op: Operator, arg: Json): ReadonlyArray<Interval> | undefined =>
  isIndexed(op) ? intervalsByOperator[op](arg) : undefined

// ---------------------------------------------------------------------------------------------------------
// Choosing.

/** How a store sizes up its indexes' answers. */
export interface Estimator {
  /**
   * The lookup answering one predicate from an index, with how many candidates it proposes, or undefined
   * when no index serves it. Counting may stop once past `cap`: the planner has a cheaper way to the
   * candidates then, so the estimate only has to exceed `cap`.
   */
  estimate(cond: Field, cap: number): Lookup | undefined
}

/** What the planner asks of a store about one table. */
export interface IndexedTable extends Estimator {
  readonly name: string
  /** How many documents it holds. */
  readonly size: number
  /** Whether an index can be walked in the order of `path`. */
  walkable(path: Path): boolean
}

/** Conjuncts proposing at most this many times the candidates of the smallest are intersected with it. */
const intersectRatio = 4

/** Any branch's candidates, or undefined when a branch has no index (then any document may match). */
const union = (branches: ReadonlyArray<Cond>, estimator: Estimator, cap: number): IndexAccess | undefined => {
  const parts: Array<IndexAccess> = []
  let estimated = 0
  for (const branch of branches) {
    const part = planAccess(branch, estimator, cap)
    if (part === undefined) return undefined
    parts.push(part)
    estimated += part.estimated
  }
  return parts.length === 1 ? parts[0] : { _tag: "Union", parts, estimated }
}

/**
 * The candidates of the most selective indexed conjuncts, smallest first, or undefined when none is indexed.
 * A conjunct is counted only as far as it could still be intersected.
 */
const intersection = (conjuncts: ReadonlyArray<Cond>, estimator: Estimator, cap: number): IndexAccess | undefined => {
  const parts: Array<IndexAccess> = []
  let best = Infinity
  for (const conjunct of conjuncts) {
    const part = planAccess(conjunct, estimator, Math.min(cap, best * intersectRatio))
    if (part === undefined) continue
    parts.push(part)
    best = Math.min(best, part.estimated)
  }
  if (parts.length === 0) return undefined
  parts.sort((a, b) => a.estimated - b.estimated)
  const chosen = parts.filter((p) => p.estimated <= best * intersectRatio)
  return chosen.length === 1 ? chosen[0] : { _tag: "Intersect", parts: chosen, estimated: best }
}

/** The cheapest index access covering every document `cond` can match, or undefined when none exists. */
export const planAccess = (cond: Cond, estimator: Estimator, cap = Infinity): IndexAccess | undefined => {
  switch (cond._tag) {
    case "Field":
      return estimator.estimate(cond, cap)
    case "Not":
      return undefined
    case "Or":
      return union(cond.conds, estimator, cap)
    case "And":
      return intersection(cond.conds, estimator, cap)
    default:
      // The result may be undefined, so only this keeps a new kind of condition from planning as "no index".
      return cond satisfies never
  }
}

/** How many documents a find must produce: offset + limit, at most the table. */
export const wanted = (spec: FindSpec, size: number): number =>
  Math.min(size, spec.limit === undefined ? size : (spec.offset ?? 0) + spec.limit)

/**
 * The plan for a find, given the best way to get its candidates: walk the index of the first order key when
 * that reads fewer documents. Walking reads about `wanted * size / candidates` documents when matches are
 * spread evenly; fetching the candidates reads `candidates` and sorts them.
 */
export const planOrdered = (
  table: string,
  spec: FindSpec,
  access: FilterAccess,
  size: number,
  walkable: boolean
): Plan => {
  const first = spec.orderBy[0] ?? { path: ["id"], direction: "asc" as const }
  const want = wanted(spec, size)
  if (walkable && access.estimated * access.estimated >= want * size) {
    const estimated = Math.min(size, Math.ceil((want * size) / Math.max(1, access.estimated)))
    return {
      table,
      access: { _tag: "IndexOrder", path: first.path, direction: first.direction, estimated },
      fullScan: false,
      orderedByIndex: true
    }
  }
  return { table, access, fullScan: access._tag === "Scan", orderedByIndex: false }
}

const scan = (size: number): FilterAccess => ({ _tag: "Scan", estimated: size })

export const planFind = (table: IndexedTable, spec: FindSpec): Plan => {
  const orderBy = fullOrder(spec.orderBy)
  const walkable = table.walkable(orderBy[0]!.path)
  // Past sqrt(wanted * size) candidates the ordered walk wins anyway, so counting further would be waste.
  const cap = walkable ? Math.ceil(Math.sqrt(wanted(spec, table.size) * table.size)) : table.size
  const access = planAccess(spec.where, table, cap) ?? scan(table.size)
  return planOrdered(table.name, { ...spec, orderBy }, access, table.size, walkable)
}

export const planCount = (table: IndexedTable, where: Cond): Plan & { readonly access: FilterAccess } => {
  const access = planAccess(where, table, table.size) ?? scan(table.size)
  return { table: table.name, access, fullScan: access._tag === "Scan", orderedByIndex: false }
}
