import { Double, Int32, Long, MongoServerError, ObjectId, type Db } from "mongodb"
import { beforeEach, describe, expect, it } from "vitest"
import { connectedEmulator } from "./connected.js"

const emu = connectedEmulator()
let db: Db

beforeEach(async () => {
  db = emu.client.db(`driver_${Math.random().toString(36).slice(2, 8)}`)
})

const seed = async (n: number) => {
  const docs = Array.from({ length: n }, (_, i) => ({ i, group: i % 3 === 0 ? "a" : "b", name: `n${i}` }))
  await db.collection("items").insertMany(docs)
  return db.collection<{ i: number; group: string; name: string }>("items")
}

describe("connection", () => {
  it("handshakes and answers ping, buildInfo and hello", async () => {
    expect(await db.command({ ping: 1 })).toEqual({ ok: 1 })
    const info = await db.admin().command({ buildInfo: 1 })
    expect(info["version"]).toBe("7.0.0")
    const hello = await db.admin().command({ hello: 1 })
    expect(hello["isWritablePrimary"]).toBe(true)
    expect(hello["maxWireVersion"]).toBeGreaterThanOrEqual(9)
    expect(hello["setName"]).toBeUndefined()
    expect(emu.emulator.stats().commands["ismaster"]).toBeGreaterThan(0)
  })
})

describe("insert and find", () => {
  it("insertOne, insertMany (document sequence) and find with sort, skip, limit and projection", async () => {
    const items = await seed(10)
    const one = await items.insertOne({ i: 100, group: "c", name: "solo" })
    expect(one.insertedId).toBeInstanceOf(ObjectId)
    const page = await items.find({ i: { $lt: 100 } }, { projection: { _id: 0, i: 1, name: 1 } }).sort({ i: -1 }).skip(2).limit(3).toArray()
    expect(page).toEqual([
      { i: 7, name: "n7" },
      { i: 6, name: "n6" },
      { i: 5, name: "n5" }
    ])
    const excluded = await items.findOne({ i: 100 }, { projection: { _id: 0, group: 0 } })
    expect(excluded).toEqual({ i: 100, name: "solo" })
  })

  it("stores _id first, as mongod does", async () => {
    const c = db.collection("ordering")
    await c.insertOne({ b: 1, a: 2 })
    const doc = await c.findOne({})
    expect(Object.keys(doc ?? {})).toEqual(["_id", "b", "a"])
  })

  it("serves a cursor in batches with getMore and kills it on close", async () => {
    const items = await seed(10)
    const before = emu.emulator.stats().commands["getMore"] ?? 0
    const all = await items.find({}, { batchSize: 2 }).sort({ i: 1 }).toArray()
    expect(all.map((d) => d.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect((emu.emulator.stats().commands["getMore"] ?? 0) - before).toBe(4)

    const cursor = items.find({}, { batchSize: 2 })
    const first = await cursor.next()
    expect(first?.i).toBe(0)
    expect(emu.emulator.stats().openCursors).toBe(1)
    const kills = emu.emulator.stats().commands["killCursors"] ?? 0
    await cursor.close()
    expect(emu.emulator.stats().commands["killCursors"]).toBe(kills + 1)
    expect(emu.emulator.stats().openCursors).toBe(0)
  })

  it("round-trips Date, Long, Int32, Double, ObjectId and nested arrays exactly", async () => {
    const c = db.collection("types")
    const doc = {
      _id: new ObjectId(),
      at: new Date("2024-02-03T04:05:06.789Z"),
      big: Long.fromString("9007199254740993"),
      small: Long.fromNumber(5),
      int: new Int32(7),
      dbl: new Double(2),
      nested: [[1, [2, { deep: [new Date(0), "x"] }]], []]
    }
    await c.insertOne(doc)
    const raw = await c.findOne({ _id: doc._id }, { promoteValues: false, promoteLongs: false })
    expect(raw?.["at"]).toEqual(doc.at)
    expect(raw?.["big"]).toEqual(doc.big)
    expect(raw?.["small"]).toBeInstanceOf(Long)
    expect(raw?.["int"]).toBeInstanceOf(Int32)
    expect(raw?.["dbl"]).toBeInstanceOf(Double)
    const plain = await c.findOne({ _id: doc._id })
    expect(plain?.["nested"]).toEqual([[1, [2, { deep: [new Date(0), "x"] }]], []])
    expect(await c.countDocuments({ small: 5, dbl: 2, int: 7 })).toBe(1)
  })

  it("keeps the type of untouched fields through an update", async () => {
    const c = db.collection("retype")
    const { insertedId } = await c.insertOne({ small: Long.fromNumber(5), dbl: new Double(3), n: 1 })
    await c.updateOne({ _id: insertedId }, { $inc: { n: 1, dbl: 1 }, $set: { l: Long.fromNumber(9) } })
    const raw = await c.findOne({ _id: insertedId }, { promoteValues: false, promoteLongs: false })
    expect(raw?.["small"]).toBeInstanceOf(Long)
    expect(raw?.["dbl"]).toEqual(new Double(4))
    expect(raw?.["l"]).toEqual(Long.fromNumber(9))
    expect(raw?.["n"]).toEqual(new Int32(2))
  })

  it("stores { $gt: '' } nested in a document literally and matches it by equality on the parent", async () => {
    const c = db.collection("literal")
    await c.insertOne({ name: "op", meta: { $gt: "" } })
    await c.insertOne({ name: "other", meta: "zzz" })
    const found = await c.find({ meta: { $eq: { $gt: "" } } }).toArray()
    expect(found.map((d) => d["name"])).toEqual(["op"])
    expect(found[0]?.["meta"]).toEqual({ $gt: "" })
    // As an operator the same value means "greater than the empty string": only the string matches.
    expect((await c.find({ meta: { $gt: "" } }).toArray()).map((d) => d["name"])).toEqual(["other"])
  })

  it("accepts $-prefixed field names on insert, as mongod 5.0+ does", async () => {
    const c = db.collection("dollar")
    await c.insertOne({ $price: 50, quantity: 30, location: { $db: "novels", $inc: true } })
    const doc = await c.findOne({ quantity: 30 }, { projection: { _id: 0 } })
    expect(doc).toEqual({ $price: 50, quantity: 30, location: { $db: "novels", $inc: true } })
  })
})

describe("update and delete", () => {
  it("updateOne, updateMany, replaceOne and upsert", async () => {
    const items = await seed(6)
    const one = await items.updateOne({ i: 1 }, { $set: { name: "one" }, $push: { tags: "x" } as never })
    expect(one).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 })
    const many = await items.updateMany({ group: "b" }, { $inc: { i: 10 } })
    expect(many).toMatchObject({ matchedCount: 4, modifiedCount: 4 })
    const noop = await items.updateOne({ name: "one" }, { $set: { name: "one" } })
    expect(noop).toMatchObject({ matchedCount: 1, modifiedCount: 0 })
    const replaced = await items.replaceOne({ i: 0 }, { i: 0, group: "z", name: "replaced" })
    expect(replaced.modifiedCount).toBe(1)
    expect(await items.findOne({ i: 0 }, { projection: { _id: 0 } })).toEqual({ i: 0, group: "z", name: "replaced" })
    const up = await items.updateOne({ name: "new", group: { $eq: "q" } }, { $set: { i: 50 }, $setOnInsert: { created: true } }, { upsert: true })
    expect(up.upsertedCount).toBe(1)
    expect(up.upsertedId).toBeInstanceOf(ObjectId)
    expect(await items.findOne({ name: "new" }, { projection: { _id: 0 } })).toEqual({ name: "new", group: "q", i: 50, created: true })
    const again = await items.updateOne({ name: "new" }, { $set: { i: 51 }, $setOnInsert: { created: false } }, { upsert: true })
    expect(again).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 })
    expect(await items.findOne({ name: "new" }, { projection: { _id: 0, created: 1 } })).toEqual({ created: true })
    const minMax = await items.updateOne({ name: "new" }, { $max: { i: 60 }, $min: { low: 3 }, $addToSet: { set: { $each: [1, 1, 2] } } as never, $unset: { group: "" } })
    expect(minMax.modifiedCount).toBe(1)
    expect(await items.findOne({ name: "new" }, { projection: { _id: 0 } })).toEqual({ name: "new", i: 60, created: true, low: 3, set: [1, 2] })
  })

  it("refuses to change _id and to $inc a string", async () => {
    const c = db.collection("strict")
    await c.insertOne({ _id: 1 as never, s: "x" })
    const changeId = await c.updateOne({ _id: 1 as never }, { $set: { _id: 2 as never } }).catch((e: unknown) => e)
    expect(changeId).toBeInstanceOf(MongoServerError)
    expect((changeId as MongoServerError).code).toBe(66)
    const incString = await c.updateOne({ _id: 1 as never }, { $inc: { s: 1 } as never }).catch((e: unknown) => e)
    expect((incString as MongoServerError).code).toBe(14)
    const unknownModifier = await c.updateOne({ _id: 1 as never }, { $foo: { s: 1 } } as never).catch((e: unknown) => e)
    expect((unknownModifier as MongoServerError).code).toBe(9)
  })

  it("deleteOne and deleteMany", async () => {
    const items = await seed(6)
    expect((await items.deleteOne({ group: "b" })).deletedCount).toBe(1)
    expect((await items.deleteMany({ group: "b" })).deletedCount).toBe(3)
    expect((await items.deleteMany({ nothing: true })).deletedCount).toBe(0)
    expect(await items.countDocuments()).toBe(2)
  })

  it("findOneAndUpdate, findOneAndReplace and findOneAndDelete", async () => {
    const items = await seed(5)
    const before = await items.findOneAndUpdate({ group: "b" }, { $set: { name: "first-b" } }, { sort: { i: -1 } })
    expect(before?.i).toBe(4)
    expect(before?.name).toBe("n4")
    const after = await items.findOneAndUpdate({ i: 4 }, { $inc: { i: 10 } }, { returnDocument: "after", projection: { _id: 0, i: 1 } })
    expect(after).toEqual({ i: 14 })
    const upserted = await items.findOneAndUpdate({ i: 99 }, { $set: { name: "up" } }, { upsert: true, returnDocument: "after" })
    expect(upserted).toMatchObject({ i: 99, name: "up" })
    const missing = await items.findOneAndUpdate({ i: 1000 }, { $set: { name: "no" } })
    expect(missing).toBeNull()
    const deleted = await items.findOneAndDelete({ i: 0 })
    expect(deleted?.name).toBe("n0")
    expect(await items.countDocuments({ i: 0 })).toBe(0)
    const result = await items.findOneAndReplace({ i: 1 }, { i: 1, group: "r", name: "r" }, { includeResultMetadata: true })
    expect(result.lastErrorObject?.["updatedExisting"]).toBe(true)
  })
})

describe("counting and aggregation", () => {
  it("countDocuments, estimatedDocumentCount and distinct", async () => {
    const items = await seed(10)
    await items.updateOne({ i: 0 }, { $set: { tags: ["x", "y"] } })
    await items.updateOne({ i: 1 }, { $set: { tags: ["y", "z"] } })
    expect(await items.countDocuments({ group: "a" })).toBe(4)
    expect(await items.countDocuments({}, { skip: 2, limit: 5 })).toBe(5)
    expect(await items.estimatedDocumentCount()).toBe(10)
    expect((await items.distinct("group")).sort()).toEqual(["a", "b"])
    expect(await items.distinct("tags")).toEqual(["x", "y", "z"])
    expect(await db.collection("absent").countDocuments()).toBe(0)
  })

  it("aggregate with $match, $group, $sort, $lookup, $unwind, $project and batches", async () => {
    const items = await seed(9)
    await db.collection("groups").insertMany([
      { code: "a", label: "Alpha" },
      { code: "b", label: "Beta" }
    ])
    const grouped = await items
      .aggregate([
        { $match: { i: { $gte: 1 } } },
        { $group: { _id: "$group", total: { $sum: "$i" }, count: { $sum: 1 } } },
        { $sort: { _id: 1 } },
        { $lookup: { from: "groups", localField: "_id", foreignField: "code", as: "info" } },
        { $unwind: "$info" },
        { $project: { _id: 0, group: "$_id", total: 1, count: 1, label: "$info.label" } }
      ])
      .toArray()
    expect(grouped).toEqual([
      { total: 9, count: 2, group: "a", label: "Alpha" },
      { total: 27, count: 6, group: "b", label: "Beta" }
    ])
    const batched = await items.aggregate([{ $sort: { i: 1 } }, { $addFields: { twice: { $multiply: ["$i", 2] } } }], { batchSize: 2 }).toArray()
    expect(batched.map((d) => d["twice"])).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16])
    const [counted] = await items.aggregate([{ $match: { group: "b" } }, { $count: "n" }]).toArray()
    expect(counted).toEqual({ n: 6 })
  })
})

describe("indexes and collections", () => {
  it("unique index: duplicate insert fails with 11000, keyPattern and keyValue", async () => {
    const users = db.collection("users")
    expect(await users.createIndex({ email: 1 }, { unique: true })).toBe("email_1")
    await users.insertOne({ email: "a@example.com" })
    const error = await users.insertOne({ email: "a@example.com" }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MongoServerError)
    const e = error as MongoServerError
    expect(e.code).toBe(11000)
    expect(e["keyPattern"]).toEqual({ email: 1 })
    expect(e["keyValue"]).toEqual({ email: "a@example.com" })
    expect(e.message).toBe(`E11000 duplicate key error collection: ${db.databaseName}.users index: email_1 dup key: { email: "a@example.com" }`)
    const viaUpdate = await users.insertOne({ email: "b@example.com" }).then(() => users.updateOne({ email: "b@example.com" }, { $set: { email: "a@example.com" } })).catch((x: unknown) => x)
    expect((viaUpdate as MongoServerError).code).toBe(11000)
    const viaUpsert = await users.updateOne({ email: "a@example.com", other: 1 }, { $set: { x: 1 } }, { upsert: true }).catch((x: unknown) => x)
    expect((viaUpsert as MongoServerError).code).toBe(11000)
    const existing = await users.findOne({})
    if (existing === null) throw new Error("expected a user")
    const dupId = await users.insertOne({ _id: existing._id, email: "c" }).catch((x: unknown) => x)
    expect((dupId as MongoServerError).code).toBe(11000)
    expect((dupId as MongoServerError)["keyPattern"]).toEqual({ _id: 1 })
  })

  it("ordered insertMany stops at the first duplicate, unordered continues", async () => {
    const c = db.collection("bulk")
    await c.createIndex({ k: 1 }, { unique: true })
    const ordered = await c.insertMany([{ k: 1 }, { k: 1 }, { k: 2 }]).catch((e: unknown) => e)
    expect((ordered as MongoServerError).code).toBe(11000)
    expect(await c.countDocuments()).toBe(1)
    const unordered = (await c.insertMany([{ k: 3 }, { k: 1 }, { k: 4 }], { ordered: false }).catch((e: unknown) => e)) as MongoServerError & {
      writeErrors: Array<{ index: number; code: number }>
      insertedCount: number
    }
    expect(unordered.writeErrors.map((w) => [w.index, w.code])).toEqual([[1, 11000]])
    expect(unordered.insertedCount).toBe(2)
    expect(await c.countDocuments()).toBe(3)
  })

  it("partial unique index only constrains matching documents", async () => {
    const c = db.collection("partial")
    await c.createIndex({ slug: 1 }, { unique: true, partialFilterExpression: { live: { $eq: true } }, name: "live_slug" })
    await c.insertMany([{ slug: "x", live: false }, { slug: "x", live: false }, { slug: "x", live: true }])
    const dup = await c.insertOne({ slug: "x", live: true }).catch((e: unknown) => e)
    expect((dup as MongoServerError).code).toBe(11000)
    expect((dup as MongoServerError).message).toContain("index: live_slug")
    const unsupported = await c.createIndex({ other: 1 }, { partialFilterExpression: { other: { $ne: 1 } } }).catch((e: unknown) => e)
    expect((unsupported as MongoServerError).code).toBe(67)
  })

  it("creating a unique index over duplicates fails; listIndexes and dropIndex", async () => {
    const c = db.collection("idx")
    await c.insertMany([{ a: 1 }, { a: 1 }])
    expect(((await c.createIndex({ a: 1 }, { unique: true }).catch((e: unknown) => e)) as MongoServerError).code).toBe(11000)
    await c.createIndex({ a: 1, b: -1 })
    const indexes = await c.listIndexes().toArray()
    expect(indexes.map((i) => i["name"])).toEqual(["_id_", "a_1_b_-1"])
    expect(indexes[1]).toEqual({ v: 2, key: { a: 1, b: -1 }, name: "a_1_b_-1" })
    await c.dropIndex("a_1_b_-1")
    expect((await c.indexes()).map((i) => i.name)).toEqual(["_id_"])
    expect(((await c.dropIndex("nope").catch((e: unknown) => e)) as MongoServerError).code).toBe(27)
  })

  it("listCollections with a name filter, createCollection and dropCollection", async () => {
    await db.createCollection("one")
    await db.collection("two").insertOne({ x: 1 })
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort()
    expect(names).toEqual(["one", "two"])
    expect((await db.listCollections({ name: "two" }).toArray()).map((c) => c.name)).toEqual(["two"])
    expect(((await db.createCollection("one").catch((e: unknown) => e)) as MongoServerError).code).toBe(48)
    expect(await db.dropCollection("two")).toBe(true)
    expect(await db.dropCollection("two")).toBe(true)
    expect((await db.listCollections().toArray()).map((c) => c.name)).toEqual(["one"])
    const dbs = await emu.client.db().admin().listDatabases({ nameOnly: true })
    expect(dbs.databases.map((d) => d.name)).toContain(db.databaseName)
    await db.dropDatabase()
    expect(await db.listCollections().toArray()).toEqual([])
  })
})
