/**
 * The Redis store at 100,000 runs: batch insert beside raw pipelined SETs of the same JSON, the target
 * selective queries and filtered top-10, and the round trips of a single `Run.create`.
 */
import { Run, Store } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { log, median, newBench, runner } from "./common.js"
import { load, runInput } from "./data.js"
import { cases, relatedIds } from "./memory.js"
import { countRoundTrips } from "../test/support/redis.js"

export interface RedisFigures {
  readonly total: number
  readonly insertPerSec: number
  readonly rawPerSec: number
  /** Raw ioredis writing what the store writes (documents, index entries, unique claims) without its checks. */
  readonly rawIndexedPerSec: number
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
    const rawIndexedPerSec = await rawIndexed(driver, `${prefix}-rawx`, records.map((r) => r.id), json, batch)
    log(`  redis ${total.toLocaleString("en")}: insert ${Math.round(insertPerSec).toLocaleString("en")} runs/s, raw pipelined SET ${Math.round(rawPerSec).toLocaleString("en")} docs/s, raw indexed ${Math.round(rawIndexedPerSec).toLocaleString("en")} docs/s`)

    // One Run.create, counted (after a warm-up create so the schema is cached, as in a running process).
    await run(Run.create(runInput(total, loaded.transformIds[0]!, Math.random)))
    const counts = countRoundTrips(driver.client)
    await run(Run.create(runInput(total + 1, loaded.transformIds[0]!, Math.random)))
    const createRoundTrips = counts.roundTrips
    const createCommands = counts.commands

    const some = (await run(Run.filter({ transformId: loaded.transformIds[7]! }).limit(1).all()))[0]!
    const list = cases(run, total, loaded.transformIds[7]!, some.uid.slice(0, 8), await relatedIds(run)).filter((c) => !c.name.startsWith("feature range"))
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
    return { total, insertPerSec, rawPerSec, rawIndexedPerSec, createRoundTrips, createCommands, queries }
  } finally {
    await Effect.runPromise(Effect.ignore(driver.drop()))
    await Effect.runPromise(driver.close())
  }
}

/**
 * The floor of an indexed write: the store's own documents, index members and unique claims for the run
 * table, read back from Redis and written again raw into another namespace, a batch of documents at a time
 * (one MSET, one ZADD per index, one HSET per unique hash: the fewest commands that can hold them), with none
 * of the store's validation, guards, atomicity or planning. Runs/s.
 */
const rawIndexed = async (driver: RedisStore.RedisDriver, rawPrefix: string, ids: ReadonlyArray<number>, json: ReadonlyArray<string>, batch: number): Promise<number> => {
  const client = driver.client
  const batchOf = new Map(ids.map((id, i) => [id, Math.floor(i / batch)]))
  const batches = Math.ceil(ids.length / batch)
  const tablePart = driver.keys.doc("run", 0).slice(0, -"d:0".length)
  const keysLike = async (pattern: string) => {
    const out = new Set<string>()
    let cursor = "0"
    do {
      const [next, found] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1_000)
      cursor = next
      for (const k of found) out.add(k)
    } while (cursor !== "0")
    return [...out]
  }
  // An index member ends with its document's id key, the same in every index, and id keys sort as the ids do:
  // the id index, in order, says which batch each id key belongs to.
  const idKeyOf = (m: string) => m.slice(m.lastIndexOf("\u0000") + 1)
  const idKeys = (await client.zrange(driver.keys.index("run", ["id"]), 0, "-1")).map(idKeyOf).sort()
  const suffixBatch = new Map(idKeys.map((k, i) => [k, Math.floor(i / batch)]))
  const rawKey = (key: string) => key.replace(driver.keys.prefix, rawPrefix)
  const zadds: Array<Array<Array<string>>> = Array.from({ length: batches }, () => [])
  for (const key of await keysLike(`${tablePart}x:*`)) {
    const parts: Array<Array<string>> = Array.from({ length: batches }, () => [])
    for (const m of await client.zrange(key, 0, "-1")) parts[suffixBatch.get(idKeyOf(m))!]!.push("0", m)
    parts.forEach((args, b) => args.length > 0 && zadds[b]!.push([rawKey(key), ...args]))
  }
  const hsets: Array<Array<Array<string>>> = Array.from({ length: batches }, () => [])
  for (const key of await keysLike(`${tablePart}u:*`)) {
    const parts: Array<Array<string>> = Array.from({ length: batches }, () => [])
    const claims = await client.hgetall(key)
    for (const [field, owner] of Object.entries(claims)) parts[batchOf.get(Number(owner))!]!.push(field, owner)
    parts.forEach((args, b) => args.length > 0 && hsets[b]!.push([rawKey(key), ...args]))
  }
  const start = performance.now()
  for (let b = 0; b < batches; b++) {
    const pipeline = client.pipeline()
    const kv: Array<string> = []
    for (let i = b * batch; i < Math.min(json.length, (b + 1) * batch); i++) kv.push(rawKey(driver.keys.doc("run", ids[i]!)), json[i]!)
    pipeline.mset(kv)
    for (const [key, ...args] of zadds[b]!) pipeline.zadd(key!, ...args)
    for (const [key, ...args] of hsets[b]!) pipeline.hset(key!, ...args)
    await pipeline.exec()
  }
  const perSec = json.length / ((performance.now() - start) / 1000)
  await Effect.runPromise(RedisStore.fromClient(client, { prefix: rawPrefix }).pipe(Effect.flatMap((d) => d.drop())))
  return perSec
}
