/**
 * The emulator's sharded topology: answers as a mongos 7.0, shards collections with `shardCollection`, and
 * refuses what a sharded cluster refuses, with the codes mongod's source and jstests give (see Sharding.ts).
 */
import { MongoClient, type Collection, type Db, type Document, type MongoServerError } from "mongodb"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startEmulator } from "@lineage/mongo-emulator"
import { connectedEmulator, failure } from "./connected.js"

const emu = connectedEmulator({ topology: "sharded" })
let db: Db
let admin: Db
let counter = 0

beforeAll(() => {
  db = emu.client.db("sharding")
  admin = emu.client.db("admin")
})

/** A fresh collection sharded on `key`. */
const sharded = async (key: Document, prepare?: (c: Collection) => Promise<unknown>): Promise<Collection> => {
  const c = db.collection(`c${counter++}`)
  await prepare?.(c)
  await admin.command({ shardCollection: c.namespace, key })
  return c
}

describe("mongos", () => {
  it("answers hello as a mongos, and a standalone knows no shardCollection (59)", async () => {
    expect((await admin.command({ hello: 1 }))["msg"]).toBe("isdbgrid")
    const standalone = await startEmulator()
    const client = new MongoClient(standalone.url, { serverSelectionTimeoutMS: 2_000 })
    try {
      expect((await client.db("admin").command({ hello: 1 }))["msg"]).toBeUndefined()
      const error = await failure(client.db("admin").command({ shardCollection: "x.y", key: { a: 1 } }))
      expect(error.code).toBe(59)
    } finally {
      await client.close()
      await standalone.stop()
    }
  })

  it("shards a missing collection, creating it with the shard key's index; again with the same key is a no-op", async () => {
    const reply = await admin.command({ shardCollection: "sharding.fresh", key: { "o.uid": 1 } })
    expect(reply["collectionsharded"]).toBe("sharding.fresh")
    expect((await db.collection("fresh").listIndexes().toArray()).map((i) => [i["name"], i["key"]])).toEqual([
      ["_id_", { _id: 1 }],
      ["o.uid_1", { "o.uid": 1 }]
    ])
    await admin.command({ shardCollection: "sharding.fresh", key: { "o.uid": 1 } })
    const other = await failure(admin.command({ shardCollection: "sharding.fresh", key: { other: 1 } }))
    expect([other.code, other.codeName]).toEqual([23, "AlreadyInitialized"])
  })

  it("refuses bad requests: not on admin (13), an empty or not ascending pattern (2, ShardKeyPattern's parse), a unique hashed key (72)", async () => {
    expect((await failure(db.command({ shardCollection: "sharding.x", key: { a: 1 } }))).code).toBe(13)
    const empty = await failure(admin.command({ shardCollection: "sharding.x", key: {} }))
    expect([empty.code, empty.codeName, empty.message]).toEqual([2, "BadValue", "Shard key is empty"])
    const descending = await failure(admin.command({ shardCollection: "sharding.x", key: { a: 1, b: -1 } }))
    expect([descending.code, descending.codeName]).toEqual([2, "BadValue"])
    expect(descending.message).toMatch(/^Shard key \{ a: 1, b: -1 \} .*Failed to parse field b$/)
    const emptyPart = await failure(admin.command({ shardCollection: "sharding.x", key: { "a..b": 1 } }))
    expect([emptyPart.code, emptyPart.message]).toEqual([2, "Field a..b contains empty parts"])
    expect((await failure(admin.command({ shardCollection: "sharding.x", key: { a: "hashed" }, unique: true }))).code).toBe(72)
  })
})

describe("shardCollection and existing indexes", () => {
  it("refuses a collection whose unique index the shard key does not prefix (72), accepts a prefixed one", async () => {
    const c = db.collection(`c${counter++}`)
    await c.createIndex({ uid: 1 }, { unique: true, name: "u_uid" })
    const error = await failure(admin.command({ shardCollection: c.namespace, key: { pair: 1 } }))
    expect([error.code, error.codeName]).toEqual([72, "InvalidOptions"])
    expect(error.message).toBe(
      `can't shard collection '${c.namespace}' with unique index on { uid: 1 } and proposed shard key { pair: 1 }. Uniqueness can't be maintained unless shard key is a prefix`
    )
    await admin.command({ shardCollection: c.namespace, key: { uid: 1 } })
    const prefixed = await sharded({ a: 1 }, (x) => x.createIndex({ a: 1, b: 1 }, { unique: true }))
    expect((await prefixed.listIndexes().toArray()).map((i) => i["name"])).toEqual(["_id_", "a_1_b_1"])
  })

  it("needs an index on the key before sharding a collection with documents; a partial one does not serve", async () => {
    const c = db.collection(`c${counter++}`)
    await c.insertOne({ a: 1 })
    const missing = await failure(admin.command({ shardCollection: c.namespace, key: { a: 1 } }))
    expect(missing.code).toBe(72)
    expect(missing.message).toMatch(/^Please create an index that starts with the proposed shard key before sharding the collection\./)
    await c.createIndex({ a: 1 }, { unique: true, partialFilterExpression: { a: { $exists: true } } })
    const partial = await failure(admin.command({ shardCollection: c.namespace, key: { a: 1 } }))
    // checkShardingIndex names every index it passed over, in catalog order.
    expect([partial.code, partial.message]).toEqual([
      72,
      "couldn't find valid index for shard key" +
        "\nIndex _id_ cannot be used for sharding because: Shard key is not a prefix of index key." +
        "\nIndex a_1 cannot be used for sharding because: Index key is partial."
    ])
    await c.createIndex({ a: 1 }, { name: "plain" })
    await admin.command({ shardCollection: c.namespace, key: { a: 1 } })
  })

  it("names, when refusing for want of an index, only the last sparse or collated index, whatever its key", async () => {
    const c = db.collection(`c${counter++}`)
    await c.insertOne({ a: 1 })
    await c.createIndex({ a: 1 }, { sparse: true })
    await c.createIndex({ b: 1 }, { collation: { locale: "fr" } })
    await c.createIndex({ c: 1 })
    const error = await failure(admin.command({ shardCollection: c.namespace, key: { a: 1 } }))
    expect([error.code, error.message]).toEqual([
      72,
      "Please create an index that starts with the proposed shard key before sharding the collection.  Index b_1 cannot be used for sharding because [ Index has a non-simple collation. ]"
    ])
  })
})

describe("a sharded collection", () => {
  it("refuses a unique index the shard key does not prefix (67), and accepts prefixed or _id-led ones", async () => {
    const c = await sharded({ pair: 1 })
    const error = await failure(c.createIndex({ uid: 1 }, { unique: true }))
    expect([error.code, error.codeName]).toEqual([67, "CannotCreateIndex"])
    expect(error.message).toBe("cannot create unique index over { uid: 1 } with shard key pattern { pair: 1 }")
    await c.createIndex({ pair: 1, uid: 1 }, { unique: true })
    await c.createIndex({ _id: 1, uid: 1 }, { unique: true })
    await c.createIndex({ uid: 1 })
  })

  it("refuses an array in, or on the path to, a document's shard key (61); a missing one is null", async () => {
    const c = await sharded({ "a.b": 1 })
    expect((await failure(c.insertOne({ a: { b: [1, 2] } }))).code).toBe(61)
    expect((await failure(c.insertOne({ a: [{ b: 1 }] }))).code).toBe(61)
    await c.insertMany([{ a: { b: 1 } }, { c: 2 }])
    // An update that would make one is refused by the update stage's own check (28), before any other.
    const update = await failure(c.updateOne({ "a.b": 1 }, { $set: { a: [{ b: 1 }] } }))
    expect([update.code, update.codeName, update.message]).toEqual([
      28,
      "NotSingleValueField",
      "After applying the update to the document, the field 'a.b' was found to be an array or array descendant."
    ])
    expect((await failure(c.updateOne({ "a.b": null }, { $set: { "a.b": [2] } }))).code).toBe(28)
  })

  it("routes single-document writes as mongos 7.0: by shard key, by exact _id, or refused", async () => {
    const c = await sharded({ k: 1 })
    await c.insertMany([
      { _id: 1, k: "a", n: 0 },
      { _id: 2, k: "b", n: 0 }
    ] as Array<Document>)
    const update = await failure(c.updateOne({ n: 0 }, { $set: { n: 1 } }))
    expect([update.code, update.codeName]).toEqual([72, "InvalidOptions"])
    expect(update.message).toMatch(/^A \{multi:false\} update on a sharded collection must contain an exact match on _id/)
    expect((await c.updateOne({ _id: 1 } as Document, { $set: { n: 1 } })).modifiedCount).toBe(1)
    expect((await c.updateOne({ k: "b" }, { $set: { n: 1 } })).modifiedCount).toBe(1)
    expect((await c.updateMany({ n: 1 }, { $set: { n: 2 } })).modifiedCount).toBe(2)
    // A replacement is routed by its own shard key.
    expect((await c.replaceOne({ n: 2, k: { $gte: "b" } }, { k: "b", n: 3 })).modifiedCount).toBe(1)

    const upsert = await failure(c.updateOne({ n: 9 }, { $set: { k: "z" } }, { upsert: true }))
    expect([upsert.code, upsert.message]).toEqual([61, "Failed to target upsert by query :: could not extract exact shard key"])
    expect((await c.updateOne({ k: "z" }, { $set: { n: 9 } }, { upsert: true })).upsertedCount).toBe(1)

    const remove = await failure(c.deleteOne({ n: 9 }))
    expect([remove.code, remove.codeName]).toEqual([61, "ShardKeyNotFound"])
    expect((await c.deleteOne({ _id: 1 } as Document)).deletedCount).toBe(1)
    expect((await c.deleteMany({ n: { $gte: 0 } })).deletedCount).toBe(2)
  })

  it("requires the shard key in findAndModify (61), as 7.0 does", async () => {
    const c = await sharded({ k: 1 })
    await c.insertOne({ _id: 1, k: "a", n: 0 } as Document)
    const error = await failure(c.findOneAndUpdate({ _id: 1 } as Document, { $set: { n: 1 } }))
    expect([error.code, error.message]).toEqual([61, "Query for sharded findAndModify must contain the shard key"])
    expect((await c.findOneAndUpdate({ k: "a" }, { $set: { n: 1 } }, { returnDocument: "after" }))?.["n"]).toBe(1)
  })

  it("changes a document's shard key only with the whole key in the filter (31025), for one document (72), in a retryable write (20)", async () => {
    const c = await sharded({ k: 1 })
    await c.insertMany([
      { _id: 1, k: "a" },
      { _id: 2, k: "b" }
    ] as Array<Document>)
    const byId = await failure(c.replaceOne({ _id: 1 } as Document, { k: "moved" }))
    expect([byId.code, byId.message]).toEqual([31025, "Shard key update is not allowed without specifying the full shard key in the query"])
    const many = await failure(c.updateMany({ k: "a" }, { $set: { k: "moved" } }))
    expect([many.code, many.message]).toEqual([72, "Multi-update operations are not allowed when updating the shard key field."])
    // The driver sends writes to a mongos as retryable writes (a txnNumber) unless told not to.
    expect((await c.updateOne({ k: "a" }, { $set: { k: "moved" } })).modifiedCount).toBe(1)
    const plain = new MongoClient(emu.emulator.url, { serverSelectionTimeoutMS: 2_000, retryWrites: false })
    try {
      // The driver wraps any code 20 of a write in its own message, the server's error kept as originalError.
      const error = await failure(plain.db("sharding").collection(c.collectionName).updateOne({ k: "b" }, { $set: { k: "moved too" } }))
      const original = error["originalError"] as MongoServerError
      expect([original.code, original.message]).toEqual([20, "Must run update to shard key field in a multi-statement transaction or with retryWrites: true."])
    } finally {
      await plain.close()
    }
    expect((await c.find({}).sort({ _id: 1 }).toArray()).map((d) => d["k"])).toEqual(["moved", "b"])
  })

  it("is sharded no more once dropped", async () => {
    const c = await sharded({ k: 1 })
    await c.drop()
    await c.createIndex({ other: 1 }, { unique: true })
  })
})

describe("sessions on the sharded topology", () => {
  let plain: MongoClient
  beforeAll(async () => {
    plain = new MongoClient(emu.emulator.url, { serverSelectionTimeoutMS: 2_000 })
    await plain.connect()
  })
  afterAll(() => plain.close())

  it("accepts retryable writes, refuses a txnNumber on other commands (50768) and transactions (not emulated: 20)", async () => {
    const c = plain.db("sharding").collection("sessions")
    await c.insertOne({ a: 1 })
    const find = await failure(plain.db("sharding").command({ find: "sessions", txnNumber: 1 }))
    expect([find.code, find.codeName]).toEqual([50768, "NotARetryableWriteCommand"])
    const session = plain.startSession()
    try {
      const error = await failure(session.withTransaction(() => c.insertOne({ a: 2 }, { session })))
      const original = error["originalError"] as MongoServerError
      expect(original.code).toBe(20)
      expect(original.message).toMatch(/^Multi-document transactions are not emulated/)
    } finally {
      await session.endSession()
    }
    expect(await c.countDocuments({})).toBe(1)
  })
})
