/**
 * The limits of a mongod 7.0 that the emulator enforces: 64 indexes per collection (`_id_` included), 16 MiB
 * documents (inserted or produced by an update), 16 MiB + 16 KiB for any BSON document on the wire, and the
 * shape rules of wildcard indexes. Codes and messages are mongod's (see the README for the sources).
 */
import { MongoInvalidArgumentError, MongoServerError, type Db } from "mongodb"
import { beforeEach, describe, expect, it } from "vitest"
import { MAX_BSON_OBJECT_SIZE, MAX_INDEXES_PER_COLLECTION } from "@lineage/mongo-emulator"
import { connectedEmulator } from "./connected.js"

const emu = connectedEmulator()
let db: Db

beforeEach(() => {
  db = emu.client.db(`limits_${Math.random().toString(36).slice(2, 8)}`)
})

const serverError = async (p: Promise<unknown>): Promise<MongoServerError> => {
  const e: unknown = await p.then(
    () => undefined,
    (x: unknown) => x
  )
  expect(e).toBeInstanceOf(MongoServerError)
  return e as MongoServerError
}

/** A collection of documents with integer ids. */
const numbered = (name: string) => db.collection<{ _id: number; [field: string]: unknown }>(name)

/** A document `{ _id, s }` of exactly `bytes` bytes of BSON. */
const sized = (id: number, bytes: number) => ({ _id: id, s: "x".repeat(bytes - 4 - (1 + 4 + 4) - (1 + 2 + 4 + 1) - 1) })

describe("indexes per collection", () => {
  it("allows 64 indexes with _id_, refuses the 65th with mongod's code 67 and message, and frees a slot on drop", async () => {
    expect(MAX_INDEXES_PER_COLLECTION).toBe(64)
    const c = db.collection("many")
    for (let i = 1; i < 64; i++) await c.createIndex({ [`f${i}`]: 1 })
    expect(await c.listIndexes().toArray()).toHaveLength(64)
    const e = await serverError(c.createIndex({ f64: 1 }))
    expect(e.code).toBe(67)
    expect(e.codeName).toBe("CannotCreateIndex")
    expect(e.message).toBe(`add index fails, too many indexes for ${db.databaseName}.many key:{ f64: 1 }`)
    expect(await c.listIndexes().toArray()).toHaveLength(64)
    // Re-declaring an existing index is not a new one.
    await c.createIndex({ f1: 1 })
    await c.dropIndex("f63_1")
    await c.createIndex({ f64: 1 })
    expect(await c.listIndexes().toArray()).toHaveLength(64)
  })

  it("creates all of one createIndexes command or none of it", async () => {
    const c = db.collection("batch")
    for (let i = 1; i < 63; i++) await c.createIndex({ [`f${i}`]: 1 })
    const e = await serverError(c.createIndexes([{ key: { a: 1 } }, { key: { b: 1 } }]))
    expect(e.code).toBe(67)
    expect(e.message).toContain("key:{ b: 1 }")
    const names = (await c.listIndexes().toArray()).map((i) => String(i["name"]))
    expect(names).toHaveLength(63)
    expect(names).not.toContain("a_1")
  })

  it("builds no index of a command when one of its unique indexes meets duplicates", async () => {
    const c = db.collection("dups")
    await c.insertMany([{ u: 1, v: 1 }, { u: 1, v: 2 }])
    const e = await serverError(c.createIndexes([{ key: { v: 1 }, unique: true }, { key: { u: 1 }, unique: true }]))
    expect(e.code).toBe(11000)
    expect((await c.listIndexes().toArray()).map((i) => i["name"])).toEqual(["_id_"])
    await c.insertOne({ u: 2, v: 1 })
  })
})

describe("wildcard indexes", () => {
  it("accepts one subtree wildcard and counts it as one index", async () => {
    const c = db.collection("wild")
    await c.createIndex({ "d.features.$**": 1 })
    expect((await c.listIndexes().toArray()).map((i) => i["key"])).toEqual([{ _id: 1 }, { "d.features.$**": 1 }])
  })

  it("accepts a descending wildcard, as mongod 7.0 does since compound wildcard indexes (zero is refused)", async () => {
    const c = db.collection("wild_desc")
    await c.createIndex({ "a.$**": -1 })
    expect((await serverError(c.createIndex({ "b.$**": 0 }))).code).toBe(67)
  })

  it.each([
    ["unique", { "a.$**": 1 }, { unique: true }],
    ["sparse", { "a.$**": 1 }, { sparse: true }],
    ["TTL", { "a.$**": 1 }, { expireAfterSeconds: 60 }],
    ["a hashed wildcard", { "a.$**": "hashed" }, {}],
    ["$** before the last component", { "a.$**.b": 1 }, {}],
    ["two wildcard components", { "a.$**": 1, "b.$**": 1 }, {}]
  ] as const)("refuses %s with a CannotCreateIndex-class error", async (_, key, options) => {
    const e = await serverError(db.collection("wild").createIndex(key, options))
    expect([67, 7246201]).toContain(e.code)
  })
})

describe("document size", () => {
  it("hello reports maxBsonObjectSize 16 MiB", async () => {
    expect(MAX_BSON_OBJECT_SIZE).toBe(16 * 1024 * 1024)
    expect((await db.admin().command({ hello: 1 }))["maxBsonObjectSize"]).toBe(16 * 1024 * 1024)
  })

  it("stores a document of exactly 16 MiB and refuses one byte more as mongod does (code 2)", async () => {
    const c = numbered("big")
    await c.insertOne(sized(1, MAX_BSON_OBJECT_SIZE))
    expect(await c.countDocuments()).toBe(1)
    const e = await serverError(c.insertOne(sized(2, MAX_BSON_OBJECT_SIZE + 1)))
    expect(e.code).toBe(2)
    expect(e.message).toBe(`object to insert too large. size in bytes: ${MAX_BSON_OBJECT_SIZE + 1}, max size: ${MAX_BSON_OBJECT_SIZE}`)
    expect(await c.countDocuments()).toBe(1)
  })

  it("refuses a document above 16 MiB + 16 KiB in the request itself (10334 BSONObjectTooLarge)", async () => {
    const c = numbered("huge")
    // The driver's own serializer stops near 17 MiB (a RangeError), so stay between the two limits.
    const e = await serverError(c.insertOne(sized(1, MAX_BSON_OBJECT_SIZE + 64 * 1024)))
    expect(e.code).toBe(10334)
    expect(e.message).toMatch(/^BSONObj size: \d+ \(0x[0-9A-F]+\) is invalid\. Size must be between 0 and 16793600\(16MB\) First element: /)
    expect(await c.countDocuments()).toBe(0)
    // The connection survives: mongod answers, it does not hang up.
    expect(await db.command({ ping: 1 })).toEqual({ ok: 1 })
  })

  it("insertMany of an oversized document is refused by the driver itself, from hello's maxBsonObjectSize", async () => {
    const e: unknown = await numbered("many")
      .insertMany([sized(1, MAX_BSON_OBJECT_SIZE + 1)])
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(MongoInvalidArgumentError)
  })

  it("refuses an update whose result exceeds 16 MiB (17419) and leaves the document as it was", async () => {
    const c = numbered("grow")
    await c.insertOne(sized(1, MAX_BSON_OBJECT_SIZE - 10))
    const e = await serverError(c.updateOne({ _id: 1 }, { $set: { more: "0123456789" } }))
    expect(e.code).toBe(17419)
    expect(e.message).toBe(`Resulting document after update is larger than ${MAX_BSON_OBJECT_SIZE}`)
    const found = await c.findOne({ _id: 1 })
    expect(found?.["more"]).toBeUndefined()
    const f = await serverError(c.findOneAndUpdate({ _id: 1 }, { $set: { more: "0123456789" } }))
    expect(f.code).toBe(17419)
  })

  it("refuses an upsert inserting a document above the limit with the upsert stage's 17420", async () => {
    const c = numbered("upsert")
    const big = "x".repeat(MAX_BSON_OBJECT_SIZE - 100)
    const e = await serverError(c.updateOne({ _id: 1 }, { $set: { s: big, more: "0123456789".repeat(20) } }, { upsert: true }))
    expect(e.code).toBe(17420)
    expect(e.message).toBe(`Document to upsert is larger than ${MAX_BSON_OBJECT_SIZE}`)
    const f = await serverError(c.findOneAndUpdate({ _id: 1 }, { $set: { s: big, more: "0123456789".repeat(20) } }, { upsert: true }))
    expect(f.code).toBe(17420)
    expect(await c.countDocuments()).toBe(0)
  })

  it("refuses a replacement above the limit", async () => {
    const c = numbered("replace")
    await c.insertOne({ _id: 1, small: true })
    const e = await serverError(c.replaceOne({ _id: 1 }, sized(1, MAX_BSON_OBJECT_SIZE + 100)))
    expect(e.code).toBe(17419)
    expect((await c.findOne({ _id: 1 }))?.["small"]).toBe(true)
  })
})
