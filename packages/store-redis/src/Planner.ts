/**
 * The Redis store's side of query planning (`IndexPlanner` chooses): index sizes Redis reports in one round
 * trip (ZLEXCOUNT per indexed predicate, ZCARD of the id index), measured before planning. The executor
 * re-checks every candidate with the reference evaluator.
 */
import { IndexPlanner } from "@lineage/core"
import type { Ast } from "@lineage/core"
import { type Bound, type LexRange, rangesFor } from "./Encoding.js"
import * as Scripts from "./Scripts.js"
import { hasIndex, type StoredTable } from "./Tables.js"
import type { Namespace } from "./Writes.js"

export type Access = IndexPlanner.Access
export type FilterAccess = IndexPlanner.FilterAccess
export type IndexAccess = IndexPlanner.IndexAccess
export type Plan = IndexPlanner.Plan

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

/** Estimates from the counts `measure` read: exact, so no cap applies. */
class Measured implements IndexPlanner.Estimator {
  constructor(readonly sizes: Sizes) {}

  estimate(cond: Ast.Field): IndexPlanner.Lookup | undefined {
    const estimated = this.sizes.of.get(cond)
    return estimated === undefined ? undefined : { _tag: "Lookup", path: cond.path, op: cond.op, value: cond.value, estimated }
  }
}

/** A table as the planner sees it, with the sizes `measure` read. */
class MeasuredTable extends Measured implements IndexPlanner.IndexedTable {
  readonly name: string
  readonly size: number

  constructor(
    private readonly table: StoredTable,
    sizes: Sizes
  ) {
    super(sizes)
    this.name = table.name
    this.size = sizes.table
  }

  walkable(path: Ast.Path): boolean {
    return hasIndex(this.table, path)
  }
}

/** How many documents the indexed predicates of `where` leave at most, or undefined when none bounds them. */
export const filterEstimate = (sizes: Sizes, where: Ast.Cond): number | undefined =>
  IndexPlanner.planAccess(where, new Measured(sizes))?.estimated

export const planFind = (table: StoredTable, sizes: Sizes, spec: Ast.FindSpec): Plan => IndexPlanner.planFind(new MeasuredTable(table, sizes), spec)

export const planCount = (table: StoredTable, sizes: Sizes, where: Ast.Cond): Plan & { readonly access: FilterAccess } =>
  IndexPlanner.planCount(new MeasuredTable(table, sizes), where)
