/**
 * The MongoDB store: the `Driver` on the official driver, one collection per table in one database, every
 * document stored as described in Encoding, queries compiled as described in Compile. See the package README
 * for the layout, the indexes, round trips per query and what changes on a sharded cluster.
 */
import type { MongoClient } from "mongodb"
import { Config, Effect, Layer, Redacted, Schedule } from "effect"
import { type Ast, Driver, Evaluator, Store, type StoreError } from "@lineage/core"
import { Catalog, collectionName, type Layout } from "./Catalog.js"
import { nativeOperators } from "./Compile.js"
import { type MongoStoreOptions, open, resolve } from "./Connection.js"
import { declare } from "./Declare.js"
import { documentLimit } from "./DocumentSize.js"
import { failure } from "./Failures.js"
import * as Ids from "./Ids.js"
import { dropAll, type Namespace } from "./Namespace.js"
import * as Reads from "./Reads.js"
import * as Writes from "./Writes.js"

export type Deployment = "standalone" | "replicaSet" | "sharded"

export interface MongoDriver extends Driver.Driver {
  readonly client: MongoClient
  readonly database: string
  readonly prefix: string
  readonly deployment: Deployment
  /** The collection holding a table. */
  readonly collectionName: (table: string) => string
  readonly explain: (table: string, spec: Ast.FindSpec) => Effect.Effect<Reads.Explained, StoreError>
  /** Drops every collection of this prefix (the whole namespace). For tests and teardown. */
  readonly drop: () => Effect.Effect<void, StoreError>
}

export { nativeOperators }
export type { Explained } from "./Reads.js"

/** A request that only reads may be re-sent after a lost connection. */
const readRetry = Schedule.jittered(Schedule.exponential("40 millis"))

interface Built {
  readonly namespace: Namespace
  readonly database: string
  readonly owned: boolean
  readonly deployment: Deployment
}

/**
 * The driver's calls, each one request to MongoDB (or a few), its failure mapped to a `StoreError`, behind the
 * driver contract's input checks (`Driver.validated`).
 */
const build = ({ namespace: ns, database, owned, deployment }: Built): MongoDriver => {
  const attempt = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, StoreError> =>
    Effect.tryPromise({ try: f, catch: (e) => failure(what, e, ns.secret) })
  const read = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, StoreError> =>
    Effect.retry(attempt(what, f), { while: (e) => e.isRetryable, schedule: readRetry, times: 3 })
  return Driver.validated({
    name: "mongodb",
    capabilities: { transactions: ns.transactions, shared: true, nativeOperators },
    client: ns.client,
    database,
    prefix: ns.layout.prefix,
    deployment,
    collectionName: (table) => collectionName(ns.layout, table),
    declare: (specs) => attempt("declare", () => declare(ns, specs)),
    reserveIds: (table, count) => attempt("reserveIds", () => Ids.reserve(ns, table, count)),
    insert: (table, docs) => attempt("insert", () => Writes.insert(ns, table, docs)),
    update: (table, id, patch, expect) => attempt("update", () => Writes.update(ns, table, id, patch, expect)),
    remove: (table, ids) => attempt("remove", () => Writes.remove(ns, table, ids)),
    batch: ns.transactions ? (ops) => attempt("batch", () => Writes.batch(ns, ops)) : undefined,
    get: (table, ids) => read("get", () => Reads.get(ns, table, ids)),
    find: (table, spec) => read("find", () => Reads.find(ns, table, spec)),
    count: (table, where) => read("count", () => Reads.count(ns, table, where)),
    // Outside the driver contract, so outside its checks: the condition is checked here.
    explain: (table, spec) =>
      attempt("explain", async () => {
        await ns.catalog.table(table)
        Evaluator.check(spec.where)
        return Reads.explain(spec)
      }),
    drop: () => attempt("drop", () => dropAll(ns)),
    close: () => (owned ? Effect.promise(() => ns.client.close().catch(() => undefined)) : Effect.void)
  })
}

interface Server {
  readonly deployment: Deployment
  readonly maxDocumentBytes: number
}

/**
 * From `hello`: standalone, replica set or sharded cluster (transactions need one of the latter two), and the
 * largest document the server stores.
 */
const detect = (client: MongoClient, secret?: Redacted.Redacted<string>): Effect.Effect<Server, StoreError> =>
  Effect.tryPromise({
    try: async () => {
      const hello = await client.db("admin").command({ hello: 1 })
      const deployment: Deployment = hello["msg"] === "isdbgrid" ? "sharded" : typeof hello["setName"] === "string" ? "replicaSet" : "standalone"
      return { deployment, maxDocumentBytes: documentLimit(hello) }
    },
    catch: (e) => failure("hello", e, secret)
  })

export interface FromClientOptions {
  readonly database?: string | undefined
  readonly prefix?: string | undefined
  readonly transactions?: "auto" | false | undefined
}

const assemble = (
  client: MongoClient,
  database: string,
  prefix: string,
  owned: boolean,
  transactions: "auto" | false | undefined,
  secret?: Redacted.Redacted<string>
): Effect.Effect<MongoDriver, StoreError> =>
  Effect.map(detect(client, secret), ({ deployment, maxDocumentBytes }) => {
    const layout: Layout = { db: client.db(database), prefix }
    const namespace: Namespace = {
      client,
      layout,
      catalog: new Catalog(layout),
      idFloors: new Ids.Floors(),
      transactions: transactions !== false && deployment !== "standalone",
      maxDocumentBytes,
      secret
    }
    return build({ namespace, database, owned, deployment })
  })

/** A driver on a client the caller owns: `close` leaves it open. */
export const fromClient = (client: MongoClient, options: FromClientOptions = {}): Effect.Effect<MongoDriver, StoreError> =>
  Effect.suspend(() => assemble(client, options.database ?? "lineage", options.prefix ?? "", false, options.transactions))

/** Opens a client from options or a URL; the driver's `close` closes it. */
export const make = (options: MongoStoreOptions = {}): Effect.Effect<MongoDriver, StoreError> =>
  Effect.gen(function* () {
    const resolved = yield* resolve(options)
    const client = yield* open(resolved, options)
    return yield* assemble(client, resolved.database, resolved.prefix, true, options.transactions, resolved.password).pipe(
      Effect.tapError(() => Effect.promise(() => client.close().catch(() => undefined)))
    )
  })

/** `make({ ...options, url })`; with one argument, what `Lineage.connect("mongodb://…")` calls. */
export const fromUrl = (url: string | Redacted.Redacted<string>, options: Omit<MongoStoreOptions, "url"> = {}): Effect.Effect<MongoDriver, StoreError> =>
  make({ ...options, url })

/** The `Store` service on a MongoDB driver the layer opens and closes. */
export const layer = (options: MongoStoreOptions = {}): Layer.Layer<Store.Store, StoreError> => Store.layer(make(options))

/** The `Store` service on a client the caller owns (and closes). */
export const layerFromClient = (client: MongoClient, options: FromClientOptions = {}): Layer.Layer<Store.Store, StoreError> =>
  Store.layer(fromClient(client, options))

/**
 * The `Store` service from configuration, e.g.
 * `layerConfig({ url: Config.Redacted("MONGODB_URL"), prefix: Config.String("LINEAGE_PREFIX") })`.
 */
export const layerConfig = (config: Config.Wrap<MongoStoreOptions>): Layer.Layer<Store.Store, StoreError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.unwrap(config), layer))

export type { MongoStoreOptions }
