/**
 * What a tracked run asks of its store, and why asking less changes no answer.
 *
 * A tracked run as test/reliability/load.test.ts makes them (params, two features, an output artifact from
 * bytes, a step, finish) is counted call by call at the driver. The hints that turn queries by a unique value
 * into reads by id (`Hints`: feature names, artifact hashes, a transform's key and source) are then made stale
 * by a second client on the same driver, as another process would: every answer is the one a query would give.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as Artifacts from "../src/Artifacts.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import type { Driver } from "../src/Driver.js"
import * as Features from "../src/Features.js"
import * as Records from "../src/Records.js"
import { Artifact, Feature, Run, Transform } from "../src/Registry.js"
import { Store, type StoreShape, make as makeStore } from "../src/Store.js"
import * as Tracking from "../src/Tracking.js"

const storage = mkdtempSync(join(tmpdir(), "lineage-round-trips-test-"))
afterAll(() => rmSync(storage, { recursive: true, force: true }))

/** Driver calls by operation and table (`get artifact`, `find feature`, …), counted while `counting` is on. */
const calls = new Map<string, number>()
let counting = false
const counted = (driver: Driver): Driver => {
  const count = (op: string, table: string) => {
    if (counting) calls.set(`${op} ${table}`, (calls.get(`${op} ${table}`) ?? 0) + 1)
  }
  return {
    ...driver,
    get: (table, ids) => (count("get", table), driver.get(table, ids)),
    find: (table, spec) => (count("find", table), driver.find(table, spec)),
    count: (table, where) => (count("count", table), driver.count(table, where)),
    insert: (table, docs) => (count("insert", table), driver.insert(table, docs)),
    update: (table, id, patch, expect) => (count("update", table), driver.update(table, id, patch, expect)),
    remove: (table, ids) => (count("remove", table), driver.remove(table, ids)),
    reserveIds: (table, n) => (count("reserveIds", table), driver.reserveIds(table, n))
  }
}

/** Two clients of one namespace: `mine` tracks, `other` changes records behind its back. */
let mine: StoreShape
let other: StoreShape
const on =
  (store: StoreShape) =>
  <A, E>(effect: Effect.Effect<A, E, Store>): Promise<A> =>
    Effect.runPromise(effect.pipe(Effect.provideService(Store, store), Effect.provideService(ArtifactStorage, storage)))
const run = <A, E>(effect: Effect.Effect<A, E, Store>) => on(mine)(effect)
const elsewhere = <A, E>(effect: Effect.Effect<A, E, Store>) => on(other)(effect)
const fail = <A, E>(effect: Effect.Effect<A, E, Store>): Promise<E> => run(Effect.flip(effect))

beforeEach(async () => {
  const driver = counted(MemoryStore.makeDriver())
  mine = await Effect.runPromise(makeStore(driver))
  other = await Effect.runPromise(makeStore(driver))
  calls.clear()
})
afterEach(async () => {
  counting = false
  await Effect.runPromise(Effect.exit(Effect.provideService(Tracking.finish(), Store, mine)))
})

const double = Tracking.step((n: number) => Effect.succeed(n * 2), { key: "double" })

/** One tracked run of the load test's shape; `i` makes its params, features and output bytes its own. */
const trackedRun = (transform: Records.Transform, i: number) =>
  Effect.gen(function* () {
    const started = yield* Tracking.track({ transform, params: { index: i }, features: { load_index: i, load_worker: 0 }, handleProcess: false })
    yield* Artifacts.fromBytes(`output ${i}`, { key: `load/r${i}.txt` })
    yield* double(i)
    yield* Tracking.finish()
    return started
  })

const setup = () =>
  run(
    Effect.gen(function* () {
      yield* Feature.create({ name: "load_index", dtype: "int" })
      yield* Feature.create({ name: "load_worker", dtype: "int" })
      return yield* Transform.getOrCreate({ key: "load-job.ts", version: "1" }, { kind: "script" })
    })
  )

describe("a tracked run's store calls", () => {
  it("once its process has tracked one: no query by value but the output's, each record read once", async () => {
    const transform = await setup()
    await run(trackedRun(transform, 0))
    counting = true
    const started = await run(trackedRun(transform, 1))
    counting = false
    expect(Object.fromEntries([...calls].sort())).toEqual({
      // The features and the environment artifact, read by id: track() writes the run with both.
      "get feature": 1,
      "get artifact": 1,
      // The transform given to track(); the step's parent's, and its own by the hint of its key and source.
      "get transform": 3,
      // The output's bytes and key are new, so both are queried; the producing run and the step's parent run.
      "find artifact": 2,
      "get run": 2,
      // The tracked run, its output and its step's run; the step's end and finish().
      "reserveIds run": 2,
      "insert run": 2,
      "reserveIds artifact": 1,
      "insert artifact": 1,
      "update run": 2
    })
    const stored = await run(Run.get(started.id))
    expect(stored).toMatchObject({ status: "completed", featureValues: { load_index: 1, load_worker: 0 } })
    expect(stored.environmentId).toBe(started.environmentId)
  })
})

describe("hints gone stale under another client", () => {
  it("a feature trashed, renamed, or deleted and made again with another dtype: each track() sees it as it is", async () => {
    const transform = await setup()
    await run(trackedRun(transform, 0))
    const index = await elsewhere(Feature.get({ name: "load_index" }))
    await elsewhere(Feature.delete(index))
    expect((await fail(trackedRun(transform, 1))).message).toContain("is in the trash")
    await elsewhere(Feature.restore(index))
    await elsewhere(Feature.update(index, { name: "load_position" }))
    expect((await fail(trackedRun(transform, 2))).message).toContain("load_index")
    await elsewhere(Feature.update(index, { name: "load_index" }))
    await elsewhere(Feature.delete(index, { permanent: true }))
    await elsewhere(Feature.create({ name: "load_index", dtype: "str" }))
    expect((await fail(trackedRun(transform, 3))).message).toContain("a value of dtype str")
    const started = await run(Tracking.track({ transform, features: { load_index: "third" }, handleProcess: false }))
    expect(started.featureValues).toEqual({ load_index: "third" })
  })

  it("the environment artifact trashed, then deleted: the next run records a live one", async () => {
    const transform = await setup()
    const first = await run(trackedRun(transform, 0))
    const environment = await elsewhere(Artifact.get(first.environmentId!))
    await elsewhere(Artifact.delete(environment))
    const second = await run(trackedRun(transform, 1))
    expect(second.environmentId).not.toBe(environment.id)
    const live = await run(Artifact.get(second.environmentId!))
    expect(live).toMatchObject({ hash: environment.hash, branchId: 1, description: "environment" })
    // Its last run gone, the environment artifact goes with it (`Lifecycle`): the next run registers it again.
    for (const r of await elsewhere(Run.filter({ environmentId: live.id }).all())) {
      for (const a of await elsewhere(Artifact.filter({ runId: r.id }).all())) await elsewhere(Artifact.delete(a, { permanent: true }))
      for (const s of await elsewhere(Run.filter({ initiatedByRunId: r.id }).all())) await elsewhere(Run.delete(s, { permanent: true }))
      await elsewhere(Run.delete(r, { permanent: true }))
    }
    expect(await elsewhere(Artifact.filter({ id: live.id }).count())).toBe(0)
    const third = await run(trackedRun(transform, 2))
    expect(await run(Artifact.get(third.environmentId!))).toMatchObject({ hash: environment.hash, branchId: 1 })
  })

  it("bytes registered again after their artifact was trashed or deleted elsewhere: a new live artifact each time", async () => {
    const first = await run(Artifacts.fromBytes("the same bytes", { run: null }))
    await elsewhere(Artifact.delete(first))
    const second = await run(Artifacts.fromBytes("the same bytes", { run: null }))
    expect(second.id).not.toBe(first.id)
    await elsewhere(Artifact.delete(second, { permanent: true }))
    const third = await run(Artifacts.fromBytes("the same bytes", { run: null }))
    expect([third.branchId, third.hash]).toEqual([1, first.hash])
    expect(new Set([first.id, second.id, third.id]).size).toBe(3)
    expect((await run(Artifacts.fromBytes("the same bytes", { run: null }))).id).toBe(third.id)
  })

  it("a step's transform trashed elsewhere comes back; one whose source changed elsewhere is no longer the step's", async () => {
    const transform = await setup()
    await run(trackedRun(transform, 0))
    const step = await run(Transform.get({ key: "load-job.ts/double" }))
    await elsewhere(Transform.delete(step))
    await run(trackedRun(transform, 1))
    expect(await run(Transform.get(step.id))).toMatchObject({ branchId: 1, hash: step.hash })
    await elsewhere(Transform.update(step, { sourceCode: "(n) => n + n" }))
    await run(trackedRun(transform, 2))
    const steps = await run(Run.filter({ transform__key: "load-job.ts/double" }).orderBy("id").all())
    const latest = await run(Transform.get(steps.at(-1)!.transformId))
    expect(latest.id).not.toBe(step.id)
    expect(latest.hash).toBe(step.hash)
  })

  it("finish() of a run deleted elsewhere is DoesNotExist, as the run's reload was, and the run stays tracked", async () => {
    const transform = await setup()
    const started = await run(Tracking.track({ transform, handleProcess: false }))
    await elsewhere(Run.delete(started, { permanent: true }))
    const e = await fail(Tracking.finish())
    expect(e._tag).toBe("DoesNotExist")
    expect(e.message).toContain(`id ${started.id}`)
    expect(await fail(Tracking.track({ transform, handleProcess: false }))).toMatchObject({ _tag: "RunAlreadyActive" })
  })

  it("values read back are decoded by the feature that holds their name now, not by the one seen before", async () => {
    const transform = await setup()
    await run(Feature.create({ name: "when", dtype: "datetime" }))
    const at = new Date("2026-01-02T03:04:05.000Z")
    const started = await run(Tracking.track({ transform, features: { when: at }, handleProcess: false }))
    expect(await run(Features.get(started))).toEqual({ when: at })
    const when = await elsewhere(Feature.get({ name: "when" }))
    await elsewhere(Feature.update(when, { name: "since" }))
    // No feature is named `when` now: its value comes back as stored.
    expect(await run(Features.get(started))).toEqual({ when: at.toISOString() })
  })
})
