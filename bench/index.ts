/**
 * The performance figures, each beside a baseline measured in the same run:
 *   pnpm bench                 memory at 10k, 100k and 1M runs; Redis at 100k; MongoDB at 10k beside the raw
 *                              driver; SQLite and PostgreSQL at 1M beside hand-written SQL; track() + finish()
 *   pnpm bench -- --quick      the same at small sizes, to check that it works (CI); results go to *-quick files
 *   pnpm bench -- --only=memory,redis,mongodb,sqlite,postgres,tracking,cluster,metrics   (prints only)
 *   metrics: 1,000,000 points (20,000 quick) through the buffer into memory, SQLite and Redis, 200,000 into PostgreSQL,
 *            100,000 into MongoDB, each beside a raw insert of the same chunks; one `log` call in a hot loop (printed only)
 *   cluster: 48 namespaces (12 quick) queried and written by 4 client processes (2 quick) on a Redis Cluster of
 *            one primary and on one of three, in turns, both started with redis-server (skipped with a note without it)
 * Writes bench/results/latest.md and bench/results/scaling.svg. Redis: $REDIS_URL or 127.0.0.1:6379;
 * PostgreSQL: $LINEAGE_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/test (each skipped with a note when
 * none answers).
 */
import * as Cluster from "./cluster.js"
import { enabled, heapUsed, log, partial, quick } from "./common.js"
import * as Memory from "./memory.js"
import * as Metrics from "./metrics.js"
import * as Mongo from "./mongo.js"
import * as Postgres from "./postgres.js"
import * as Redis from "./redis.js"
import * as Sqlite from "./sqlite.js"
import { type Figures, printConsole, write } from "./report.js"
import * as Tracking from "./tracking.js"

const memorySizes = quick ? [1_000, 5_000] : [10_000, 100_000, 1_000_000]
const redisSize = quick ? 2_000 : 100_000
const sqliteSize = quick ? 2_000 : 1_000_000
const postgresSize = quick ? 2_000 : 1_000_000

const memory: Array<Memory.MemoryFigures> = []
if (enabled("memory")) {
  log("memory store")
  for (const size of memorySizes) memory.push(await Memory.measure(size, { baselines: true }))
}

const redisUp = (enabled("redis") || enabled("tracking")) && (await Redis.available())
if (!redisUp && (enabled("redis") || enabled("tracking"))) log(`no Redis answers at ${Redis.url}: Redis figures skipped`)
let redis: Redis.RedisFigures | undefined
if (enabled("redis") && redisUp) {
  log("redis store")
  heapUsed() // each section starts on a collected heap: the one before leaves up to a million runs of garbage
  redis = await Redis.measure(redisSize)
}

let mongo: Mongo.MongoFigures | undefined
if (enabled("mongodb")) {
  log("mongodb store")
  heapUsed()
  mongo = await Mongo.measure(quick ? 1_000 : 10_000)
}

let sqlite: Sqlite.SqliteFigures | undefined
if (enabled("sqlite")) {
  log("sqlite store")
  heapUsed()
  sqlite = await Sqlite.measure(sqliteSize)
}

const postgresUp = (enabled("postgres") || enabled("tracking")) && (await Postgres.available())
if (!postgresUp && (enabled("postgres") || enabled("tracking"))) log(`no PostgreSQL answers at ${Postgres.url}: PostgreSQL figures skipped`)
let postgres: Postgres.PostgresFigures | undefined
if (enabled("postgres") && postgresUp) {
  log("postgres store")
  heapUsed()
  postgres = await Postgres.measure(postgresSize)
}

let tracking: Figures["tracking"]
if (enabled("tracking")) {
  log("track() + finish()")
  heapUsed()
  tracking = {
    memoryMs: await Tracking.memory(),
    redisMs: redisUp ? await Tracking.redis() : undefined,
    sqliteMs: await Tracking.sqlite(),
    postgresMs: postgresUp ? await Tracking.postgres() : undefined
  }
}

let cluster: Cluster.ClusterFigures | undefined
if (enabled("cluster")) {
  if (!Cluster.available()) log("no redis-server or redis-cli to start a cluster with: Redis Cluster figures skipped")
  else {
    log("redis cluster: namespaces on one primary and on three, in turns")
    heapUsed()
    cluster = await Cluster.measure(
      quick
        ? { namespaces: 12, workers: 2, preload: 100, batch: 20, phaseMs: 1_500, rounds: 1 }
        : { namespaces: 48, workers: 4, preload: 500, batch: 50, phaseMs: 8_000, rounds: 4 }
    )
  }
}

if (enabled("metrics")) {
  log("metrics: points through the buffer, beside a raw insert of the same chunks; one log call in a hot loop")
  heapUsed()
  await Metrics.measure()
}

const figures: Figures = {
  quick,
  memory,
  redis,
  mongo,
  sqlite,
  postgres,
  tracking,
  cluster,
  memoryTargetSize: 1_000_000,
  redisTargetSize: 100_000,
  sqliteTargetSize: 1_000_000,
  postgresTargetSize: 1_000_000
}
printConsole(figures)
if (process.argv.includes("--no-write") || partial) process.exit(0)
log(`\nwrote ${write(figures)}`)
process.exit(0)
