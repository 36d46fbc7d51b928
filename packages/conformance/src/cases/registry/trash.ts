/**
 * The record lifecycle: soft delete to the trash and restore, keeping one latest version per family, and
 * permanent deletes that cascade or refuse as lamindb's foreign keys say, writing nothing when refused.
 */
import assert from "node:assert/strict"
import { Artifact, Run, Transform, ULabel, User } from "@lineage/core"
import type { Case } from "../../Case.js"
import { latestOf, linkInput, linkULabel, newRun, newTransform, registryCase, type Session } from "./support.js"

const group = "trash"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

const family = (s: Session, key: string) => s.run(Transform.filter({ key, branchId: { in: [1, -1] } }).orderBy("uid").all())

const tables = ["transform", "run", "artifact", "ulabel", "run_input_artifact", "run_ulabel", "user"] as const
const snapshot = async (s: Session) => Promise.all(tables.map((t) => s.persistedAll(t)))

export const trash: ReadonlyArray<Case> = [
  c("delete moves a record to the trash: hidden from filters, visible with branchId -1, gettable by uid", async (s) => {
    const t = await newTransform(s)
    const keep = await newRun(s, t)
    const gone = await newRun(s, t)
    await s.run(Run.delete(gone))
    assert.deepStrictEqual((await s.run(Run.filter().all())).map((r) => r.id), [keep.id])
    assert.equal(await s.run(Run.filter().count()), 1)
    assert.equal(await s.run(Run.filter({ transform: t }).count()), 1)
    assert.deepStrictEqual((await s.run(Run.filter({ branchId: -1 }).all())).map((r) => r.id), [gone.id])
    assert.equal((await s.run(Run.get(gone.uid))).branchId, -1)
    assert.equal((await s.persisted("run", gone.id))?.["branchId"], -1, "trash is a branch, not a removal")
  }),
  c("restore brings a trashed record back", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t, { name: "back" })
    await s.run(Run.delete(r))
    const restored = await s.run(Run.restore(r))
    assert.equal(restored.branchId, 1)
    assert.equal((await s.run(Run.get({ name: "back" }))).id, r.id)
    assert.equal(await s.run(Run.filter({ branchId: -1 }).count()), 0)
    assert.equal((await s.persisted("run", r.id))?.["branchId"], 1)
  }),
  c("deleting a trashed record again (not permanently) changes nothing", async (s) => {
    const u = await s.run(ULabel.create({ name: "x" }))
    await s.run(ULabel.delete(u))
    const once = await s.persistedAll("ulabel")
    await s.run(ULabel.delete(u))
    assert.deepStrictEqual(await s.persistedAll("ulabel"), once)
  }),
  c("deleting the latest version promotes the newest remaining one; one latest at every step", async (s) => {
    const v = [
      await s.run(Transform.create({ key: "k", version: "1" })),
      await s.run(Transform.create({ key: "k", version: "2" })),
      await s.run(Transform.create({ key: "k", version: "3" }))
    ]
    await s.run(Transform.delete(v[2]!))
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v[1]!.uid])
    assert.equal((await s.run(Transform.get({ key: "k" }))).id, v[1]!.id)
    await s.run(Transform.delete(v[1]!))
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v[0]!.uid])
    await s.run(Transform.delete(v[0]!))
    assert.deepStrictEqual(latestOf(await family(s, "k")), [])
  }),
  c("deleting a version that is not the latest keeps the head", async (s) => {
    const v1 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v2 = await s.run(Transform.create({ key: "k", version: "2" }))
    await s.run(Transform.delete(v1))
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v2.uid])
  }),
  c("restoring keeps a single latest version", async (s) => {
    const v1 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v2 = await s.run(Transform.create({ key: "k", version: "2" }))
    await s.run(Transform.delete(v2))
    await s.run(Transform.restore(v2))
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v1.uid], "the promoted version stays latest")
    await s.run(Transform.delete(v1))
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v2.uid])
    await s.run(Transform.delete(v2))
    const back = await s.run(Transform.restore(v1))
    assert.equal(back.isLatest, true, "the family's only live version is its latest")
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v1.uid])
  }),
  c("permanently deleting a run that produced an artifact is refused and deletes nothing", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t)
    const child = await newRun(s, t, { initiatedByRunId: r.id })
    const a = await s.run(Artifact.create({ key: "out.csv", runId: r.id }))
    const input = await s.run(Artifact.create({ key: "in.csv" }))
    await linkInput(s, r, input)
    const before = await snapshot(s)
    const e = await s.fail(Run.delete(r, { permanent: true }), "ProtectedRecord")
    assert.equal(e.registry, "Run")
    assert.equal(e.uid, r.uid)
    assert.match(e.reason, /Artifact/)
    assert.match(e.reason, /runId/)
    assert.deepStrictEqual(await snapshot(s), before)
    assert.equal((await s.run(Run.get(child.id))).id, child.id)
    assert.equal((await s.run(Artifact.get(a.id))).runId, r.id)
  }),
  c("permanently deleting a run removes its link rows and the runs it initiated", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t)
    const child = await newRun(s, t, { initiatedByRunId: r.id })
    const grandchild = await newRun(s, t, { initiatedByRunId: child.id })
    const other = await newRun(s, t)
    const input = await s.run(Artifact.create({ key: "in.csv" }))
    const label = await s.run(ULabel.create({ name: "l" }))
    await linkInput(s, r, input)
    await linkInput(s, other, input)
    await linkULabel(s, r, label)
    await s.run(Run.delete(r, { permanent: true }))
    const runs = (await s.persistedAll("run")).map((d) => d["id"])
    assert.deepStrictEqual(runs, [other.id])
    assert.ok(!runs.includes(grandchild.id))
    assert.deepStrictEqual((await s.persistedAll("run_input_artifact")).map((d) => d["runId"]), [other.id])
    assert.equal((await s.persistedAll("run_ulabel")).length, 0)
    assert.equal((await s.persistedAll("artifact")).length, 1, "inputs are not deleted with the run")
    assert.equal((await s.persistedAll("ulabel")).length, 1)
    assert.equal((await s.persistedAll("transform")).length, 1)
  }),
  c("permanently deleting a transform cascades to its runs and their link rows", async (s) => {
    const t = await newTransform(s)
    const keepT = await newTransform(s)
    const r1 = await newRun(s, t)
    const r2 = await newRun(s, t, { initiatedByRunId: r1.id })
    const kept = await newRun(s, keepT)
    const input = await s.run(Artifact.create({ key: "in.csv" }))
    await linkInput(s, r1, input)
    await linkInput(s, r2, input)
    await linkInput(s, kept, input)
    await s.run(Transform.delete(t, { permanent: true }))
    assert.deepStrictEqual((await s.persistedAll("transform")).map((d) => d["id"]), [keepT.id])
    assert.deepStrictEqual((await s.persistedAll("run")).map((d) => d["id"]), [kept.id])
    assert.deepStrictEqual((await s.persistedAll("run_input_artifact")).map((d) => d["runId"]), [kept.id])
    assert.equal((await s.persistedAll("artifact")).length, 1)
    await s.fail(Transform.get(t.uid), "DoesNotExist")
  }),
  c("permanently deleting a transform whose run produced an artifact is refused and deletes nothing", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t)
    await newRun(s, t)
    await s.run(Artifact.create({ key: "out", runId: r.id }))
    const before = await snapshot(s)
    const e = await s.fail(Transform.delete(t, { permanent: true }), "ProtectedRecord")
    assert.match(e.reason, /Artifact/)
    assert.deepStrictEqual(await snapshot(s), before)
  }),
  c("permanently deleting the latest version promotes the next; a trashed record can be deleted for good", async (s) => {
    const v1 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v2 = await s.run(Transform.create({ key: "k", version: "2" }))
    await s.run(Transform.delete(v2, { permanent: true }))
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v1.uid])
    await s.run(Transform.delete(v1))
    await s.run(Transform.delete(v1, { permanent: true }))
    assert.equal((await s.persistedAll("transform")).length, 0)
  }),
  c("a user cannot be deleted while records reference it", async (s) => {
    const ada = await s.run(User.create({ handle: "ada" }))
    const t = await newTransform(s, { createdById: ada.id })
    const e = await s.fail(User.delete(ada, { permanent: true }), "ProtectedRecord")
    assert.equal(e.registry, "User")
    assert.match(e.reason, /Transform/)
    assert.match(e.reason, /createdById/)
    assert.equal((await s.persistedAll("user")).length, 1)
    await s.run(Transform.delete(t, { permanent: true }))
    await s.run(User.delete(ada, { permanent: true }))
    assert.equal((await s.persistedAll("user")).length, 0)
  }),
  c("permanently deleting an artifact removes the links to runs that read it, not the runs", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t)
    const a = await s.run(Artifact.create({ key: "in" }))
    await linkInput(s, r, a)
    await s.run(Artifact.delete(a, { permanent: true }))
    assert.equal((await s.persistedAll("run_input_artifact")).length, 0)
    assert.equal((await s.persistedAll("run")).length, 1)
    assert.equal(await s.run(Run.filter({ inputArtifacts: null }).count()), 1)
  })
]
