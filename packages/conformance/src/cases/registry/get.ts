/**
 * `get` by integer id, full uid, uid prefix and expression, with lamindb's semantics and errors, and
 * `getOrCreate`, also under racing callers.
 */
import assert from "node:assert/strict"
import { Feature, Run, Transform, ULabel, User } from "@lineage/core"
import { Effect } from "effect"
import type { Case } from "../../Case.js"
import { counting, newRun, newTransform, open, registryCase, type Session } from "./support.js"

const group = "get"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

/** Runs with chosen uids sharing prefixes, on one transform. */
const prefixed = async (s: Session) => {
  const t = await newTransform(s)
  const uids = ["abcd000000000001", "abcd000000000002", "abcd00000000000X", "abcE000000000001", "Zz00000000000000"]
  const runs = []
  for (const uid of uids) runs.push(await newRun(s, t, { uid }))
  return runs
}

/** Half of a surrogate pair without the other: text no UTF-8 encoder can write. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export const get: ReadonlyArray<Case> = [
  c("by integer id; a missing id is DoesNotExist", async (s) => {
    const t = await newTransform(s)
    const runs = [await newRun(s, t), await newRun(s, t), await newRun(s, t)]
    for (const r of runs) assert.deepStrictEqual(await s.run(Run.get(r.id)), r)
    const e = await s.fail(Run.get(runs[2]!.id + 1000), "DoesNotExist")
    assert.equal(e.registry, "Run")
    assert.match(e.message, new RegExp(String(runs[2]!.id + 1000)))
    const f = await s.fail(Run.get(1.5), "InvalidQuery")
    assert.equal(f.field, "id")
  }),
  c("by full uid, on every registry", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t)
    const f = await s.run(Feature.create({ name: "f", dtype: "int" }))
    const u = await s.run(ULabel.create({ name: "u" }))
    const user = await s.run(User.create({ handle: "h" }))
    assert.equal((await s.run(Transform.get(t.uid))).id, t.id)
    assert.equal((await s.run(Run.get(r.uid))).id, r.id)
    assert.equal((await s.run(Feature.get(f.uid))).id, f.id)
    assert.equal((await s.run(ULabel.get(u.uid))).id, u.id)
    assert.equal((await s.run(User.get(user.uid))).id, user.id)
  }),
  c("by a unique uid prefix", async (s) => {
    const runs = await prefixed(s)
    assert.equal((await s.run(Run.get("abcE"))).id, runs[3]!.id)
    assert.equal((await s.run(Run.get("Z"))).id, runs[4]!.id)
    assert.equal((await s.run(Run.get("abcd00000000000X"))).id, runs[2]!.id)
    assert.equal((await s.run(Run.get("abcd000000000002"))).id, runs[1]!.id)
  }),
  c("uid prefixes are case-sensitive", async (s) => {
    const runs = await prefixed(s)
    assert.equal((await s.run(Run.get("abcE"))).id, runs[3]!.id)
    await s.fail(Run.get("ABCE"), "DoesNotExist")
    await s.fail(Run.get("zZ"), "DoesNotExist")
  }),
  c("an ambiguous uid prefix is MultipleObjectsReturned with the count", async (s) => {
    await prefixed(s)
    const e = await s.fail(Run.get("abcd"), "MultipleObjectsReturned")
    assert.equal(e.registry, "Run")
    assert.equal(e.count, 3)
    assert.match(e.message, /abcd/)
    const e2 = await s.fail(Run.get("abc"), "MultipleObjectsReturned")
    assert.equal(e2.count, 4)
  }),
  c("a uid prefix matching nothing is DoesNotExist naming the uid and the registry's name field", async (s) => {
    await prefixed(s)
    const e = await s.fail(Run.get("abcZ"), "DoesNotExist")
    assert.equal(e.registry, "Run")
    assert.match(e.message, /abcZ/)
    assert.match(e.hint ?? "", /Run\.get\(\{ startedAt: 'abcZ' \}\)/)
    const f = await s.fail(Feature.get("nope"), "DoesNotExist")
    assert.match(f.hint ?? "", /Feature\.get\(\{ name: 'nope' \}\)/)
    const t = await s.fail(Transform.get("nope"), "DoesNotExist")
    assert.match(t.hint ?? "", /Transform\.get\(\{ key: 'nope' \}\)/)
    const u = await s.fail(User.get("nope"), "DoesNotExist")
    assert.match(u.hint ?? "", /handle/)
  }),
  c("a string that cannot be a uid (not base62, too long, empty) is DoesNotExist with the keyword hint, found without a look-up", async (s) => {
    await prefixed(s)
    const spy = counting(s.ctx.driver)
    const t = await open(s.ctx, spy.driver)
    spy.reset()
    for (const bad of ["abc-", "abcd 0000", "ab_c", "é", "abcd0000000000011", ""]) {
      const e = await t.fail(Run.get(bad), "DoesNotExist")
      assert.equal(e.registry, "Run", `for ${JSON.stringify(bad)}`)
      assert.equal(e.hint, `Did you forget a keyword as in Run.get({ startedAt: '${bad}' })?`)
    }
    const label = await t.fail(ULabel.get("some-label-name"), "DoesNotExist")
    assert.match(label.message, /uid 'some-label-name'/)
    assert.equal(label.hint, "Did you forget a keyword as in ULabel.get({ name: 'some-label-name' })?")
    await t.fail(ULabel.get("abcdefghi"), "DoesNotExist")
    assert.equal(spy.calls(), 0, "the store was asked for a uid no record can have")
  }),
  c("get with a hostile string gives a short, well-formed message; other non-objects stay InvalidQuery", async (s) => {
    await prefixed(s)
    const huge = await s.fail(ULabel.get("x".repeat(1_000_000)), "DoesNotExist")
    assert.ok(huge.message.length < 600, `a message of ${huge.message.length} characters`)
    const control = await s.fail(ULabel.get("a\u0000b\nc\u001b[31m"), "DoesNotExist")
    assert.doesNotMatch(control.message, /[\u0000-\u001f]/)
    assert.match(control.hint ?? "", /'a\\u0000b\\nc\\u001b\[31m'/)
    const quote = await s.fail(ULabel.get("it's"), "DoesNotExist")
    assert.equal(quote.hint, "Did you forget a keyword as in ULabel.get({ name: 'it\\'s' })?")
    const surrogate = await s.fail(ULabel.get(`${"y".repeat(99)}\uD83D\uDE00z`), "DoesNotExist")
    assert.doesNotMatch(surrogate.message, loneSurrogate, "a surrogate pair cut in half")
    const lone = await s.fail(ULabel.get("\uD800"), "DoesNotExist")
    assert.doesNotMatch(lone.message, loneSurrogate)
    for (const bad of [true, null, undefined, Symbol("s")])
      await s.fail(Run.get(bad as unknown as string), "InvalidQuery")
  }),
  c("by expression: one, none, several", async (s) => {
    const t = await newTransform(s)
    const a = await newRun(s, t, { name: "a" })
    await newRun(s, t, { name: "b" })
    await newRun(s, t, { name: "b" })
    assert.equal((await s.run(Run.get({ name: "a" }))).id, a.id)
    const none = await s.fail(Run.get({ name: "c" }), "DoesNotExist")
    assert.equal(none.registry, "Run")
    const several = await s.fail(Run.get({ name: "b" }), "MultipleObjectsReturned")
    assert.equal(several.count, 2)
    // @ts-expect-error invalid on purpose
    const invalid = await s.fail(Run.get({ nome: "b" }), "InvalidQuery")
    assert.equal(invalid.field, "nome")
  }),
  c("versioned: a stem or stem prefix returns the family's latest version", async (s) => {
    const v1 = await s.run(Transform.create({ key: "fam", version: "1" }))
    const v2 = await s.run(Transform.create({ key: "fam", version: "2" }))
    const v3 = await s.run(Transform.create({ key: "fam", version: "3" }))
    const stem = v1.uid.slice(0, 12)
    assert.equal((await s.run(Transform.get(stem))).id, v3.id)
    assert.equal((await s.run(Transform.get(stem.slice(0, 5)))).id, v3.id)
    assert.equal((await s.run(Transform.get(v2.uid))).id, v2.id, "a full uid names exactly that version")
    assert.equal((await s.run(Transform.get(v1.uid))).id, v1.id)
    await s.run(Transform.delete(v3))
    assert.equal((await s.run(Transform.get(stem))).id, v2.id, "after trashing the head, the promoted version")
  }),
  c("versioned: get({ key, version }) names a version, get({ key }) the latest", async (s) => {
    const v1 = await s.run(Transform.create({ key: "Cell Ranger", version: "7.1.0" }))
    const v2 = await s.run(Transform.create({ key: "Cell Ranger", version: "7.2.0" }))
    await s.run(Transform.create({ key: "other", version: "7.1.0" }))
    assert.equal((await s.run(Transform.get({ key: "Cell Ranger", version: "7.1.0" }))).id, v1.id)
    assert.equal((await s.run(Transform.get({ key: "Cell Ranger", version: "7.2.0" }))).id, v2.id)
    assert.equal((await s.run(Transform.get({ key: "Cell Ranger" }))).id, v2.id)
    await s.fail(Transform.get({ key: "Cell Ranger", version: "9" }), "DoesNotExist")
    // As lamindb: an expression on a versioned registry looks among latest versions first.
    assert.equal((await s.run(Transform.get({ version: "7.1.0" }))).key, "other")
    await s.run(Transform.create({ key: "third", version: "7.1.0" }))
    const e = await s.fail(Transform.get({ version: "7.1.0" }), "MultipleObjectsReturned")
    assert.equal(e.count, 2)
  }),
  c("trashed records are found by id and uid but not by expression", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t, { name: "gone" })
    await s.run(Run.delete(r))
    assert.equal((await s.run(Run.get(r.id))).branchId, -1)
    assert.equal((await s.run(Run.get(r.uid))).branchId, -1)
    assert.equal((await s.run(Run.get(r.uid.slice(0, 10)))).id, r.id)
    await s.fail(Run.get({ name: "gone" }), "DoesNotExist")
    assert.equal((await s.run(Run.get({ name: "gone", branchId: -1 }))).id, r.id)
  }),
  c("getOrCreate returns the existing record or creates one from lookup and defaults", async (s) => {
    const f = await s.run(Feature.getOrCreate({ name: "lr" }, { dtype: "float" }))
    assert.equal(f.dtype, "float")
    const again = await s.run(Feature.getOrCreate({ name: "lr" }, { dtype: "int" }))
    assert.equal(again.id, f.id)
    assert.equal(again.dtype, "float", "defaults must not change an existing record")
    assert.equal(await s.run(Feature.filter().count()), 1)
    const t = await s.run(Transform.getOrCreate({ key: "k", version: "1" }))
    assert.equal((await s.run(Transform.getOrCreate({ key: "k", version: "1" }))).id, t.id)
    assert.equal(await s.run(Transform.filter().count()), 1)
  }),
  c("concurrent getOrCreate: 20 racing callers all get the same record, and only one exists", async (s) => {
    const results = await s.run(
      Effect.all(
        Array.from({ length: 20 }, () => Feature.getOrCreate({ name: "racy" }, { dtype: "int" })),
        { concurrency: "unbounded" }
      )
    )
    assert.equal(new Set(results.map((r) => r.id)).size, 1)
    assert.equal(await s.run(Feature.filter({ name: "racy" }).count()), 1)
    assert.equal((await s.persistedAll("feature")).length, 1)
  }),
  c("concurrent getOrCreate of a versioned record by key and version yields one record", async (s) => {
    const results = await s.run(
      Effect.all(
        Array.from({ length: 20 }, () => Transform.getOrCreate({ key: "racy", version: "1.0" })),
        { concurrency: "unbounded" }
      )
    )
    assert.equal(new Set(results.map((r) => r.id)).size, 1)
    const all = await s.persistedAll("transform")
    assert.equal(all.length, 1)
    assert.equal(all[0]!["isLatest"], true)
  }),
  c("concurrent getOrCreate of a versioned record by key alone yields one record", async (s) => {
    const results = await s.run(
      Effect.all(
        Array.from({ length: 10 }, () => Transform.getOrCreate({ key: "racy-by-key" })),
        { concurrency: "unbounded" }
      )
    )
    assert.equal(new Set(results.map((r) => r.id)).size, 1)
    assert.equal((await s.persistedAll("transform")).length, 1)
  })
]
