/**
 * The stores the reliability suite runs on, each as a URL for `Lineage.connect` on a fresh namespace, with a
 * raw view of what was persisted (read around the store's own queries) and a cleanup.
 *
 * Redis reuses test/support/redis.ts (the server at 127.0.0.1:6379 or a private one; unique prefixes;
 * `drop()` afterwards). MongoDB is a hook: see `mongoTarget`. SQLite (a fresh file per namespace) and
 * PostgreSQL (a fresh schema per namespace) come from ./sql.ts, with their integrity and index drift check.
 * Redis Cluster (a hook too: see `redisClusterTarget`) runs only where several processes share a store.
 */
import { Effect } from "effect"
import { Records } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import * as MongoStore from "@lineage/store-mongodb"
import { backdoor as mongoBackdoor, freshDatabase, mongoServer } from "../../support/mongo.js"
import { backdoor, freshPrefix, redisServer } from "../../support/redis.js"
import { prefixOn, primaryPorts } from "../../support/cluster-namespaces.js"
import { redisCluster } from "../../support/redis-cluster.js"
import { openPostgres, openSqlite } from "./sql.js"

export interface Opened {
  /** For `Lineage.connect(url)` and for `LINEAGE_STORE` of a child process. */
  readonly url: string
  /** Every persisted document of every table, as JSON text, read raw; undefined where no raw view exists. */
  readonly raw?: (() => Promise<string>) | undefined
  /**
   * Index drift found by the store's own checker (Redis `verifyIndexes`), or for the SQL stores by ./sql.ts
   * (the engine's integrity check, declared indexes present, indexed queries against full scans).
   */
  readonly drift?: (() => Promise<ReadonlyArray<unknown>>) | undefined
  readonly dispose: () => Promise<void>
}

export interface Target {
  readonly name: "memory" | "redis" | "redis-cluster" | "mongodb" | "sqlite" | "postgres"
  /** Several processes can share one namespace (not the in-process memory store). */
  readonly shared: boolean
  readonly open: (label: string) => Promise<Opened>
}

const tables = Object.values(Records.models).map((m) => m.table)

export const memory: Target = {
  name: "memory",
  shared: false,
  open: async () => ({ url: "memory:", dispose: async () => undefined })
}

export const redisUrl = async (label: string): Promise<string> => {
  const server = await redisServer()
  return `${server.url}?prefix=${encodeURIComponent(freshPrefix(label))}`
}

export const redis: Target = {
  name: "redis",
  shared: true,
  open: async (label) => {
    const url = await redisUrl(label)
    const driver = await Effect.runPromise(RedisStore.fromUrl(url, { connectionName: "lineage-reliability-raw" }))
    const raw = backdoor(driver)
    return {
      url,
      raw: async () => JSON.stringify(await Promise.all(tables.map((t) => raw.all(t)))),
      drift: async () => (await Effect.runPromise(driver.verifyIndexes())).drift,
      dispose: () => Effect.runPromise(Effect.andThen(Effect.ignore(driver.drop()), driver.close()))
    }
  }
}

let nextPrimary = 0

/**
 * Redis Cluster hook: on unless `LINEAGE_RELIABILITY_REDIS_CLUSTER=0`. The three-primary, three-replica cluster
 * of this test process (test/support/redis-cluster.ts), reached by a `redis+cluster://` URL listing every node.
 * Each namespace opened lands on the next primary in turn, and says where, so the namespaces of a run are
 * spread over the shards. Index drift from the store's `verifyIndexes`; no raw view (only the secrets test
 * reads one, and it does not run here).
 */
export const redisClusterStatus = "Redis Cluster not included: LINEAGE_RELIABILITY_REDIS_CLUSTER=0"
export const redisClusterTarget = (): Target | undefined =>
  process.env["LINEAGE_RELIABILITY_REDIS_CLUSTER"] === "0"
    ? undefined
    : {
        name: "redis-cluster",
        shared: true,
        open: async (label) => {
          const cluster = await redisCluster()
          const primaries = await primaryPorts(cluster)
          const placed = await prefixOn(cluster, primaries[nextPrimary++ % primaries.length]!, label)
          console.info(`[reliability] redis-cluster: namespace ${placed.prefix} → primary 127.0.0.1:${placed.port}, slot ${placed.slot}`)
          const url = `${cluster.url}?prefix=${encodeURIComponent(placed.prefix)}`
          const driver = await Effect.runPromise(RedisStore.fromUrl(url, { connectionName: "lineage-reliability-raw" }))
          return {
            url,
            drift: async () => (await Effect.runPromise(driver.verifyIndexes())).drift,
            dispose: () => Effect.runPromise(Effect.andThen(Effect.ignore(driver.drop()), driver.close()))
          }
        }
      }

/** A database file per namespace, which several processes share (WAL). */
export const sqlite: Target = { name: "sqlite", shared: true, open: openSqlite }

/** A schema per namespace on the PostgreSQL test server (`LINEAGE_POSTGRES_URL`, else 127.0.0.1:5432). */
export const postgres: Target = { name: "postgres", shared: true, open: openPostgres }

/**
 * MongoDB hook: on unless `LINEAGE_RELIABILITY_MONGODB=0`. Uses test/support/mongo.ts (`MONGODB_URL`, else the
 * wire emulator started in this test process, which child processes reach over TCP) and a fresh database
 * per namespace, read raw through the driver's client and dropped afterwards.
 */
export const mongoStatus = "MongoDB not included: LINEAGE_RELIABILITY_MONGODB=0"
export const mongoTarget = async (): Promise<Target | undefined> => {
  if (process.env["LINEAGE_RELIABILITY_MONGODB"] === "0") return undefined
  return {
    name: "mongodb",
    shared: true,
    open: async (label) => {
      const server = await mongoServer()
      const database = freshDatabase(`rel_${label}`)
      const base = new URL(server.url)
      base.pathname = `/${database}`
      const url = base.toString()
      const driver = await Effect.runPromise(MongoStore.fromUrl(url))
      const raw = mongoBackdoor(driver)
      return {
        url,
        raw: async () => JSON.stringify(await Promise.all(tables.map((t) => raw.all(t)))),
        dispose: () => Effect.runPromise(Effect.andThen(Effect.ignore(driver.drop()), driver.close()))
      }
    }
  }
}

/** Every store the suite runs on (MongoDB when its hook is on). */
export const allTargets = async (): Promise<ReadonlyArray<Target>> => {
  const mongo = await mongoTarget()
  if (mongo === undefined) console.info(`[reliability] ${mongoStatus}`)
  return mongo === undefined ? [memory, redis, sqlite, postgres] : [memory, redis, mongo, sqlite, postgres]
}

/**
 * Stores several processes can share, Redis Cluster among them (when its hook is on): the multi-process tests
 * (races, load, killed processes) run on it, the others do not, to keep the suite's time down.
 */
export const sharedTargets = async (): Promise<ReadonlyArray<Target>> => {
  const cluster = redisClusterTarget()
  if (cluster === undefined) console.info(`[reliability] ${redisClusterStatus}`)
  const shared = (await allTargets()).filter((t) => t.shared)
  return cluster === undefined ? shared : shared.flatMap((t) => (t.name === "redis" ? [t, cluster] : [t]))
}
