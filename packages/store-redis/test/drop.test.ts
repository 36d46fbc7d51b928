/**
 * `drop` deletes a namespace's keys but never takes its schema version back: a namespace dropped and declared
 * again by another client starts at a version no earlier definition held, so a client still holding one is
 * refused by the write script's version check and reloads, rather than writing with a stale layout.
 */
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { Driver } from "@lineage/core"
import { failureOf } from "../../../test/support/failures.js"
import { freshDriver, reopen, run } from "../../../test/support/redis.js"
import { type RedisDriver, scanKeys } from "../src/index.js"

const before: Driver.TableSpec = { name: "t", unique: [], indexes: [{ path: ["x"], kind: "hash" }] }
const after: Driver.TableSpec = { name: "t", unique: [{ name: "t_k", fields: ["k"] }], indexes: [{ path: ["x"], kind: "hash" }, { path: ["y"], kind: "hash" }] }

describe("a dropped namespace", () => {
  let stale: RedisDriver
  let other: RedisDriver
  beforeEach(async () => {
    stale = await freshDriver("drop")
    other = await reopen(stale)
    await run(stale.declare([before]))
    await run(stale.insert("t", [{ id: 1, uid: "u1", x: 1, y: 1, k: "a" }]))
  })
  afterEach(async () => {
    await run(other.close())
    await run(stale.close())
  })

  const version = async () => Number(await stale.client.get(stale.keys.schemaVersion))

  it("keeps its schema version, advanced, and reads as empty", async () => {
    const declared = await version()
    await run(other.drop())
    expect(await version()).toBeGreaterThan(declared)
    const fresh = await reopen(stale)
    try {
      expect((await failureOf(fresh.get("t", [1]))).message).toContain('unknown table "t"')
    } finally {
      await run(fresh.close())
    }
  })

  it("declared again by another client refuses a write prepared with the old definition, which reloads", async () => {
    await run(other.drop())
    await run(other.declare([after]))
    await run(other.insert("t", [{ id: 1, uid: "u1", x: 1, y: 1, k: "a" }, { id: 2, uid: "u2", k: "b" }]))
    const refused = await failureOf(stale.update("t", 1, { y: 2, k: "b" }))
    expect(refused.reason._tag).toBe("UniqueViolation")
    expect(await run(stale.update("t", 1, { y: 2 }))).toEqual({ id: 1, uid: "u1", x: 1, y: 2, k: "a" })
    expect(await run(other.count("t", { _tag: "Field", path: ["y"], op: "eq", value: 2 }))).toBe(1)
    expect((await run(other.verifyIndexes())).drift).toEqual([])
  })

  it("takes no write that goes on during it: what remains is the version, and a table declared again is empty", async () => {
    const many = Array.from({ length: 3_000 }, (_, i) => ({ id: i + 2, uid: `m${i}`, x: 1 }))
    for (let i = 0; i < many.length; i += 1_000) await run(stale.insert("t", many.slice(i, i + 1_000)))
    await run(other.get("t", [1]))
    let id = 1_000_000
    let writing = true
    const writer = (async () => {
      while (writing) if ((await Effect.runPromiseExit(other.insert("t", [{ id: ++id, uid: `w${id}`, x: 2 }])))._tag === "Failure") return
    })()
    await run(stale.drop())
    writing = false
    await writer
    expect(await scanKeys(stale.client, stale.keys.all)).toEqual([stale.keys.schemaVersion])
    await run(stale.declare([before]))
    expect(await run(stale.count("t", { _tag: "Field", path: ["x"], op: "eq", value: 2 }))).toBe(0)
  })
})
