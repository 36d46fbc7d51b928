/**
 * Metrics through both faces: `ln.log` and `Metrics.log` reach the current run (the tracked one, a step's own
 * inside it), `run.metrics` reads one run's series and summary, options are checked at connect, `finish()` and
 * `close()` write a run's points before they end it (read by a second client of the same SQLite file, whose own
 * buffer is empty), and `Metrics.layer` sets the options of the Effect face.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import { TrackNotCalled, ValidationError } from "../src/Errors.js"
import * as Lineage from "../src/Lineage.js"
import * as Metrics from "../src/Metrics.js"
import { MetricPointsModel } from "../src/Records.js"
import { Run, Transform } from "../src/Registry.js"
import { layer as storeLayer, Store } from "../src/Store.js"
import * as Tracking from "../src/Tracking.js"

const dir = mkdtempSync(join(tmpdir(), "lineage-metrics-test-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Options under which only `flush`, `finish()` and `close()` write: the size and interval never trigger. */
const onlyWhenAsked = { batchSize: 1_000_000, flushIntervalMs: 3_600_000 } as const

const transform = { key: "train.ts", kind: "script" } as const

describe("the Promise face", () => {
  it("ln.log logs to the current run: the tracked run, a step's own run inside a step; TrackNotCalled without one", async () => {
    const ln = await Lineage.connect("memory:", { storage: join(dir, "a"), metrics: onlyWhenAsked })
    try {
      expect(() => ln.log({ loss: 1 })).toThrow(TrackNotCalled)
      const run = await ln.track({ transform, handleProcess: false })
      ln.log({ loss: 0.5, acc: 0.1 })
      ln.log({ loss: 0.25 }, { step: 10, timestamp: new Date(5) })
      const evaluate = ln.step(async function evaluate() {
        ln.log({ accuracy: 0.9 })
        return ln.context.run.uid
      })
      await evaluate()
      expect(() => ln.log({ loss: Number.NaN })).toThrow(ValidationError)
      expect(() => ln.log({ loss: 1 }, { step: 10 })).toThrow(/monotone per key/)
      await ln.metrics.flush()
      expect(await run.metrics.summary()).toEqual({
        loss: { last: 0.25, min: 0.25, max: 0.5, count: 2, step: 10 },
        acc: { last: 0.1, min: 0.1, max: 0.1, count: 1, step: 0 }
      })
      const stepRun = (await ln.Run.filter({ initiatedByRun: run }).all())[0]!
      expect(await stepRun.metrics.summary()).toEqual({ accuracy: { last: 0.9, min: 0.9, max: 0.9, count: 1, step: 0 } })
      const [loss] = await run.metrics.history({ keys: "loss" })
      expect(loss!.points.map((p) => [p.step, p.value])).toEqual([
        [0, 0.5],
        [10, 0.25]
      ])
      expect(loss!.points[1]!.timestamp).toEqual(new Date(5))
      const typed = await ln.Run.filter({ metrics__loss__min__lt: 0.3 }).orderBy("-metrics__acc__last").all()
      expect(typed.map((r) => r.uid)).toEqual([run.uid])
      expect(ln.metrics.dropped()).toBe(0)
      await ln.finish()
    } finally {
      await ln.close()
    }
  })

  it("logging to a run of another client's making, and reading series across runs", async () => {
    const ln = await Lineage.connect("memory:", { storage: join(dir, "b"), metrics: onlyWhenAsked })
    const t = await ln.Transform.create(transform)
    const [a, b] = [await ln.Run.create({ transform: t }), await ln.Run.create({ transform: t })]
    try {
      for (let step = 0; step < 50; step++) {
        a.metrics.log({ loss: 1 / (step + 1) })
        b.metrics.log({ loss: 2 / (step + 1) })
      }
      const series = await ln.metrics.history({ runs: [b, a.uid], maxPoints: 9 })
      expect(series.map((s) => [s.run.uid, s.key, s.points.length, s.downsampled])).toEqual([
        [b.uid, "loss", 9, true],
        [a.uid, "loss", 9, true]
      ])
      expect(await ln.metrics.summary(a.id)).toEqual({ loss: { last: 0.02, min: 0.02, max: 1, count: 50, step: 49 } })
    } finally {
      await ln.close()
    }
    expect(() => ln.log({ loss: 1 })).toThrow(/close\(\) was called/)
    expect(() => a.metrics.log({ loss: 1 })).toThrow(/close\(\) was called/)
  })

  it("a run continued by track({ newRun: false }) goes on from its stored steps, in another client", async () => {
    const url = `sqlite:${join(dir, "continued", "lineage.db")}`
    const first = await Lineage.connect(url, { storage: join(dir, "continued", "storage"), metrics: onlyWhenAsked })
    const run = await first.track({ transform, handleProcess: false })
    for (const loss of [3, 2, 1]) first.log({ loss })
    await first.finish()
    await first.close()
    const second = await Lineage.connect(url, { storage: join(dir, "continued", "storage"), metrics: onlyWhenAsked })
    try {
      const continued = await second.track({ transform, handleProcess: false, newRun: false })
      expect([continued.uid, continued.status]).toEqual([run.uid, "restarted"])
      expect(() => second.log({ loss: 0 }, { step: 2 })).toThrow(/a step greater than 2/)
      second.log({ loss: 0.5 })
      await second.finish()
      const [loss] = await continued.metrics.history()
      expect(loss!.points.map((p) => [p.step, p.value])).toEqual([
        [0, 3],
        [1, 2],
        [2, 1],
        [3, 0.5]
      ])
      expect(second.metrics.dropped()).toBe(0)
    } finally {
      await second.close()
    }
  })

  it("connect refuses bad metrics options with a ValidationError naming the option", async () => {
    const refused = await Lineage.connect("memory:", { metrics: { batchSize: 0 } }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ValidationError)
    expect((refused as ValidationError).field).toBe("batchSize")
  })

  it("finish() writes the run's points before the run reads as completed; close() before it ends it aborted", async () => {
    const url = `sqlite:${join(dir, "finish", "lineage.db")}`
    const reader = await Lineage.connect(url, { storage: join(dir, "finish", "storage") })
    const writer = await Lineage.connect(url, { storage: join(dir, "finish", "storage"), metrics: onlyWhenAsked })
    try {
      const finished = await writer.track({ transform, handleProcess: false })
      for (let step = 0; step < 2_500; step++) writer.log({ loss: step })
      await writer.finish()
      expect((await reader.Run.get(finished.uid)).status).toBe("completed")
      const [series] = await reader.metrics.history({ runs: finished.uid })
      expect(series!.points.length).toBe(2_500)

      const closed = await writer.track({ transform, handleProcess: false })
      writer.log({ loss: 1 })
      await writer.close()
      expect((await reader.Run.get(closed.uid)).status).toBe("aborted")
      expect(await reader.metrics.summary(closed.uid)).toEqual({ loss: { last: 1, min: 1, max: 1, count: 1, step: 0 } })
    } finally {
      await writer.close()
      await reader.close()
    }
  })

  it("close() while finish() waits for the run's points: the run ends once, completed, as finish() reports", async () => {
    const url = `sqlite:${join(dir, "race", "lineage.db")}`
    const reader = await Lineage.connect(url, { storage: join(dir, "race", "storage") })
    const writer = await Lineage.connect(url, { storage: join(dir, "race", "storage"), metrics: onlyWhenAsked })
    try {
      const run = await writer.track({ transform, handleProcess: false })
      for (let step = 0; step < 50_000; step++) writer.log({ loss: step })
      const finishing = writer.finish()
      await writer.close()
      expect((await finishing).status).toBe("completed")
      expect((await reader.Run.get(run.uid)).status).toBe("completed")
      expect((await reader.metrics.summary(run.uid))["loss"]?.count).toBe(50_000)
    } finally {
      await writer.close()
      await reader.close()
    }
  })
})

describe("the Effect face", () => {
  it("Metrics.layer sets the options: batchSize points start a write, without any flush", async () => {
    const layer = Layer.provideMerge(Metrics.layer({ batchSize: 3, flushIntervalMs: 3_600_000 }), MemoryStore.layer())
    const count = await Effect.runPromise(
      Effect.gen(function* () {
        const t = yield* Transform.create(transform)
        const run = yield* Run.create({ transform: t })
        yield* Effect.forEach([1, 2, 3, 4], (loss) => Metrics.logTo(run, { loss }), { discard: true })
        const store = yield* Store
        // Polled, not timed: the size-triggered write lands within a few turns of the event loop.
        for (let i = 0; i < 100; i++) {
          const n = yield* store.driver.count(MetricPointsModel.table, { _tag: "And", conds: [] })
          if (n > 0) return n
          yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
        }
        return 0
      }).pipe(Effect.provide(layer))
    )
    expect(count).toBe(1)
  })

  it("Metrics.log needs a current run; the release of the store's layer writes what is buffered", async () => {
    const url = `sqlite:${join(dir, "effect", "lineage.db")}`
    const reader = await Lineage.connect(url, { storage: join(dir, "effect", "storage") })
    try {
      const uid = await Effect.runPromise(
        Effect.gen(function* () {
          const refused = yield* Effect.flip(Metrics.log({ loss: 1 }))
          expect(refused).toBeInstanceOf(TrackNotCalled)
          const run = yield* Tracking.track({ transform, handleProcess: false })
          yield* Metrics.log({ loss: 0.5 })
          yield* Metrics.log({ loss: 0.25 })
          return run.uid
        }).pipe(
          Effect.provide(Layer.provideMerge(Metrics.layer(onlyWhenAsked), storeLayer(Lineage.driverFor(url)))),
          Effect.provideService((await import("../src/Artifacts.js")).ArtifactStorage, join(dir, "effect", "storage"))
        )
      )
      expect((await reader.Run.get(uid)).status).toBe("aborted")
      expect((await reader.metrics.summary(uid))["loss"]?.count).toBe(2)
    } finally {
      await reader.close()
    }
  })
})
