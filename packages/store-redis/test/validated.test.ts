/**
 * The Redis driver is handed out behind the contract's checks (`Driver.validated`): a malformed call is
 * refused with `Invalid` before anything reaches Redis, as every store refuses it.
 */
import { Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Ast, StoreError } from "@lineage/core"
import type { RedisDriver } from "../src/index.js"
import { backdoor, freshDriver, run } from "../../../test/support/redis.js"

describe("the Redis driver's input checks", () => {
  let driver: RedisDriver
  beforeAll(async () => {
    driver = await freshDriver("validated")
    await run(driver.declare([{ name: "thing", unique: [], indexes: [{ path: ["n"], kind: "sorted" }] }]))
  })
  afterAll(() => run(driver.close()))

  const refusal = async <A>(effect: Effect.Effect<A, StoreError>): Promise<string> => {
    const exit = await Effect.runPromiseExit(effect)
    if (Exit.isSuccess(exit)) throw new Error(`expected a refusal, got ${JSON.stringify(exit.value)}`)
    const error = exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : undefined)).find((e) => e !== undefined)
    expect(error).toBeInstanceOf(StoreError)
    expect(error?.reason._tag).toBe("Invalid")
    return error!.message
  }

  it("refuses a document without a string uid, and stores nothing", async () => {
    expect(await refusal(driver.insert("thing", [{ id: 1, uid: "a", n: 1 }, { id: 2, n: 2 }]))).toMatch(/string uid/)
    expect(await backdoor(driver).all("thing")).toEqual([])
  })

  it("refuses ids that are not integers in get and remove", async () => {
    expect(await refusal(driver.get("thing", [1.5]))).toMatch(/integers/)
    expect(await refusal(driver.remove("thing", [1.5]))).toMatch(/integers/)
  })

  it("refuses a patch that changes the id, and a negative reserveIds count", async () => {
    await run(driver.insert("thing", [{ id: 3, uid: "c", n: 3 }]))
    expect(await refusal(driver.update("thing", 3, { id: 4 }))).toMatch(/cannot change the id/)
    expect(await refusal(driver.reserveIds("thing", -1))).toMatch(/cannot reserve/)
  })

  it("refuses a bad condition in find, count and explain", async () => {
    const bad = { _tag: "Field", path: ["n"], op: "near", value: 1 } as unknown as Ast.Cond
    await expect(Effect.runPromise(driver.find("thing", { where: bad, orderBy: [] }))).rejects.toThrow()
    await expect(Effect.runPromise(driver.count("thing", bad))).rejects.toThrow()
    await expect(Effect.runPromise(driver.explain("thing", { where: bad, orderBy: [] }))).rejects.toThrow()
  })
})
