/**
 * One client process of bench/cluster.ts. Opens the Redis store on each namespace it is given (its own cluster
 * client each, as separate applications would), loads `PRELOAD` runs into each (bench/data.ts: features,
 * transforms, runs), says `{ ready }`, then runs each phase it is sent for the time it is told: every namespace
 * keeps one operation in flight, all namespaces at once. Replies with the operations done, the wall time and
 * the CPU time this process spent.
 *
 * Environment: CLUSTER_URL (`redis+cluster://…`), PREFIXES (comma-separated), PRELOAD, BATCH.
 * Messages: in `{ phase: "query" | "write", ms }` or `{ phase: "exit" }`; out `{ ready: true }`, then a
 * `PhaseResult` per phase.
 */
import { Run, Store } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import { Effect } from "effect"
import { rng, runner } from "./common.js"
import { load, runInput } from "./data.js"

export interface PhaseResult {
  readonly phase: "query" | "write"
  /** Queries answered, or runs written. */
  readonly ops: number
  readonly ms: number
  readonly cpuMs: number
}

const url = process.env["CLUSTER_URL"]!
const prefixes = process.env["PREFIXES"]!.split(",")
const preload = Number(process.env["PRELOAD"])
const batch = Number(process.env["BATCH"])

const spaces = await Promise.all(
  prefixes.map(async (prefix) => {
    const driver = await Effect.runPromise(RedisStore.make({ url, prefix, connectionName: "lineage-bench-cluster" }))
    const run = runner(await Effect.runPromise(Store.make(driver)))
    const loaded = await load(run, preload, preload)
    return { driver, run, transformIds: loaded.transformIds, random: rng(prefix.length) }
  })
)

/** One operation on namespace `k`, its `i`-th: a query of a rare feature value (50 runs), or a batch of runs. */
const operations = {
  // `batch` = floor(i / 50) of the preloaded runs: every value answers 50 of them.
  query: async (k: number, i: number) => {
    await spaces[k]!.run(Run.filter({ featureValues__batch: i % Math.max(1, Math.floor(preload / 50)) }).all())
    return 1
  },
  write: async (k: number, i: number) => {
    const s = spaces[k]!
    const first = preload + i * batch
    await s.run(Run.createMany(Array.from({ length: batch }, (_, j) => runInput(first + j, s.transformIds[j % s.transformIds.length]!, s.random))))
    return batch
  }
}

const runPhase = async (phase: "query" | "write", ms: number): Promise<PhaseResult> => {
  const cpu = process.cpuUsage()
  const started = performance.now()
  const until = started + ms
  let ops = 0
  await Promise.all(
    spaces.map(async (_, k) => {
      for (let i = 0; performance.now() < until; i++) {
        // Not `ops += await …`: that reads `ops` before the await, losing what the other namespaces added meanwhile.
        const done = await operations[phase](k, i)
        ops += done
      }
    })
  )
  const used = process.cpuUsage(cpu)
  return { phase, ops, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 }
}

process.on("message", (message: { readonly phase: "query" | "write" | "exit"; readonly ms?: number }) => {
  if (message.phase === "exit") {
    void Promise.all(spaces.map((s) => Effect.runPromise(s.driver.close()))).then(() => process.exit(0))
    return
  }
  runPhase(message.phase, message.ms ?? 0).then(
    (result) => process.send!(result),
    (e: unknown) => {
      console.error(e)
      process.exit(1)
    }
  )
})
process.send!({ ready: true })
