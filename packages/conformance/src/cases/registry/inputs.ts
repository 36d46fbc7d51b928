/**
 * Inputs a store could not hold faithfully, or that would leave records pointing nowhere, are refused by the
 * domain before anything is written, with a typed error naming the field and the value:
 * - text with an unpaired UTF-16 surrogate (UTF-8 stores cannot round-trip it), in any field, JSON key or
 *   value, feature value, or query value;
 * - a reference (`transformId`, `{ transform }`, `runId`, …) to a record that does not exist;
 * - an artifact `size` that is not a non-negative safe integer.
 */
import assert from "node:assert/strict"
import { Artifact, Collection, Feature, Features, type LineageError, Q, Records, Run, type Store, Transform, ULabel } from "@lineage/core"
import type { Effect } from "effect"
import type { Case } from "../../Case.js"
import { anyRuns, counting, newRun, open, registryCase, type Session } from "./support.js"

const group = "inputs"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

const lone = ["\uD800", "a\uDBFFb", "\uDC00", "x\uDFFF", "\uDE00\uD83E"] as const

const countAll = (s: Session) =>
  Promise.all(["transform", "run", "feature", "artifact", "ulabel"].map(async (t) => (await s.persistedAll(t)).length))

export const inputs: ReadonlyArray<Case> = [
  c("text with an unpaired surrogate is refused in every field, key and feature value; nothing is written", async (s) => {
    await s.run(Feature.create({ name: "label", dtype: "str" }))
    await s.run(Feature.create({ name: "meta", dtype: "dict" }))
    const t = await s.run(Transform.create({ key: "k" }))
    const run = await newRun(s, t, { name: "ok 🧬" })
    const before = await countAll(s)
    for (const bad of lone) {
      const key = await s.fail(Transform.create({ key: bad }), "ValidationError")
      assert.equal(key.field, "key")
      assert.equal(key.value, bad)
      assert.match(key.message, /unpaired UTF-16 surrogate/)
      assert.equal((await s.fail(Transform.create({ key: "k2", description: bad }), "ValidationError")).field, "description")
      assert.equal((await s.fail(Feature.create({ name: bad, dtype: "int" }), "ValidationError")).field, "name")
      assert.equal((await s.fail(ULabel.create({ name: bad }), "ValidationError")).field, "name")
      assert.equal((await s.fail(Run.create({ transformId: t.id, params: { a: bad } }), "ValidationError")).field, "params")
      assert.equal((await s.fail(Run.create({ transformId: t.id, params: { [bad]: 1 } }), "ValidationError")).field, "params")
      assert.equal((await s.fail(Run.create({ transformId: t.id, params: { a: [{ b: bad }] } }), "ValidationError")).field, "params")
      assert.equal((await s.fail(Run.update(run, { name: bad }), "ValidationError")).field, "name")
      assert.equal((await s.fail(Features.add(run, { label: bad }), "ValidationError")).field, "featureValues")
      assert.equal((await s.fail(Features.add(run, { meta: { [bad]: 1 } }), "ValidationError")).field, "featureValues")
    }
    assert.deepStrictEqual(await countAll(s), before)
    const stored = await s.persisted("run", run.id)
    assert.equal(stored?.["name"], "ok 🧬")
    assert.deepStrictEqual(stored?.["featureValues"], {})
    assert.equal(stored?.["params"], null)
    // Well-formed text outside the BMP is stored and found.
    await s.run(Features.add(run, { label: "🧬", meta: { "🧬": "\uFFFD" } }))
    assert.equal(await s.run(anyRuns().filter({ label: "🧬", name__endswith: "🧬" }).count()), 1)
  }),
  c("a query value or key with an unpaired surrogate is InvalidQuery before the store is touched", async (s) => {
    await s.run(Feature.create({ name: "label", dtype: "str" }))
    const spy = counting(s.ctx.driver)
    const t = await open(s.ctx, spy.driver)
    spy.reset()
    for (const bad of lone) {
      const key = await t.fail(Transform.filter({ key: bad }).all(), "InvalidQuery")
      assert.equal(key.field, "key")
      assert.equal(key.value, bad)
      assert.match(key.message, /unpaired UTF-16 surrogate/)
      assert.equal((await t.fail(Transform.filter({ key__startswith: bad }).count(), "InvalidQuery")).field, "key")
      assert.equal((await t.fail(Transform.filter({ key__in: ["ok", bad] }).count(), "InvalidQuery")).field, "key")
      assert.equal((await t.fail(Run.filter({ transform__key__contains: bad }).count(), "InvalidQuery")).field, "transform__key")
      assert.equal((await t.fail(Run.filter(Q.where(["params", "a"], "eq", { x: bad })).count(), "InvalidQuery")).field, "params__a")
      assert.equal((await t.fail(anyRuns().filter({ label: bad }).count(), "InvalidQuery")).field, "label")
      await t.fail(anyRuns().filter({ [bad]: 1 }).count(), "InvalidQuery")
      await t.fail(Run.filter(Q.where(["params", bad], "eq", 1)).count(), "InvalidQuery")
      await t.fail(Run.filter().orderBy(`params__${bad}`).all(), "InvalidQuery")
    }
    assert.equal(spy.calls(), 0, "the driver was called for a query holding an unpaired surrogate")
  }),
  c("a reference to a record that does not exist is refused, naming the field and the id", async (s) => {
    const t = await s.run(Transform.create({ key: "k" }))
    const run = await newRun(s, t)
    const missing = 999_999
    const refused = (effect: Effect.Effect<unknown, unknown, Store.Store>) => effect as Effect.Effect<unknown, LineageError, Store.Store>
    const cases = [
      [Run.create({ transformId: missing }), "transformId", "Transform"],
      [Run.create({ transform: missing }), "transformId", "Transform"],
      [Run.create({ transform: new Records.Transform({ ...t, id: missing }) }), "transformId", "Transform"],
      [Run.create({ transformId: t.id, initiatedByRunId: missing }), "initiatedByRunId", "Run"],
      [Run.create({ transformId: t.id, environmentId: missing }), "environmentId", "Artifact"],
      [Run.create({ transformId: t.id, report: missing }), "reportId", "Artifact"],
      [Artifact.create({ key: "a.csv", runId: missing }), "runId", "Run"],
      [Collection.create({ key: "c", run: missing }), "runId", "Run"],
      [Run.update(run, { transformId: missing }), "transformId", "Transform"],
      [Run.update(run, { environment: missing }), "environmentId", "Artifact"],
      [Run.createMany([{ transformId: t.id }, { transformId: missing }]), "transformId", "Transform"]
    ] as const
    for (const [effect, field, target] of cases) {
      const e = await s.fail(refused(effect), "ValidationError")
      assert.equal(e.field, field)
      assert.equal(e.value, missing)
      assert.match(e.message, new RegExp(`no ${target} has id ${missing}`))
    }
    assert.deepStrictEqual((await s.persistedAll("run")).map((d) => d["id"]), [run.id])
    assert.equal((await s.persisted("run", run.id))?.["transformId"], t.id)
    assert.equal((await s.persistedAll("artifact")).length + (await s.persistedAll("collection")).length, 0)
    // Existing references are accepted, trashed ones too (the record still exists).
    const child = await s.run(Run.create({ transform: t, initiatedByRun: run }))
    assert.equal(child.initiatedByRunId, run.id)
    await s.run(Transform.delete(t))
    assert.equal((await s.run(Run.create({ transformId: t.id }))).transformId, t.id)
  }),
  c("createMany looks each referenced registry up once, not once per record", async (s) => {
    const a = await s.run(Transform.create({ key: "a" }))
    const b = await s.run(Transform.create({ key: "b" }))
    const parent = await newRun(s, a)
    const spy = counting(s.ctx.driver)
    const t = await open(s.ctx, spy.driver)
    spy.reset()
    const inputs = Array.from({ length: 50 }, (_, i) => ({ transformId: i % 2 === 0 ? a.id : b.id, initiatedByRunId: parent.id }))
    const created = await t.run(Run.createMany(inputs))
    assert.equal(created.length, 50)
    assert.equal(spy.callsOn("transform"), 1, "the transform table was read more than once for 50 runs")
    assert.ok(spy.callsOn("run") <= 3, `the run table was touched ${spy.callsOn("run")} times for one reference lookup and one insert`)
  }),
  c("an artifact size must be a non-negative safe integer", async (s) => {
    for (const size of [-1, -0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, Number.MIN_SAFE_INTEGER]) {
      const e = await s.fail(Artifact.create({ key: `a${size}.csv`, size }), "ValidationError")
      assert.equal(e.field, "size")
      assert.match(e.message, /size/)
    }
    assert.equal((await s.persistedAll("artifact")).length, 0)
    const zero = await s.run(Artifact.create({ key: "empty.csv", size: 0 }))
    const max = await s.run(Artifact.create({ key: "max.csv", size: Number.MAX_SAFE_INTEGER }))
    assert.equal(max.size, Number.MAX_SAFE_INTEGER)
    assert.equal((await s.fail(Artifact.update(zero, { size: -1 }), "ValidationError")).field, "size")
    assert.equal((await s.persisted("artifact", zero.id))?.["size"], 0)
  })
]
