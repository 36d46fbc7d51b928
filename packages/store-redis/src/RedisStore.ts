/**
 * The Redis store: the `Driver` on an ioredis client, in one namespace (`{prefix}`) of one Redis database or
 * of a Redis Cluster (where the namespace is one hash slot). See the package README for the key layout and
 * what it means on Redis Cluster.
 */
import { Config, Effect, Layer, Redacted } from "effect"
import { Driver, Evaluator, IndexPlanner, Store, StoreError } from "@lineage/core"
import type { Ast } from "@lineage/core"
import { Catalog } from "./Catalog.js"
import { beforeRetry, isCluster, open, type RedisClient, scanBatches } from "./Client.js"
import {
  boundsOf,
  type Bounds,
  checkWait,
  type Connection,
  defaultPrefix,
  failure,
  type RedisStoreOptions,
  requestTimeoutMs,
  resolve,
  type WaitForReplicas,
  withRetry
} from "./Connection.js"
import { declare } from "./Declare.js"
import * as Executor from "./Executor.js"
import { invalidPrefix, keySpace, type KeySpace } from "./Keys.js"
import { measure, planCount, planFind, type Plan } from "./Planner.js"
import { type IndexReport, verifyIndexes } from "./Verify.js"
import { applied, type Namespace, newToken, type Prepared, replicated, reserve, write, Written } from "./Writes.js"

type Doc = Evaluator.Doc

export interface Stats {
  /** Documents read by full scans. */
  readonly scanned: number
  /** Documents fetched by queries, whatever the access path. */
  readonly fetched: number
  /** Documents checked with the reference evaluator. */
  readonly examined: number
  /** Index entries read by queries. */
  readonly entries: number
  /** Writes whose reply was lost with a connection and which were found already applied (not applied twice). */
  readonly replayedWrites: number
}

export interface RedisDriver extends Driver.Driver {
  readonly batch: (ops: ReadonlyArray<Driver.WriteOp>) => Effect.Effect<void, StoreError>
  /** The namespace: every key is `{prefix}:…`. */
  readonly prefix: string
  readonly keys: KeySpace
  /** The ioredis client, one server's or a cluster's (the caller's, from `fromClient`, or the one `make` opened). */
  readonly client: RedisClient
  /** The plan `find` would run (index sizes are read from Redis), without running it. */
  readonly explain: (table: string, spec: Ast.FindSpec) => Effect.Effect<Plan, StoreError>
  /** Checks every document against every index and unique constraint; see `IndexReport`. */
  readonly verifyIndexes: () => Effect.Effect<IndexReport, StoreError>
  /**
   * Deletes every key of the namespace but its schema version, which it advances, and returns how many it
   * deleted (SCAN of every primary + UNLINK). For tests and teardown.
   */
  readonly drop: () => Effect.Effect<number, StoreError>
  /** Work done by queries since creation or the last `resetStats`. */
  readonly stats: () => Stats
  readonly resetStats: () => void
}

/** Operators whose candidates come from indexes; the rest are filtered by the evaluator. */
export const nativeOperators: ReadonlyArray<Ast.Operator> = IndexPlanner.indexedOperators

interface Built {
  readonly client: RedisClient
  readonly prefix: string
  readonly owned: boolean
  readonly secret?: Redacted.Redacted<string> | undefined
  readonly bounds: Bounds
  readonly wait?: WaitForReplicas | undefined
}

/** What the methods of one driver share. */
interface Handle {
  readonly ns: Namespace
  readonly counters: Executor.Counters
  /** Runs a request that may be retried as is: reads, and writes made idempotent by their token. */
  readonly request: <A>(what: string, f: () => Promise<A>) => Effect.Effect<A, StoreError>
}

/** Applies `ops` as one write; a retry after a lost connection first asks whether the lost attempt applied. */
const writeOps = ({ ns, request }: Handle, what: string, ops: ReadonlyArray<Driver.WriteOp>): Effect.Effect<Prepared, StoreError> =>
  Effect.suspend(() => {
    const token = newToken()
    let inFlight: Prepared | undefined
    return request(what, async () => {
      // A previous attempt sent its script and then failed (a lost connection, too few replicas): it may
      // have applied, and then only the wait for replicas is still to do.
      if (inFlight !== undefined && (await applied(ns, token))) {
        ns.written.remember(inFlight)
        await replicated(ns, token)
        return inFlight
      }
      return write(ns, ops, token, (prepared) => (inFlight = prepared))
    })
  })

const reserveIds = async (ns: Namespace, name: string, count: number): Promise<number> => {
  await ns.catalog.table(name)
  return (await reserve(ns, name, count)) - count + 1
}

/** Index sizes for `where`; if another handle has declared since, with this handle's tables refreshed. */
const measured = async (ns: Namespace, name: string, where: Ast.Cond) => {
  let table = await ns.catalog.table(name)
  let sizes = await measure(ns, table, where)
  if (sizes.version !== (await ns.catalog.current()).version) {
    table = (await ns.catalog.reload()).tables.get(name) ?? table
    sizes = await measure(ns, table, where)
  }
  return { table, sizes }
}

const explainFind = async (ns: Namespace, name: string, spec: Ast.FindSpec) => {
  const { table, sizes } = await measured(ns, name, spec.where)
  return { table, sizes, plan: planFind(table, sizes, spec) }
}

/**
 * Deletes every key of the namespace but its schema version (SCAN of every primary + UNLINK) and returns how
 * many. Versions never repeat, so the write script's version check fences the drop: the tables' definitions go
 * and the version advances in one transaction first, so no write prepared against the dropped tables applies
 * once the scan has begun (it is refused, reloads, and finds no table); the version advances again at the end,
 * past any definition declared while the keys were going (which the drop takes part of: do not declare during
 * a drop). `reserveIds` is not fenced: one during the drop may leave the id counter, so ids stay unique.
 */
const dropNamespace = async (ns: Namespace): Promise<number> => {
  const fence = await ns.client.multi().unlink(ns.keys.schema, ns.keys.schemaIndexes).incr(ns.keys.schemaVersion).exec()
  const failed = fence?.find(([e]) => e !== null)?.[0]
  if (fence === null || failed) throw failed ?? new Error("dropping the namespace: the transaction was aborted")
  let removed = Number(fence[0]?.[1] ?? 0)
  for await (const found of scanBatches(ns.client, ns.keys.all)) {
    const doomed = found.filter((key) => key !== ns.keys.schemaVersion)
    if (doomed.length > 0) removed += await ns.client.unlink(...doomed)
  }
  await ns.client.incr(ns.keys.schemaVersion)
  await ns.catalog.reload()
  return removed
}

const resetStats = ({ ns, counters }: Handle): void => {
  counters.scanned = 0
  counters.fetched = 0
  counters.examined = 0
  counters.entries = 0
  ns.replays.count = 0
}

/** Closes the client if the driver opened it. */
const closeClient = (client: RedisClient, owned: boolean): Effect.Effect<void> =>
  owned
    ? Effect.promise(async () => {
        try {
          await client.quit()
        } catch {
          // Already gone: make sure no reconnect keeps the process alive.
          client.disconnect()
        }
      })
    : Effect.void

const handleOf = ({ client, prefix, secret, bounds, wait }: Built): Handle => {
  const keys = keySpace(prefix)
  const { retry, tokenTtlMs } = bounds
  return {
    ns: { client, keys, catalog: new Catalog(client, keys), tokenTtlMs, wait, replays: { count: 0 }, written: new Written() },
    counters: { scanned: 0, fetched: 0, examined: 0, entries: 0 },
    request: (what, f) =>
      withRetry(
        Effect.tryPromise({
          try: async () => {
            try {
              return await f()
            } catch (e) {
              await beforeRetry(client, e)
              throw e
            }
          },
          catch: (e) => failure(what, e, secret, isCluster(client))
        }),
        retry
      )
  }
}

/** The driver behind the contract's checks (`Driver.validated`): what reaches the methods below is well formed. */
const build = (built: Built): RedisDriver => {
  const handle = handleOf(built)
  const { ns, counters, request } = handle
  return Driver.validated<RedisDriver>({
    name: "redis",
    capabilities: { transactions: true, shared: true, nativeOperators },
    prefix: built.prefix,
    keys: ns.keys,
    client: ns.client,
    declare: (specs) => request("declare", () => declare(ns, specs)),
    reserveIds: (name, count) => request("reserveIds", () => reserveIds(ns, name, count)),
    insert: (table, docs) => Effect.asVoid(writeOps(handle, "insert", [{ _tag: "Insert", table, docs }])),
    update: (table, id, patch, expect) =>
      Effect.map(writeOps(handle, "update", [{ _tag: "Update", table, id, patch, expect }]), (p): Doc => p.updated[0]!),
    remove: (table, ids) => Effect.map(writeOps(handle, "remove", [{ _tag: "Delete", table, ids }]), (p) => p.removed),
    batch: (ops) => Effect.asVoid(writeOps(handle, "batch", ops)),
    get: (name, ids) =>
      request("get", async () => {
        await ns.catalog.table(name)
        return Executor.fetchDocs(ns, name, ids)
      }),
    find: (name, spec) =>
      request("find", async () => {
        const { table, sizes, plan } = await explainFind(ns, name, spec)
        return Executor.find(ns, table, plan.access, spec, sizes, counters)
      }),
    count: (name, where) =>
      request("count", async () => {
        const { table, sizes } = await measured(ns, name, where)
        return Executor.count(ns, table, planCount(table, sizes, where).access, where, sizes, counters)
      }),
    // This store's own method: the contract's checks do not cover its condition.
    explain: (name, spec) =>
      request("explain", async () => {
        Evaluator.check(spec.where)
        return (await explainFind(ns, name, spec)).plan
      }),
    verifyIndexes: () => request("verifyIndexes", () => verifyIndexes(ns)),
    drop: () => request("drop", () => dropNamespace(ns)),
    stats: () => ({ ...counters, replayedWrites: ns.replays.count }),
    resetStats: () => resetStats(handle),
    close: () => closeClient(ns.client, built.owned)
  })
}

export interface FromClientOptions {
  readonly prefix?: string | undefined
  readonly retry?: RedisStoreOptions["retry"]
  readonly writeTokenTtlMs?: number | undefined
  readonly waitForReplicas?: RedisStoreOptions["waitForReplicas"]
}

/** A driver on a client the caller owns (one server's `Redis` or a `Cluster`): `close` leaves it open. */
export const fromClient = (client: RedisClient, options: FromClientOptions = {}): Effect.Effect<RedisDriver, StoreError> =>
  Effect.suspend(() => {
    const prefix = options.prefix ?? defaultPrefix
    const why = invalidPrefix(prefix)
    if (why !== undefined) return Effect.fail(StoreError.invalid(`invalid Redis store prefix: ${why}`))
    const wait = options.waitForReplicas === undefined ? undefined : checkWait(options.waitForReplicas)
    if (typeof wait === "string") return Effect.fail(StoreError.invalid(`invalid Redis option: ${wait}`))
    // The client's own command timeout is the caller's: the token's lifetime is checked against ours.
    const bounds = boundsOf(options, wait)
    if (typeof bounds === "string") return Effect.fail(StoreError.invalid(`invalid Redis option: ${bounds}`))
    return Effect.succeed(build({ client, prefix, owned: false, bounds, wait }))
  })

/** Opens a client from options or a URL; the driver's `close` closes it. */
export const make = (options: RedisStoreOptions = {}): Effect.Effect<RedisDriver, StoreError> =>
  Effect.gen(function* () {
    const { connection, prefix, waitForReplicas, bounds } = yield* resolve(options)
    const timeouts = { connectMs: options.connectTimeoutMs ?? 2_000, commandMs: requestTimeoutMs(bounds.commandTimeoutMs, waitForReplicas) }
    const client = yield* withRetry(open(connection, timeouts, options.connectionName), bounds.retry)
    return build({ client, prefix, owned: true, secret: connection.password, bounds, wait: waitForReplicas })
  })

/** `make({ ...options, url })`. */
export const fromUrl = (url: string | Redacted.Redacted<string>, options: Omit<RedisStoreOptions, "url"> = {}): Effect.Effect<RedisDriver, StoreError> =>
  make({ ...options, url })

/** The `Store` service on a Redis driver the layer opens and closes. */
export const layer = (options: RedisStoreOptions = {}): Layer.Layer<Store.Store, StoreError> => Store.layer(make(options))

/** The `Store` service on a client the caller owns (and closes). */
export const layerFromClient = (client: RedisClient, options: FromClientOptions = {}): Layer.Layer<Store.Store, StoreError> =>
  Store.layer(fromClient(client, options))

/**
 * The `Store` service from configuration, e.g.
 * `layerConfig({ url: Config.Redacted("REDIS_URL"), prefix: Config.String("LINEAGE_PREFIX") })`.
 */
export const layerConfig = (config: Config.Wrap<RedisStoreOptions>): Layer.Layer<Store.Store, StoreError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.unwrap(config), layer))

export type { Connection }
