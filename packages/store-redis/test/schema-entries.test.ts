/**
 * The schema hashes are shared: what another process (or anyone with access to the namespace) left there is
 * checked before use. A malformed table entry or added-index entry makes every call fail at once with
 * `StoreError` Invalid naming the hash and the entry (not a parse error retried as Unavailable, nor a path
 * that breaks every write); once the entry is repaired, the handle works again.
 */
import { Effect, Exit } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Ast, StoreError } from "@lineage/core"
import type { RedisDriver } from "../src/index.js"
import { freshDriver, run } from "../../../test/support/redis.js"

describe("malformed schema entries", () => {
  let driver: RedisDriver
  beforeEach(async () => {
    driver = await freshDriver("schema-entries")
    await run(driver.declare([{ name: "t", unique: [], indexes: [] }]))
    await run(driver.insert("t", [{ id: 1, uid: "a", x: 1 }]))
  })
  afterEach(() => run(driver.close()))

  const invalid = async <A>(effect: Effect.Effect<A, StoreError>, hash: string, entry: string) => {
    const exit = await Effect.runPromiseExit(effect)
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
    expect(error).toBeInstanceOf(StoreError)
    expect((error as StoreError).reason._tag).toBe("Invalid")
    expect((error as StoreError).message).toContain(hash)
    expect((error as StoreError).message).toContain(entry)
  }

  const calls = () =>
    [
      driver.insert("t", [{ id: 2, uid: "b", x: 2 }]),
      driver.find("t", { where: Ast.field(["x"], "eq", 1), orderBy: [] })
    ] as const

  for (const [what, field] of [
    ["not JSON", "not json"],
    ["a path that is no array", JSON.stringify(["t", 5])],
    ["no table name", JSON.stringify([null, ["x"]])]
  ] as const) {
    it(`an added-index entry that is ${what} is Invalid, named`, async () => {
      await driver.client.hset(driver.keys.schemaIndexes, field, "1")
      await driver.client.incr(driver.keys.schemaVersion)
      for (const call of calls()) await invalid(call, driver.keys.schemaIndexes, JSON.stringify(field).slice(1, 20))
      await driver.client.hdel(driver.keys.schemaIndexes, field)
      await driver.client.incr(driver.keys.schemaVersion)
      await run(driver.insert("t", [{ id: 2, uid: "b", x: 2 }]))
      expect(await run(driver.count("t", Ast.field(["x"], "eq", 2)))).toBe(1)
    })
  }

  it("a table entry that is not a table is Invalid, named", async () => {
    const good = await driver.client.hget(driver.keys.schema, "t")
    await driver.client.hset(driver.keys.schema, "t", JSON.stringify({ name: "t", unique: [], indexes: "x" }))
    await driver.client.incr(driver.keys.schemaVersion)
    for (const call of calls()) await invalid(call, driver.keys.schema, "indexes")
    await driver.client.hset(driver.keys.schema, "t", good!)
    await driver.client.incr(driver.keys.schemaVersion)
    expect(await run(driver.count("t", Ast.field(["x"], "eq", 1)))).toBe(1)
  })
})
