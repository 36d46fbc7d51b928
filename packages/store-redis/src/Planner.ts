/**
 * Chooses how a query reads a table, from index sizes Redis reports in one round trip (ZLEXCOUNT per
 * indexed predicate, ZCARD of the id index). A plan is plain data, so `explain` and tests can inspect it.
 * Plans only choose candidates: the executor re-checks every candidate with the reference evaluator, so a
 * plan can change the cost of an answer, never the answer.
 */
import { Driver, Evaluator } from "@lineage/core"
import type { Ast } from "@lineage/core"
import { type Bound, type LexRange, rangesFor } from "./Encoding.js"
import * as Scripts from "./Scripts.js"
import { hasIndex, type StoredTable } from "./Tables.js"
import type { Namespace } from "./Writes.js"

export type Access = Driver.Access
export type FilterAccess = Driver.FilterAccess
export type IndexAccess = Driver.IndexAccess
export type Plan = Driver.Plan

/** Conjuncts whose candidates are at most this many times the smallest set are intersected with it. */
const INTERSECT_RATIO = 4

/** An indexed predicate: the ranges it reads. */
export const lookupRanges = (table: StoredTable, cond: Ast.Field): ReadonlyArray<LexRange> | undefined =>
  hasIndex(table, cond.path) ? rangesFor(cond.op, cond.value) : undefined

const indexedFields = (table: StoredTable, cond: Ast.Cond, out: Array<Ast.Field>): Array<Ast.Field> => {
  switch (cond._tag) {
    case "Field":
      if (lookupRanges(table, cond) !== undefined) out.push(cond)
      break
    case "And":
    case "Or":
      for (const c of cond.conds) indexedFields(table, c, out)
      break
    case "Not":
      break
  }
  return out
}

/** Sizes: the table's, and each indexed predicate's (by identity). */
export interface Sizes {
  /** The schema version Redis holds now: a newer one than the plan's tables may offer more indexes. */
  readonly version: string
  readonly table: number
  readonly of: ReadonlyMap<Ast.Field, number>
  /** The index members of the predicates that match at most `prefetchLimit` documents, by `lookupKey`. */
  readonly members: ReadonlyMap<string, ReadonlyArray<string>>
}

/** Selective predicates come back with their members; the selective queries match at most 100. */
export const prefetchLimit = 128

/** Names a lookup by what it reads, so the executor finds the members fetched for its predicate. */
export const lookupKey = (path: Ast.Path, op: Ast.Operator, value: Ast.Json): string => JSON.stringify([path, op, value])

/** One round trip (a script): the schema version, the table size and every indexed predicate's count, with the members of the small ones. */
export const measure = async (ns: Namespace, table: StoredTable, where: Ast.Cond): Promise<Sizes> => {
  const fields = indexedFields(table, where, [])
  const keys = [ns.keys.schemaVersion, ns.keys.index(table.name, ["id"])]
  const args: Array<Bound> = [String(prefetchLimit)]
  const spans: Array<number> = []
  for (const f of fields) {
    const ranges = lookupRanges(table, f)!
    spans.push(ranges.length)
    for (const r of ranges) {
      keys.push(ns.keys.index(table.name, f.path))
      args.push(r.min, r.max)
    }
  }
  const reply = (await Scripts.run(ns.client, Scripts.measure, keys, args)) as [string, number, ...Array<number | Array<string>>]
  const of = new Map<Ast.Field, number>()
  const members = new Map<string, ReadonlyArray<string>>()
  let at = 2
  fields.forEach((f, i) => {
    let n = 0
    let found: Array<string> | undefined = []
    for (let k = 0; k < spans[i]!; k++) {
      const part = reply[at++]!
      if (typeof part === "number") {
        n += part
        found = undefined
      } else {
        n += part.length
        found?.push(...part)
      }
    }
    of.set(f, n)
    if (found !== undefined) members.set(lookupKey(f.path, f.op, f.value), found)
  })
  return { version: reply[0], table: Number(reply[1]), of, members }
}

/** The cheapest index access covering every document `cond` can match, or undefined when none exists. */
const planAccess = (sizes: Sizes, cond: Ast.Cond): IndexAccess | undefined => {
  switch (cond._tag) {
    case "Field": {
      const estimated = sizes.of.get(cond)
      return estimated === undefined ? undefined : { _tag: "Lookup", path: cond.path, op: cond.op, value: cond.value, estimated }
    }
    case "Not":
      return undefined
    case "Or": {
      if (cond.conds.length === 0) return { _tag: "Union", parts: [], estimated: 0 }
      const parts: Array<IndexAccess> = []
      for (const branch of cond.conds) {
        const part = planAccess(sizes, branch)
        // One branch without an index means any document may match.
        if (part === undefined) return undefined
        parts.push(part)
      }
      const estimated = parts.reduce((n, p) => n + p.estimated, 0)
      return parts.length === 1 ? parts[0] : { _tag: "Union", parts, estimated }
    }
    case "And": {
      const parts = cond.conds.flatMap((c) => {
        const part = planAccess(sizes, c)
        return part === undefined ? [] : [part]
      })
      if (parts.length === 0) return undefined
      parts.sort((a, b) => a.estimated - b.estimated)
      const best = parts[0]!.estimated
      const chosen = parts.filter((p) => p.estimated <= best * INTERSECT_RATIO)
      return chosen.length === 1 ? chosen[0] : { _tag: "Intersect", parts: chosen, estimated: best }
    }
  }
}

/** How many documents the indexed predicates of `where` leave at most, or undefined when none bounds them. */
export const filterEstimate = (sizes: Sizes, where: Ast.Cond): number | undefined => planAccess(sizes, where)?.estimated

export const planFind = (table: StoredTable, sizes: Sizes, spec: Ast.FindSpec): Plan => {
  const access: FilterAccess = planAccess(sizes, spec.where) ?? { _tag: "Scan", estimated: sizes.table }
  const orderBy = Evaluator.fullOrder(spec.orderBy)
  return Driver.planOrdered(table.name, { ...spec, orderBy }, access, sizes.table, hasIndex(table, orderBy[0]!.path))
}

export const planCount = (table: StoredTable, sizes: Sizes, where: Ast.Cond): Plan & { readonly access: FilterAccess } => {
  const access: FilterAccess = planAccess(sizes, where) ?? { _tag: "Scan", estimated: sizes.table }
  return { table: table.name, access, fullScan: access._tag === "Scan", orderedByIndex: false }
}
