/**
 * A large insert is one script call whose arguments number several per document per index: it must not be
 * limited by how many arguments a JavaScript call can take (spread arguments overflowed the stack at about
 * 120,000, a `createMany` of 10,000 runs).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Ast } from "@lineage/core"
import type { Driver } from "@lineage/core"
import type { RedisDriver } from "../src/index.js"
import { freshDriver, run } from "../../../test/support/redis.js"

const table: Driver.TableSpec = {
  name: "thing",
  unique: [{ name: "thing_uid", fields: ["uid"] }],
  indexes: [
    { path: ["group"], kind: "hash" },
    { path: ["n"], kind: "sorted" },
    { path: ["at"], kind: "sorted" }
  ]
}

const N = 40_000

describe(`one insert of ${N.toLocaleString("en")} documents`, () => {
  let driver: RedisDriver
  beforeAll(async () => {
    driver = await freshDriver("batch")
    await run(driver.declare([table]))
  })
  afterAll(() => run(driver.close()))

  it("writes every document and index entry in one call", async () => {
    const docs = Array.from({ length: N }, (_, i) => ({
      id: i + 1,
      uid: `u${i}`,
      group: `g${i % 100}`,
      n: (i * 7919) % N,
      at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString()
    }))
    await run(driver.insert("thing", docs))
    expect(await run(driver.count("thing", Ast.always))).toBe(N)
    const group = await run(driver.find("thing", { where: Ast.field(["group"], "eq", "g7"), orderBy: [] }))
    expect(group.map((d) => d["id"])).toEqual(docs.filter((d) => d.group === "g7").map((d) => d.id))
    const top = await run(driver.find("thing", { where: Ast.always, orderBy: [{ path: ["n"], direction: "desc" }], limit: 3 }))
    expect(top.map((d) => d["n"])).toEqual([N - 1, N - 2, N - 3])
    expect(await run(driver.verifyIndexes())).toMatchObject({ ok: true, documents: N, drift: [] })
  })
})
