/**
 * The MongoDB store: the `Driver` on the official driver, one collection per table in one database, every
 * document stored as described in Encoding, queries compiled as described in Compile. See the package README
 * for the layout, the indexes, round trips per query and what changes on a sharded cluster.
 */
import type { ClientSession, Collection, Document, Filter, MongoClient, Sort } from "mongodb"
import { Config, Effect, Layer, Redacted, Schedule } from "effect"
import { Driver, Evaluator, Store, StoreError } from "@lineage/core"
import type { Ast } from "@lineage/core"
import { Catalog, collectionName, type Declared, idsCollection, indexModels, invalidTable, type Layout, legacyIndexName } from "./Catalog.js"
import { afterFilter, compile, type Compiled, nativeOperators, nativeSort } from "./Compile.js"
import { type MongoStoreOptions, open, resolve } from "./Connection.js"
import { checkSize, documentLimit } from "./DocumentSize.js"
import { fromStored, type Stored, toStored } from "./Encoding.js"
import { failure, type WriteContext } from "./Failures.js"

type Doc = Driver.Doc

export type Deployment = "standalone" | "replicaSet" | "sharded"

/** What `find` would send: the server filter and sort, and what is left to do in memory. */
export interface Explained {
  readonly filter: Document
  /** `[field, direction]` pairs, `_id` last. */
  readonly sort: ReadonlyArray<readonly [string, 1 | -1]> | undefined
  /** The filter alone is the answer; otherwise candidates are re-checked with `Evaluator.predicate`. */
  readonly exact: boolean
  /** The order is applied in memory (an order key on a nested path). */
  readonly sortInMemory: boolean
}

export interface MongoDriver extends Driver.Driver {
  readonly client: MongoClient
  readonly database: string
  readonly prefix: string
  readonly deployment: Deployment
  /** The collection holding a table. */
  readonly collectionName: (table: string) => string
  readonly explain: (table: string, spec: Ast.FindSpec) => Effect.Effect<Explained, StoreError>
  /** Drops every collection of this prefix (the whole namespace). For tests and teardown. */
  readonly drop: () => Effect.Effect<void, StoreError>
}

export { nativeOperators }

/** A request that only reads may be re-sent after a lost connection. */
const readRetry = Schedule.jittered(Schedule.exponential("40 millis"))

const projection = { projection: { j: 1 } } as const
/** Candidates are read in batches, so a page stops fetching once it is full. */
const batchSize = 200
/** Compare-and-set retries of an update racing other updates of the same document. */
const maxUpdateAttempts = 100
/** mongod's indexes per collection, `_id_` included (`IndexCatalogImpl::kMaxNumIndexesAllowed`). */
const maxIndexesPerCollection = 64

interface Built {
  readonly client: MongoClient
  readonly database: string
  readonly prefix: string
  readonly owned: boolean
  readonly deployment: Deployment
  readonly transactions: boolean
  /** The server's largest document, bytes of BSON. */
  readonly maxDocumentBytes: number
  readonly secret?: Redacted.Redacted<string> | undefined
}

const idOf = (table: string, doc: Doc): number => {
  const id = doc["id"]
  if (typeof id !== "number" || !Number.isSafeInteger(id)) throw StoreError.invalid(`a ${table} document needs an integer id, got ${JSON.stringify(id)}`)
  return id
}

/** Options carrying a session only when there is one (`exactOptionalPropertyTypes`). */
const inSession = (session: ClientSession | undefined): { session?: ClientSession } => (session === undefined ? {} : { session })

const checkIds = (ids: ReadonlyArray<number>): Array<number> => {
  if (!Array.isArray(ids)) throw StoreError.invalid("ids must be an array")
  return ids.filter((id) => Number.isSafeInteger(id))
}

const build = (b: Built): MongoDriver => {
  const db = b.client.db(b.database)
  const layout: Layout = { db, prefix: b.prefix }
  const catalog = new Catalog(layout)
  const coll = (table: string): Collection<Stored> => db.collection<Stored>(collectionName(layout, table))
  const ids = (): Collection<Document> => db.collection(idsCollection(layout))

  const attempt = <A>(what: string, f: () => Promise<A>, ctx?: () => WriteContext | undefined): Effect.Effect<A, StoreError> =>
    Effect.tryPromise({ try: f, catch: (e) => failure(what, e, b.secret, ctx?.()) })
  const read = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, StoreError> =>
    Effect.retry(attempt(what, f), { while: (e) => e.isRetryable, schedule: readRetry, times: 3 })

  /** Runs `f` in a transaction when the deployment has them and more than one document is written. */
  const atomically = async <A>(f: (session: ClientSession | undefined) => Promise<A>): Promise<A> => {
    if (!b.transactions) return f(undefined)
    const session = b.client.startSession()
    try {
      let out: A | undefined
      await session.withTransaction(async () => {
        out = await f(session)
      })
      return out as A
    } finally {
      await session.endSession()
    }
  }

  /** A duplicate key's constraint may have been declared by another handle: map it with a fresh catalog. */
  const writeContext = async (table: string, docs: ReadonlyArray<Doc>, e: unknown): Promise<never> => {
    const first = failure("write", e, b.secret, { table, unique: (await catalog.table(table)).unique, docs })
    if (first.reason._tag === "UniqueViolation" && first.reason.fields.length === 0 && first.reason.constraint !== "id") {
      await catalog.reload().catch(() => undefined)
      throw failure("write", e, b.secret, { table, unique: (await catalog.table(table)).unique, docs })
    }
    throw first
  }

  const insertDocs = async (table: string, docs: ReadonlyArray<Doc>, session: ClientSession | undefined): Promise<void> => {
    await catalog.table(table)
    if (!Array.isArray(docs)) throw StoreError.invalid("insert takes an array of documents")
    if (docs.length === 0) return
    const stored = docs.map((d) => {
      idOf(table, d)
      const s = toStored(d, 0)
      checkSize(table, d, s, b.maxDocumentBytes, docs.length > 1)
      return s
    })
    try {
      if (stored.length === 1) await coll(table).insertOne(stored[0]!, inSession(session))
      else await coll(table).insertMany(stored, { ordered: true, ...inSession(session) })
    } catch (e) {
      // Without a transaction, an ordered insert stops at its first failure: take back the documents it wrote
      // (their ids were reserved for us, and `v: 0` means nobody has updated them since).
      if (session === undefined && stored.length > 1) {
        const inserted = (e as { readonly insertedIds?: Record<string, unknown> }).insertedIds
        const written = inserted === undefined ? [] : Object.values(inserted).filter((x): x is number => typeof x === "number")
        if (written.length > 0) await coll(table).deleteMany({ _id: { $in: written }, v: 0 }).catch(() => undefined)
      }
      return writeContext(table, docs, e)
    }
  }

  const updateDoc = async (table: string, id: number, patch: Doc, expect: Doc | undefined, session: ClientSession | undefined): Promise<Doc> => {
    await catalog.table(table)
    if (patch === null || typeof patch !== "object" || Array.isArray(patch)) throw StoreError.invalid("an update patch must be an object")
    if (!Number.isSafeInteger(id)) throw StoreError.notFound(table, id)
    for (let i = 0; i < maxUpdateAttempts; i++) {
      const raw = await coll(table).findOne({ _id: id }, { projection: { j: 1, v: 1 }, ...inSession(session) })
      if (raw === null) throw StoreError.notFound(table, id)
      const current = fromStored(raw)
      Driver.checkExpect(table, id, current, expect)
      const next: Doc = JSON.parse(JSON.stringify({ ...current, ...patch, id })) as Doc
      const version = typeof raw.v === "number" ? raw.v : 0
      const stored = toStored(next, version + 1)
      checkSize(table, next, stored, b.maxDocumentBytes)
      let matched: number
      try {
        matched = (await coll(table).replaceOne({ _id: id, v: version }, stored, inSession(session))).matchedCount
      } catch (e) {
        return writeContext(table, [next], e)
      }
      if (matched === 1) return next
      // Someone else changed (or removed) it between our read and write: read again, check `expect` again.
    }
    throw StoreError.unavailable(`update of ${table} ${id} kept racing other writers`)
  }

  const removeDocs = async (table: string, list: ReadonlyArray<number>, session: ClientSession | undefined): Promise<number> => {
    await catalog.table(table)
    const valid = checkIds(list)
    if (valid.length === 0) return 0
    return (await coll(table).deleteMany({ _id: { $in: valid } }, inSession(session))).deletedCount
  }

  const plan = (spec: Ast.FindSpec): { readonly compiled: Compiled; readonly sort: ReadonlyArray<readonly [string, 1 | -1]> | undefined } => {
    Evaluator.check(spec.where)
    for (const [name, n] of [["limit", spec.limit], ["offset", spec.offset]] as const)
      if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) throw StoreError.invalid(`${name} must be a non-negative integer, got ${n}`)
    return { compiled: compile(spec.where), sort: nativeSort(spec.orderBy) }
  }

  const explainSpec = (spec: Ast.FindSpec): Explained => {
    const { compiled, sort } = plan(spec)
    const filter =
      sort !== undefined && spec.after !== undefined ? { $and: [compiled.filter, afterFilter(spec.orderBy, spec.after)] } : compiled.filter
    return { filter, sort, exact: compiled.exact, sortInMemory: sort === undefined }
  }

  const findDocs = async (table: string, spec: Ast.FindSpec): Promise<ReadonlyArray<Doc>> => {
    await catalog.table(table)
    const ex = explainSpec(spec)
    const offset = spec.offset ?? 0
    const limit = spec.limit
    if (limit === 0) return []
    const c = coll(table)
    const sort: Sort | undefined = ex.sort?.map(([f, d]): [string, 1 | -1] => [f, d])
    if (sort !== undefined && ex.exact) {
      // Filter, order, skip and limit all on the server: one round trip (plus a getMore per batch).
      let cursor = c.find(ex.filter as Filter<Stored>, projection).sort(sort)
      if (offset > 0) cursor = cursor.skip(offset)
      if (limit !== undefined) cursor = cursor.limit(limit)
      return (await cursor.toArray()).map(fromStored)
    }
    const cursor = c.find(ex.filter as Filter<Stored>, projection).batchSize(batchSize)
    if (sort !== undefined) cursor.sort(sort)
    const matches = Evaluator.predicate(spec.where)
    const out: Array<Doc> = []
    let skipped = 0
    try {
      for await (const raw of cursor) {
        const doc = fromStored(raw)
        if (!matches(doc)) continue
        if (ex.sort === undefined) {
          if (spec.after === undefined || Evaluator.isAfter(spec.orderBy, spec.after, doc)) out.push(doc)
          continue
        }
        // Server order is the evaluator's order: stream until the page is full.
        if (skipped < offset) {
          skipped++
          continue
        }
        out.push(doc)
        if (limit !== undefined && out.length >= limit) break
      }
    } finally {
      await cursor.close()
    }
    if (ex.sort !== undefined) return out
    out.sort(Evaluator.compareDocs(spec.orderBy))
    return out.slice(offset, limit === undefined ? undefined : offset + limit)
  }

  const countDocs = async (table: string, where: Ast.Cond): Promise<number> => {
    await catalog.table(table)
    Evaluator.check(where)
    const compiled = compile(where)
    if (compiled.exact) return coll(table).countDocuments(compiled.filter as Filter<Stored>)
    const matches = Evaluator.predicate(where)
    let n = 0
    for await (const raw of coll(table).find(compiled.filter as Filter<Stored>, projection).batchSize(batchSize)) {
      if (matches(fromStored(raw))) n++
    }
    return n
  }

  const declareTables = async (specs: ReadonlyArray<Driver.TableSpec>): Promise<void> => {
    for (const spec of specs) {
      const why = invalidTable(spec.name)
      if (why !== undefined) throw StoreError.invalid(why)
    }
    if (specs.length === 0) return
    const merged = await catalog.record(specs)
    // The counters exist before any reserveIds, so concurrent first reservations never race an upsert.
    await ids().bulkWrite(
      specs.map((spec) => ({ updateOne: { filter: { _id: spec.name } as Document, update: { $setOnInsert: { seq: 0 } }, upsert: true } })),
      { ordered: false }
    )
    const bare = merged.filter((spec) => indexModels(spec).length === 0).map((spec) => collectionName(layout, spec.name))
    if (bare.length > 0) {
      // Tables without indexes still get their collection, so they show in the database as declared.
      const existing = new Set((await db.listCollections({ name: { $in: bare } }, { nameOnly: true }).toArray()).map((c) => c.name))
      for (const name of bare) {
        if (existing.has(name)) continue
        await db.createCollection(name).catch((e: unknown) => {
          // Created concurrently by another handle: fine.
          if ((e as { readonly code?: unknown }).code !== 48) throw e
        })
      }
    }
    for (const spec of merged) {
      const models = indexModels(spec)
      if (models.length === 0) continue
      try {
        // The per-path layout fails by filling a collection up to mongod's index limit, and then the indexes
        // replacing its own cannot be built beside them: they go first, and feature queries are scans until
        // the wildcard index is built.
        const roomFirst = spec.legacy.length > 0 && !(await hasRoom(spec.name, models))
        if (roomFirst) await dropLegacy(spec)
        await coll(spec.name).createIndexes(models.map((m) => ({ ...m })))
        if (spec.legacy.length > 0) {
          if (!roomFirst) await dropLegacy(spec)
          await catalog.retireLegacy(spec)
        }
      } catch (e) {
        throw failure(`declare ${spec.name}`, e, b.secret, { table: spec.name, unique: spec.unique, docs: [] })
      }
    }
  }

  /** Whether the indexes in `models` that a table's collection lacks fit under mongod's limit beside the others. */
  const hasRoom = async (table: string, models: ReadonlyArray<{ readonly name: string }>): Promise<boolean> => {
    const existing = await coll(table)
      .listIndexes()
      .toArray()
      .catch((e: unknown) => {
        // No collection yet: no index.
        if ((e as { readonly code?: unknown }).code === 26) return []
        throw e
      })
    const names = new Set(existing.map((i) => String(i["name"])))
    return existing.length + models.filter((m) => !names.has(m.name)).length <= maxIndexesPerCollection
  }

  /**
   * Drops the indexes the per-path layout made for nested paths (one per feature), so they no longer cost
   * writes or index slots; the catalog forgets them once they are gone.
   */
  const dropLegacy = async (spec: Declared): Promise<void> => {
    for (const path of spec.legacy) {
      await coll(spec.name)
        .dropIndex(legacyIndexName(path))
        .catch((e: unknown) => {
          // Dropped already (by another handle), or never built (26: no collection).
          const code = (e as { readonly code?: unknown }).code
          if (code !== 27 && code !== 26) throw e
        })
    }
  }

  const batch = (ops: ReadonlyArray<Driver.WriteOp>): Effect.Effect<void, StoreError> =>
    attempt("batch", () =>
      atomically(async (session) => {
        for (const op of ops) {
          switch (op._tag) {
            case "Insert":
              await insertDocs(op.table, op.docs, session)
              break
            case "Update":
              await updateDoc(op.table, op.id, op.patch, op.expect, session)
              break
            case "Delete":
              await removeDocs(op.table, op.ids, session)
              break
          }
        }
      })
    )

  return {
    name: "mongodb",
    capabilities: { transactions: b.transactions, shared: true, nativeOperators },
    client: b.client,
    database: b.database,
    prefix: b.prefix,
    deployment: b.deployment,
    collectionName: (table) => collectionName(layout, table),
    declare: (specs) => attempt("declare", () => declareTables(specs)),
    reserveIds: (table, count) =>
      attempt("reserveIds", async () => {
        if (!Number.isSafeInteger(count) || count < 0) throw StoreError.invalid(`cannot reserve ${count} ids on ${table}: expected a non-negative integer`)
        await catalog.table(table)
        const after = await ids().findOneAndUpdate({ _id: table } as Document, { $inc: { seq: count } }, { upsert: true, returnDocument: "after" })
        const seq = after?.["seq"]
        if (typeof seq !== "number") throw StoreError.unavailable(`reserveIds on ${table}: the counter did not answer`)
        return seq - count + 1
      }),
    insert: (table, docs) =>
      attempt("insert", () => (docs.length > 1 ? atomically((s) => insertDocs(table, docs, s)) : insertDocs(table, docs, undefined))),
    update: (table, id, patch, expect) => attempt("update", () => updateDoc(table, id, patch, expect, undefined)),
    remove: (table, list) => attempt("remove", () => removeDocs(table, list, undefined)),
    get: (table, list) =>
      read("get", async () => {
        await catalog.table(table)
        const valid = checkIds(list)
        if (valid.length === 0) return []
        const raws = await coll(table).find({ _id: { $in: [...new Set(valid)] } }, projection).toArray()
        const byId = new Map(raws.map((r) => [r._id, r]))
        return valid.flatMap((id) => {
          const raw = byId.get(id)
          return raw === undefined ? [] : [fromStored(raw)]
        })
      }),
    find: (table, spec) => read("find", () => findDocs(table, spec)),
    count: (table, where) => read("count", () => countDocs(table, where)),
    batch: b.transactions ? batch : undefined,
    explain: (table, spec) =>
      attempt("explain", async () => {
        await catalog.table(table)
        return explainSpec(spec)
      }),
    drop: () =>
      attempt("drop", async () => {
        const names = await db.listCollections({}, { nameOnly: true }).toArray()
        for (const { name } of names) if (name.startsWith(b.prefix)) await db.collection(name).drop().catch(() => undefined)
        await catalog.reload()
      }),
    close: () => (b.owned ? Effect.promise(() => b.client.close().catch(() => undefined)) : Effect.void)
  }
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
  Effect.map(detect(client, secret), ({ deployment, maxDocumentBytes }) =>
    build({ client, database, prefix, owned, deployment, maxDocumentBytes, transactions: transactions !== false && deployment !== "standalone", secret })
  )

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
