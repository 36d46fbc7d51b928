/**
 * The record lifecycle: soft delete to the trash and restore, keeping one latest version per family, and
 * permanent deletes that cascade or refuse as lamindb's foreign keys say, writing nothing when refused.
 */
import assert from "node:assert/strict"
import { Artifact, type Driver, Project, Run, type StoreError, Transform, ULabel, User } from "@lineage/core"
import { Effect } from "effect"
import type { Case } from "../../Case.js"
import { latestOf, linkInput, linkULabel, newRun, newTransform, open, registryCase, type Session } from "./support.js"

const group = "trash"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

const family = (s: Session, key: string) => s.run(Transform.filter({ key, branchId: { in: [1, -1] } }).orderBy("uid").all())

/**
 * A second session on the case's store whose first write (a batch, or the first of its writes on a store
 * without transactions) waits for `meanwhile`, another writer's move on `s`: what the write was worked out
 * from is stale by then, as when two writers race.
 */
const racing = async (s: Session, meanwhile: () => Promise<unknown>): Promise<Session> => {
  const driver = s.ctx.driver
  let armed = false
  const write = <A>(effect: () => Effect.Effect<A, StoreError>): Effect.Effect<A, StoreError> =>
    Effect.suspend(() => {
      if (!armed) return effect()
      armed = false
      return Effect.andThen(Effect.promise(meanwhile), Effect.suspend(effect))
    })
  const session = await open(s.ctx, {
    name: driver.name,
    capabilities: driver.capabilities,
    declare: (specs) => driver.declare(specs),
    reserveIds: (table, count) => driver.reserveIds(table, count),
    insert: (table, docs) => write(() => driver.insert(table, docs)),
    update: (table, id, patch, expect) =>
      write(() => (expect === undefined ? driver.update(table, id, patch) : driver.update(table, id, patch, expect))),
    remove: (table, ids) => write(() => driver.remove(table, ids)),
    get: (table, ids) => driver.get(table, ids),
    find: (table, spec) => driver.find(table, spec),
    count: (table, where) => driver.count(table, where),
    batch: driver.batch === undefined ? undefined : (ops) => write(() => driver.batch!(ops)),
    close: () => Effect.void
  } satisfies Driver.Driver)
  armed = true
  return session
}

/** The versions of `key` holding `latestKey` in the trash: none may, or the key is locked. */
const trashedClaims = async (s: Session) =>
  (await s.persistedAll("transform")).filter((d) => d["branchId"] === -1 && (d["latestKey"] ?? null) !== null).map((d) => d["uid"])

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
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v[0]!.uid], "the last live version keeps isLatest in the trash")
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
  }),
  c("trashing the last live version keeps its isLatest, and in the trash it claims nothing", async (s) => {
    const v1 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v2 = await s.run(Transform.create({ key: "k", version: "2" }))
    await s.run(Transform.delete(v2))
    await s.run(Transform.delete(v1))
    const stored = await s.persisted("transform", v1.id)
    assert.equal(stored?.["isLatest"], true)
    assert.equal(stored?.["latestKey"], null)
    assert.equal(stored?.["familyKey"], null)
    assert.equal((await s.persisted("transform", v2.id))?.["isLatest"], false)
    assert.equal((await s.run(Transform.get(v1.uid.slice(0, 12)))).id, v1.id, "the family's latest, from the trash")
    const fresh = await s.run(Transform.create({ key: "k", version: "3" }))
    assert.notEqual(fresh.uid.slice(0, 12), v1.uid.slice(0, 12), "a key with no live version starts a new family")
    assert.equal(fresh.isLatest, true)
  }),
  c("a restored version takes isLatest from the trashed version that kept it, which gives it up", async (s) => {
    const v1 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v2 = await s.run(Transform.create({ key: "k", version: "2" }))
    await s.run(Transform.delete(v2))
    await s.run(Transform.delete(v1))
    assert.equal((await s.persisted("transform", v1.id))?.["isLatest"], true, "kept in the trash")
    const back = await s.run(Transform.restore(v2))
    assert.equal((await s.persisted("transform", v1.id))?.["isLatest"], false, "handed to the restored version")
    assert.equal(back.isLatest, true)
    assert.equal((await s.persisted("transform", v2.id))?.["latestKey"], "k")
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v2.uid], "one version holds isLatest, the live one")
    const second = await s.run(Transform.restore(v1))
    assert.equal(second.isLatest, false, "a live latest exists: the restored version is not another one")
    assert.equal((await s.persisted("transform", v1.id))?.["latestKey"], null)
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v2.uid])
    assert.equal((await s.run(Transform.get({ key: "k" }))).id, v2.id)
  }),
  c("a family's versions deleted one by one: the stem gets the latest, from the trash too, then the newest left", async (s) => {
    const v1 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v2 = await s.run(Transform.create({ key: "k", version: "2" }))
    const v3 = await s.run(Transform.create({ key: "k", version: "3" }))
    const stem = v1.uid.slice(0, 12)
    await s.run(Transform.delete(v3))
    assert.equal((await s.run(Transform.get(stem))).id, v2.id)
    await s.run(Transform.delete(v2, { permanent: true }))
    assert.equal((await s.run(Transform.get(stem))).id, v1.id)
    await s.run(Transform.delete(v1))
    const kept = await s.run(Transform.get(stem))
    assert.equal(kept.id, v1.id)
    assert.equal(kept.isLatest, true)
    await s.run(Transform.delete(v1, { permanent: true }))
    const last = await s.run(Transform.get(stem))
    assert.equal(last.id, v3.id, "only a trashed version is left")
    assert.equal(last.branchId, -1)
    assert.equal(last.isLatest, false, "deleting a trashed latest version promotes nothing")
  }),
  c("a trashed label or project frees its name for a new one, and comes back only while the name is free", async (s) => {
    const old = await s.run(ULabel.create({ name: "x" }))
    await s.run(ULabel.delete(old))
    const taken = await s.run(ULabel.create({ name: "x" }))
    assert.notEqual(taken.id, old.id)
    const e = await s.fail(ULabel.restore(old), "UniqueViolation")
    assert.equal(e.constraint, "ulabel_name")
    assert.deepStrictEqual(e.fields, ["name"], "the user's field, not the store's copy of it")
    assert.deepStrictEqual(e.values, ["x"])
    assert.equal((await s.persisted("ulabel", old.id))?.["branchId"], -1)
    await s.run(ULabel.delete(taken, { permanent: true }))
    assert.equal((await s.run(ULabel.restore(old))).branchId, 1)
    const p = await s.run(Project.create({ name: "p" }))
    await s.run(Project.delete(p))
    assert.notEqual((await s.run(Project.create({ name: "p" }))).id, p.id)
    assert.equal((await s.fail(Project.restore(p), "UniqueViolation")).constraint, "project_name")
  }),
  c("trashing the head while another writer trashes the version it would promote: no promotion lands in the trash", async (s) => {
    const v1 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v2 = await s.run(Transform.create({ key: "k", version: "2" }))
    const other = await racing(s, () => s.run(Transform.delete(v1)))
    await other.run(Transform.delete(v2))
    assert.deepStrictEqual(await trashedClaims(s), [])
    assert.equal((await s.persisted("transform", v1.id))?.["isLatest"], false)
    assert.equal((await s.persisted("transform", v2.id))?.["isLatest"], true, "the last live version keeps isLatest")
    assert.equal((await s.persisted("transform", v2.id))?.["branchId"], -1)
    const fresh = await s.run(Transform.create({ key: "k", version: "3" }))
    assert.notEqual(fresh.uid.slice(0, 12), v1.uid.slice(0, 12), "the key is free: a new family")
  }),
  c("trashing the head while a new version is created looks again: the new head stays latest", async (s) => {
    const v1 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v2 = await s.run(Transform.create({ key: "k", version: "2" }))
    const made: Array<string> = []
    const other = await racing(s, async () => made.push((await s.run(Transform.create({ key: "k", version: "3" }))).uid))
    await other.run(Transform.delete(v2))
    assert.equal((await s.persisted("transform", v2.id))?.["branchId"], -1)
    assert.deepStrictEqual(latestOf(await family(s, "k")), made)
    assert.equal((await s.persisted("transform", v1.id))?.["isLatest"], false)
    assert.deepStrictEqual(await trashedClaims(s), [])
  }),
  c("trashing a version while another writer promotes it looks again: it keeps isLatest as the last live version", async (s) => {
    const v1 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v2 = await s.run(Transform.create({ key: "k", version: "2" }))
    const other = await racing(s, () => s.run(Transform.delete(v2)))
    await other.run(Transform.delete(v1))
    assert.equal((await s.persisted("transform", v1.id))?.["branchId"], -1)
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v1.uid])
    assert.deepStrictEqual(await trashedClaims(s), [])
  }),
  c("restoring a version beside a live latest that another writer trashes meanwhile: the restored one is latest", async (s) => {
    const v1 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v2 = await s.run(Transform.create({ key: "k", version: "2" }))
    await s.run(Transform.delete(v1))
    const other = await racing(s, () => s.run(Transform.delete(v2)))
    const back = await other.run(Transform.restore(v1))
    assert.equal(back.branchId, 1)
    assert.equal(back.isLatest, true, "the family's one live version is its latest")
    assert.equal((await s.persisted("transform", v1.id))?.["latestKey"], "k")
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v1.uid])
    assert.equal((await s.run(Transform.get({ key: "k" }))).id, v1.id)
  }),
  c("permanently deleting a transform takes its runs' reports, versions of one key: the newest left is latest", async (s) => {
    const kept = await s.run(Artifact.create({ key: "report.html", description: "kept" }))
    const t = await newTransform(s)
    const reports = []
    for (const description of ["1", "2"]) {
      const report = await s.run(Artifact.create({ key: "report.html", description }))
      await s.run(Run.update(await newRun(s, t), { reportId: report.id }))
      reports.push(report)
    }
    assert.equal(reports[1]!.uid, kept.uid.slice(0, 16) + "0002", "the reports are the family's newest versions")
    await s.run(Transform.delete(t, { permanent: true }))
    assert.equal(await s.persisted("transform", t.id), undefined)
    assert.deepStrictEqual((await s.persistedAll("run")).length, 0)
    assert.deepStrictEqual((await s.persistedAll("artifact")).map((d) => d["id"]), [kept.id])
    assert.equal((await s.persisted("artifact", kept.id))?.["isLatest"], true)
    assert.equal((await s.persisted("artifact", kept.id))?.["latestKey"], "report.html")
  })
]
