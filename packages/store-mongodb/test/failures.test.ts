import { describe, expect, it } from "vitest"
import { MongoInvalidArgumentError, MongoNetworkError, MongoServerError, MongoServerSelectionError } from "mongodb"
import { Redacted } from "effect"
import { mapError, uniqueIndexName } from "@lineage/store-mongodb"

const ctx = {
  table: "thing",
  unique: [
    { name: "thing_uid", fields: ["uid"] },
    { name: "thing key/version", fields: ["key", "version"] }
  ],
  docs: [{ id: 1, uid: "a", key: "k", version: "1" }, { id: 2, uid: "b", key: "k", version: "1" }]
}

const duplicate = (index: string) =>
  new MongoServerError({ ok: 0, code: 11000, errmsg: `E11000 duplicate key error collection: db.thing index: ${index} dup key: { o.key: "3k" }` })

describe("mapping driver errors", () => {
  it("a duplicate key names the declared constraint, its fields and the clashing values", () => {
    const e = mapError("insert", duplicate(uniqueIndexName("thing key/version")), undefined, ctx)
    expect(e.reason).toEqual({ _tag: "UniqueViolation", table: "thing", constraint: "thing key/version", fields: ["key", "version"], values: ["k", "1"] })
    expect(e.isRetryable).toBe(false)
  })

  it("a duplicate in a bulk insert names the document at the failing position", () => {
    const bulk = Object.assign(new MongoServerError({ ok: 0, code: 11000, errmsg: "E11000" }), {
      writeErrors: [{ index: 1, code: 11000, errmsg: `E11000 duplicate key error collection: db.thing index: ${uniqueIndexName("thing_uid")} dup key: { o.uid: "3b" }` }]
    })
    const e = mapError("insert", bulk, undefined, ctx)
    expect(e.reason).toMatchObject({ _tag: "UniqueViolation", constraint: "thing_uid", values: ["b"] })
  })

  it("a duplicate _id is a UniqueViolation on id", () => {
    expect(mapError("insert", duplicate("_id_"), undefined, ctx).reason).toMatchObject({ _tag: "UniqueViolation", constraint: "id", values: [1] })
  })

  it("network and server selection failures are Unavailable and retryable, scrubbed of the password", () => {
    const secret = Redacted.make("hunter2")
    const net = mapError("find", new MongoNetworkError("connection to ann:hunter2@h closed"), secret)
    expect(net.reason._tag).toBe("Unavailable")
    expect(net.isRetryable).toBe(true)
    expect(net.message).not.toContain("hunter2")
    expect(mapError("find", new MongoServerSelectionError("no server", { type: "Unknown", servers: new Map(), stale: false, compatible: true, heartbeatFrequencyMS: 1, localThresholdMS: 1, setName: null, maxElectionId: null, maxSetVersion: null, commonWireVersion: 0, logicalSessionTimeoutMinutes: null } as never)).isRetryable).toBe(true)
  })

  it("a transaction on a standalone is Unsupported; other refusals are Invalid", () => {
    expect(mapError("batch", new MongoServerError({ ok: 0, code: 20, errmsg: "Transaction numbers are only allowed on a replica set member or mongos" })).reason._tag).toBe("Unsupported")
    expect(mapError("find", new MongoServerError({ ok: 0, code: 2, errmsg: "unknown operator: $foo" })).reason._tag).toBe("Invalid")
    expect(mapError("find", new MongoServerError({ ok: 0, code: 91, errmsg: "shutting down" })).reason._tag).toBe("Unavailable")
  })

  it("a request the driver refuses before sending (a document above maxBsonObjectSize in insertMany) is Invalid, not retryable", () => {
    const e = mapError("insert", new MongoInvalidArgumentError("Document is larger than the maximum size 16777216"))
    expect(e.reason._tag).toBe("Invalid")
    expect(e.isRetryable).toBe(false)
  })
})
