/**
 * The memory store's side of query planning (`IndexPlanner` chooses): how many documents an indexed
 * predicate matches. An equality index counts its values' holders; a sorted index counts by walking the
 * predicate's ranges, so it stops once past the planner's cap and keeps the ids it walked for the executor.
 */
import { IndexPlanner } from "@lineage/core"
import type { Ast } from "@lineage/core"
import { equalityValues, rangesFor } from "./Indexes.js"
import type { Table } from "./Table.js"

export type Access = IndexPlanner.Access
export type FilterAccess = IndexPlanner.FilterAccess
export type IndexAccess = IndexPlanner.IndexAccess
export type Plan = IndexPlanner.Plan

type Lookup = IndexPlanner.Lookup

/**
 * What planning learnt about its lookups, by the lookup's identity in the plan: the predicate each one
 * answers, and the ids of a range it walked to count them (so running the plan does not walk it again).
 */
export const served: WeakMap<Lookup, Ast.Field> = new WeakMap()
export const walked: WeakMap<Lookup, ReadonlyArray<number>> = new WeakMap()

/** A table as the planner sees it: estimates walk its indexes. */
class IndexedTable implements IndexPlanner.IndexedTable {
  readonly name: string
  readonly size: number

  constructor(private readonly table: Table) {
    this.name = table.name
    this.size = table.size
  }

  walkable(path: Ast.Path): boolean {
    return this.table.sortedIndex(path) !== undefined
  }

  estimate(cond: Ast.Field, cap: number): Lookup | undefined {
    const values = equalityValues(cond.op, cond.value)
    const equality = this.table.equalityIndex(cond.path)
    if (values !== undefined && equality !== undefined) {
      const estimated = values.reduce<number>((n, v) => n + equality.count(v), 0)
      const access: Lookup = { _tag: "Lookup", index: equality.kind, path: cond.path, op: cond.op, value: cond.value, estimated }
      served.set(access, cond)
      return access
    }
    const sorted = this.table.sortedIndex(cond.path)
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
}

export const planFind = (table: Table, spec: Ast.FindSpec): Plan => IndexPlanner.planFind(new IndexedTable(table), spec)

export const planCount = (table: Table, where: Ast.Cond): Plan & { readonly access: FilterAccess } =>
  IndexPlanner.planCount(new IndexedTable(table), where)
