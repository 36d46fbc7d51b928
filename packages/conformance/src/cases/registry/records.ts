/**
 * Records through the domain: every registry round-trips every field type unchanged (dates to the
 * millisecond, nested JSON with unicode and large numbers, nulls), defaults and uids are lamindb's, ids grow,
 * updates persist, and values that do not fit are `ValidationError`s that write nothing.
 */
import assert from "node:assert/strict"
import { Artifact, Collection, Feature, Project, Run, Transform, Transforms, ULabel, User } from "@lineage/core"
import type { Case } from "../../Case.js"
import { at, base62, ids, newRun, newTransform, registryCase, type Session } from "./support.js"

const group = "records"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

/** Reads `record` back by id and, when the store has a backdoor, checks the persisted document's dates. */
const roundTrip = async <A extends { readonly id: number; readonly uid: string }>(
  s: Session,
  table: string,
  record: A,
  reload: (id: number) => Promise<A>,
  dates: ReadonlyArray<keyof A & string> = []
): Promise<void> => {
  const again = await reload(record.id)
  assert.deepStrictEqual(again, record, `${table} read back differs from the record create returned`)
  const doc = await s.persisted(table, record.id)
  assert.ok(doc !== undefined, `${table} ${record.uid} is not persisted`)
  assert.equal(doc["uid"], record.uid)
  for (const d of dates) {
    const v = record[d]
    if (v instanceof Date) assert.equal(doc[d], v.toISOString(), `${table}.${d} is not persisted as the exact ISO instant`)
  }
}

const bigParams = {
  lr: 0.001,
  epochs: 9007199254740991,
  negative: -9007199254740991,
  tiny: 5e-324,
  huge: 1.7976931348623157e308,
  text: "Grüße 日本語 🧬 \u{10FFFF} tab\t\"quote\" back\\slash",
  nested: { a: { b: { c: [1, [2, [3, { d: null }]]] } }, empty: {}, list: [] },
  flags: [true, false, null],
  "🔑": "🗝️",
  "dotted.key": 1,
  $gt: "not an operator"
}

export const records: ReadonlyArray<Case> = [
  c("Transform round-trips every field", async (s) => {
    const t = await s.run(
      Transform.create({
        key: "pipelines/Cell Ranger 🧬.py",
        version: "7.2.0",
        kind: "notebook",
        description: "multi\nline\u0000 ünïcode",
        reference: "https://example.org/x?y=1",
        referenceType: "url",
        sourceCode: "print('hi')\n# 日本語\n",
        hash: Transforms.hashSource("print('hi')\n# 日本語\n")
      })
    )
    assert.equal(t.key, "pipelines/Cell Ranger 🧬.py")
    assert.equal(t.versionTag, "7.2.0")
    assert.equal(t.kind, "notebook")
    assert.equal(t.sourceCode, "print('hi')\n# 日本語\n")
    await roundTrip(s, "transform", t, (id) => s.run(Transform.get(id)), ["createdAt", "updatedAt"])
  }),
  c("Run round-trips every field: ms dates, nested JSON params with unicode and large numbers", async (s) => {
    const t = await newTransform(s)
    const parent = await newRun(s, t)
    const r = await s.run(
      Run.create({
        transformId: t.id,
        name: "run ✨",
        description: "",
        entrypoint: "main.train",
        params: bigParams,
        reference: "ref",
        referenceType: "ticket",
        startedAt: at(0),
        finishedAt: at(1),
        status: "completed",
        initiatedByRunId: parent.id,
        cliArgs: "--lr 0.001 --name 'x y'"
      })
    )
    assert.deepStrictEqual(r.params, bigParams)
    assert.equal(r.startedAt.getTime(), at(0).getTime())
    assert.equal(r.finishedAt?.getTime(), at(1).getTime())
    assert.equal(r.description, "", "an empty string must not become null")
    await roundTrip(s, "run", r, (id) => s.run(Run.get(id)), ["startedAt", "finishedAt", "createdAt"])
    const doc = await s.persisted("run", r.id)
    assert.deepStrictEqual(doc?.["params"], bigParams)
  }),
  c("Run params may be any JSON value: a string, a number, an array, null", async (s) => {
    const t = await newTransform(s)
    for (const params of ["just a string", 42, [1, "two", { three: 3 }], null, true]) {
      const r = await newRun(s, t, { params })
      assert.deepStrictEqual((await s.run(Run.get(r.id))).params, params)
    }
  }),
  c("Feature round-trips", async (s) => {
    const f = await s.run(Feature.create({ name: "learning_rate", dtype: "float", description: "η", unit: "1/s" }))
    await roundTrip(s, "feature", f, (id) => s.run(Feature.get(id)), ["createdAt"])
    assert.equal((await s.run(Feature.get(f.id))).unit, "1/s")
  }),
  c("Artifact round-trips, with a size beyond 32 bits and its producing run", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t)
    const a = await s.run(
      Artifact.create({ key: "data/ß.parquet", description: "d", suffix: ".parquet", size: 2 ** 53 - 1, hash: "h".repeat(22), runId: r.id, storage: "s3://bucket" })
    )
    assert.equal(a.size, 2 ** 53 - 1)
    await roundTrip(s, "artifact", a, (id) => s.run(Artifact.get(id)), ["createdAt"])
  }),
  c("Collection, ULabel, Project and User round-trip", async (s) => {
    const col = await s.run(Collection.create({ key: "col", description: "c", hash: "x", reference: "r", referenceType: "rt", version: "1" }))
    await roundTrip(s, "collection", col, (id) => s.run(Collection.get(id)))
    const u = await s.run(ULabel.create({ name: "Tissue: 肝臓", description: null, reference: "UBERON:1", referenceType: "ontology" }))
    await roundTrip(s, "ulabel", u, (id) => s.run(ULabel.get(id)))
    const p = await s.run(
      Project.create({ name: "Atlas", abbr: "ATL", url: "https://a.example", startDate: at(-86_400_000), endDate: at(123) })
    )
    assert.equal(p.endDate?.getTime(), at(123).getTime())
    await roundTrip(s, "project", p, (id) => s.run(Project.get(id)), ["startDate", "endDate"])
    const user = await s.run(User.create({ handle: "ada", name: "Ada Lovelace" }))
    await roundTrip(s, "user", user, (id) => s.run(User.get(id)), ["createdAt"])
  }),
  c("defaults: kind pipeline, status scheduled, isLatest true, branchId 1, suffix \"\", nullables null", async (s) => {
    const t = await s.run(Transform.create({ key: "defaults" }))
    assert.equal(t.kind, "pipeline")
    assert.equal(t.isLatest, true)
    assert.equal(t.branchId, 1)
    assert.equal(t.versionTag, null)
    assert.equal(t.description, null)
    assert.equal(t.createdById, null)
    const r = await newRun(s, t)
    assert.equal(r.status, "scheduled")
    assert.equal(r.params, null)
    assert.equal(r.finishedAt, null)
    assert.equal(r.initiatedByRunId, null)
    assert.equal(r.branchId, 1)
    const a = await s.run(Artifact.create({ key: "a.txt" }))
    assert.equal(a.suffix, "")
    assert.equal(a.isLatest, true)
    assert.equal(a.size, null)
    // The defaults are persisted, not just filled in on the way out.
    const doc = await s.persisted("run", r.id)
    assert.equal(doc?.["status"], "scheduled")
    assert.equal(doc?.["branchId"], 1)
    assert.equal((await s.persisted("artifact", a.id))?.["suffix"], "")
  }),
  c("Run.create without startedAt starts the run now (lamindb: started_at defaults to now())", async (s) => {
    const t = await newTransform(s)
    const before = Date.now()
    const r = await s.run(Run.create({ transformId: t.id }))
    assert.ok(r.startedAt.getTime() >= before && r.startedAt.getTime() <= Date.now())
  }),
  c("uid lengths and alphabet per registry; a new family ends in 0000", async (s) => {
    const t = await newTransform(s)
    const made: ReadonlyArray<readonly [string, string, number]> = [
      ["Transform", t.uid, 16],
      ["Run", (await newRun(s, t)).uid, 16],
      ["Feature", (await s.run(Feature.create({ name: "f", dtype: "int" }))).uid, 12],
      ["Artifact", (await s.run(Artifact.create({ key: "k" }))).uid, 20],
      ["Collection", (await s.run(Collection.create({ key: "k" }))).uid, 20],
      ["ULabel", (await s.run(ULabel.create({ name: "u" }))).uid, 8],
      ["Project", (await s.run(Project.create({ name: "p" }))).uid, 12],
      ["User", (await s.run(User.create({ handle: "h" }))).uid, 8]
    ]
    for (const [registry, uid, length] of made) {
      assert.equal(uid.length, length, `${registry} uid ${uid} should have ${length} characters`)
      assert.match(uid, base62, `${registry} uid ${uid} is not base62`)
    }
    assert.ok(t.uid.endsWith("0000"))
    assert.ok(made[3]![1].endsWith("0000"))
    assert.ok(made[4]![1].endsWith("0000"))
  }),
  c("uids are distinct across many records", async (s) => {
    const t = await newTransform(s)
    const runs = await s.run(Run.createMany(Array.from({ length: 200 }, (_, i) => ({ transformId: t.id, startedAt: at(i) }))))
    assert.equal(new Set(runs.map((r) => r.uid)).size, 200)
    for (const r of runs) assert.match(r.uid, base62)
  }),
  c("ids are unique and increasing, one by one and in bulk", async (s) => {
    const made: Array<number> = []
    for (let i = 0; i < 5; i++) made.push((await s.run(ULabel.create({ name: `l${i}` }))).id)
    const bulk = ids(await s.run(ULabel.createMany(Array.from({ length: 10 }, (_, i) => ({ name: `b${i}` })))))
    const all = [...made, ...bulk]
    for (let i = 1; i < all.length; i++) assert.ok(all[i]! > all[i - 1]!, `id ${all[i]} does not follow ${all[i - 1]}`)
    for (const id of all) assert.ok(Number.isSafeInteger(id) && id > 0)
  }),
  c("ids are never reused after a permanent delete", async (s) => {
    const a = await s.run(ULabel.create({ name: "a" }))
    await s.run(ULabel.delete(a, { permanent: true }))
    const b = await s.run(ULabel.create({ name: "a" }))
    assert.ok(b.id > a.id)
  }),
  c("createdAt and updatedAt are set by the store at create", async (s) => {
    const before = Date.now()
    const f = await s.run(Feature.create({ name: "x", dtype: "str" }))
    const after = Date.now()
    assert.ok(f.createdAt.getTime() >= before && f.createdAt.getTime() <= after)
    assert.equal(f.updatedAt.getTime(), f.createdAt.getTime())
  }),
  c("update changes the field and updatedAt, persists, and keeps createdAt", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t)
    await new Promise((resolve) => setTimeout(resolve, 5))
    const done = await s.run(Run.update(r, { status: "completed", finishedAt: at(5), name: "done" }))
    assert.equal(done.status, "completed")
    assert.equal(done.finishedAt?.getTime(), at(5).getTime())
    assert.ok(done.updatedAt.getTime() > r.updatedAt.getTime(), "updatedAt did not move")
    assert.equal(done.createdAt.getTime(), r.createdAt.getTime())
    const again = await s.run(Run.reload(r))
    assert.deepStrictEqual(again, done)
    const doc = await s.persisted("run", r.id)
    assert.equal(doc?.["status"], "completed")
    assert.equal(doc?.["finishedAt"], at(5).toISOString())
    assert.equal(doc?.["uid"], r.uid)
    assert.equal(doc?.["transformId"], t.id, "fields not in the patch must be kept")
  }),
  c("update replaces a JSON value whole, and can set a field back to null", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t, { params: { a: 1, b: { c: 2 } }, finishedAt: at(1), name: "n" })
    await s.run(Run.update(r, { params: { b: { d: 3 } }, finishedAt: null, name: null }))
    const again = await s.run(Run.get(r.id))
    assert.deepStrictEqual(again.params, { b: { d: 3 } }, "an update must not merge into the old JSON")
    assert.equal(again.finishedAt, null)
    assert.equal(again.name, null)
    const doc = await s.persisted("run", r.id)
    assert.equal(doc?.["finishedAt"], null)
    assert.deepStrictEqual(doc?.["params"], { b: { d: 3 } })
  }),
  c("ValidationError names field, value and expectation for wrong types, and writes nothing", async (s) => {
    const t = await newTransform(s)
    // @ts-expect-error invalid on purpose
    const e1 = await s.fail(Run.create({ transformId: "one", startedAt: at(0) }), "ValidationError")
    assert.equal(e1.registry, "Run")
    assert.equal(e1.field, "transformId")
    assert.equal(e1.value, "one")
    assert.ok(e1.expected.length > 0)
    // @ts-expect-error invalid on purpose
    const e2 = await s.fail(Run.create({ transformId: t.id, startedAt: "2024-01-01" }), "ValidationError")
    assert.equal(e2.field, "startedAt")
    // @ts-expect-error invalid on purpose
    const e3 = await s.fail(Run.create({ transformId: t.id, startedAt: at(0), status: "finished" }), "ValidationError")
    assert.equal(e3.field, "status")
    assert.match(e3.expected, /completed/)
    // @ts-expect-error invalid on purpose
    const e4 = await s.fail(Feature.create({ name: 42, dtype: "int" }), "ValidationError")
    assert.equal(e4.field, "name")
    // @ts-expect-error invalid on purpose
    const e5 = await s.fail(Transform.create({ key: "k", kind: "workflow" }), "ValidationError")
    assert.equal(e5.field, "kind")
    const e6 = await s.fail(Artifact.create({ key: "k", size: 1.5 }), "ValidationError")
    assert.equal(e6.field, "size")
    assert.equal(await s.run(Run.filter().count()), 0)
    assert.equal((await s.persistedAll("run")).length, 0)
    assert.equal((await s.persistedAll("feature")).length, 0)
  }),
  c("ValidationError for unknown fields and for fields the store manages", async (s) => {
    const t = await newTransform(s)
    // @ts-expect-error invalid on purpose
    const unknown = await s.fail(Run.create({ transformId: t.id, startedAt: at(0), learningRate: 1 }), "ValidationError")
    assert.equal(unknown.field, "learningRate")
    assert.match(unknown.expected, /field of Run/)
    for (const field of ["id", "createdAt", "updatedAt"]) {
      const e = await s.fail(Run.create({ transformId: t.id, startedAt: at(0), [field]: field === "id" ? 7 : at(0) }), "ValidationError")
      assert.equal(e.field, field)
    }
    const r = await newRun(s, t)
    for (const field of ["id", "uid", "createdAt"]) {
      const e = await s.fail(Run.update(r, { [field]: field === "id" ? 99 : field === "uid" ? "x" : at(9) }), "ValidationError")
      assert.equal(e.field, field)
    }
    // @ts-expect-error invalid on purpose
    const bad = await s.fail(Run.update(r, { status: "nope" }), "ValidationError")
    assert.equal(bad.field, "status")
    assert.deepStrictEqual(await s.run(Run.get(r.id)), r, "a refused update must change nothing")
  }),
  c("a uid given by the caller must be base62 of the registry's length", async (s) => {
    const e = await s.fail(ULabel.create({ name: "x", uid: "abc" }), "ValidationError")
    assert.equal(e.field, "uid")
    const e2 = await s.fail(ULabel.create({ name: "x", uid: "abcd-fgh" }), "ValidationError")
    assert.equal(e2.field, "uid")
    const ok = await s.run(ULabel.create({ name: "x", uid: "abcdEFGH" }))
    assert.equal((await s.run(ULabel.get("abcdEFGH"))).id, ok.id)
  }),
  c("createMany is all or none", async (s) => {
    // @ts-expect-error invalid on purpose
    const e = await s.fail(ULabel.createMany([{ name: "a" }, { name: 5 }, { name: "c" }]), "ValidationError")
    assert.equal(e.field, "name")
    await s.fail(ULabel.createMany([{ name: "d" }, { name: "e" }, { name: "d" }]), "UniqueViolation")
    assert.equal((await s.persistedAll("ulabel")).length, 0)
    assert.equal(await s.run(ULabel.filter().count()), 0)
  })
]
