/**
 * Metrics (see `Metrics`): points logged from one process through the client's buffer into each store, beside a
 * raw batched insert of the same chunks through the same driver; and the cost of one `log` call in a hot loop,
 * buffered, nothing written.
 *
 * Through the buffer: `{ loss, acc }` logged at each step (two points) with the default options, the loop yielding
 * to the event loop every 1,000 steps as a training loop awaiting its next batch would, then `flush()`: points/s
 * from the first `log` to the last point stored, chunks and run summaries included. Raw: the chunk documents that
 * run stored, inserted again (new ids, another run) with `driver.insert`, in the batches the buffer wrote them in
 * (those of one flush share their `createdAt`): the store's own write path, without the buffer, the summaries or
 * the encoding.
 *   pnpm bench -- --only=metrics [--quick]
 */
import { Ast, type Driver, Lineage, Metrics, MetricBuffer, Records, Run, Store, Transform, Uid } from "@lineage/core"
import * as MemoryStore from "@lineage/store-memory"
import * as PostgresStore from "@lineage/store-postgres"
import * as RedisStore from "@lineage/store-redis"
import * as MongoStore from "@lineage/store-mongodb"
import * as SqliteStore from "@lineage/store-sqlite"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { mongoServer } from "../test/support/mongo.js"
import { heapUsed, log, quick, runner } from "./common.js"
import * as Postgres from "./postgres.js"
import * as Redis from "./redis.js"

export interface StoreFigure {
  readonly store: string
  readonly points: number
  /** Through the buffer, flush included. */
  readonly pointsPerSec: number
  /** The same chunks inserted raw through the driver, in the same batches. */
  readonly rawPointsPerSec: number
}

export interface MetricsFigures {
  /** One `ln.log({ loss, acc })` in a hot loop (two points), buffered: nanoseconds per call. */
  readonly promiseLogNs: number
  /** One `yield* Metrics.log({ loss, acc })` in a loop inside one Effect: nanoseconds per call. */
  readonly effectLogNs: number
  readonly stores: ReadonlyArray<StoreFigure>
}

const table = Records.MetricPointsModel.table
const yieldEvery = 1_000
const tick = () => new Promise((resolve) => setImmediate(resolve))

/** Logs `points` points through the buffer of a store on `driver`, then inserts the same chunks raw. */
const throughStore = async (name: string, driver: Driver.Driver, points: number): Promise<StoreFigure> => {
  const store = await Effect.runPromise(Store.make(driver))
  const run = runner(store)
  const transform = await run(Transform.create({ key: `bench-metrics-${name}.ts`, kind: "script" }))
  const logged = await run(Run.create({ transform }))
  const other = await run(Run.create({ transform }))
  await run(Metrics.configure({ maxBufferedPoints: Math.max(points, MetricBuffer.defaults.maxBufferedPoints) }))
  const start = performance.now()
  for (let step = 0; step < points / 2; step++) {
    const refused = Metrics.logNow(store, logged, { loss: 1 / (step + 1), acc: step / points })
    if (refused !== undefined) throw refused
    if (step % yieldEvery === yieldEvery - 1) await tick()
  }
  await run(Metrics.flush({ timeoutMs: 1_800_000 }))
  const loggedMs = performance.now() - start
  if ((await run(Metrics.dropped)) > 0) throw new Error(`${name}: points were dropped`)

  const chunks = await Effect.runPromise(
    driver.find(table, { where: Ast.field(["runId"], "eq", logged.id), orderBy: [{ path: ["id"], direction: "asc" }] })
  )
  const stored = chunks.reduce((n, d) => n + (d["count"] as number), 0)
  if (stored !== points) throw new Error(`${name}: ${stored} points stored, ${points} logged`)
  const first = await Effect.runPromise(driver.reserveIds(table, chunks.length))
  const batches = new Map<unknown, Array<Driver.Doc>>()
  chunks.forEach((d, i) => {
    const batch = batches.get(d["createdAt"]) ?? []
    batch.push({ ...d, id: first + i, uid: Uid.random(16), runId: other.id })
    batches.set(d["createdAt"], batch)
  })
  const rawStart = performance.now()
  for (const batch of batches.values()) await Effect.runPromise(driver.insert(table, batch))
  const rawMs = performance.now() - rawStart

  const figure = { store: name, points, pointsPerSec: points / (loggedMs / 1_000), rawPointsPerSec: points / (rawMs / 1_000) }
  log(
    `  ${name} ${points.toLocaleString("en")} points: ${Math.round(figure.pointsPerSec).toLocaleString("en")} points/s through the buffer ` +
      `(${Math.round(loggedMs).toLocaleString("en")} ms, ${chunks.length} chunks in ${batches.size} flushes); raw insert of the same chunks ` +
      `${Math.round(figure.rawPointsPerSec).toLocaleString("en")} points/s (${Math.round(rawMs).toLocaleString("en")} ms): ` +
      `${Math.round((100 * figure.pointsPerSec) / figure.rawPointsPerSec)} % of raw`
  )
  return figure
}

/** Nanoseconds per call of `f(i)` over `calls` calls, after `calls / 10` to warm up. */
const perCall = (calls: number, f: (i: number) => void): number => {
  for (let i = 0; i < calls / 10; i++) f(i)
  const start = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) f(i)
  return Number(process.hrtime.bigint() - start) / calls
}

/** The hot loop: `log` calls buffered by a memory client whose size and interval never start a write. */
const hotLoop = async (calls: number) => {
  const options = { batchSize: 10 * calls, maxBufferedPoints: 10 * calls, flushIntervalMs: 3_600_000 }
  const ln = await Lineage.connect("memory:", { metrics: options, storage: mkdtempSync(join(tmpdir(), "lineage-bench-metrics-")) })
  try {
    await ln.track({ transform: { key: "bench-hot-loop.ts", kind: "script" }, handleProcess: false })
    const promiseLogNs = perCall(calls, (i) => ln.log({ loss: 1 / (i + 1), acc: i / calls }))
    const store = await Effect.runPromise(Store.make(MemoryStore.makeDriver()))
    const run = runner(store)
    await run(Metrics.configure(options))
    const transform = await run(Transform.create({ key: "bench-hot-loop-effect.ts", kind: "script" }))
    const target = await run(Run.create({ transform }))
    const loop = (n: number, from: number) =>
      Effect.gen(function* () {
        for (let i = from; i < from + n; i++) yield* Metrics.logTo(target, { loss: 1 / (i + 1), acc: i / calls })
      })
    await run(loop(calls / 10, 0))
    const start = process.hrtime.bigint()
    await run(loop(calls, calls / 10))
    const effectLogNs = Number(process.hrtime.bigint() - start) / calls
    log(`  hot loop, ${calls.toLocaleString("en")} calls of { loss, acc }: ln.log ${promiseLogNs.toFixed(0)} ns/call, yield* Metrics.logTo ${effectLogNs.toFixed(0)} ns/call`)
    return { promiseLogNs, effectLogNs }
  } finally {
    await ln.close()
  }
}

const sqlite = async (points: number) => {
  const dir = mkdtempSync(join(tmpdir(), "lineage-bench-metrics-sqlite-"))
  const driver = await Effect.runPromise(SqliteStore.make({ filename: join(dir, "bench.db") }))
  try {
    return await throughStore("sqlite", driver, points)
  } finally {
    await Effect.runPromise(driver.close())
    rmSync(dir, { recursive: true, force: true })
  }
}

const redis = async (points: number) => {
  const driver = await Effect.runPromise(RedisStore.make({ url: Redis.url, prefix: `lineage-bench-metrics:${process.pid}-${randomBytes(3).toString("hex")}` }))
  try {
    return await throughStore("redis", driver, points)
  } finally {
    await Effect.runPromise(Effect.ignore(driver.drop()))
    await Effect.runPromise(driver.close())
  }
}

const postgres = async (points: number) => {
  const driver = await Effect.runPromise(PostgresStore.makeDriver({ url: Postgres.url, schema: `lineage_bench_metrics_${process.pid}_${randomBytes(3).toString("hex")}` }))
  try {
    return await throughStore("postgres", driver, points)
  } finally {
    await Effect.runPromise(Effect.ignore(driver.drop()))
    await Effect.runPromise(driver.close())
  }
}

const mongodb = async (points: number) => {
  const server = await mongoServer()
  const database = `lineage_bench_metrics_${process.pid}_${randomBytes(3).toString("hex")}`
  const driver = await Effect.runPromise(MongoStore.make({ url: server.url, database }))
  try {
    return await throughStore(`mongodb (${server.label})`, driver, points)
  } finally {
    await Effect.runPromise(Effect.ignore(Effect.tryPromise(() => driver.client.db(database).dropDatabase())))
    await Effect.runPromise(driver.close())
    await server.stop()
  }
}

/** Every store at its size (a million points where a store takes them in seconds), and the hot loop. */
export const measure = async (): Promise<MetricsFigures> => {
  const million = quick ? 20_000 : 1_000_000
  const hot = await hotLoop(quick ? 100_000 : 1_000_000)
  const stores: Array<StoreFigure> = []
  heapUsed()
  stores.push(await throughStore("memory", MemoryStore.makeDriver(), million))
  heapUsed()
  stores.push(await sqlite(million))
  if (await Redis.available()) {
    heapUsed()
    stores.push(await redis(million))
  } else log(`  no Redis answers at ${Redis.url}: skipped`)
  if (await Postgres.available()) {
    heapUsed()
    stores.push(await postgres(quick ? 20_000 : 200_000))
  } else log(`  no PostgreSQL answers at ${Postgres.url}: skipped`)
  heapUsed()
  stores.push(await mongodb(quick ? 20_000 : 100_000))
  return { ...hot, stores }
}
