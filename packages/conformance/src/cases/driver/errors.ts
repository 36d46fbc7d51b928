/**
 * Failures are typed: a `StoreError` in the error channel, never a thrown exception or a defect, whatever the
 * request. Which reason a store picks for an unknown table or a malformed query is left to it.
 */
import assert from "node:assert/strict"
import { Ast, Driver } from "@lineage/core"
import type { Effect } from "effect"
import type { StoreError } from "@lineage/core"
import type { Case, CaseContext } from "../../Case.js"
import { declareAll, findAll, failsWith, persisted, run, seedOne, storeFailure } from "../../Fixtures.js"

const group = "errors"

const missing = "no_such_table"

const unknownTable: ReadonlyArray<readonly [string, (d: Driver.Driver) => Effect.Effect<unknown, StoreError>]> = [
  ["insert", (d) => d.insert(missing, [{ id: 1, uid: "u" }])],
  ["update", (d) => d.update(missing, 1, { n: 1 })],
  ["remove", (d) => d.remove(missing, [1])],
  ["get", (d) => d.get(missing, [1])],
  ["find", (d) => d.find(missing, { where: Ast.always, orderBy: [] })],
  ["count", (d) => d.count(missing, Ast.always)]
]

/**
 * Requests no well-typed caller sends, as a buggy caller or another language could: each must fail with a
 * StoreError (`Driver.validated` refuses them all) and leave the table as it was.
 */
const malformed: ReadonlyArray<readonly [string, (d: Driver.Driver, id: number) => Effect.Effect<unknown, StoreError>]> = [
  ["a document without an id", (d) => d.insert("thing", [{ uid: "new" }])],
  ["a document with a fractional id", (d, id) => d.insert("thing", [{ id: id + 0.5, uid: "new" }])],
  ["a document that is not an object", (d) => d.insert("thing", [[1, 2] as unknown as Driver.Doc])],
  ["a document whose uid is not a string", (d, id) => d.insert("thing", [{ id: id + 1, uid: 7 }])],
  ["a good document beside a bad one", (d, id) => d.insert("thing", [{ id: id + 1, uid: "new" }, { uid: "bad" }])],
  ["an update that changes the id", (d, id) => d.update("thing", id, { id: id + 1 })],
  ["an update that sets the id to undefined", (d, id) => d.update("thing", id, { id: undefined } as unknown as Driver.Doc)],
  ["an update that sets the uid to undefined", (d, id) => d.update("thing", id, { uid: undefined } as unknown as Driver.Doc)],
  ["a negative reserveIds count", (d) => d.reserveIds("thing", -1)],
  ["get with an id that is not an integer", (d) => d.get("thing", ["1" as unknown as number])],
  ["remove with an id that is not an integer", (d, id) => d.remove("thing", [id, 1.5])],
  ["a negative limit", (d) => d.find("thing", { where: Ast.always, orderBy: [], limit: -1 })],
  ["a fractional offset", (d) => d.find("thing", { where: Ast.always, orderBy: [], offset: 0.5 })],
  ["an order key with an unknown direction", (d) => d.find("thing", { where: Ast.always, orderBy: [{ path: ["n"], direction: "up" as "asc" }] })],
  ["a cursor without a value per order key", (d, id) => d.find("thing", { where: Ast.always, orderBy: [{ path: ["n"], direction: "asc" }], after: { values: [], id } })],
  ["a table spec whose index has no path", (d) => d.declare([{ name: "thing", unique: [], indexes: [{ path: [], kind: "sorted" }] }])]
]

/** An operator no driver knows, as a malformed tree from a buggy caller would carry. */
const bogus = { _tag: "Field", path: ["name"], op: "near", value: 1 } as unknown as Ast.Cond

const withData = async (ctx: CaseContext) => {
  await declareAll(ctx)
  return seedOne(ctx, "thing", { uid: "u", name: "x" })
}

export const errors: ReadonlyArray<Case> = [
  ...unknownTable.map(
    ([op, call]): Case => ({
      group,
      name: `${op} on an undeclared table fails with a StoreError`,
      run: async (ctx) => {
        await declareAll(ctx)
        const error = await storeFailure(() => call(ctx.driver))
        assert.equal(error._tag, "StoreError")
        assert.equal(typeof error.message, "string")
      }
    })
  ),
  ...malformed.map(
    ([what, call]): Case => ({
      group,
      name: `${what} fails with a StoreError and writes nothing`,
      run: async (ctx) => {
        const doc = await withData(ctx)
        await storeFailure(() => call(ctx.driver, doc["id"] as number))
        assert.deepStrictEqual(await findAll(ctx, "thing"), [doc])
      }
    })
  ),
  {
    group,
    name: "an unknown operator fails find and count with a StoreError, not a defect",
    run: async (ctx) => {
      await withData(ctx)
      await storeFailure(() => ctx.driver.find("thing", { where: bogus, orderBy: [] }))
      await storeFailure(() => ctx.driver.count("thing", Ast.and([Ast.always, Ast.not(bogus)])))
    }
  },
  {
    group,
    name: "an invalid regex fails with a StoreError, not a defect",
    run: async (ctx) => {
      await withData(ctx)
      await storeFailure(() => ctx.driver.find("thing", { where: Ast.field(["name"], "regex", "(unclosed"), orderBy: [] }))
    }
  },
  {
    group,
    name: "inserting an id that exists fails with a StoreError and overwrites nothing",
    run: async (ctx) => {
      const doc = await withData(ctx)
      await storeFailure(() => ctx.driver.insert("thing", [{ id: doc["id"] as number, uid: "other", name: "y" }]))
      assert.deepStrictEqual(await findAll(ctx, "thing"), [doc])
      if (ctx.backdoor !== undefined) assert.deepStrictEqual(await persisted(ctx.backdoor, "thing"), [doc])
    }
  },
  {
    group,
    name: "a unique violation is not retryable and its message names the constraint",
    run: async (ctx) => {
      await withData(ctx)
      const id = await run(ctx.driver.reserveIds("thing", 1))
      const error = await storeFailure(() => ctx.driver.insert("thing", [{ id, uid: "u" }]))
      assert.equal(error.reason._tag, "UniqueViolation")
      assert.equal(error.isRetryable, false)
      assert.match(error.message, /thing_uid/)
    }
  },
  {
    group,
    name: "NotFound names the table and the id asked for",
    run: async (ctx) => {
      await withData(ctx)
      const reason = await failsWith(() => ctx.driver.update("note", 77, { n: 1 }), "NotFound")
      assert.deepStrictEqual([reason.table, reason.id], ["note", 77])
    }
  }
]
