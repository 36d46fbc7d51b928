/**
 * Tracking through the domain, on the store under test: a tracked run's lifecycle as persisted, function
 * runs linked to the run that called them, stale runs found by their heartbeat, and the tracked run as
 * state of its `Store` instance: two on one data store never end each other's run, and a `track()` that
 * would orphan one is refused. A run deleted for good takes its environment and report artifacts, unless
 * a record that stays uses them.
 */
import assert from "node:assert/strict"
import { Artifact, Artifacts, Collection, Current, Records, Feature, Run, Store, Tracking, Transform } from "@lineage/core"
import { Cause, Effect, Exit } from "effect"
import type { Case } from "../../Case.js"
import { consume, storageCase, type StorageSession } from "./artifacts.js"

const group = "tracking"
const c = (name: string, body: (s: StorageSession) => Promise<void>): Case => storageCase(group, name, body)

/** Each store keeps its tracked run; every case finishes what it tracked, and touches no process signals. */
const tracked = async <A>(s: StorageSession, body: () => Promise<A>): Promise<A> => {
  try {
    return await body()
  } finally {
    await s.run(Effect.exit(Tracking.finish()))
  }
}

/** Bytes recorded about a run, as tracking records its environment: no key, no producing run. */
const runArtifact = (s: StorageSession, bytes: string, suffix = ".json") =>
  s.run(Artifacts.fromBytes(bytes, { suffix, kind: "__lineage_run__", run: null }))

/** Runs started or restarted and never ended. */
const unfinished = (s: StorageSession) => s.run(Run.filter({ status: { in: ["started", "restarted"] } }).count())

export const tracking: ReadonlyArray<Case> = [
  c("track() then finish(): a started run with params, features and environment, then completed", (s) =>
    tracked(s, async () => {
      await s.run(Feature.create({ name: "lr", dtype: "float" }))
      const run = await s.run(
        Tracking.track({
          transform: { key: "Cell Ranger", version: "7.2.0", kind: "pipeline" },
          params: { batch: 32, password: "hunter2" },
          features: { lr: 0.01 },
          handleProcess: false
        })
      )
      const stored = await s.persisted("run", run.id)
      assert.equal(stored?.["status"], "started")
      assert.deepStrictEqual(stored?.["params"], { batch: 32, password: "***REDACTED***" })
      assert.deepStrictEqual(stored?.["featureValues"], { lr: 0.01 })
      const environment = await s.run(Artifact.get(run.environmentId!))
      assert.equal(environment.kind, "__lineage_run__")
      const finished = await s.run(Tracking.finish())
      assert.equal(finished.status, "completed")
      assert.equal((await s.persisted("run", run.id))?.["status"], "completed")
      assert.ok(finished.finishedAt !== null && finished.finishedAt >= finished.startedAt)
      const again = await s.run(Tracking.track({ transform: { key: "Cell Ranger", version: "7.2.0" }, handleProcess: false }))
      assert.equal(again.transformId, run.transformId, "the same key and version reuse the transform")
    })
  ),
  c("steps are runs of function transforms initiated by the caller; a failing step is errored", (s) =>
    tracked(s, async () => {
      const parent = await s.run(Tracking.track({ transform: { key: "pipeline" }, handleProcess: false }))
      const ok = Tracking.step((x: { readonly n: number }) => Effect.succeed(x.n + 1), { key: "inc" })
      const bad = Tracking.step((_: string) => Effect.fail("nope" as const), { key: "bad" })
      assert.deepStrictEqual(await s.run(Effect.all([ok({ n: 1 }), ok({ n: 2 })], { concurrency: 2 })), [2, 3])
      assert.equal(await s.run(Effect.flip(bad("x"))), "nope")
      const children = await s.run(Run.filter({ initiatedByRun: parent }).orderBy("id").all())
      assert.deepStrictEqual(
        children.map((r) => r.status),
        ["completed", "completed", "errored"]
      )
      assert.deepStrictEqual(
        children.map((r) => r.params),
        [{ n: 1 }, { n: 2 }, { _: "x" }]
      )
      const inc = await s.run(Transform.get({ key: "pipeline/inc" }))
      assert.equal(inc.kind, "function")
      assert.equal(await s.run(Run.filter({ transform: inc }).count()), 2)
    })
  ),
  c("outputs registered inside a step belong to the step's run, inputs loaded there too", (s) =>
    tracked(s, async () => {
      await s.run(Tracking.track({ transform: { key: "pipeline" }, handleProcess: false }))
      const make = Tracking.step(() => Artifacts.fromBytes("raw bytes", { key: "raw.txt" }), { key: "make" })
      const raw = await s.run(make())
      const use = Tracking.step(
        (a: Records.Artifact) => Effect.flatMap(Current.currentRun, (run) => Effect.as(Artifacts.load(a), run!.id)),
        { key: "use" }
      )
      const consumer = await s.run(use(raw))
      const producer = await s.run(Run.get(raw.runId!))
      assert.notEqual(producer.id, consumer)
      assert.equal((await s.run(Transform.get(producer.transformId))).key, "pipeline/make")
      assert.deepStrictEqual(
        (await s.run(Artifact.filter({ inputOfRuns: consumer }).all())).map((a) => a.id),
        [raw.id]
      )
    })
  ),
  c("runs whose heartbeat stopped are stale; running and finished ones are not", (s) =>
    tracked(s, async () => {
      const t = await s.run(Transform.create({ key: "job" }))
      const old = new Date(Date.now() - 120_000)
      const dead = await s.run(Run.create({ transform: t, status: "started", lastHeartbeatAt: old }))
      await s.run(Run.create({ transform: t, status: "completed", lastHeartbeatAt: old }))
      await s.run(Run.create({ transform: t, status: "started", lastHeartbeatAt: new Date() }))
      const stale = await s.run(Tracking.stale({ olderThanMs: 60_000 }).all())
      assert.deepStrictEqual(
        stale.map((r) => r.id),
        [dead.id]
      )
    })
  ),
  c("two Store instances on one data store track at once; finish() on each ends only its own run", (s) =>
    tracked(s, async () => {
      const other = await Effect.runPromise(Store.make(s.ctx.driver))
      const onOther = <A, E>(effect: Effect.Effect<A, E, Store.Store>) =>
        Effect.runPromise(effect.pipe(Effect.provideService(Store.Store, other), Effect.provideService(Artifacts.ArtifactStorage, s.storage)))
      try {
        const a = await s.run(Tracking.track({ transform: { key: "a" }, handleProcess: false }))
        const b = await onOther(Tracking.track({ transform: { key: "b" }, handleProcess: false }))
        assert.equal(b.initiatedByRunId, null, "a run tracked in this process is not the parent of another store's run")
        assert.equal((await s.run(Current.currentRun))?.uid, a.uid)
        assert.equal((await onOther(Current.currentRun))?.uid, b.uid)
        assert.equal((await s.run(Tracking.finish())).uid, a.uid)
        assert.equal((await s.persisted("run", a.id))?.["status"], "completed")
        assert.equal((await s.persisted("run", b.id))?.["status"], "started")
        assert.equal((await onOther(Current.currentRun))?.uid, b.uid)
        assert.equal((await onOther(Tracking.finish())).uid, b.uid)
        assert.equal((await s.persisted("run", b.id))?.["status"], "completed")
        assert.equal(await unfinished(s), 0)
      } finally {
        await onOther(Effect.exit(Tracking.finish()))
      }
    })
  ),
  c("track() while a run is tracked, inside a step, or twice at once is refused with RunAlreadyActive; no run is left started", (s) =>
    tracked(s, async () => {
      const racing = await s.run(
        Effect.all(
          ["left", "right"].map((key) => Effect.exit(Tracking.track({ transform: { key }, handleProcess: false }))),
          { concurrency: "unbounded" }
        )
      )
      assert.equal(racing.filter(Exit.isSuccess).length, 1, "exactly one of two racing track() calls wins")
      const lost = racing.filter(Exit.isFailure).map((x) => Cause.squash(x.cause) as { readonly _tag: string })
      assert.deepStrictEqual(lost.map((e) => e._tag), ["RunAlreadyActive"])
      const active = (await s.run(Current.currentRun))!
      const again = await s.fail(Tracking.track({ transform: { key: "again" }, handleProcess: false }), "RunAlreadyActive")
      assert.match(again.message, new RegExp(active.uid))
      const nested = Tracking.step(() => Tracking.track({ transform: { key: "inner" }, handleProcess: false }), { key: "nested" })
      const inStep = await s.fail(nested(), "RunAlreadyActive")
      const caller = await s.run(Transform.get(active.transformId))
      const stepRun = await s.run(Run.filter({ transform__key: `${caller.key}/nested` }).one())
      assert.match(inStep.message, new RegExp(stepRun.uid))
      assert.equal(stepRun.status, "errored")
      assert.equal((await s.run(Tracking.finish())).uid, active.uid)
      assert.equal(await s.run(Run.filter({ transform__key__in: ["again", "inner"] }).count()), 0)
      assert.equal(await unfinished(s), 0)
    })
  ),
  c("a run deleted for good takes its environment and report artifacts and their files; a shared environment goes with its last run", async (s) => {
    const t = await s.run(Transform.create({ key: "job" }))
    const environment = await runArtifact(s, '{"node":"v22"}')
    const report = await runArtifact(s, "all good", ".txt")
    const first = await s.run(Run.create({ transform: t, environmentId: environment.id, reportId: report.id }))
    const second = await s.run(Run.create({ transform: t, environmentId: environment.id }))
    await s.run(Run.delete(first))
    assert.deepStrictEqual(await s.stored(), [`${environment.uid}.json`, `${report.uid}.txt`].sort(), "the trash keeps them")
    await s.run(Run.delete(first, { permanent: true }))
    assert.equal(await s.persisted("artifact", report.id), undefined)
    assert.equal((await s.persisted("artifact", environment.id))?.["id"], environment.id, "the second run still uses it")
    assert.deepStrictEqual(await s.stored(), [`${environment.uid}.json`])
    await s.run(Run.delete(second, { permanent: true }))
    assert.deepStrictEqual(await s.persistedAll("artifact"), [])
    assert.deepStrictEqual(await s.stored(), [])
  }),
  c("a run deleted for good leaves the environment and report another record uses: an input, an output, a collection member", async (s) => {
    const t = await s.run(Transform.create({ key: "job" }))
    const other = await s.run(Run.create({ transform: t }))
    const read = await runArtifact(s, "read by another run")
    await consume(s, other, read)
    const made = await s.run(Current.withRun(other)(Artifacts.fromBytes("made by another run", { suffix: ".txt" })))
    const member = await runArtifact(s, "in a collection")
    const collection = await s.run(Collection.create({ key: "bundle" }))
    const links = Store.entity(Records.CollectionArtifactModel, Records.CollectionArtifact)
    await s.run(Effect.flatMap(Store.Store, (store) => store.insert(links, [{ collectionId: collection.id, artifactId: member.id }])))
    const unused = await runArtifact(s, "used by nothing else")
    const a = await s.run(Run.create({ transform: t, environmentId: read.id, reportId: made.id }))
    const b = await s.run(Run.create({ transform: t, environmentId: member.id, reportId: unused.id }))
    await s.run(Run.delete(a, { permanent: true }))
    await s.run(Run.delete(b, { permanent: true }))
    assert.deepStrictEqual(
      (await s.persistedAll("artifact")).map((d) => d["id"]),
      [read.id, made.id, member.id]
    )
    assert.equal((await s.stored()).length, 3)
  }),
  c("runs deleted for good with their transform, their initiating run or a query set take their environment and report", async (s) => {
    const t = await s.run(Transform.create({ key: "pipeline" }))
    const parentEnvironment = await runArtifact(s, "parent environment")
    const childReport = await runArtifact(s, "child report", ".txt")
    const queriedEnvironment = await runArtifact(s, "queried environment")
    const parent = await s.run(Run.create({ transform: t, environmentId: parentEnvironment.id }))
    const child = await s.run(Run.create({ transform: t, initiatedByRunId: parent.id, reportId: childReport.id }))
    await consume(s, child, childReport) // a link of the deleted run itself is no use that keeps it
    await s.run(Run.delete(parent, { permanent: true }))
    assert.deepStrictEqual(await s.persistedAll("run_input_artifact"), [])
    assert.deepStrictEqual(
      (await s.persistedAll("artifact")).map((d) => d["id"]),
      [queriedEnvironment.id]
    )
    await s.run(Run.create({ transform: t, name: "queried", environmentId: queriedEnvironment.id }))
    assert.equal(await s.run(Run.filter({ name: "queried" }).delete({ permanent: true })), 1)
    assert.deepStrictEqual(await s.persistedAll("artifact"), [])
    assert.deepStrictEqual(await s.stored(), [])
  }),
  c("track()'s environment artifact, shared by runs of one environment, goes with the last of them deleted for good", (s) =>
    tracked(s, async () => {
      const a = await s.run(Tracking.track({ transform: { key: "a" }, handleProcess: false }))
      await s.run(Tracking.finish())
      const b = await s.run(Tracking.track({ transform: { key: "b" }, handleProcess: false }))
      await s.run(Tracking.finish())
      assert.ok(a.environmentId !== null && a.environmentId === b.environmentId, "the same environment is one artifact")
      const environment = await s.run(Artifact.get(a.environmentId!))
      await s.run(Run.delete(a, { permanent: true }))
      assert.equal((await s.persisted("artifact", environment.id))?.["kind"], "__lineage_run__")
      await s.run(Transform.delete(await s.run(Transform.get(b.transformId)), { permanent: true }))
      assert.equal(await s.persisted("artifact", environment.id), undefined)
      assert.deepStrictEqual(await s.stored(), [])
    })
  )
]
