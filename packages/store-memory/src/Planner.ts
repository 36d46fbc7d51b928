/**
 * Chooses how a query reads a table. A plan is plain data, so tests and `explain` can inspect it; the
 * executor interprets it. Plans only choose candidates: the full condition is always re-checked with the
 * reference evaluator, so a plan can never change an answer, only its cost.
 */
import { Driver, Evaluator } from "@lineage/core"
import type { Ast } from "@lineage/core"
import { equalityValues, rangesFor } from "./Indexes.js"
import type { Table } from "./Table.js"

export type Access = Driver.Access
export type FilterAccess = Driver.FilterAccess
export type IndexAccess = Driver.IndexAccess
export type Plan = Driver.Plan

/** Conjuncts whose candidates are at most this many times the smallest set are intersected with it. */
const INTERSECT_RATIO = 4

type Lookup = Extract<IndexAccess, { _tag: "Lookup" }>

/**
 * What planning learnt about its lookups, by the lookup's identity in the plan: the predicate each one
 * answers, and the ids of a range it walked to count them (so running the plan does not walk it again).
 */
export const served: WeakMap<Lookup, Ast.Field> = new WeakMap()
export const walked: WeakMap<Lookup, ReadonlyArray<number>> = new WeakMap()

const lookup = (table: Table, cond: Ast.Field, cap: number): IndexAccess | undefined => {
  const values = equalityValues(cond.op, cond.value)
  const equality = table.equalityIndex(cond.path)
  if (values !== undefined && equality !== undefined) {
    const estimated = values.reduce<number>((n, v) => n + equality.count(v), 0)
    const access: Lookup = { _tag: "Lookup", index: equality.kind, path: cond.path, op: cond.op, value: cond.value, estimated }
    served.set(access, cond)
    return access
  }
  const sorted = table.sortedIndex(cond.path)
  const ranges = sorted === undefined ? undefined : rangesFor(cond.op, cond.value)
  if (sorted === undefined || ranges === undefined) return undefined
  // Counting a range walks it, so stop once it is clearly worse than what the caller already has.
  const ids: Array<number> = []
  for (const range of ranges) if (ids.length <= cap) sorted.collect(range, ids, cap - ids.length)
  const access: Lookup = { _tag: "Lookup", index: "sorted", path: cond.path, op: cond.op, value: cond.value, estimated: ids.length }
  served.set(access, cond)
  if (ids.length <= cap) walked.set(access, ids)
  return access
}

/** The cheapest index access covering every document `cond` can match, or undefined when none exists. */
export const planAccess = (table: Table, cond: Ast.Cond, cap: number): IndexAccess | undefined => {
  switch (cond._tag) {
    case "Field":
      return lookup(table, cond, cap)
    case "Not":
      return undefined
    case "Or": {
      const parts: Array<IndexAccess> = []
      let estimated = 0
      for (const branch of cond.conds) {
        const part = planAccess(table, branch, cap)
        // One branch without an index means any document may match.
        if (part === undefined) return undefined
        parts.push(part)
        estimated += part.estimated
      }
      return parts.length === 1 ? parts[0] : { _tag: "Union", parts, estimated }
    }
    case "And": {
      const parts: Array<IndexAccess> = []
      let best = Infinity
      for (const conjunct of cond.conds) {
        const part = planAccess(table, conjunct, Math.min(cap, best * INTERSECT_RATIO))
        if (part === undefined) continue
        parts.push(part)
        best = Math.min(best, part.estimated)
      }
      if (parts.length === 0) return undefined
      parts.sort((a, b) => a.estimated - b.estimated)
      const chosen = parts.filter((p) => p.estimated <= best * INTERSECT_RATIO)
      return chosen.length === 1 ? chosen[0] : { _tag: "Intersect", parts: chosen, estimated: best }
    }
  }
}

export const planFind = (table: Table, spec: Ast.FindSpec): Plan => {
  const size = table.size
  const orderBy = Evaluator.fullOrder(spec.orderBy)
  const walkable = table.sortedIndex(orderBy[0]!.path) !== undefined
  // Past sqrt(wanted * size) candidates the ordered walk wins anyway, so counting further would be waste.
  const cap = walkable ? Math.ceil(Math.sqrt(Driver.wanted(spec, size) * size)) : size
  const access: FilterAccess = planAccess(table, spec.where, cap) ?? { _tag: "Scan", estimated: size }
  return Driver.planOrdered(table.name, { ...spec, orderBy }, access, size, walkable)
}

export const planCount = (table: Table, where: Ast.Cond): Plan & { readonly access: FilterAccess } => {
  const access: FilterAccess = planAccess(table, where, table.size) ?? { _tag: "Scan", estimated: table.size }
  return { table: table.name, access, fullScan: access._tag === "Scan", orderedByIndex: false }
}
