/**
 * Unique constraints and compare-and-set: refusals are `UniqueViolation` / `Conflict` naming what clashed, and
 * a refused write leaves no trace (checked through the backdoor when there is one).
 */
import assert from "node:assert/strict"
import { Ast, Driver } from "@lineage/core"
import type { Case, CaseContext } from "../../Case.js"
import { declareAll, failsWith, findAll, idsOf, persisted, run, seed, seedOne, thing } from "../../Fixtures.js"

type Doc = Driver.Doc

const group = "uniqueness"

/** The table must hold exactly `want`, by the driver's account and by the raw store's. */
const holds = async (ctx: CaseContext, want: ReadonlyArray<Doc>, what: string): Promise<void> => {
  assert.deepStrictEqual(await findAll(ctx, "thing"), want, `${what}: the driver reports other documents`)
  assert.equal(await run(ctx.driver.count("thing", Ast.always)), want.length, `${what}: count differs`)
  if (ctx.backdoor !== undefined) {
    assert.deepStrictEqual(await persisted(ctx.backdoor, "thing"), want, `${what}: the raw store holds other documents`)
  }
}

const fresh = async (ctx: CaseContext, rows: ReadonlyArray<Doc>): Promise<Array<Doc>> => {
  const first = await run(ctx.driver.reserveIds("thing", rows.length))
  return rows.map((r, i) => ({ id: first + i, ...r }))
}

export const uniqueness: ReadonlyArray<Case> = [
  {
    group,
    name: "a duplicate uid is refused with UniqueViolation naming constraint, fields and values",
    run: async (ctx) => {
      await declareAll(ctx)
      const stored = await seed(ctx, "thing", [{ uid: "dup", key: "a" }])
      const [doc] = await fresh(ctx, [{ uid: "dup", key: "b" }])
      const reason = await failsWith(() => ctx.driver.insert("thing", [doc!]), "UniqueViolation")
      assert.equal(reason.table, "thing")
      assert.equal(reason.constraint, "thing_uid")
      assert.deepStrictEqual(reason.fields, ["uid"])
      assert.deepStrictEqual(reason.values, ["dup"])
      await holds(ctx, stored, "after a refused insert")
    }
  },
  {
    group,
    name: "a compound (key, version) constraint refuses only the full pair",
    run: async (ctx) => {
      await declareAll(ctx)
      const stored = await seed(ctx, "thing", [
        { uid: "a", key: "k", version: "1" },
        { uid: "b", key: "k", version: "2" },
        { uid: "c", key: "other", version: "1" }
      ])
      const [dup] = await fresh(ctx, [{ uid: "d", key: "k", version: "2" }])
      const reason = await failsWith(() => ctx.driver.insert("thing", [dup!]), "UniqueViolation")
      assert.equal(reason.constraint, "thing_key_version")
      assert.deepStrictEqual(reason.fields, ["key", "version"])
      assert.deepStrictEqual(reason.values, ["k", "2"])
      await holds(ctx, stored, "after a refused insert")
    }
  },
  {
    group,
    name: "constraints compare values exactly: case and type matter",
    run: async (ctx) => {
      await declareAll(ctx)
      await seed(ctx, "thing", [
        { uid: "abc", key: "k", version: "1" },
        { uid: "ABC", key: "k", version: 1 },
        { uid: "abc ", key: "K", version: "1" }
      ])
      assert.equal(await run(ctx.driver.count("thing", Ast.always)), 3)
    }
  },
  {
    group,
    name: "null or missing in a constrained field is not constrained",
    run: async (ctx) => {
      await declareAll(ctx)
      const docs = await seed(ctx, "thing", [
        { uid: "a", key: "k", version: null },
        { uid: "b", key: "k", version: null },
        { uid: "c", key: "k" },
        { uid: "d", key: null, version: "1" },
        { uid: "e", version: "1" }
      ])
      await holds(ctx, docs, "after inserting null-keyed documents")
    }
  },
  {
    group,
    name: "a violation inside one multi-document insert writes nothing",
    run: async (ctx) => {
      await declareAll(ctx)
      const docs = await fresh(ctx, [
        { uid: "a", key: "k", version: "1" },
        { uid: "b", key: "k", version: "2" },
        { uid: "c", key: "k", version: "1" },
        { uid: "d", key: "k", version: "3" }
      ])
      const reason = await failsWith(() => ctx.driver.insert("thing", docs), "UniqueViolation")
      assert.equal(reason.constraint, "thing_key_version")
      assert.deepStrictEqual(await run(ctx.driver.get("thing", idsOf(docs))), [], "part of a refused insert was written")
      await holds(ctx, [], "after a refused multi-document insert")
    }
  },
  {
    group,
    name: "a violation against stored rows writes nothing of a multi-document insert",
    run: async (ctx) => {
      await declareAll(ctx)
      const stored = await seed(ctx, "thing", [{ uid: "taken", key: "x" }])
      const docs = await fresh(ctx, [{ uid: "new1" }, { uid: "new2" }, { uid: "taken" }, { uid: "new3" }])
      const reason = await failsWith(() => ctx.driver.insert("thing", docs), "UniqueViolation")
      assert.equal(reason.constraint, "thing_uid")
      assert.deepStrictEqual(reason.values, ["taken"])
      await holds(ctx, stored, "after a refused multi-document insert")
    }
  },
  {
    group,
    name: "an update that would violate a constraint is refused and leaves the document unchanged",
    run: async (ctx) => {
      await declareAll(ctx)
      const stored = await seed(ctx, "thing", [
        { uid: "a", key: "k", version: "1", n: 1 },
        { uid: "b", key: "k", version: "2", n: 2 }
      ])
      const b = stored[1]!["id"] as number
      const byUid = await failsWith(() => ctx.driver.update("thing", b, { uid: "a", n: 99 }), "UniqueViolation")
      assert.equal(byUid.constraint, "thing_uid")
      const byPair = await failsWith(() => ctx.driver.update("thing", b, { version: "1", n: 99 }), "UniqueViolation")
      assert.equal(byPair.constraint, "thing_key_version")
      await holds(ctx, stored, "after refused updates")
    }
  },
  {
    group,
    name: "an update may keep its own unique values",
    run: async (ctx) => {
      await declareAll(ctx)
      const doc = await seedOne(ctx, "thing", { uid: "a", key: "k", version: "1" })
      const id = doc["id"] as number
      const updated = await run(ctx.driver.update("thing", id, { uid: "a", key: "k", version: "1", n: 5 }))
      assert.deepStrictEqual(updated, { ...doc, n: 5 })
    }
  },
  {
    group,
    name: "after a remove, its unique values can be used again",
    run: async (ctx) => {
      await declareAll(ctx)
      const [old] = await seed(ctx, "thing", [{ uid: "u", key: "k", version: "1" }])
      await run(ctx.driver.remove("thing", [old!["id"] as number]))
      const again = await seedOne(ctx, "thing", { uid: "u", key: "k", version: "1" })
      await holds(ctx, [again], "after re-inserting removed unique values")
    }
  },
  {
    group,
    name: "after an update moves a unique value, the old value is free",
    run: async (ctx) => {
      await declareAll(ctx)
      const [a] = await seed(ctx, "thing", [{ uid: "old", key: "k", version: "1" }])
      const moved = await run(ctx.driver.update("thing", a!["id"] as number, { uid: "new", version: "2" }))
      const b = await seedOne(ctx, "thing", { uid: "old", key: "k", version: "1" })
      await holds(ctx, [moved, b], "after reusing values an update gave up")
    }
  },
  {
    group,
    name: "compare-and-set applies when the expected values match",
    run: async (ctx) => {
      await declareAll(ctx)
      const doc = await seedOne(ctx, "thing", { uid: "u", n: 1, status: "started", done: null })
      const id = doc["id"] as number
      const updated = await run(ctx.driver.update("thing", id, { n: 2, status: "completed" }, { n: 1, status: "started", done: null }))
      assert.deepStrictEqual(updated, { ...doc, n: 2, status: "completed" })
      await holds(ctx, [updated], "after a matching compare-and-set")
    }
  },
  {
    group,
    name: "compare-and-set fails with Conflict on a mismatch and leaves the document unchanged",
    run: async (ctx) => {
      await declareAll(ctx)
      const doc = await seedOne(ctx, "thing", { uid: "u", n: 1, status: "started" })
      const id = doc["id"] as number
      const reason = await failsWith(() => ctx.driver.update("thing", id, { n: 2 }, { n: 0 }), "Conflict")
      assert.equal(reason.table, "thing")
      assert.equal(reason.id, id)
      // One matching and one mismatching expectation is still a mismatch.
      await failsWith(() => ctx.driver.update("thing", id, { n: 2 }, { status: "started", n: "1" }), "Conflict")
      await holds(ctx, [doc], "after refused compare-and-set updates")
    }
  },
  {
    group,
    name: "compare-and-set on a missing id is NotFound, not Conflict",
    run: async (ctx) => {
      await declareAll(ctx)
      await seedOne(ctx, "thing", { uid: "u", n: 1 })
      await failsWith(() => ctx.driver.update("thing", 31_337, { n: 2 }, { n: 1 }), "NotFound")
    }
  },
  {
    group,
    name: "declaring a constraint over rows that already collide is a UniqueViolation naming it, not retryable",
    run: async (ctx) => {
      await declareAll(ctx)
      const stored = await seed(ctx, "thing", [{ uid: "a", c: 1 }, { uid: "b", c: 1 }, { uid: "c", c: 2 }])
      const spec: Driver.TableSpec = { ...thing, unique: [...thing.unique, { name: "thing_c", fields: ["c"] }] }
      const reason = await failsWith(() => ctx.driver.declare([spec]), "UniqueViolation")
      assert.equal(reason.table, "thing")
      assert.equal(reason.constraint, "thing_c")
      assert.deepStrictEqual(reason.fields, ["c"])
      await holds(ctx, stored, "after a refused declare")
    }
  },
  {
    group,
    name: "one insert holding one id twice is a UniqueViolation on id and writes nothing",
    run: async (ctx) => {
      await declareAll(ctx)
      const stored = await seed(ctx, "thing", [{ uid: "kept" }])
      const [a, b] = await fresh(ctx, [{ uid: "a" }, { uid: "b" }])
      for (const docs of [[a!, { ...a!, uid: "a2" }], [a!, a!], [a!, b!, { ...b!, uid: "b2" }]]) {
        const reason = await failsWith(() => ctx.driver.insert("thing", docs), "UniqueViolation")
        assert.equal(reason.constraint, "id")
        assert.deepStrictEqual(reason.fields, ["id"])
        assert.deepStrictEqual(reason.values, [docs[docs.length - 1]!["id"]])
        await holds(ctx, stored, "after a refused insert")
      }
    }
  }
]
