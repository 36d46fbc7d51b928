/**
 * The memory store at growing sizes: batch insert, resident memory per run, and the target queries, each
 * beside two baselines over the same documents in the same process: the reference evaluator scanning them
 * (a store without indexes) and mingo (what a user would pick instead).
 */
import { Evaluator, Q, Run, Store, Transform } from "@lineage/core"
import type { Ast } from "@lineage/core"
import * as MemoryStore from "@lineage/store-memory"
import { Effect } from "effect"
import { Query } from "mingo"
import { heapUsed, log, median, medianOf, newBench, quick, runner } from "./common.js"
import { load, runInput, runsPerTransform, t0 } from "./data.js"

export interface QueryFigure {
  readonly name: string
  /** Rows returned. */
  readonly rows: number
  /** Through the whole stack: `Run.filter(...).all()` into `Run` records. */
  readonly lineageMs: number
  /** The store alone: `driver.find` with the spec the query set sends, returning documents as the baselines do. */
  readonly storeMs: number
  readonly scanMs: number
  readonly mingoMs: number
}

export interface MemoryFigures {
  readonly total: number
  readonly insertPerSec: number
  /** Validating and encoding the same kind of runs, without storing them: the part of an insert before the store. */
  readonly preparePerSec: number
  readonly bytesPerRun: number
  readonly queries: ReadonlyArray<QueryFigure>
}

type Doc = Evaluator.Doc

interface Case {
  readonly name: string
  readonly lineage: () => Promise<ReadonlyArray<unknown>>
  readonly spec: Ast.FindSpec
  readonly mingo: { readonly criteria: Record<string, unknown>; readonly sort?: Record<string, 1 | -1>; readonly limit?: number }
}

const field = (path: ReadonlyArray<string>, op: Ast.Operator, value: Ast.Json): Ast.Cond => ({ _tag: "Field", path, op, value })
/** What the query set adds: trashed runs are hidden. */
const live = (cond: Ast.Cond): Ast.Cond => ({ _tag: "And", conds: [cond, field(["branchId"], "eq", 1)] })

/**
 * Transforms are keyed `pipeline-<n>`: those starting `pipeline-12` are about 1 % of them at every size
 * (1 of 100, 11 of 1,000, 111 of 10,000), so the relation query below returns about 1 % of the runs.
 */
export const relationPrefix = "pipeline-12"

/** The ids of the transforms the relation query names: what its semi-join hands the store as one `in` list. */
export const relatedIds = async (run: <A, E>(e: Effect.Effect<A, E, Store.Store>) => Promise<A>): Promise<Array<number>> =>
  (await run(Transform.filter({ key__startswith: relationPrefix }).all())).map((t) => t.id)

/** The target query cases over a loaded store, and one relation query; all selective ones return ≤ 100 rows. */
export const cases = (
  run: <A, E>(e: Effect.Effect<A, E, Store.Store>) => Promise<A>,
  total: number,
  transformId: number,
  uidPrefix: string,
  related: ReadonlyArray<number>
): ReadonlyArray<Case> => {
  const batchValue = Math.floor(total / 2 / 50) // 50 runs hold it
  const lo = 0.5
  const hi = 0.51
  return [
    {
      name: `equality: transform (${runsPerTransform} runs)`,
      lineage: () => run(Run.filter({ transformId }).all()),
      spec: { where: live(field(["transformId"], "eq", transformId)), orderBy: [] },
      mingo: { criteria: { transformId, branchId: 1 } }
    },
    {
      name: "equality: rare feature value (50 runs)",
      lineage: () => run(Run.filter({ featureValues__batch: batchValue }).all()),
      spec: { where: live(field(["featureValues", "batch"], "eq", batchValue)), orderBy: [] },
      mingo: { criteria: { "featureValues.batch": batchValue, branchId: 1 } }
    },
    {
      name: "uid prefix (1 run)",
      lineage: () => run(Run.filter({ uid__startswith: uidPrefix }).all()),
      spec: { where: field(["uid"], "startsWith", uidPrefix), orderBy: [] },
      mingo: { criteria: { uid: { $regex: `^${uidPrefix}` } } }
    },
    {
      name: "feature range: score in [0.5, 0.51] (1%)",
      lineage: () => run(Run.filter({ featureValues__score__range: [lo, hi] }).all()),
      spec: { where: live(field(["featureValues", "score"], "range", [lo, hi])), orderBy: [] },
      mingo: { criteria: { "featureValues.score": { $gte: lo, $lte: hi }, branchId: 1 } }
    },
    {
      // Not a latency target: query power. The store sees the semi-join's `in` over the transforms' ids.
      name: `relation: transform key starts with "${relationPrefix}" (~1%)`,
      lineage: () => run(Run.filter({ transform: { key__startswith: relationPrefix } }).all()),
      spec: { where: live(field(["transformId"], "in", [...related])), orderBy: [] },
      mingo: { criteria: { transformId: { $in: [...related] }, branchId: 1 } }
    },
    {
      name: "top 10 by -startedAt, errored",
      lineage: () => run(Run.filter(Q.and({ status: "errored" })).orderBy("-startedAt").limit(10).all()),
      spec: { where: live(field(["status"], "eq", "errored")), orderBy: [{ path: ["startedAt"], direction: "desc" }], limit: 10 },
      mingo: { criteria: { status: "errored", branchId: 1 }, sort: { startedAt: -1, id: 1 }, limit: 10 }
    }
  ]
}

export const t0Iso = new Date(t0).toISOString()

/** Loads `total` runs into a fresh memory store and measures everything at that size. */
export const measure = async (total: number, options: { readonly baselines: boolean }): Promise<MemoryFigures> => {
  const before = heapUsed()
  const driver = MemoryStore.makeDriver()
  const store = await Effect.runPromise(Store.make(driver))
  const run = runner(store)
  const loaded = await load(run, total)
  const bytesPerRun = (heapUsed() - before) / total
  const insertPerSec = total / (loaded.insertMs / 1000)
  const preparePerSec = await prepareRate(store, total, loaded.transformIds)
  log(`  memory ${total.toLocaleString("en")}: insert ${Math.round(insertPerSec).toLocaleString("en")} runs/s (validation + encoding alone ${Math.round(preparePerSec).toLocaleString("en")}/s), ${Math.round(bytesPerRun)} B/run`)

  const some = (await run(Run.filter({ transformId: loaded.transformIds[7]! }).limit(1).all()))[0]!
  const list = cases(run, total, loaded.transformIds[7]!, some.uid.slice(0, 8), await relatedIds(run))
  const bench = newBench()
  for (const c of list) {
    bench.add(c.name, c.lineage)
    bench.add(`store: ${c.name}`, () => Effect.runPromise(driver.find("run", c.spec)))
  }
  await bench.run()

  let docs: ReadonlyArray<Doc> = []
  if (options.baselines) docs = await Effect.runPromise(driver.find("run", { where: { _tag: "And", conds: [] }, orderBy: [] }))
  const queries: Array<QueryFigure> = []
  for (const c of list) {
    const rows = (await c.lineage()).length
    const storeRows = (await Effect.runPromise(driver.find("run", c.spec))).length
    if (storeRows !== rows) throw new Error(`${c.name}: lineage ${rows} rows, store ${storeRows}`)
    let scanMs = Number.NaN
    let mingoMs = Number.NaN
    if (options.baselines) {
      const times = quick ? 3 : total >= 1_000_000 ? 5 : 9
      const scanRows = Evaluator.find(docs, c.spec).length
      const query = new Query(c.mingo.criteria)
      const mingoRun = () => {
        let cursor = query.find(docs as Array<Record<string, unknown>>)
        if (c.mingo.sort !== undefined) cursor = cursor.sort(c.mingo.sort)
        if (c.mingo.limit !== undefined) cursor = cursor.limit(c.mingo.limit)
        return cursor.all()
      }
      const mingoRows = mingoRun().length
      if (scanRows !== rows || mingoRows !== rows) throw new Error(`${c.name}: lineage ${rows} rows, scan ${scanRows}, mingo ${mingoRows}`)
      scanMs = await medianOf(times, () => Evaluator.find(docs, c.spec))
      mingoMs = await medianOf(times, mingoRun)
    }
    queries.push({ name: c.name, rows, lineageMs: median(bench, c.name), storeMs: median(bench, `store: ${c.name}`), scanMs, mingoMs })
  }
  await Effect.runPromise(driver.close())
  return { total, insertPerSec, preparePerSec, bytesPerRun, queries }
}

/**
 * Runs/s of `Run.createMany`'s work before the store: validating inputs into records and encoding them as
 * documents. The median of eight batches of 5,000, so that one collection of a large heap does not decide it.
 */
const prepareRate = async (store: Store.StoreShape, total: number, transformIds: ReadonlyArray<number>): Promise<number> => {
  const batch = Math.min(total, 5_000)
  const random = Math.random
  const rates: Array<number> = []
  for (let b = 0; b < 8; b++) {
    const inputs = Array.from({ length: batch }, (_, i) => runInput(total + b * batch + i, transformIds[i % transformIds.length]!, random))
    const start = performance.now()
    const records = await Effect.runPromise(store.prepare(Run.entity, inputs))
    for (const r of records) Run.entity.encode(r)
    rates.push(batch / ((performance.now() - start) / 1000))
  }
  return rates.sort((a, b) => a - b)[rates.length >> 1]!
}
