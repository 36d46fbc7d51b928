/**
 * Records round-trip unchanged, and writes do what they say. Round-trips compare with `deepStrictEqual`, so a
 * store that adds, drops or retypes a field (a `null` that vanishes, a number that comes back a string, a date
 * that loses its `Z` or its milliseconds) fails.
 */
import assert from "node:assert/strict"
import { Ast, Driver } from "@lineage/core"
import type { Case, CaseContext } from "../../Case.js"
import { declareAll, failsWith, findAll, idsOf, persisted, run, seed, seedOne } from "../../Fixtures.js"

type Doc = Driver.Doc

const group = "crud"

/** Inserts `row`, reads it back by `get` and by `find`, and through the backdoor when there is one. */
const roundTrip = async (ctx: CaseContext, row: Doc): Promise<void> => {
  await declareAll(ctx)
  const doc = await seedOne(ctx, "bare", row)
  const [got] = await run(ctx.driver.get("bare", [doc["id"] as number]))
  assert.deepStrictEqual(got, doc, "get returned a different document than was inserted")
  const found = await findAll(ctx, "bare")
  assert.deepStrictEqual(found, [doc], "find returned a different document than was inserted")
  if (ctx.backdoor !== undefined) {
    // With a backdoor we also see what was persisted, not just what the driver says it persisted.
    assert.deepStrictEqual(await ctx.backdoor.get("bare", doc["id"] as number), doc, "the persisted document differs")
  }
}

const roundTrips: ReadonlyArray<readonly [string, Doc]> = [
  ["unicode strings", { uid: "u1", s: "Grüße, 日本語, العربية, Ελληνικά, ñ, İ, ß" }],
  ["emoji and astral characters", { uid: "u1", s: "🧬🧪 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍🔬 \u{10FFFF}", k: { "🔑": "🗝️" } }],
  ["control characters, quotes and backslashes", { uid: "u1", s: "tab\tnl\nnul\u0000quote\"back\\slash" }],
  ["U+0000 inside arrays, objects and keys", { uid: "u1", tags: ["a\u0000b", "\u0000"], params: { "k\u0000ey": "v\u0000", nested: { list: [["\u0000"]] } } }],
  ["nested dicts and arrays", { uid: "u1", params: { a: { b: { c: [1, [2, [3, { d: null }]]] } }, list: [{ x: 1 }, { y: [] }] } }],
  ["empty string, object and array", { uid: "u1", s: "", o: {}, a: [], nested: { e: "", o: {}, a: [] } }],
  ["numbers: negative, fractional, large safe integers", { uid: "u1", neg: -42, frac: 0.1, tiny: 1e-12, big: 9007199254740991, nbig: -9007199254740991, exp: 6.02e23 }],
  ["booleans and nulls", { uid: "u1", t: true, f: false, z: null, nested: { z: null, f: false } }],
  ["ISO datetimes preserved exactly (Z and milliseconds)", { uid: "u1", at: "2024-03-01T12:34:56.789Z", midnight: "2024-01-01T00:00:00.000Z", leap: "2024-02-29T23:59:59.999Z", old: "1969-12-31T23:59:59.999Z" }],
  ["strings that look like other types", { uid: "u1", n: "10", b: "true", z: "null", d: "2024-03-01", o: "{}", op: "$gt" }],
  ["keys that look like operators or paths", { uid: "u1", params: { $gt: 1, "a.b": 2, __proto__x: 3, "": 4 } }],
  ["a 1 MB string", { uid: "u1", s: "x".repeat(1024 * 1024 - 1) + "é" }],
  ["a 10 000 element array", { uid: "u1", a: Array.from({ length: 10_000 }, (_, i) => (i % 3 === 0 ? i : i % 3 === 1 ? `s${i}` : { i })) }]
]

export const crud: ReadonlyArray<Case> = [
  ...roundTrips.map(
    ([name, row]): Case => ({ group, name: `round-trips ${name}`, run: (ctx) => roundTrip(ctx, row) })
  ),
  {
    group,
    name: "tables are separate: a document lives only in its own table",
    run: async (ctx) => {
      await declareAll(ctx)
      const doc = await seedOne(ctx, "thing", { uid: "same" })
      assert.deepStrictEqual(await run(ctx.driver.get("note", [doc["id"] as number])), [])
      assert.equal(await run(ctx.driver.count("note", Ast.always)), 0)
      await seedOne(ctx, "note", { uid: "same" })
      assert.equal(await run(ctx.driver.count("thing", Ast.always)), 1)
    }
  },
  {
    group,
    name: "declare is idempotent and keeps the data",
    run: async (ctx) => {
      await declareAll(ctx)
      const doc = await seedOne(ctx, "thing", { uid: "kept", key: "k" })
      await declareAll(ctx)
      assert.deepStrictEqual(await findAll(ctx, "thing"), [doc])
    }
  },
  {
    group,
    name: "declaring a table again adds a unique constraint it lacked",
    run: async (ctx) => {
      const plain = { name: "late", unique: [], indexes: [] }
      await run(ctx.driver.declare([plain]))
      const [a] = await seed(ctx, "late", [{ uid: "a" }, { uid: "b" }])
      await run(ctx.driver.declare([{ ...plain, unique: [{ name: "late_uid", fields: ["uid"] }], indexes: [{ path: ["uid"], kind: "hash" }] }]))
      const id = await run(ctx.driver.reserveIds("late", 1))
      const reason = await failsWith(() => ctx.driver.insert("late", [{ id, uid: "a" }]), "UniqueViolation")
      assert.equal(reason.constraint, "late_uid")
      assert.deepStrictEqual(await run(ctx.driver.get("late", [a!["id"] as number])), [a])
    }
  },
  {
    group,
    name: "update merges top-level fields and returns the new document",
    run: async (ctx) => {
      await declareAll(ctx)
      const doc = await seedOne(ctx, "thing", { uid: "u", key: "k", n: 1, params: { a: 1, b: 2 } })
      const id = doc["id"] as number
      const updated = await run(ctx.driver.update("thing", id, { n: 2, params: { c: 3 }, extra: "new" }))
      const want = { ...doc, n: 2, params: { c: 3 }, extra: "new" }
      assert.deepStrictEqual(updated, want, "update returned another document")
      assert.deepStrictEqual(await run(ctx.driver.get("thing", [id])), [want], "get after update differs")
      if (ctx.backdoor !== undefined) assert.deepStrictEqual(await ctx.backdoor.get("thing", id), want)
    }
  },
  {
    group,
    name: "update can set a field to null and to a datetime",
    run: async (ctx) => {
      await declareAll(ctx)
      const doc = await seedOne(ctx, "thing", { uid: "u", key: "k", version: "1", at: null })
      const id = doc["id"] as number
      await run(ctx.driver.update("thing", id, { version: null, at: "2024-03-01T12:34:56.789Z" }))
      const [got] = await run(ctx.driver.get("thing", [id]))
      assert.deepStrictEqual(got, { ...doc, version: null, at: "2024-03-01T12:34:56.789Z" })
      assert.equal((await findAll(ctx, "thing", Ast.field(["version"], "isNull", true))).length, 1)
    }
  },
  {
    group,
    name: "update of a missing id fails with NotFound naming table and id",
    run: async (ctx) => {
      await declareAll(ctx)
      await seedOne(ctx, "thing", { uid: "u" })
      const reason = await failsWith(() => ctx.driver.update("thing", 424_242, { n: 1 }), "NotFound")
      assert.equal(reason.table, "thing")
      assert.equal(reason.id, 424_242)
      assert.equal(await run(ctx.driver.count("thing", Ast.always)), 1, "a failed update created a document")
    }
  },
  {
    group,
    name: "remove returns how many existed and removes only those",
    run: async (ctx) => {
      await declareAll(ctx)
      const docs = await seed(ctx, "thing", [{ uid: "a" }, { uid: "b" }, { uid: "c" }])
      const [a, b, c] = idsOf(docs) as [number, number, number]
      assert.equal(await run(ctx.driver.remove("thing", [a, 123_456_789])), 1)
      assert.equal(await run(ctx.driver.remove("thing", [a])), 0, "removing twice counted a document again")
      assert.equal(await run(ctx.driver.remove("thing", [])), 0)
      assert.deepStrictEqual(idsOf(await findAll(ctx, "thing")), [b, c])
      assert.deepStrictEqual(await run(ctx.driver.get("thing", [a])), [])
      if (ctx.backdoor !== undefined) assert.deepStrictEqual(idsOf(await persisted(ctx.backdoor, "thing")), [b, c])
    }
  },
  {
    group,
    name: "returned documents are copies (or frozen): mutating them does not change the store",
    run: async (ctx) => {
      await declareAll(ctx)
      const doc = await seedOne(ctx, "thing", { uid: "u", params: { a: [1, 2] } })
      const id = doc["id"] as number
      // A store may hand out frozen documents instead of copies: then the mutation itself is refused.
      const mutate = (f: () => void) => {
        try {
          f()
        } catch (e) {
          if (!(e instanceof TypeError)) throw e
        }
      }
      const [fromGet] = (await run(ctx.driver.get("thing", [id]))) as unknown as Array<Record<string, unknown>>
      mutate(() => (fromGet!["uid"] = "mutated"))
      mutate(() => ((fromGet!["params"] as Record<string, unknown>)["a"] as Array<unknown>).push(3))
      const [fromFind] = (await findAll(ctx, "thing")) as unknown as Array<Record<string, unknown>>
      mutate(() => (fromFind!["extra"] = true))
      const updated = (await run(ctx.driver.update("thing", id, { n: 1 }))) as unknown as Record<string, unknown>
      mutate(() => (updated["n"] = 99))
      assert.deepStrictEqual(await run(ctx.driver.get("thing", [id])), [{ ...doc, n: 1 }])
    }
  },
  {
    group,
    name: "inserted objects are copied: mutating them afterwards does not change the store",
    run: async (ctx) => {
      await declareAll(ctx)
      const id = await run(ctx.driver.reserveIds("thing", 1))
      const params = { a: [1, 2] }
      const row: Record<string, Driver.Json> = { id, uid: "u", params }
      await run(ctx.driver.insert("thing", [row]))
      row["uid"] = "mutated"
      params.a.push(3)
      const patch: Record<string, Driver.Json> = { tags: ["x"] }
      await run(ctx.driver.update("thing", id, patch))
      ;(patch["tags"] as Array<string>).push("y")
      assert.deepStrictEqual(await run(ctx.driver.get("thing", [id])), [{ id, uid: "u", params: { a: [1, 2] }, tags: ["x"] }])
    }
  },
  {
    group,
    name: "what was written is what is persisted (backdoor), and nothing else",
    run: async (ctx) => {
      await declareAll(ctx)
      const docs = await seed(ctx, "thing", [
        { uid: "a", key: "k", at: "2024-03-01T12:34:56.789Z", params: { x: [1, "2", null] } },
        { uid: "b", key: "k", version: "1", n: -0.5 }
      ])
      const [a] = idsOf(docs) as [number]
      await run(ctx.driver.update("thing", a, { n: 3 }))
      const want = [{ ...docs[0]!, n: 3 }, docs[1]!]
      // Without a backdoor the driver's own view is all we can check; with one, the raw store must agree.
      assert.deepStrictEqual(await findAll(ctx, "thing"), want)
      if (ctx.backdoor !== undefined) {
        assert.deepStrictEqual(await persisted(ctx.backdoor, "thing"), want, "the raw store holds other documents")
        assert.deepStrictEqual(await persisted(ctx.backdoor, "note"), [], "a write leaked into another table")
      }
    }
  },
  {
    group,
    name: "a path through a key holding U+0000 reads that key, never the empty key or a prefix",
    run: async (ctx) => {
      await declareAll(ctx)
      const [empty, nul, both] = await seed(ctx, "bare", [
        { uid: "empty", "": 7, o: { "": 1 } },
        { uid: "nul", "\u0000": 7, o: { "\u0000": 1, "\u0000a": 2 } },
        { uid: "both", "": 8, "\u0000": 9 }
      ])
      const uids = async (where: Ast.Cond) => (await findAll(ctx, "bare", where)).map((d) => d["uid"])
      assert.deepStrictEqual(await uids(Ast.field(["\u0000"], "eq", 7)), [nul!["uid"]])
      assert.deepStrictEqual(await uids(Ast.field(["\u0000"], "isNull", true)), [empty!["uid"]])
      assert.deepStrictEqual(await uids(Ast.field(["o", "\u0000"], "eq", 1)), [nul!["uid"]])
      assert.deepStrictEqual(await uids(Ast.field(["o", "\u0000a"], "eq", 2)), [nul!["uid"]])
      const ordered = await run(ctx.driver.find("bare", { where: Ast.always, orderBy: [{ path: ["\u0000"], direction: "desc" }] }))
      assert.deepStrictEqual(ordered.map((d) => d["uid"]), [both!["uid"], nul!["uid"], empty!["uid"]])
    }
  }
]
