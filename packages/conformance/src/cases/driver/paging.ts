/**
 * Limit, offset and keyset cursors. A keyset walk must return every row exactly once and in order, however
 * many ties and nulls the order has, and keep doing so while rows are written between pages. `limit: 0` is
 * an empty page (MongoDB reads it as "no limit").
 */
import assert from "node:assert/strict"
import { Ast, Driver, Evaluator } from "@lineage/core"
import type { Case, CaseContext } from "../../Case.js"
import { agrees, declareAll, idsOf, keysetWalk, run, seed } from "../../Fixtures.js"

const group = "paging"

const asc = (...path: ReadonlyArray<string>): Ast.OrderKey => ({ path, direction: "asc" })
const desc = (...path: ReadonlyArray<string>): Ast.OrderKey => ({ path, direction: "desc" })

/** 41 rows with many ties, nulls and missing values, so cursors must carry the id to make progress. */
const rows: ReadonlyArray<Driver.Doc> = Array.from({ length: 41 }, (_, i) => {
  const row: Record<string, Driver.Json> = { uid: `r${String(i).padStart(2, "0")}`, n: i % 4, key: ["b", "a", "c"][i % 3]! }
  if (i % 5 !== 0) row["at"] = `2024-0${1 + (i % 3)}-01T00:00:0${i % 2}.000Z`
  if (i % 7 === 0) row["n"] = null
  if (i % 6 !== 0) row["name"] = i % 2 === 0 ? `Name ${i % 9}` : `name ${i % 4}`
  return row
})

const seeded = async (ctx: CaseContext): Promise<Array<Driver.Doc>> => {
  await declareAll(ctx)
  return seed(ctx, "thing", rows)
}

const orders: ReadonlyArray<readonly [string, ReadonlyArray<Ast.OrderKey>]> = [
  ["by id", []],
  ["by n ascending (ties, nulls)", [asc("n")]],
  ["by n descending (ties, nulls)", [desc("n")]],
  ["by key then at descending", [asc("key"), desc("at")]],
  ["by name descending (missing values)", [desc("name")]]
]

export const paging: ReadonlyArray<Case> = [
  {
    group,
    name: "limit returns the first rows of the order",
    run: async (ctx) => {
      const docs = await seeded(ctx)
      for (const limit of [1, 5, 40, 41, 100]) await agrees(ctx, "thing", docs, { where: Ast.always, orderBy: [asc("n")], limit })
    }
  },
  {
    group,
    name: "offset skips rows of the order; past the end is empty",
    run: async (ctx) => {
      const docs = await seeded(ctx)
      for (const offset of [0, 1, 13, 40, 41, 1000]) await agrees(ctx, "thing", docs, { where: Ast.always, orderBy: [desc("key")], offset })
      const past = await run(ctx.driver.find("thing", { where: Ast.always, orderBy: [], offset: 41 }))
      assert.deepStrictEqual(past, [])
    }
  },
  {
    group,
    name: "limit 0 returns no rows",
    run: async (ctx) => {
      await seeded(ctx)
      assert.deepStrictEqual(await run(ctx.driver.find("thing", { where: Ast.always, orderBy: [], limit: 0 })), [])
      assert.deepStrictEqual(await run(ctx.driver.find("thing", { where: Ast.always, orderBy: [asc("n")], limit: 0, offset: 3 })), [])
    }
  },
  {
    group,
    name: "limit/offset windows tile the whole order exactly",
    run: async (ctx) => {
      const docs = await seeded(ctx)
      const orderBy = [asc("n"), desc("name")]
      const where = Ast.field(["key"], "ne", "c")
      const all = Evaluator.find(docs, { where, orderBy })
      const tiled: Array<number> = []
      for (let offset = 0; offset < all.length + 4; offset += 4) {
        tiled.push(...idsOf(await agrees(ctx, "thing", docs, { where, orderBy, limit: 4, offset })))
      }
      assert.deepStrictEqual(tiled, idsOf(all))
    }
  },
  {
    group,
    name: "count matches the number of rows find returns, and ignores paging",
    run: async (ctx) => {
      const docs = await seeded(ctx)
      for (const where of [Ast.always, Ast.never, Ast.field(["n"], "eq", 1), Ast.field(["name"], "isNull", true), Ast.field(["at"], "gte", "2024-02-01T00:00:00.000Z")]) {
        const found = await run(ctx.driver.find("thing", { where, orderBy: [desc("n")], limit: 3, offset: 1 }))
        const all = await run(ctx.driver.find("thing", { where, orderBy: [] }))
        const count = await run(ctx.driver.count("thing", where))
        assert.equal(count, all.length, `count disagrees with find for ${JSON.stringify(where)}`)
        assert.equal(count, docs.filter(Evaluator.predicate(where)).length)
        assert.ok(found.length <= 3)
      }
    }
  },
  ...orders.map(
    ([label, orderBy]): Case => ({
      group,
      name: `keyset walk ${label} returns every row once, in order`,
      run: async (ctx) => {
        const docs = await seeded(ctx)
        for (const pageSize of [1, 4, 7]) {
          const got = await keysetWalk(ctx, "thing", { where: Ast.always, orderBy, pageSize, maxRows: docs.length })
          assert.deepStrictEqual(idsOf(got), idsOf(Evaluator.find(docs, { where: Ast.always, orderBy })), `page size ${pageSize}`)
        }
      }
    })
  ),
  {
    group,
    name: "keyset walk with a filter agrees with the evaluator page by page",
    run: async (ctx) => {
      const docs = await seeded(ctx)
      const where = Ast.or([Ast.field(["n"], "in", [0, 2]), Ast.field(["name"], "istartsWith", "NAME 1")])
      const orderBy = [desc("at"), asc("name")]
      let after: Ast.Cursor | undefined
      for (let pages = 0; pages < docs.length; pages++) {
        const page = await agrees(ctx, "thing", docs, { where, orderBy, limit: 3, after })
        if (page.length < 3) return
        after = Evaluator.cursorOf(orderBy, page[page.length - 1]!)
      }
      assert.fail("the walk did not end")
    }
  },
  {
    group,
    name: "keyset walk while rows are inserted between pages",
    run: async (ctx) => {
      const docs = await seeded(ctx)
      const orderBy = [desc("n")]
      const late: Array<Driver.Doc> = []
      let k = 0
      const got = await keysetWalk(ctx, "thing", { where: Ast.always, orderBy, pageSize: 5, maxRows: docs.length * 3 }, async () => {
        // Descending, n = 99 sorts before every cursor; a null n with a newer id sorts after every cursor.
        const fresh = await seed(ctx, "thing", [
          { uid: `early${k}`, n: 99 },
          { uid: `late${k}`, n: null }
        ])
        k++
        late.push(fresh[1]!)
      })
      const ids = idsOf(got)
      assert.equal(new Set(ids).size, ids.length, "a row was returned twice")
      for (const d of docs) assert.ok(ids.includes(d["id"] as number), `row ${String(d["uid"])} was skipped`)
      assert.ok(!got.some((d) => String(d["uid"]).startsWith("early")), "a row inserted before the cursor appeared")
      for (const d of late) assert.ok(ids.includes(d["id"] as number), `row ${String(d["uid"])} inserted after the cursor was missed`)
      for (let i = 1; i < got.length; i++) {
        assert.ok(Evaluator.compareDocs(orderBy)(got[i - 1]!, got[i]!) < 0, "the walk is out of order")
      }
    }
  },
  {
    group,
    name: "a cursor still works after its row was removed",
    run: async (ctx) => {
      const docs = await seeded(ctx)
      const orderBy = [asc("key"), asc("n")]
      const first = await run(ctx.driver.find("thing", { where: Ast.always, orderBy, limit: 10 }))
      const last = first[first.length - 1]!
      await run(ctx.driver.remove("thing", [last["id"] as number]))
      const rest = docs.filter((d) => d["id"] !== last["id"])
      await agrees(ctx, "thing", rest, { where: Ast.always, orderBy, after: Evaluator.cursorOf(orderBy, last) })
    }
  },
  {
    group,
    name: "after combines with offset and limit as the evaluator does",
    run: async (ctx) => {
      const docs = await seeded(ctx)
      const orderBy = [desc("n")]
      const after = Evaluator.cursorOf(orderBy, Evaluator.find(docs, { where: Ast.always, orderBy })[9]!)
      await agrees(ctx, "thing", docs, { where: Ast.always, orderBy, after, offset: 2, limit: 5 })
      await agrees(ctx, "thing", docs, { where: Ast.always, orderBy, after: { values: [null], id: 0 } })
      await agrees(ctx, "thing", docs, { where: Ast.always, orderBy: [], after: { values: [], id: 20 } })
    }
  }
]
