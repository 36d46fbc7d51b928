/**
 * Runs a plan. Whatever the access path, each candidate is checked by the reference evaluator against the
 * condition (and cursor), so answers are exactly `Evaluator.find`'s. Index lookups are exact, so the
 * conjuncts a lookup answered are left out of that check; everything else is checked.
 */
import { Ast, Evaluator, type IndexPlanner } from "@lineage/core"
import { equalityValues, rangesFor } from "./Indexes.js"
import { type FilterAccess, type IndexAccess, type Plan, served, walked } from "./Planner.js"
import type { Table } from "./Table.js"

type Doc = Evaluator.Doc

/** Work done by queries, for tests and diagnostics. */
export interface Counters {
  /** Documents visited by full scans. */
  scanned: number
  /** Documents checked with the evaluator. */
  examined: number
}

const lookupIds = (table: Table, access: IndexPlanner.Lookup): Iterable<number> => {
  const known = walked.get(access)
  if (known !== undefined) return known
  if (access.index === "sorted") {
    const index = table.sortedIndex(access.path)!
    const ids: Array<number> = []
    for (const range of rangesFor(access.op, access.value)!) index.collect(range, ids)
    return ids
  }
  const index = table.equalityIndex(access.path)!
  return equalityValues(access.op, access.value)!.flatMap((value) => [...index.ids(value)])
}

/** Candidate ids of an index access, each once. */
const candidateIds = (table: Table, access: IndexAccess): Iterable<number> => {
  switch (access._tag) {
    case "Lookup":
      return lookupIds(table, access)
    case "Union": {
      const ids = new Set<number>()
      for (const part of access.parts) for (const id of candidateIds(table, part)) ids.add(id)
      return ids
    }
    case "Intersect": {
      const [first, ...rest] = access.parts
      let ids = [...candidateIds(table, first!)]
      for (const part of rest) {
        const other = new Set(candidateIds(table, part))
        ids = ids.filter((id) => other.has(id))
      }
      return ids
    }
  }
}

/** Calls `f` with each document an access may match, counting the work. */
const eachCandidate = (table: Table, access: FilterAccess, counters: Counters, f: (doc: Doc) => void): void => {
  if (access._tag === "Scan") {
    for (const doc of table.docs.values()) {
      counters.scanned++
      f(doc)
    }
    return
  }
  for (const id of candidateIds(table, access)) f(table.docs.get(id)!)
}

/** The predicates an access answered by itself: its lookups' (an intersection answers all of its parts'). */
const answered = (access: FilterAccess): ReadonlySet<Ast.Cond> => {
  const lookups = access._tag === "Lookup" ? [access] : access._tag === "Intersect" ? access.parts : []
  const out = new Set<Ast.Cond>()
  for (const part of lookups) {
    const cond = part._tag === "Lookup" ? served.get(part) : undefined
    if (cond !== undefined) out.add(cond)
  }
  return out
}

/** What the candidates of `access` still have to be checked against: `where` without what the access answered. */
const residual = (where: Ast.Cond, access: FilterAccess): Ast.Cond => {
  const done = answered(access)
  if (done.size === 0) return where
  if (done.has(where)) return Ast.always
  if (where._tag !== "And") return where
  const rest = where.conds.filter((c) => !done.has(c))
  return rest.length === where.conds.length ? where : { _tag: "And", conds: rest }
}

const page = (docs: Array<Doc>, spec: Ast.FindSpec): Array<Doc> => {
  const start = spec.offset ?? 0
  return docs.slice(start, spec.limit === undefined ? undefined : start + spec.limit)
}

/**
 * Reads documents in query order from the index on the first order key. Documents with equal first keys come
 * out by ascending id, which is already final when nothing but `id asc` follows; otherwise each run of equal
 * values is sorted on its own before the next is read.
 */
const walk = (
  table: Table,
  access: IndexPlanner.IndexOrder,
  spec: Ast.FindSpec,
  counters: Counters
): Array<Doc> => {
  const keys = Evaluator.fullOrder(spec.orderBy)
  const tail = keys[1]
  const runsInOrder = tail === undefined || (keys.length === 2 && tail.direction === "asc" && tail.path.length === 1 && tail.path[0] === "id")
  const wanted = spec.limit === undefined ? Infinity : (spec.offset ?? 0) + spec.limit
  const compare = Evaluator.compareDocs(spec.orderBy)
  // Documents before the cursor's first key cannot come after the cursor.
  const from = spec.after === undefined ? undefined : spec.orderBy.length > 0 ? (spec.after.values[0] ?? null) : spec.after.id

  const accepted = Evaluator.accepts(spec)
  const out: Array<Doc> = []
  for (const { ids } of table.sortedIndex(access.path)!.walk(access.direction, from)) {
    if (out.length >= wanted) break
    // In order already: take matches straight into the answer and stop as soon as there are enough.
    const run: Array<Doc> = runsInOrder ? out : []
    for (const id of ids) {
      const doc = table.docs.get(id)!
      counters.examined++
      if (accepted(doc)) run.push(doc)
      if (runsInOrder && out.length >= wanted) break
    }
    if (!runsInOrder) for (const doc of run.sort(compare)) out.push(doc)
  }
  return page(out, spec)
}

export const find = (table: Table, plan: Plan, spec: Ast.FindSpec, counters: Counters): Array<Doc> => {
  const access = plan.access
  if (access._tag === "IndexOrder") return walk(table, access, spec, counters)
  const hits: Array<Doc> = []
  const accepted = Evaluator.accepts({ ...spec, where: residual(spec.where, access) })
  const keep = (doc: Doc) => {
    counters.examined++
    if (accepted(doc)) hits.push(doc)
  }
  if (access._tag === "Scan" || !byIdOnly(spec.orderBy)) {
    eachCandidate(table, access, counters, keep)
    return page(hits.sort(Evaluator.compareDocs(spec.orderBy)), spec)
  }
  // In id order, the candidates' ids sort natively as numbers, and the matches come out already in order.
  for (const id of Float64Array.from(candidateIds(table, access)).sort()) keep(table.docs.get(id)!)
  return page(hits, spec)
}

/** The order is ascending id and nothing else. */
const byIdOnly = (orderBy: ReadonlyArray<Ast.OrderKey>): boolean => {
  const keys = Evaluator.fullOrder(orderBy)
  return keys.length === 1 && keys[0]!.direction === "asc" && keys[0]!.path.length === 1 && keys[0]!.path[0] === "id"
}

export const count = (table: Table, access: FilterAccess, where: Ast.Cond, counters: Counters): number => {
  const accepted = Evaluator.predicate(residual(where, access))
  let n = 0
  eachCandidate(table, access, counters, (doc) => {
    counters.examined++
    if (accepted(doc)) n++
  })
  return n
}
