/** Shared helpers: command-line options, running effects on a store, tinybench medians, heap measurement. */
import { type Ast, type Driver, Store } from "@lineage/core"
import { Effect } from "effect"
import { Bench } from "tinybench"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

export const quick = process.argv.includes("--quick")
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",")
/** `--only=memory,redis,mongodb,tracking` runs some sections (and writes no results file: it would be partial). */
export const partial = only !== undefined
export const enabled = (section: string): boolean => only === undefined || only.includes(section)

export type Runner = <A, E>(effect: Effect.Effect<A, E, Store.Store>) => Promise<A>

export const runner = (store: Store.StoreShape): Runner => (effect) =>
  Effect.runPromise(Effect.provideService(effect, Store.Store, store))

export const newBench = (): Bench =>
  new Bench({ time: quick ? 30 : 400, warmupTime: quick ? 5 : 50, iterations: quick ? 3 : 10, warmupIterations: quick ? 1 : 3 })

/** Median latency of a finished task, ms. */
export const median = (bench: Bench, name: string): number => {
  const result = bench.getTask(name)?.result
  if (result === undefined || !("latency" in result)) throw new Error(`no result for ${name}: ${JSON.stringify(result)}`)
  return result.latency.p50 ?? Number.NaN
}

/** Runs a slow baseline a few times and returns its median, ms (tinybench would spend seconds on it). */
export const medianOf = async (times: number, f: () => unknown): Promise<number> => {
  const samples: Array<number> = []
  for (let i = 0; i < times; i++) {
    const t = performance.now()
    await f()
    samples.push(performance.now() - t)
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)]!
}

setFlagsFromString("--expose-gc")
const gcFn = runInNewContext("gc") as () => void

/** Heap in use after a full collection, bytes. */
export const heapUsed = (): number => {
  gcFn()
  gcFn()
  return process.memoryUsage().heapUsed
}

/** A deterministic pseudo-random generator (mulberry32), so every run of the bench sees the same data. */
export const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

export const log = (...args: ReadonlyArray<unknown>) => console.log(...args)

/** One query of a SQL store's section, each way it is measured. */
export interface SqlQueryFigure {
  readonly name: string
  readonly rows: number
  /** Through the whole stack into `Run` records. */
  readonly lineageMs: number
  /** `driver.find`: compiled SQL, rows parsed into documents. */
  readonly storeMs: number
  /** The same query written by hand, rows parsed from JSON. */
  readonly handMs: number
  /** The hand-written query kept off every index: a full scan of the table. */
  readonly scanMs: number
  /** Whether the plan of the store's own statement reads the table through an index. */
  readonly indexed: boolean
}

/** A SQL store's section: its load rate beside raw multi-row `INSERT`s of the same rows, and its queries. */
export interface SqlFigures {
  readonly total: number
  readonly insertPerSec: number
  /** Raw multi-row `INSERT`s of the same rows into a table with the same indexes. */
  readonly rawInsertPerSec: number
  readonly queries: ReadonlyArray<SqlQueryFigure>
}

/** A query of the shared bench cases, as a SQL section measures it. */
export interface SqlCase {
  readonly name: string
  readonly lineage: () => Promise<ReadonlyArray<unknown>>
  readonly spec: Ast.FindSpec
}

/**
 * Each case through the whole stack, through the driver alone and written by hand (`hand(i)`), in one bench;
 * the two must return as many rows. `extra(c, i)` measures the full scan and reads the plan.
 */
export const sqlQueries = async (
  list: ReadonlyArray<SqlCase>,
  driver: Driver.Driver,
  hand: (i: number) => () => unknown,
  extra: (c: SqlCase, i: number) => Promise<Pick<SqlQueryFigure, "scanMs" | "indexed">>
): Promise<ReadonlyArray<SqlQueryFigure>> => {
  const bench = newBench()
  list.forEach((c, i) => {
    bench.add(c.name, c.lineage)
    bench.add(`store: ${c.name}`, () => Effect.runPromise(driver.find("run", c.spec)))
    bench.add(`hand: ${c.name}`, hand(i))
  })
  await bench.run()
  const queries: Array<SqlQueryFigure> = []
  for (const [i, c] of list.entries()) {
    const rows = (await c.lineage()).length
    const handRows = ((await hand(i)()) as ReadonlyArray<unknown>).length
    if (handRows !== rows) throw new Error(`${c.name}: lineage ${rows} rows, hand-written SQL ${handRows}`)
    queries.push({
      name: c.name,
      rows,
      lineageMs: median(bench, c.name),
      storeMs: median(bench, `store: ${c.name}`),
      handMs: median(bench, `hand: ${c.name}`),
      ...(await extra(c, i))
    })
  }
  return queries
}
