import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Cause, Effect, Exit } from "effect"
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as Artifacts from "../src/Artifacts.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import { context, contextOf, currentRun } from "../src/Current.js"
import * as Lineage from "../src/Lineage.js"
import * as Params from "../src/Params.js"
import { Q } from "../src/Query.js"
import { Artifact, Feature, Run, Transform } from "../src/Registry.js"
import { layerFromDriver, Store, type StoreShape, make as makeStore } from "../src/Store.js"
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
  await Effect.runPromise(Effect.exit(Effect.provideService(Tracking.finish(), Store, store)))
  delete process.env[Tracking.initiatedByRunVariable]
})

const script = (source: string) => {
  const path = join(mkdtempSync(join(storage, "script-")), "train.ts")
  writeFileSync(path, source)
  return path
}

describe("params", () => {
  it("drops nulls and empty lists, stringifies dates and records, redacts secrets", () => {
    const { params, dropped } = Effect.runSync(Params.serialize({
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
    }))
    expect(params).toEqual({
      lr: 0.01,
      when: "2026-01-02T03:04:05.000Z",
      api_key: Params.redacted,
      nested: { password: Params.redacted, depth: 3, dbToken: Params.redacted },
      url: `postgres://ada:${Params.redacted}@db.example/lab`,
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
    expect(contextOf(store).run?.id).toBe(r.id)
    expect(contextOf(store).transform?.key).toBe("Cell Ranger")
    const env = await run(Artifact.get(r.environmentId!))
    expect(env.kind).toBe("__lineage_run__")
    expect(env.runId).toBeNull()
    expect(process.env[Tracking.initiatedByRunVariable]).toBe(r.uid)
    const done = await run(Tracking.finish())
    expect(done.status).toBe("completed")
    expect(done.finishedAt).toBeInstanceOf(Date)
    expect(contextOf(store).run).toBeUndefined()
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
    expect(await run(Run.filter(Q.where("lr", "eq", 0.5)).count())).toBe(1)
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
    const r = await run(Tracking.track({ transform: { key: "beating" }, heartbeatMs: 100, handleProcess: false }))
    await new Promise((resolve) => setTimeout(resolve, 250))
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
    const steps = await run(Run.filter({ initiatedByRun: flowRun! }).orderBy("params__label").all())
    expect(steps.map((s) => s.params)).toEqual([{ label: "s0" }, { label: "s1" }, { label: "s2" }])
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
    expect(results.map((r) => r.current)).not.toContain((await run(currentRun))?.id)
  })
})

describe("a flow's run is the context of its call chain", () => {
  const seen = Effect.map(context, (c) => ({ run: c.run?.uid, transform: c.transform?.key }))
  const runOf = (key: string) => run(Run.filter({ transform__key: key }).one())

  it("inside a flow and the steps it calls, context is the flow's run and transform; outside, nothing", async () => {
    const inner = Tracking.step(() => seen, { key: "inner" })
    const afterSleep = Effect.andThen(Effect.sleep("1 millis"), seen)
    const outer = Tracking.flow(() => Effect.all([seen, inner(), afterSleep]), { key: "outer" })
    const [direct, inStep, later] = await run(outer())
    const flowRun = await runOf("outer")
    const expected = { run: flowRun.uid, transform: "outer" }
    expect([direct, inStep, later]).toEqual([expected, expected, expected])
    expect(await run(seen)).toEqual({ run: undefined, transform: undefined })
    // The current run inside the step is still the step's own.
    const stepRun = await runOf("outer/inner")
    expect(stepRun.initiatedByRunId).toBe(flowRun.id)
  })

  it("concurrent flows each see their own run, and the store's global context is never set", async () => {
    const probe = Tracking.flow(
      (label: string) =>
        Effect.gen(function* () {
          yield* Effect.sleep(label === "a" ? "20 millis" : "5 millis")
          return { label, context: yield* seen, global: contextOf(store).run }
        }),
      { key: "probe" }
    )
    const results = await run(Effect.all([probe("a"), probe("b"), probe("c")], { concurrency: "unbounded" }))
    const flowRuns = await run(Run.filter({ transform__key: "probe" }).all())
    for (const r of results) {
      expect(r.global).toBeUndefined()
      expect(r.context.run).toBe(flowRuns.find((f) => (f.params as { label: string }).label === r.label)!.uid)
    }
    expect(new Set(results.map((r) => r.context.run)).size).toBe(3)
  })

  it("a flow called inside a flow is the context of its own call; the outer one's returns after it", async () => {
    const inner = Tracking.flow(() => seen, { key: "nested" })
    const outer = Tracking.flow(() => Effect.all([inner(), seen]), { key: "outer" })
    const [inInner, back] = await run(outer())
    expect(inInner).toEqual({ run: (await runOf("outer/nested")).uid, transform: "outer/nested" })
    expect(back).toEqual({ run: (await runOf("outer")).uid, transform: "outer" })
  })

  it("under a tracked global run, context stays the global run, inside steps too; a flow there is still refused", async () => {
    const global = await run(Tracking.track({ transform: { key: "pipeline" }, handleProcess: false }))
    const inStep = await run(Tracking.step(() => seen, { key: "inner" })())
    expect(inStep).toEqual({ run: global.uid, transform: "pipeline" })
    const e = await fail(Tracking.flow(() => seen, { key: "refused" })())
    expect(e._tag).toBe("TrackNotCalled")
    // Inside a step of the global run too: the flow would otherwise take the context from the global run.
    const nested = await fail(Tracking.step(() => Tracking.flow(() => seen, { key: "refused" })(), { key: "outer" })())
    expect(nested._tag).toBe("TrackNotCalled")
    expect(await run(Run.filter({ transform__key: "refused" }).count())).toBe(0)
    expect(await run(Run.filter({ transform__key: "pipeline/outer" }).one())).toMatchObject({ status: "errored" })
  })

  it("the Promise face: ln.context in a flow's async chain (and its steps) is the flow's, per call, never global", async () => {
    const ln = await Lineage.connect("memory:", { storage })
    try {
      const current = () =>
        ln.context.isTracked ? { run: ln.context.run.uid, transform: ln.context.transform.key } : { run: undefined, transform: undefined }
      const inner = ln.step(async () => current(), { key: "inner" })
      const probe = ln.flow(
        async (label: string, ms: number) => {
          const direct = current()
          await new Promise((resolve) => setTimeout(resolve, ms))
          return { label, direct, later: current(), inStep: await inner() }
        },
        { key: "probe" }
      )
      const results = await Promise.all([probe("a", 20), probe("b", 1)])
      for (const r of results) {
        const flowRun = await ln.Run.filter({ transform__key: "probe", params__label: r.label }).one()
        const expected = { run: flowRun.uid, transform: "probe" }
        expect([r.direct, r.later, r.inStep]).toEqual([expected, expected, expected])
      }
      expect(current()).toEqual({ run: undefined, transform: undefined })
      const global = await ln.track({ transform: { key: "pipeline" }, handleProcess: false })
      expect(await inner()).toEqual({ run: global.uid, transform: "pipeline" })
      await ln.finish()
    } finally {
      await ln.close()
    }
  })
})

describe("step arguments by name", () => {
  /** The params the one run of a flow keyed `key` recorded for `args`. */
  const recorded = async <Args extends ReadonlyArray<unknown>>(
    key: string,
    fn: (...args: Args) => Effect.Effect<unknown>,
    args: Args,
    options: Tracking.FunctionOptions = {}
  ) => {
    await run(Tracking.flow(fn, { ...options, key })(...args))
    return (await run(Run.filter({ transform__key: key }).one())).params
  }
  const ok = Effect.succeed(0)

  it("names positional arguments after the function's parameters, in every plain form", async () => {
    const add = function add(a: number, b: number) {
      return Effect.succeed(a + b)
    }
    expect(await recorded("fn", add, [1, 2])).toEqual({ a: 1, b: 2 })
    expect(await recorded("arrow", (x: string, y: string) => Effect.succeed(x + y), ["p", "q"])).toEqual({ x: "p", y: "q" })
    expect(await recorded("single", (label: string) => Effect.succeed(label), ["s"])).toEqual({ label: "s" })
    const methods = {
      scale(factor: number, offset: number) {
        return Effect.succeed(factor + offset)
      }
    }
    expect(await recorded("method", methods.scale, [2, 3])).toEqual({ factor: 2, offset: 3 })
    // As Prettier writes a long list: one name a line, with a trailing comma.
    const trailing = new Function("Effect", "return (first,\n  second,\n) => Effect.succeed(0)")(Effect)
    expect(await recorded("trailing", trailing, [1, 2])).toEqual({ first: 1, second: 2 })
  })

  it("a rest parameter is recorded as an array; arguments past the names are argN, N their position", async () => {
    const join = (head: string, ...tail: Array<string>) => Effect.succeed(head + tail.join(""))
    expect(await recorded("rest", join, ["a", "b", "c"])).toEqual({ head: "a", tail: ["b", "c"] })
    const extra = ((a: number) => Effect.succeed(a)) as unknown as (...args: Array<number>) => Effect.Effect<number>
    expect(await recorded("extra", extra, [1, 2, 3])).toEqual({ a: 1, arg1: 2, arg2: 3 })
    expect(await recorded("fewer", (a?: number, b?: number) => Effect.succeed([a, b]), [1])).toEqual({ a: 1 })
  })

  it("a single plain-object argument is still recorded as it is", async () => {
    const train = (config: { readonly lr: number }) => Effect.succeed(config.lr)
    expect(await recorded("object", train, [{ lr: 0.1 }])).toEqual({ lr: 0.1 })
  })

  it("what does not read unambiguously falls back to argN for every argument", async () => {
    const cases: ReadonlyArray<readonly [string, (...args: Array<never>) => Effect.Effect<unknown>]> = [
      ["destructured", ({ a }: { a: number }, b: number) => Effect.succeed([a, b])],
      ["defaults", (a: number, b = 2) => Effect.succeed(a + b)],
      ["commented", new Function("Effect", "return (a /* the first */, b) => Effect.succeed(0)")(Effect)],
      ["bound", ((a: number, b: number) => Effect.succeed(a + b)).bind(null)],
      ["duplicate", new Function("a", "a", "return arguments[2]")],
      ["clashing", new Function("Effect", "return (arg2, b) => Effect.succeed(0)")(Effect)]
    ]
    // Three arguments, so the third one's `arg2` would repeat the name `arg2` (the Effect itself is not stored).
    for (const [key, fn] of cases) {
      const params = await recorded(key, fn as (...args: Array<unknown>) => Effect.Effect<unknown>, [{ a: 1 }, 2, ok])
      expect(params, key).toEqual({ arg0: { a: 1 }, arg1: 2 })
    }
  })

  it("an overridden toString, even one that throws, is not the source; a Proxy names nothing", async () => {
    const lying = (a: number, b: number) => Effect.succeed(a + b)
    lying.toString = () => "(evil, names) => 0"
    expect(await recorded("lying", lying, [1, 2])).toEqual({ a: 1, b: 2 })
    const throwing = (a: number, b: number) => Effect.succeed(a + b)
    throwing.toString = () => {
      throw new Error("no source for you")
    }
    expect(await recorded("throwing", throwing, [1, 2])).toEqual({ a: 1, b: 2 })
    const transform = await run(Transform.filter({ key: "throwing" }).one())
    expect(transform.sourceCode).toContain("Effect.succeed(a + b)")
    const proxied = new Proxy((a: number, b: number) => Effect.succeed(a + b), {})
    expect(await recorded("proxied", proxied, [1, 2])).toEqual({ arg0: 1, arg1: 2 })
  })

  it("a huge parameter list is read in linear time; one with a default anywhere falls back", async () => {
    const names = Array.from({ length: 60_000 }, (_, i) => `p${i}`)
    const huge = new Function("Effect", `return (${names.join(", ")}) => Effect.succeed(0)`)(Effect)
    const started = performance.now()
    expect(await recorded("huge", huge, [1, 2, 3])).toEqual({ p0: 1, p1: 2, p2: 3 })
    expect(performance.now() - started).toBeLessThan(5_000)
    const defaulted = new Function("Effect", `return (${names.join(", ")} = 1) => Effect.succeed(0)`)(Effect)
    expect(await recorded("defaulted", defaulted, [1, 2])).toEqual({ arg0: 1, arg1: 2 })
  })

  it("the params option names the positional arguments, before any other rule", async () => {
    const named = { params: ["alpha", "beta"] }
    const anyArgs = ((..._: Array<unknown>) => ok) as (...args: Array<unknown>) => Effect.Effect<number>
    expect(await recorded("explicit", anyArgs, [1, 2, 3], named)).toEqual({ alpha: 1, beta: 2, arg2: 3 })
    expect(await recorded("explicitObject", anyArgs, [{ lr: 1 }], { params: ["config"] })).toEqual({ config: { lr: 1 } })
    const secret = await recorded("explicitSecret", anyArgs, ["t0ps3cret"], { params: ["token", "arg1"] })
    expect(secret).toEqual({ token: Params.redacted })
  })

  it("a params option that cannot name the arguments is a ValidationError naming the entry; no run is written", async () => {
    const anyArgs = (..._: Array<unknown>) => ok
    const bad: ReadonlyArray<readonly [unknown, string, string]> = [
      ["alpha", "params", '"alpha"'],
      [["a", 1], "params[1]", "1"],
      [["a", ""], "params[1]", '""'],
      [["a", "b", "a"], "params[2]", '"a"'],
      [["arg1"], "params[0]", '"arg1"'],
      [[, "a"], "params[0]", "undefined"],
      [new Proxy([], { get: () => { throw new Error("trap") } }), "params", "[[unprintable]"]
    ]
    for (const [params, field, shown] of bad) {
      const e = await fail(Tracking.flow(anyArgs, { key: "bad", params } as Tracking.FunctionOptions)(1, 2))
      expect(e._tag).toBe("ValidationError")
      expect(e.message).toContain(`Run.${field}`)
      expect(e.message).toContain(`got ${shown}`)
      expect(e.message).toContain("distinct non-empty strings")
    }
    expect(await run(Run.filter().count())).toBe(0)
  })

  it("the Promise face names arguments the same way; a native function names nothing", async () => {
    const ln = await Lineage.connect("memory:", { storage })
    try {
      await ln.flow(async function load(path: string, limit: number) { return [path, limit] })("a.csv", 10)
      expect((await ln.Run.filter({ transform__key: "load" }).one()).params).toEqual({ path: "a.csv", limit: 10 })
      expect(await ln.flow(Math.max, { key: "max" })(3, 4)).toBe(4)
      expect((await ln.Run.filter({ transform__key: "max" }).one()).params).toEqual({ arg0: 3, arg1: 4 })
    } finally {
      await ln.close()
    }
  })
})

describe("tracking state belongs to its store", () => {
  const on =
    (s: StoreShape) =>
    <A, E>(effect: Effect.Effect<A, E, Store>): Promise<A> =>
      Effect.runPromise(effect.pipe(Effect.provideService(Store, s), Effect.provideService(ArtifactStorage, storage)))
  const active = (s: StoreShape) => on(s)(Run.filter({ status: { in: ["started", "restarted"] } }).count())

  it("two stores in one process: each has its own current run, and finish() ends only its own", async () => {
    const other = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
    try {
      const a = await run(Tracking.track({ transform: { key: "a" }, handleProcess: false }))
      const b = await on(other)(Tracking.track({ transform: { key: "b" }, handleProcess: false }))
      expect(b.initiatedByRunId).toBeNull()
      expect((await run(currentRun))?.uid).toBe(a.uid)
      expect((await on(other)(currentRun))?.uid).toBe(b.uid)
      expect((await run(Tracking.finish())).uid).toBe(a.uid)
      expect((await run(Run.get(a.id))).status).toBe("completed")
      expect((await on(other)(Run.get(b.id))).status).toBe("started")
      expect((await on(other)(currentRun))?.uid).toBe(b.uid)
      expect((await on(other)(Tracking.finish())).uid).toBe(b.uid)
      expect(await active(store)).toBe(0)
      expect(await active(other)).toBe(0)
    } finally {
      await Effect.runPromise(Effect.exit(Effect.provideService(Tracking.finish(), Store, other)))
    }
  })

  it("two Effect programs with their own store layers track concurrently without touching each other's run", async () => {
    const program = (key: string) =>
      Effect.gen(function* () {
        const tracked = yield* Tracking.track({ transform: { key }, handleProcess: false })
        yield* Effect.sleep("30 millis")
        const current = yield* currentRun
        const finished = yield* Tracking.finish()
        const stored = yield* Run.get(tracked.id)
        const left = yield* Run.filter({ status: { in: ["started", "restarted"] } }).count()
        return { tracked: tracked.uid, current: current?.uid, finished: finished.uid, status: stored.status, left }
      }).pipe(Effect.provide(layerFromDriver(MemoryStore.makeDriver())), Effect.provideService(ArtifactStorage, storage))
    const results = await Effect.runPromise(Effect.all([program("one"), program("two")], { concurrency: 2 }))
    for (const r of results) expect(r).toEqual({ tracked: r.tracked, current: r.tracked, finished: r.tracked, status: "completed", left: 0 })
  })

  it("track() while the store's run is active is refused with RunAlreadyActive naming that run", async () => {
    const first = await run(Tracking.track({ transform: { key: "first" }, handleProcess: false }))
    const e = await fail(Tracking.track({ transform: { key: "second" }, handleProcess: false }))
    expect(e._tag).toBe("RunAlreadyActive")
    expect(e.message).toContain(first.uid)
    expect(e.message).toContain("finish()")
    expect(await run(Run.filter({ transform__key: "second" }).count())).toBe(0)
    expect((await run(currentRun))?.uid).toBe(first.uid)
    expect((await run(Tracking.finish())).uid).toBe(first.uid)
    expect(await active(store)).toBe(0)
  })

  it("track() inside a step or a flow is refused, naming the call's run; no run is left started", async () => {
    await run(Tracking.track({ transform: { key: "pipeline" }, handleProcess: false }))
    const nested = Tracking.step(() => Tracking.track({ transform: { key: "inner" }, handleProcess: false }), { key: "nested" })
    const e = await fail(nested())
    expect(e._tag).toBe("RunAlreadyActive")
    const stepRun = await run(Run.filter({ transform__key: "pipeline/nested" }).one())
    expect(e.message).toContain(stepRun.uid)
    expect(stepRun.status).toBe("errored")
    await run(Tracking.finish())
    const inFlow = Tracking.flow(() => Tracking.track({ transform: { key: "inner" }, handleProcess: false }), { key: "outer" })
    const f = await fail(inFlow())
    expect(f._tag).toBe("RunAlreadyActive")
    expect(f.message).toContain((await run(Run.filter({ transform__key: "outer" }).one())).uid)
    expect(await run(Run.filter({ transform__key: "inner" }).count())).toBe(0)
    expect(await active(store)).toBe(0)
  })

  it("two track() calls in parallel: exactly one run is tracked, the other call gets RunAlreadyActive", async () => {
    const exits = await run(
      Effect.all(
        ["left", "right"].map((key) => Effect.exit(Tracking.track({ transform: { key }, handleProcess: false }))),
        { concurrency: "unbounded" }
      )
    )
    const won = exits.filter(Exit.isSuccess)
    expect(won).toHaveLength(1)
    const lost = exits.filter(Exit.isFailure).map((x) => Cause.squash(x.cause) as { readonly _tag: string })
    expect(lost.map((l) => l._tag)).toEqual(["RunAlreadyActive"])
    expect(await run(Run.filter().count())).toBe(1)
    await run(Tracking.finish())
    expect(await active(store)).toBe(0)
  })

  it("a run whose start fails after it was created is ended errored, and the store can track again", async () => {
    const blocked = join(storage, "not-a-directory")
    writeFileSync(blocked, "")
    const e = await Effect.runPromise(
      Effect.flip(Tracking.track({ transform: { key: "doomed" }, handleProcess: false })).pipe(
        Effect.provideService(Store, store),
        Effect.provideService(ArtifactStorage, join(blocked, "storage"))
      )
    )
    expect(e._tag).toBe("ArtifactStorageError")
    const doomed = await run(Run.filter({ transform__key: "doomed" }).one())
    expect(doomed.status).toBe("errored")
    expect(doomed.finishedAt).toBeInstanceOf(Date)
    const again = await run(Tracking.track({ transform: { key: "doomed" }, handleProcess: false }))
    expect((await run(currentRun))?.uid).toBe(again.uid)
  })
})

describe("LINEAGE_INITIATED_BY_RUN with two clients", () => {
  it("names the most recently tracked active run, goes back on finish(), and is never read as a parent in its own process", async () => {
    const parent = await run(Tracking.track({ transform: { key: "parent" }, handleProcess: false }))
    await run(Tracking.finish())
    process.env[Tracking.initiatedByRunVariable] = parent.uid
    const other = await Effect.runPromise(makeStore(store.driver))
    const onOther = <A, E>(effect: Effect.Effect<A, E, Store>) =>
      Effect.runPromise(effect.pipe(Effect.provideService(Store, other), Effect.provideService(ArtifactStorage, storage)))
    const a = await run(Tracking.track({ transform: { key: "a" }, handleProcess: false }))
    expect(process.env[Tracking.initiatedByRunVariable]).toBe(a.uid)
    const b = await onOther(Tracking.track({ transform: { key: "b" }, handleProcess: false }))
    expect(process.env[Tracking.initiatedByRunVariable]).toBe(b.uid)
    expect([a.initiatedByRunId, b.initiatedByRunId]).toEqual([parent.id, parent.id])
    await onOther(Tracking.finish())
    expect(process.env[Tracking.initiatedByRunVariable]).toBe(a.uid)
    await run(Tracking.finish())
    expect(process.env[Tracking.initiatedByRunVariable]).toBe(parent.uid)
  })
})

describe("heartbeatMs", () => {
  it("0, negative, NaN, Infinity, non-integer, below 100 ms or beyond Node's timer range is a ValidationError; no run is written", async () => {
    for (const heartbeatMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, 99, 150.5, 2 ** 31]) {
      const e = await fail(Tracking.track({ transform: { key: "beat" }, heartbeatMs, handleProcess: false }))
      expect(e._tag).toBe("ValidationError")
      expect(e.message).toContain("heartbeatMs")
      expect(e.message).toContain(String(heartbeatMs))
      expect(e.message).toContain("from 100 to 2147483647")
    }
    expect(await run(Run.filter().count())).toBe(0)
  })

  it("an invalid LINEAGE_HEARTBEAT_MS is refused the same way", async () => {
    for (const value of ["0", "-1", "soon", "1e400"]) {
      process.env["LINEAGE_HEARTBEAT_MS"] = value
      try {
        const e = await fail(Tracking.track({ transform: { key: "beat" }, handleProcess: false }))
        expect(e._tag).toBe("ValidationError")
        expect(e.message).toContain("LINEAGE_HEARTBEAT_MS")
        expect(e.message).toContain(value)
      } finally {
        delete process.env["LINEAGE_HEARTBEAT_MS"]
      }
    }
    expect(await run(Run.filter().count())).toBe(0)
  })

  it("an idle run with a 100 ms heartbeat writes about ten beats a second, no more", async () => {
    const driver = MemoryStore.makeDriver()
    let writes = 0
    store = await Effect.runPromise(
      makeStore({
        ...driver,
        update: (table, id, patch, expect) => {
          if (table === "run") writes++
          return expect === undefined ? driver.update(table, id, patch) : driver.update(table, id, patch, expect)
        }
      })
    )
    await run(Tracking.track({ transform: { key: "idle" }, heartbeatMs: 100, handleProcess: false }))
    const before = writes
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const beats = writes - before
    // A loaded machine delays timers, never hastens them: at least one beat, and never more than ten a second.
    expect(beats).toBeGreaterThanOrEqual(1)
    expect(beats).toBeLessThanOrEqual(11)
  })
})

describe("interrupted starts", () => {
  it("a track() interrupted at any moment of its start leaves no run started, and the store free to track", async () => {
    const outcomes = { tracked: 0, interrupted: 0 }
    // Delays grow by a quarter millisecond until both outcomes were seen (at least 40 tries): a loaded machine
    // only needs longer ones before a start completes.
    for (let delay = 0; delay < 40 || (outcomes.tracked === 0 && delay < 8_000); delay++) {
      const started = await run(
        Effect.timeoutOption(Tracking.track({ transform: { key: "interrupted" }, handleProcess: false }), `${delay / 4} millis`)
      )
      if (started._tag === "Some") {
        outcomes.tracked++
        await run(Tracking.finish())
      } else outcomes.interrupted++
      expect(await run(Run.filter({ status: { in: ["started", "restarted"] } }).count())).toBe(0)
    }
    expect(outcomes.interrupted).toBeGreaterThan(0)
    expect(outcomes.tracked).toBeGreaterThan(0)
    // Some interruptions fall after the run was written: those runs are ended aborted.
    const statuses = new Set((await run(Run.filter().all())).map((r) => r.status))
    expect([...statuses].sort()).toEqual(["aborted", "completed"])
  })
})
