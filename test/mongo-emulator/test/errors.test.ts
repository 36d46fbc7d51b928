import { MongoNetworkError, MongoServerError, type Db } from "mongodb"
import { beforeAll, describe, expect, it } from "vitest"
import { connectedEmulator, failure } from "./connected.js"

const emu = connectedEmulator()
let db: Db

beforeAll(() => {
  db = emu.client.db("errors")
})

describe("strictness", () => {
  it("unknown query operators fail with BadValue (2)", async () => {
    const c = db.collection("strict")
    await c.insertOne({ a: 1 })
    const fieldLevel = await failure(c.find({ a: { $foo: 1 } } as never).toArray())
    expect(fieldLevel.code).toBe(2)
    expect(fieldLevel.codeName).toBe("BadValue")
    expect(fieldLevel.message).toBe("unknown operator: $foo")
    const topLevel = await failure(c.find({ $foo: 1 } as never).toArray())
    expect(topLevel.code).toBe(2)
    expect(topLevel.message).toMatch(/^unknown top level operator: \$foo/)
    expect((await failure(c.countDocuments({ a: { $foo: 1 } } as never))).code).toBe(2)
    expect((await failure(c.deleteMany({ a: { $foo: 1 } } as never))).code).toBe(2)
  })

  it("unknown pipeline stages fail with 40324", async () => {
    const error = await failure(db.collection("strict").aggregate([{ $foo: {} }]).toArray())
    expect(error.code).toBe(40324)
    expect(error.message).toBe("Unrecognized pipeline stage name: '$foo'")
  })

  it("unknown commands fail with CommandNotFound (59)", async () => {
    const error = await failure(db.command({ frobnicate: 1 }))
    expect(error.code).toBe(59)
    expect(error.codeName).toBe("CommandNotFound")
    expect(error.message).toBe("no such command: 'frobnicate'")
  })

  it("an update may set _id to its current value only", async () => {
    const c = db.collection("ids")
    await c.insertOne({ _id: "k" as never, n: 1 })
    expect((await c.updateOne({ _id: "k" as never }, { $set: { _id: "k" as never, n: 2 } })).modifiedCount).toBe(1)
    expect((await failure(c.replaceOne({ _id: "k" as never }, { _id: "other", n: 3 } as never))).code).toBe(66)
    const upsert = await c.updateOne({ n: 10 }, { $set: { _id: "chosen" as never } }, { upsert: true })
    expect(upsert.upsertedId).toBe("chosen")
    expect((await failure(c.insertOne({ _id: [1, 2] as never }))).code).toBe(53)
  })

  it("delete limit must be 0 or 1, sort values 1 or -1 (raw commands: the driver checks these itself)", async () => {
    const reply = await db.command({ delete: "strict", deletes: [{ q: {}, limit: 2 }] })
    expect(reply["n"]).toBe(0)
    expect(reply["writeErrors"]).toEqual([
      { index: 0, code: 9, codeName: "FailedToParse", errmsg: "The limit field in delete objects must be 0 or 1. Got 2" }
    ])
    expect((await failure(db.command({ find: "strict", sort: { a: 2 } }))).code).toBe(15975)
  })
})

describe("transactions on a standalone", () => {
  it("a read in a transaction fails with IllegalOperation (20)", async () => {
    const session = emu.client.startSession()
    try {
      const error = await failure(
        session.withTransaction(async () => {
          await db.collection("txn").findOne({}, { session })
        })
      )
      expect(error.code).toBe(20)
      expect(error.codeName).toBe("IllegalOperation")
      expect(error.message).toBe("Transaction numbers are only allowed on a replica set member or mongos")
    } finally {
      await session.endSession()
    }
  })

  it("a write in a transaction fails too: the driver rewraps code 20 as its 'retryable writes' error", async () => {
    const session = emu.client.startSession()
    try {
      const error = await failure(
        session.withTransaction(async () => {
          await db.collection("txn").insertOne({ a: 1 }, { session })
        })
      )
      expect(error.message).toMatch(/does not support retryable writes/)
      const original = error["originalError"] as MongoServerError
      expect(original.code).toBe(20)
      expect(original.message).toBe("Transaction numbers are only allowed on a replica set member or mongos")
      expect(await db.collection("txn").countDocuments({ a: 1 })).toBe(0)
    } finally {
      await session.endSession()
    }
  })

  it("commitTransaction and abortTransaction answer code 20", async () => {
    expect((await failure(emu.client.db("admin").command({ commitTransaction: 1 }))).code).toBe(20)
    expect((await failure(emu.client.db("admin").command({ abortTransaction: 1 }))).code).toBe(20)
  })
})

describe("faults", () => {
  it("dropConnections: the next operation fails with a network error, a later retry succeeds", async () => {
    const c = db.collection("faults")
    await c.insertOne({ before: true })
    const dropped = emu.emulator.stats().droppedConnections
    emu.emulator.dropConnections()
    expect(emu.emulator.stats().droppedConnections).toBeGreaterThan(dropped)
    expect(emu.emulator.stats().openConnections).toBe(0)
    const error = await c.insertOne({ during: true }).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(MongoNetworkError)
    await c.insertOne({ after: true })
    expect(await c.countDocuments({})).toBe(2)
    expect(emu.emulator.stats().openConnections).toBeGreaterThan(0)
  })
})
