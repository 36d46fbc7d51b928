/**
 * Keyset cursors on `id`: ids are numbers, so a cursor value of another type lies before every id (null,
 * booleans) or after every id (strings, arrays, objects), as in the evaluator's order over JSON values.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Ast, type Driver, Evaluator } from "@lineage/core"
import type { MongoDriver } from "@lineage/store-mongodb"
import { closeAll, freshDriver, run } from "../../../test/support/mongo.js"

let driver: MongoDriver
let docs: ReadonlyArray<Driver.Doc>

beforeAll(async () => {
  driver = await freshDriver("cursor")
  await run(driver.declare([{ name: "thing", unique: [], indexes: [] }]))
  const first = await run(driver.reserveIds("thing", 3))
  docs = [0, 1, 2].map((i) => ({ id: first + i, uid: `u${i}`, name: `n${i}` }))
  await run(driver.insert("thing", docs))
})

afterAll(async () => {
  await run(driver.close())
  await closeAll()
})

const where: Ast.Cond = { _tag: "And", conds: [] }

describe("a cursor on id whose value is not a number", () => {
  for (const value of [null, false, true, "", "7", [], {}] as const)
    for (const direction of ["asc", "desc"] as const)
      it(`${JSON.stringify(value)}, ${direction}: what the evaluator answers`, async () => {
        const spec: Ast.FindSpec = { where, orderBy: [{ path: ["id"], direction }], after: { values: [value], id: docs[1]!.id as number } }
        const found = await run(driver.find("thing", spec))
        expect(found.map((d) => d["id"])).toEqual(Evaluator.find(docs, spec).map((d) => d["id"]))
      })
})

it("a cursor whose id bound is not a number ends the rows equal on the keys before it", async () => {
  const spec: Ast.FindSpec = {
    where,
    orderBy: [{ path: ["name"], direction: "asc" }, { path: ["id"], direction: "asc" }],
    after: { values: ["n1", "x"], id: docs[0]!.id as number }
  }
  const found = await run(driver.find("thing", spec))
  expect(found.map((d) => d["uid"])).toEqual(["u2"])
})
