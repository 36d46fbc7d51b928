/**
 * Ids: `reserveIds` hands out consecutive ranges per table, from 1, never an id twice, and never one that was
 * inserted without being reserved; only reservations and such inserts move a table's counter. `get` answers
 * ids in the order asked, once per ask.
 */
import assert from "node:assert/strict"
import type { Driver } from "@lineage/core"
import type { Case, CaseContext } from "../../Case.js"
import { declareAll, failsWith, findAll, idsOf, run, seed } from "../../Fixtures.js"

const group = "ids"

const reserve = (ctx: CaseContext, table: string, count: number): Promise<number> => run(ctx.driver.reserveIds(table, count))

/** Reserves ids of `table` and asserts the range starts after `highest`, an id inserted without reserving. */
const reservesPast = async (ctx: CaseContext, table: string, highest: number): Promise<void> => {
  const first = await reserve(ctx, table, 3)
  assert.ok(first > highest, `reserveIds("${table}", 3) gave ${first}, but id ${highest} was inserted before`)
}

export const ids: ReadonlyArray<Case> = [
  {
    group,
    name: "the first id of a fresh table is 1, in every table",
    run: async (ctx) => {
      await declareAll(ctx)
      assert.equal(await reserve(ctx, "thing", 3), 1)
      assert.equal(await reserve(ctx, "note", 1), 1, "another table's reservation moved this table's counter")
    }
  },
  {
    group,
    name: "reserveIds(0) reserves nothing",
    run: async (ctx) => {
      await declareAll(ctx)
      const none = await reserve(ctx, "thing", 0)
      assert.equal(await reserve(ctx, "thing", 2), none, "reserving 0 ids used one up")
      const after = await reserve(ctx, "thing", 0)
      assert.equal(after, none + 2, "reserveIds(0) does not answer the next free id")
      assert.equal(await reserve(ctx, "thing", 1), after, "reserving 0 ids used one up")
    }
  },
  {
    group,
    name: "reserveIds gives consecutive ranges that never overlap",
    run: async (ctx) => {
      await declareAll(ctx)
      const first = await reserve(ctx, "thing", 5)
      const second = await reserve(ctx, "thing", 1)
      const third = await reserve(ctx, "thing", 3)
      for (const n of [first, second, third]) assert.ok(Number.isSafeInteger(n), `reserveIds gave ${n}`)
      assert.ok(second >= first + 5, `ranges overlap: [${first}, +5) then ${second}`)
      assert.ok(third >= second + 1, `ranges overlap: ${second} then ${third}`)
    }
  },
  {
    group,
    name: "reserveIds never reuses ids, also after removes",
    run: async (ctx) => {
      await declareAll(ctx)
      const docs = await seed(ctx, "thing", [{ uid: "a" }, { uid: "b" }, { uid: "c" }])
      await run(ctx.driver.remove("thing", idsOf(docs)))
      const next = await reserve(ctx, "thing", 2)
      assert.ok(next > Math.max(...idsOf(docs)), `id ${next} reused after remove`)
    }
  },
  {
    group,
    name: "an id inserted without reserveIds is never reserved afterwards",
    run: async (ctx) => {
      await declareAll(ctx)
      await run(ctx.driver.insert("thing", [{ id: 10, uid: "ten" }]))
      await reservesPast(ctx, "thing", 10)
      // Several in one insert: the highest counts, wherever it stands in the call.
      await run(ctx.driver.insert("thing", [{ id: 40, uid: "forty" }, { id: 50, uid: "fifty" }, { id: 45, uid: "forty-five" }]))
      await reservesPast(ctx, "thing", 50)
      assert.equal(await reserve(ctx, "note", 1), 1, "an insert into another table moved this table's counter")
    }
  },
  {
    group,
    name: "an id a batch inserts without reserveIds is never reserved afterwards",
    requires: ["transactions"],
    run: async (ctx) => {
      await declareAll(ctx)
      const batch = ctx.driver.batch
      assert.ok(batch !== undefined, `driver "${ctx.driver.name}" declares transactions but has no batch`)
      await run(
        batch([
          { _tag: "Insert", table: "thing", docs: [{ id: 10, uid: "ten" }] },
          { _tag: "Insert", table: "note", docs: [{ id: 7, uid: "seven" }, { id: 5, uid: "five" }] },
          { _tag: "Update", table: "thing", id: 10, patch: { n: 1 } }
        ])
      )
      await reservesPast(ctx, "thing", 10)
      await reservesPast(ctx, "note", 7)
    }
  },
  {
    group,
    name: "inserts of reserved ids, updates and removes never move the counter",
    run: async (ctx) => {
      await declareAll(ctx)
      const first = await reserve(ctx, "thing", 2)
      await run(ctx.driver.insert("thing", [{ id: first + 1, uid: "b" }, { id: first, uid: "a" }]))
      await run(ctx.driver.update("thing", first + 1, { n: 1 }))
      await run(ctx.driver.update("thing", first, { n: 2 }, { uid: "a" }))
      await failsWith(() => ctx.driver.update("thing", first + 1_000, { n: 3 }), "NotFound")
      assert.equal(await run(ctx.driver.remove("thing", [first, first + 1_000])), 1)
      assert.equal(await reserve(ctx, "thing", 1), first + 2, "a write other than an insert past the counter moved it")
      assert.deepStrictEqual(await findAll(ctx, "thing"), [{ id: first + 1, uid: "b", n: 1 }])
    }
  },
  {
    group,
    name: "get returns documents in the order asked, skipping missing ids",
    run: async (ctx) => {
      await declareAll(ctx)
      const docs = await seed(ctx, "thing", [{ uid: "a" }, { uid: "b" }, { uid: "c" }])
      const [a, b, c] = idsOf(docs) as [number, number, number]
      const got = await run(ctx.driver.get("thing", [c, 999_999, a, b + 1_000_000, b]))
      assert.deepStrictEqual(idsOf(got), [c, a, b])
      assert.deepStrictEqual(await run(ctx.driver.get("thing", [])), [])
    }
  },
  {
    group,
    name: "get returns an id asked twice twice",
    run: async (ctx) => {
      await declareAll(ctx)
      const [a, b] = (await seed(ctx, "thing", [{ uid: "a" }, { uid: "b" }])) as [Driver.Doc, Driver.Doc]
      const [aId, bId] = idsOf([a, b]) as [number, number]
      const got = await run(ctx.driver.get("thing", [aId, bId, aId, 999_999, aId]))
      assert.deepStrictEqual(got, [a, b, a, a], "get must answer once per id asked")
    }
  }
]
