/**
 * The Redis store at 100,000 runs: batch insert beside raw pipelined SETs of the same JSON, the issue's
 * selective queries and filtered top-10, and the round trips of a single `Run.create`.
 */
import { Run, Store } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { log, median, newBench, runner } from "./common.js"
import { load, runInput } from "./data.js"
import { cases } from "./memory.js"
import { countRoundTrips } from "../test/support/redis.js"

export interface RedisFigures {
  readonly total: number
  readonly insertPerSec: number
  readonly rawPerSec: number
  readonly createRoundTrips: number
  readonly createCommands: number
  readonly queries: ReadonlyArray<{
    readonly name: string
    readonly rows: number
    readonly lineageMs: number
    readonly storeMs: number
    /** Raw ioredis reading the same documents, knowing their keys: one MGET (the floor of any query). */
    readonly rawMs: number
  }>
}

export const url = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

export const available = async (): Promise<boolean> => {
  try {
    const driver = await Effect.runPromise(RedisStore.make({ url, prefix: "lineage-bench:probe", connectTimeoutMs: 500, retry: { times: 0, baseDelayMs: 1 } }))
    await Effect.runPromise(driver.close())
    return true
  } catch {
    return false
  }
}

export const measure = async (total: number, batch = 2_000): Promise<RedisFigures> => {
  const prefix = `lineage-bench:${process.pid}-${randomBytes(3).toString("hex")}`
  const driver = await Effect.runPromise(RedisStore.make({ url, prefix }))
  try {
    const store = await Effect.runPromise(Store.make(driver))
    const run = runner(store)
    const loaded = await load(run, total, batch)
    const insertPerSec = total / (loaded.insertMs / 1000)

    // Raw baseline: the same JSON documents, pipelined SETs in batches of the same size, in a second namespace.
    const records = await run(Run.filter({}).orderBy("id").all())
    const json = records.map((r) => JSON.stringify(Run.entity.encode(r)))
    const rawStart = performance.now()
    for (let start = 0; start < json.length; start += batch) {
      const pipeline = driver.client.pipeline()
      for (let i = start; i < Math.min(json.length, start + batch); i++) pipeline.set(`{${prefix}-raw}:d:${i}`, json[i]!)
      await pipeline.exec()
    }
    const rawPerSec = json.length / ((performance.now() - rawStart) / 1000)
    await Effect.runPromise(RedisStore.fromClient(driver.client, { prefix: `${prefix}-raw` }).pipe(Effect.flatMap((d) => d.drop())))
    log(`  redis ${total.toLocaleString("en")}: insert ${Math.round(insertPerSec).toLocaleString("en")} runs/s, raw pipelined SET ${Math.round(rawPerSec).toLocaleString("en")} docs/s`)

    // One Run.create, counted (after a warm-up create so the schema is cached, as in a running process).
    await run(Run.create(runInput(total, loaded.transformIds[0]!, Math.random)))
    const counts = countRoundTrips(driver.client)
    await run(Run.create(runInput(total + 1, loaded.transformIds[0]!, Math.random)))
    const createRoundTrips = counts.roundTrips
    const createCommands = counts.commands

    const some = (await run(Run.filter({ transformId: loaded.transformIds[7]! }).limit(1).all()))[0]!
    const list = cases(run, total, loaded.transformIds[7]!, some.uid.slice(0, 8)).filter((c) => !c.name.startsWith("feature range"))
    const bench = newBench()
    for (const c of list) {
      bench.add(c.name, c.lineage)
      bench.add(`store: ${c.name}`, () => Effect.runPromise(driver.find("run", c.spec)))
      const keys = (await Effect.runPromise(driver.find("run", c.spec))).map((d) => driver.keys.doc("run", d["id"] as number))
      bench.add(`raw: ${c.name}`, async () => (await driver.client.mget(...keys)).map((raw) => JSON.parse(raw!) as unknown))
    }
    await bench.run()
    const queries = []
    for (const c of list)
      queries.push({
        name: c.name,
        rows: (await c.lineage()).length,
        lineageMs: median(bench, c.name),
        storeMs: median(bench, `store: ${c.name}`),
        rawMs: median(bench, `raw: ${c.name}`)
      })
    return { total, insertPerSec, rawPerSec, createRoundTrips, createCommands, queries }
  } finally {
    await Effect.runPromise(Effect.ignore(driver.drop()))
    await Effect.runPromise(driver.close())
  }
}
