/**
 * `verifyIndexes` finds drift injected by hand through the raw client; declarations persist in Redis and
 * build new indexes over existing documents; the key layout keeps a namespace in one hash tag; a client
 * the user passes in is left open.
 */
import { Effect } from "effect"
import { Redis } from "ioredis"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Ast, StoreError, Transform } from "@lineage/core"
import type { Driver } from "@lineage/core"
import { fromClient, layerFromClient, type RedisDriver, scanKeys } from "../src/index.js"
import { member } from "../src/Encoding.js"
import { freshDriver, freshPrefix, redisServer, reopen, run } from "../../../test/support/redis.js"

const table: Driver.TableSpec = {
  name: "thing",
  unique: [{ name: "thing_uid", fields: ["uid"] }, { name: "thing_key_version", fields: ["key", "version"] }],
  indexes: [{ path: ["key"], kind: "hash" }, { path: ["n"], kind: "sorted" }]
}

describe("verifyIndexes", () => {
  let driver: RedisDriver
  beforeEach(async () => {
    driver = await freshDriver("verify")
    await run(driver.declare([table]))
    await run(driver.insert("thing", [
      { id: 1, uid: "a", key: "k", version: "1", n: 1 },
      { id: 2, uid: "b", key: "k", version: "2", n: 2 },
      { id: 3, uid: "c", key: "j", version: null, n: 3 }
    ]))
    await run(driver.update("thing", 2, { n: 20 }))
    await run(driver.remove("thing", [3]))
  })
  afterEach(() => run(driver.close()))

  const kinds = async () => (await run(driver.verifyIndexes())).drift.map((d) => `${d.kind} ${d.structure} ${d.id}`).sort()

  it("finds no drift after ordinary writes", async () => {
    const report = await run(driver.verifyIndexes())
    expect(report).toMatchObject({ ok: true, tables: 1, documents: 2, drift: [] })
  })

  it("finds a document missing from an index, and an entry with no document", async () => {
    await driver.client.zrem(driver.keys.index("thing", ["n"]), member(20, 2))
    await driver.client.zadd(driver.keys.index("thing", ["key"]), 0, member("ghost", 99))
    expect(await kinds()).toEqual(['missingEntry ["n"] 2', 'orphanEntry ["key"] 99'])
  })

  it("finds a lost unique claim, a stale claim and a document written behind the store's back", async () => {
    await driver.client.hdel(driver.keys.unique("thing", ["uid"]), JSON.stringify("a"))
    await driver.client.hset(driver.keys.unique("thing", ["key", "version"]), JSON.stringify(["x", "9"]), "2")
    await driver.client.set(driver.keys.doc("thing", 500), JSON.stringify({ id: 500, uid: "z", key: "k" }))
    const found = await kinds()
    expect(found).toContain("missingClaim thing_uid 1")
    expect(found).toContain("orphanClaim thing_key_version 2")
    // Written without its index entries, claims or id counter: every one of them is reported.
    for (const d of ['missingEntry ["id"] 500', 'missingEntry ["uid"] 500', 'missingEntry ["key"] 500', "missingClaim thing_uid 500", "idCounterBehind seq 500"])
      expect(found).toContain(d)
  })
})

describe("declarations", () => {
  it("persist in Redis: a second handle sees tables, indexes and constraints declared by the first", async () => {
    const driver = await freshDriver("declare")
    try {
      await run(driver.declare([{ name: "late", unique: [], indexes: [] }]))
      await run(driver.insert("late", [{ id: 1, uid: "a", features: { lr: 0.1 } }, { id: 2, uid: "b", features: { lr: 0.2 } }]))
      const other = await reopen(driver)
      try {
        // A new index over a path with awkward characters, built over the stored documents.
        const path = ["features", "lr:{x}*\n"]
        await run(other.declare([{ name: "late", unique: [{ name: "late_uid", fields: ["uid"] }], indexes: [{ path: ["features", "lr"], kind: "sorted" }, { path, kind: "hash" }] }]))
        const plan = await run(driver.explain("late", { where: Ast.field(["features", "lr"], "gt", 0.15), orderBy: [] }))
        expect(plan.access).toMatchObject({ _tag: "Lookup", estimated: 1 })
        const error = await Effect.runPromise(Effect.flip(driver.insert("late", [{ id: 3, uid: "a" }])))
        expect(error).toBeInstanceOf(StoreError)
        expect(error.reason).toMatchObject({ _tag: "UniqueViolation", constraint: "late_uid" })
        expect((await run(other.verifyIndexes())).drift).toEqual([])
      } finally {
        await run(other.close())
      }
    } finally {
      await run(driver.close())
    }
  })

  it("refuses a unique constraint the stored documents already break", async () => {
    const driver = await freshDriver("declare")
    try {
      await run(driver.declare([{ name: "t", unique: [], indexes: [] }]))
      await run(driver.insert("t", [{ id: 1, uid: "same" }, { id: 2, uid: "same" }]))
      const error = await Effect.runPromise(Effect.flip(driver.declare([{ name: "t", unique: [{ name: "t_uid", fields: ["uid"] }], indexes: [] }])))
      expect(error.reason._tag).toBe("UniqueViolation")
      expect(await run(driver.count("t", Ast.always))).toBe(2)
    } finally {
      await run(driver.close())
    }
  })
})

describe("key layout and client ownership", () => {
  it("every key of a namespace carries its {prefix} hash tag; drop removes them all but the schema version, which it advances", async () => {
    const driver = await freshDriver("keys")
    await run(driver.declare([table]))
    await run(driver.insert("thing", [{ id: 1, uid: "a", key: "k:{weird}*", version: "1", n: 1 }]))
    const keys: Array<string> = []
    let cursor = "0"
    do {
      const [next, found] = await driver.client.scan(cursor, "MATCH", driver.keys.all, "COUNT", 1_000)
      cursor = next
      keys.push(...found)
    } while (cursor !== "0")
    expect(keys.length).toBeGreaterThan(5)
    for (const k of keys) expect(k.startsWith(`{${driver.prefix}}:`)).toBe(true)
    const version = Number(await driver.client.get(driver.keys.schemaVersion))
    expect(await run(driver.drop())).toBe(keys.length - 1)
    expect(await scanKeys(driver.client, driver.keys.all)).toEqual([driver.keys.schemaVersion])
    expect(Number(await driver.client.get(driver.keys.schemaVersion))).toBeGreaterThan(version)
    await run(driver.close())
  })

  it("fromClient leaves the user's client open; the Store layer runs registry operations", async () => {
    const server = await redisServer()
    const client = new Redis(server.url)
    const prefix = freshPrefix("owned")
    try {
      const created = await Effect.runPromise(
        Effect.provide(Transform.create({ key: "Cell Ranger", version: "7.2.0", kind: "pipeline" }), layerFromClient(client, { prefix }))
      )
      expect(created.isLatest).toBe(true)
      expect(await client.ping()).toBe("PONG")
      const driver = await run(fromClient(client, { prefix }))
      await run(driver.close())
      expect(await client.ping()).toBe("PONG")
      expect(await run(driver.count("transform", Ast.field(["key"], "eq", "Cell Ranger")))).toBe(1)
      await run(driver.drop())
    } finally {
      client.disconnect()
    }
  })
})
