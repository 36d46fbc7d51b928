/**
 * Edges of the MongoDB store's limits beyond test/mongo-limits.test.ts: the upgrade of a collection the per-path
 * layout filled to mongod's 64 indexes (alone and by two handles at once), a malformed catalog entry written
 * by someone else, and a record of exactly the server's document size.
 */
import { createRequire } from "node:module"
import { afterAll, describe, expect, it } from "vitest"
import { Cause, Effect, Exit } from "effect"
import { Ast } from "@lineage/core"
import { closeAll, freshDriver, run } from "./support/mongo.js"

afterAll(closeAll)

const legacy = (path: ReadonlyArray<string>) => `lineage_x_${encodeURIComponent(JSON.stringify(path))}`

describe("upgrade from per-feature indexes", () => {
  it("a collection at mongod's 64 indexes (the per-path layout's dead end) upgrades to the wildcard index", async () => {
    const driver = await freshDriver("full")
    try {
      const db = driver.client.db(driver.database)
      const things = db.collection(driver.collectionName("thing"))
      const names = Array.from({ length: 64 }, (_, i) => `f${i}`)
      // _id_ + 63 feature indexes = 64; the 64th feature was recorded but its index could not be built.
      for (const name of names.slice(0, 63)) await things.createIndex({ [`d.featureValues.${name}`]: 1 }, { name: legacy(["featureValues", name]) })
      await db
        .collection("_lineage_tables")
        .insertOne({ _id: "thing", unique: [], indexes: names.map((name) => ({ path: ["featureValues", name], kind: "sorted" })) } as never)
      const exit = await Effect.runPromiseExit(driver.declare([{ name: "thing", unique: [], indexes: [{ path: ["featureValues", "f64"], kind: "sorted" }] }]))
      if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
      const after = (await things.listIndexes().toArray()).map((i) => String(i["name"])).sort()
      expect(after).toEqual(["_id_", "lineage_w_featureValues"])
      const id = await run(driver.reserveIds("thing", 1))
      await run(driver.insert("thing", [{ id, uid: "a", featureValues: { f3: 1 } }]))
      expect((await run(driver.find("thing", { where: Ast.field(["featureValues", "f3"], "eq", 1), orderBy: [] }))).length).toBe(1)
    } finally {
      await run(driver.close())
    }
  })
})

describe("upgrade by two processes at once", () => {
  it("two handles declaring over a full per-path collection both succeed and leave one wildcard index", async () => {
    const driver = await freshDriver("full2")
    const { reopen } = await import("./support/mongo.js")
    const other = await reopen(driver)
    try {
      const db = driver.client.db(driver.database)
      const things = db.collection(driver.collectionName("thing"))
      const names = Array.from({ length: 63 }, (_, i) => `f${i}`)
      for (const name of names) await things.createIndex({ [`d.featureValues.${name}`]: 1 }, { name: legacy(["featureValues", name]) })
      await db
        .collection("_lineage_tables")
        .insertOne({ _id: "thing", unique: [], indexes: names.map((name) => ({ path: ["featureValues", name], kind: "sorted" })) } as never)
      const spec = (f: string) => [{ name: "thing", unique: [], indexes: [{ path: ["featureValues", f], kind: "sorted" as const }] }]
      const exits = await Promise.all([Effect.runPromiseExit(driver.declare(spec("x"))), Effect.runPromiseExit(other.declare(spec("y")))])
      for (const exit of exits) if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
      expect((await things.listIndexes().toArray()).map((i) => String(i["name"])).sort()).toEqual(["_id_", "lineage_w_featureValues"])
      const recorded = await db.collection("_lineage_tables").findOne({ _id: "thing" } as never)
      expect(recorded?.["indexes"]).toEqual([])
      expect(recorded?.["subtrees"]).toEqual(["featureValues"])
    } finally {
      await run(other.close())
      await run(driver.close())
    }
  })
})

describe("catalog read back from a shared store", () => {
  it("a malformed per-path entry in one table's catalog document does not break other tables", async () => {
    const driver = await freshDriver("hostile")
    try {
      await run(driver.declare([{ name: "good", unique: [], indexes: [] }]))
      const db = driver.client.db(driver.database)
      await db.collection("_lineage_tables").insertOne({ _id: "evil", unique: [], indexes: [null, 1, { path: "x" }, { path: [1, 2] }] } as never)
      const { reopen } = await import("./support/mongo.js")
      const other = await reopen(driver)
      try {
        expect(await run(other.count("good", Ast.always))).toBe(0)
      } finally {
        await run(other.close())
      }
    } finally {
      await run(driver.close())
    }
  })
})

describe("a record of exactly the server's document size", () => {
  it("is stored alone, and refused by name (not by the driver's bare check) in an insert of many", { timeout: 60_000 }, async () => {
    const { toStored } = await import("../packages/store-mongodb/src/Encoding.js")
    // The driver is the store's dependency, not the repository root's: reach its BSON through the store package.
    const { BSON } = createRequire(new URL("../packages/store-mongodb/package.json", import.meta.url))("mongodb") as {
      readonly BSON: { readonly calculateObjectSize: (d: object) => number }
    }
    const { maxDocumentBytes } = await import("@lineage/store-mongodb")
    /** A record of `id` stored as exactly `maxDocumentBytes` bytes: a string grows 3 bytes a character, a number's digits 1. */
    const exact = (id: number, uid: string) => {
      const base = { id, uid, n: 1, s: "" }
      const room = maxDocumentBytes - BSON.calculateObjectSize(toStored(base, 0))
      const doc = { ...base, n: Number("1".repeat(1 + (room % 3))), s: "z".repeat(Math.floor(room / 3)) }
      expect(BSON.calculateObjectSize(toStored(doc, 0))).toBe(maxDocumentBytes)
      return doc
    }
    const driver = await freshDriver("exact")
    try {
      await run(driver.declare([{ name: "thing", unique: [{ name: "thing_uid", fields: ["uid"] }], indexes: [] }]))
      const id = await run(driver.reserveIds("thing", 3))
      await run(driver.insert("thing", [exact(id, "alone")]))
      const exit = await Effect.runPromiseExit(driver.insert("thing", [{ id: id + 1, uid: "small" }, exact(id + 2, "many")]))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      expect(error?._tag === "Some" && error.value.reason._tag).toBe("Invalid")
      expect(error?._tag === "Some" && error.value.message).toContain(`thing many (id ${id + 2})`)
      expect(await run(driver.count("thing", Ast.always))).toBe(1)
    } finally {
      await run(driver.close())
    }
  })
})
