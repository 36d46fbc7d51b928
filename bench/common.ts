/** Shared helpers: command-line options, running effects on a store, tinybench medians, heap measurement. */
import { Store } from "@lineage/core"
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
