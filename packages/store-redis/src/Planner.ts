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

/** The indexed predicates of `cond`, each with its ranges. */
const indexedFields = (
  table: StoredTable,
  cond: Ast.Cond,
  out: Array<readonly [Ast.Field, ReadonlyArray<LexRange>]>
): Array<readonly [Ast.Field, ReadonlyArray<LexRange>]> => {
  switch (cond._tag) {
    case "Field": {
      const ranges = lookupRanges(table, cond)
      if (ranges !== undefined) out.push([cond, ranges])
      break
    }
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
  /** Every size came from one script, so they agree with each other (a count may then be read off them). */
  readonly atomic: boolean
}

/** Selective predicates come back with their members; the selective queries match at most 100. */
export const prefetchLimit = 128

/**
 * Index ranges one script or one pipelined lookup step reads at most. A range costs the server one
 * ZLEXCOUNT (logarithmic in the index), so a measuring script of this many ranges takes a few milliseconds
 * (about 2 ms on a loaded 2-core machine; the budget is 5 ms); a longer `in` list is measured in several
 * scripts, and other clients are served between them instead of waiting for the whole list.
 */
export const rangesPerStep = 1_000

/** Index members one measuring script returns at most, over all its ranges. */
export const prefetchBudget = 1_024

/** Names a lookup by what it reads, so the executor finds the members fetched for its predicate. */
export const lookupKey = (path: Ast.Path, op: Ast.Operator, value: Ast.Json): string => JSON.stringify([path, op, value])

/** One measuring script's arguments, filled range by range. */
class Step {
  readonly keys: Array<string>
  readonly args: Array<Bound> = [String(prefetchLimit), String(prefetchBudget)]
  /** The predicate of each range, in order. */
  readonly owners: Array<Ast.Field> = []
  private readonly refs = new Map<string, string>()

  constructor(version: string, idIndex: string) {
    this.keys = [version, idIndex]
  }

  add(owner: Ast.Field, key: string, range: LexRange): void {
    let ref = this.refs.get(key)
    if (ref === undefined) {
      this.keys.push(key)
      this.refs.set(key, (ref = String(this.keys.length)))
    }
    this.args.push(ref, range.min, range.max)
    this.owners.push(owner)
  }
}

/**
 * The schema version, the table size and every indexed predicate's count, with the members of the small
 * ones: one script when the predicates have at most `rangesPerStep` ranges in all (the usual case: one
 * round trip), else one script per `rangesPerStep` ranges.
 */
export const measure = async (ns: Namespace, table: StoredTable, where: Ast.Cond): Promise<Sizes> => {
  const of = new Map<Ast.Field, number>()
  const found = new Map<Ast.Field, Array<string> | undefined>()
  const fresh = () => new Step(ns.keys.schemaVersion, ns.keys.index(table.name, ["id"]))
  let version = "0"
  let size = 0
  let steps = 0
  const run = async (step: Step) => {
    const reply = (await Scripts.run(ns.client, Scripts.measure, step.keys, step.args)) as [string, number, ...Array<number | Array<string>>]
    steps++
    version = reply[0]
    size = Number(reply[1])
    step.owners.forEach((owner, i) => {
      const part = reply[i + 2]!
      of.set(owner, of.get(owner)! + (typeof part === "number" ? part : part.length))
      const members = found.get(owner)
      if (typeof part === "number") found.set(owner, undefined)
      else members?.push(...part)
    })
  }
  let step = fresh()
  for (const [f, ranges] of indexedFields(table, where, [])) {
    if (of.has(f)) continue
    of.set(f, 0)
    found.set(f, [])
    const key = ns.keys.index(table.name, f.path)
    for (const range of ranges) {
      if (step.owners.length === rangesPerStep) {
        await run(step)
        step = fresh()
      }
      step.add(f, key, range)
    }
  }
  await run(step)
  const members = new Map<string, ReadonlyArray<string>>()
  for (const [f, list] of found) if (list !== undefined) members.set(lookupKey(f.path, f.op, f.value), list)
  return { version, table: size, of, members, atomic: steps === 1 }
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
