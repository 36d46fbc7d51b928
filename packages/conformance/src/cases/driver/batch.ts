/**
 * Atomic batches, for stores that declare `transactions`: every write applies in order, or none does, even
 * when the failing write comes after successful ones.
 */
import assert from "node:assert/strict"
import { Ast, Driver } from "@lineage/core"
import type { Case, CaseContext } from "../../Case.js"
import { declareAll, failsWith, findAll, persisted, run, seed } from "../../Fixtures.js"

type Doc = Driver.Doc

const group = "batch"

const batchOf = (ctx: CaseContext) => {
  const batch = ctx.driver.batch
  assert.ok(batch !== undefined, `driver "${ctx.driver.name}" declares transactions but has no batch`)
  return batch
}

const state = async (ctx: CaseContext): Promise<Record<string, ReadonlyArray<Doc>>> => ({
  thing: await findAll(ctx, "thing"),
  note: await findAll(ctx, "note")
})

/** A failed batch must leave both the driver's view and the raw store as they were. */
const unchanged = async (ctx: CaseContext, before: Record<string, ReadonlyArray<Doc>>): Promise<void> => {
  assert.deepStrictEqual(await state(ctx), before, "a failed batch left some of its writes")
  if (ctx.backdoor !== undefined) {
    for (const table of ["thing", "note"]) {
      assert.deepStrictEqual(await persisted(ctx.backdoor, table), before[table], `a failed batch left writes in ${table}`)
    }
  }
}

const setup = async (ctx: CaseContext) => {
  await declareAll(ctx)
  const [a, b] = await seed(ctx, "thing", [
    { uid: "a", key: "k", version: "1", n: 1 },
    { uid: "b", key: "k", version: "2", n: 2 }
  ])
  const ids = await run(ctx.driver.reserveIds("thing", 3))
  return { a: a!, b: b!, aId: a!["id"] as number, bId: b!["id"] as number, ids }
}

export const batch: ReadonlyArray<Case> = [
  {
    group,
    name: "mixed insert, update and delete across tables apply together",
    requires: ["transactions"],
    run: async (ctx) => {
      const { a, bId, aId, ids } = await setup(ctx)
      const noteId = await run(ctx.driver.reserveIds("note", 1))
      await run(
        batchOf(ctx)([
          { _tag: "Insert", table: "thing", docs: [{ id: ids, uid: "c", key: "k", version: "3" }] },
          { _tag: "Update", table: "thing", id: aId, patch: { n: 10 } },
          { _tag: "Delete", table: "thing", ids: [bId] },
          { _tag: "Insert", table: "note", docs: [{ id: noteId, uid: "n1", name: "hello" }] }
        ])
      )
      assert.deepStrictEqual(await state(ctx), {
        thing: [{ ...a, n: 10 }, { id: ids, uid: "c", key: "k", version: "3" }],
        note: [{ id: noteId, uid: "n1", name: "hello" }]
      })
    }
  },
  {
    group,
    name: "later writes see earlier ones: insert then update, delete then reuse a unique value",
    requires: ["transactions"],
    run: async (ctx) => {
      const { a, aId, ids } = await setup(ctx)
      await run(
        batchOf(ctx)([
          { _tag: "Insert", table: "thing", docs: [{ id: ids, uid: "c" }] },
          { _tag: "Update", table: "thing", id: ids, patch: { n: 3 }, expect: { uid: "c" } },
          { _tag: "Delete", table: "thing", ids: [aId] },
          { _tag: "Insert", table: "thing", docs: [{ id: ids + 1, uid: "a", key: "k", version: "1" }] }
        ])
      )
      const things = await findAll(ctx, "thing")
      assert.deepStrictEqual(things.map((d) => [d["uid"], d["n"] ?? null]), [["b", 2], ["c", 3], ["a", null]])
      assert.ok(!things.some((d) => d["id"] === a["id"]))
    }
  },
  {
    group,
    name: "a unique violation in the middle writes nothing",
    requires: ["transactions"],
    run: async (ctx) => {
      const { aId, ids } = await setup(ctx)
      const before = await state(ctx)
      const reason = await failsWith(
        () =>
          batchOf(ctx)([
            { _tag: "Insert", table: "thing", docs: [{ id: ids, uid: "c" }] },
            { _tag: "Update", table: "thing", id: aId, patch: { n: 100 } },
            { _tag: "Insert", table: "thing", docs: [{ id: ids + 1, uid: "d", key: "k", version: "2" }] },
            { _tag: "Insert", table: "thing", docs: [{ id: ids + 2, uid: "e" }] }
          ]),
        "UniqueViolation"
      )
      assert.equal(reason.constraint, "thing_key_version")
      await unchanged(ctx, before)
    }
  },
  {
    group,
    name: "a compare-and-set conflict in the middle writes nothing",
    requires: ["transactions"],
    run: async (ctx) => {
      const { aId, bId, ids } = await setup(ctx)
      const before = await state(ctx)
      await failsWith(
        () =>
          batchOf(ctx)([
            { _tag: "Delete", table: "thing", ids: [bId] },
            { _tag: "Insert", table: "thing", docs: [{ id: ids, uid: "c" }] },
            { _tag: "Update", table: "thing", id: aId, patch: { n: 5 }, expect: { n: 999 } },
            { _tag: "Update", table: "thing", id: ids, patch: { n: 6 } }
          ]),
        "Conflict"
      )
      await unchanged(ctx, before)
    }
  },
  {
    group,
    name: "an update of a missing id fails the batch with NotFound and writes nothing",
    requires: ["transactions"],
    run: async (ctx) => {
      const { ids } = await setup(ctx)
      const before = await state(ctx)
      await failsWith(
        () =>
          batchOf(ctx)([
            { _tag: "Insert", table: "thing", docs: [{ id: ids, uid: "c" }] },
            { _tag: "Update", table: "thing", id: 987_654, patch: { n: 1 } }
          ]),
        "NotFound"
      )
      await unchanged(ctx, before)
      assert.equal(await run(ctx.driver.count("thing", Ast.field(["uid"], "eq", "c"))), 0)
    }
  },
  {
    group,
    name: "an empty batch succeeds and changes nothing",
    requires: ["transactions"],
    run: async (ctx) => {
      await setup(ctx)
      const before = await state(ctx)
      await run(batchOf(ctx)([]))
      await unchanged(ctx, before)
    }
  }
]
