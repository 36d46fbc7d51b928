/**
 * One store's place in a MongoDB database, shared by every request on it: the client, the collections of its
 * prefix, the table catalog, whether writes of several documents run in transactions, the server's document
 * limit, and the secret no failure message may quote.
 */
import type { ClientSession, Collection, Document, MongoClient } from "mongodb"
import type { Redacted } from "effect"
import { type Catalog, collectionName, idsCollection, type Layout } from "./Catalog.js"
import type { Stored } from "./Encoding.js"
import type { Floors } from "./Ids.js"

export interface Namespace {
  readonly client: MongoClient
  readonly layout: Layout
  readonly catalog: Catalog
  /** What this handle knows of the id counters. */
  readonly idFloors: Floors
  /** Writes of several documents run in one transaction (a replica set or a sharded cluster). */
  readonly transactions: boolean
  /** The server's largest document, bytes of BSON. */
  readonly maxDocumentBytes: number
  readonly secret: Redacted.Redacted<string> | undefined
}

/** The collection holding a table's documents. */
export const documents = (ns: Namespace, table: string): Collection<Stored> => ns.layout.db.collection<Stored>(collectionName(ns.layout, table))

/** The collection of id counters, one document `{ _id: table, seq }` per table. */
export const counters = (ns: Namespace): Collection<Document> => ns.layout.db.collection(idsCollection(ns.layout))

/** Options carrying a session only when there is one (`exactOptionalPropertyTypes`). */
export const inSession = (session: ClientSession | undefined): { session?: ClientSession } => (session === undefined ? {} : { session })

/** Runs `f` in a transaction when the deployment has them, else without a session. */
export const atomically = async <A>(ns: Namespace, f: (session: ClientSession | undefined) => Promise<A>): Promise<A> => {
  if (!ns.transactions) return f(undefined)
  const session = ns.client.startSession()
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

/** Drops every collection of this prefix (the whole namespace) and forgets the tables. */
export const dropAll = async (ns: Namespace): Promise<void> => {
  const names = await ns.layout.db.listCollections({}, { nameOnly: true }).toArray()
  for (const { name } of names) if (name.startsWith(ns.layout.prefix)) await ns.layout.db.collection(name).drop().catch(() => undefined)
  ns.idFloors.forget()
  await ns.catalog.reload()
}
