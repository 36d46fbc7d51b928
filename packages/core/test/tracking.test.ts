import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as Artifacts from "../src/Artifacts.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import { context, currentRun } from "../src/Current.js"
import * as Params from "../src/Params.js"
import { Artifact, Feature, Run, Transform } from "../src/Registries.js"
import { Store, type StoreShape, make as makeStore } from "../src/Store.js"
import * as Tracking from "../src/Tracking.js"

const storage = mkdtempSync(join(tmpdir(), "lineage-tracking-test-"))
afterAll(() => rmSync(storage, { recursive: true, force: true }))

let store: StoreShape
const run = <A, E>(effect: Effect.Effect<A, E, Store>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provideService(Store, store), Effect.provideService(ArtifactStorage, storage)))
const fail = <A, E>(effect: Effect.Effect<A, E, Store>): Promise<E> => run(Effect.flip(effect))

beforeEach(async () => {
  store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
})
afterEach(async () => {
  if (context.run !== undefined) await run(Tracking.finish())
  delete process.env[Tracking.initiatedByRunVariable]
})

const script = (source: string) => {
  const path = join(mkdtempSync(join(storage, "script-")), "train.ts")
  writeFileSync(path, source)
  return path
}

describe("params", () => {
  it("drops nulls and empty lists, stringifies dates and records, redacts secrets", () => {
    const { params, dropped } = Params.serialize({
      lr: 0.01,
      none: null,
      empty: [],
      when: new Date("2026-01-02T03:04:05.000Z"),
      api_key: "sk-123",
      nested: { password: "hunter2", depth: 3, dbToken: "t" },
      url: "postgres://ada:s3cret@db.example/lab",
      plainUrl: "https://example.org/data.csv",
      author: "Ada",
      fn: () => 1
    })
    expect(params).toEqual({
      lr: 0.01,
      when: "2026-01-02T03:04:05.000Z",
      api_key: Params.redacted,
      nested: { password: Params.redacted, depth: 3, dbToken: Params.redacted },
      url: Params.redacted,
      plainUrl: "https://example.org/data.csv",
      author: "Ada"
    })
    expect(dropped).toEqual(["fn"])
  })
})

describe("track and finish", () => {
  it("creates the transform and a started run with params, CLI args and an environment artifact", async () => {
    const r = await run(
      Tracking.track({ transform: { key: "Cell Ranger", version: "7.2.0", kind: "pipeline" }, params: { lr: 0.1, token: "x" } })
    )
    expect(r.status).toBe("started")
    expect(r.params).toEqual({ lr: 0.1, token: Params.redacted })
    expect(context.run?.id).toBe(r.id)
    expect(context.transform?.key).toBe("Cell Ranger")
    const env = await run(Artifact.get(r.environmentId!))
    expect(env.kind).toBe("__lineage_run__")
    expect(env.runId).toBeNull()
    expect(process.env[Tracking.initiatedByRunVariable]).toBe(r.uid)
    const done = await run(Tracking.finish())
    expect(done.status).toBe("completed")
    expect(done.finishedAt).toBeInstanceOf(Date)
    expect(context.run).toBeUndefined()
    expect(process.env[Tracking.initiatedByRunVariable]).toBeUndefined()
  })

  it("finish() without track() is a clear error", async () => {
    const e = await fail(Tracking.finish())
    expect(e._tag).toBe("TrackNotCalled")
    expect(e.message).toContain("track()")
  })

  it("derives the transform from the entry script: same source reuses it, changed source is a new version", async () => {
    const path = script("console.log(1)\n")
    const first = await run(Tracking.track({ path }))
    await run(Tracking.finish())
    const again = await run(Tracking.track({ path }))
    await run(Tracking.finish())
    expect(again.transformId).toBe(first.transformId)
    const t1 = await run(Transform.get(first.transformId))
    expect(t1.kind).toBe("script")
    expect(t1.key).toBe("train.ts")
    expect(t1.sourceCode).toBe("console.log(1)\n")
    writeFileSync(path, "console.log(2)\n")
    const changed = await run(Tracking.track({ path }))
    const t2 = await run(Transform.get(changed.transformId))
    expect(t2.id).not.toBe(t1.id)
    expect(t2.uid.slice(0, 12)).toBe(t1.uid.slice(0, 12))
    expect(t2.uid.slice(12)).toBe("0001")
    expect((await run(Transform.get(t1.id))).isLatest).toBe(false)
    expect(t2.isLatest).toBe(true)
  })

  it("validates features before writing anything", async () => {
    const e = await fail(Tracking.track({ transform: { key: "p" }, features: { nope: 1 } }))
    expect(e._tag).toBe("ValidationError")
    expect(e.message).toContain("nope")
    expect(e.message).toContain("Feature.create")
    expect(await run(Run.filter().count())).toBe(0)
    await run(Feature.create({ name: "lr", dtype: "float" }))
    const r = await run(Tracking.track({ transform: { key: "p" }, features: { lr: 0.5 } }))
    expect(await run(Run.filter({ lr: 0.5 }).count())).toBe(1)
    expect(r.featureValues).toEqual({ lr: 0.5 })
  })

  it("initiatedByRun comes from LINEAGE_INITIATED_BY_RUN; an unknown uid is refused", async () => {
    const parent = await run(Tracking.track({ transform: { key: "parent" } }))
    await run(Tracking.finish())
    process.env[Tracking.initiatedByRunVariable] = parent.uid
    const child = await run(Tracking.track({ transform: { key: "child" } }))
    expect(child.initiatedByRunId).toBe(parent.id)
    await run(Tracking.finish())
    expect(process.env[Tracking.initiatedByRunVariable]).toBe(parent.uid)
    process.env[Tracking.initiatedByRunVariable] = "ZZZZZZZZZZZZZZZZ"
    const e = await fail(Tracking.track({ transform: { key: "child" } }))
    expect(e._tag).toBe("DoesNotExist")
  })

  it("the heartbeat refreshes lastHeartbeatAt; stale() finds runs whose heartbeat stopped", async () => {
    const r = await run(Tracking.track({ transform: { key: "beating" }, heartbeatMs: 20 }))
    await new Promise((resolve) => setTimeout(resolve, 120))
    const later = await run(Run.get(r.id))
    expect(later.lastHeartbeatAt!.getTime()).toBeGreaterThan(r.lastHeartbeatAt!.getTime())
    expect(await run(Tracking.stale({ olderThanMs: 10_000 }).count())).toBe(0)
    const t = await run(Transform.create({ key: "dead" }))
    const dead = await run(
      Run.create({ transformId: t.id, status: "started", lastHeartbeatAt: new Date(Date.now() - 60_000) })
    )
    const stale = await run(Tracking.stale({ olderThanMs: 10_000 }).all())
    expect(stale.map((s) => s.id)).toEqual([dead.id])
  })
})

describe("step and flow", () => {
  const double = Tracking.step((x: { readonly n: number }) => Effect.succeed(x.n * 2), { key: "double" })

  it("a step needs a current run", async () => {
    const e = await fail(double({ n: 1 }))
    expect(e._tag).toBe("TrackNotCalled")
  })

  it("each call is a run of a function transform, initiated by the caller's run, with params from its arguments", async () => {
    const parent = await run(Tracking.track({ transform: { key: "pipeline" } }))
    expect(await run(double({ n: 21 }))).toBe(42)
    const [child] = await run(Run.filter({ initiatedByRun: parent }).all())
    expect(child!.params).toEqual({ n: 21 })
    expect(child!.status).toBe("completed")
    const t = await run(Transform.get(child!.transformId))
    expect(t.kind).toBe("function")
    expect(t.key).toBe("pipeline/double")
  })

  it("a failing step is errored and its error re-raised", async () => {
    await run(Tracking.track({ transform: { key: "pipeline" } }))
    const boom = Tracking.step(() => Effect.fail(new Error("boom")), { key: "boom" })
    const e = await fail(boom())
    expect((e as Error).message).toBe("boom")
    const [child] = await run(Run.filter({ transform__key: "pipeline/boom" }).all())
    expect(child!.status).toBe("errored")
    expect(child!.finishedAt).toBeInstanceOf(Date)
  })

  it("a flow runs without a tracked run, refuses to run inside the global one, and nests steps", async () => {
    const inner = Tracking.step((label: string) => Effect.succeed(label), { key: "inner" })
    const outer = Tracking.flow(
      (n: number) => Effect.forEach(Array.from({ length: n }, (_, i) => `s${i}`), (s) => inner(s), { concurrency: "unbounded" }),
      { key: "outer" }
    )
    expect(await run(outer(3))).toEqual(["s0", "s1", "s2"])
    const [flowRun] = await run(Run.filter({ transform__key: "outer" }).all())
    const steps = await run(Run.filter({ initiatedByRun: flowRun }).orderBy("params__arg0").all())
    expect(steps.map((s) => s.params)).toEqual([{ arg0: "s0" }, { arg0: "s1" }, { arg0: "s2" }])
    await run(Tracking.track({ transform: { key: "global" } }))
    const e = await fail(outer(1))
    expect(e._tag).toBe("TrackNotCalled")
  })

  it("concurrent calls never see each other's run: each registers its outputs to its own run", async () => {
    await run(Tracking.track({ transform: { key: "pipeline" } }))
    const write = Tracking.step(
      (name: string) =>
        Effect.gen(function* () {
          yield* Effect.sleep("5 millis")
          const artifact = yield* Artifacts.fromBytes(`data of ${name}`, { key: `${name}.txt` })
          const current = yield* currentRun
          return { producer: artifact.runId, current: current?.id }
        }),
      { key: "write" }
    )
    const results = await run(Effect.all(["a", "b", "c", "d"].map((n) => write(n)), { concurrency: "unbounded" }))
    for (const r of results) expect(r.producer).toBe(r.current)
    expect(new Set(results.map((r) => r.current)).size).toBe(4)
    expect(results.map((r) => r.current)).not.toContain(context.run?.id)
  })
})
