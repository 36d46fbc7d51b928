/**
 * Metrics through the domain (see `Metrics`): points logged to runs come back as their history, stored as chunks
 * of one series (at most `MetricBuffer.maxChunkPoints` points, unique by run, key and first step) with the run's
 * summary kept in step; runs are filtered and ordered by that summary in the query language; a run stored before
 * summaries existed reads as having none; a flush whose answer was lost is retried without counting twice; two
 * writers to one run keep each other's keys; a run's points go with it.
 */
import assert from "node:assert/strict"
import { type Driver, Evaluator, MetricBuffer, Metrics, MetricStorage, Q, Records, Run, Store, StoreError, Tracking, Transform } from "@lineage/core"
import { Effect } from "effect"
import type { Case } from "../../Case.js"
import { storageCase } from "./artifacts.js"
import { anyRuns, at, newRun, open, registryCase, type Session } from "./support.js"

type Doc = Driver.Doc

const group = "metrics"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)
const table = Records.MetricPointsModel.table

const runs = async (s: Session, n: number) => {
  const transform = await s.run(Transform.create({ key: `train-${Math.random().toString(36).slice(2)}.ts`, kind: "script" }))
  const made: Array<Records.Run> = []
  for (let i = 0; i < n; i++) made.push(await newRun(s, transform, { name: `r${i}` }))
  return made
}

/** Logs `values` at consecutive steps from `from`, one timestamp a millisecond apart per step, then flushes. */
const logSeries = async (s: Session, run: Records.Run, key: string, values: ReadonlyArray<number>, from = 0) => {
  await s.run(
    Effect.forEach(values, (value, i) => Metrics.logTo(run, { [key]: value }, { step: from + i, timestamp: at(from + i) }), { discard: true })
  )
  await s.run(Metrics.flush())
}

/** The summary the stored chunks of `runId` imply, by key. */
const impliedSummary = (chunks: ReadonlyArray<Doc>, runId: number): MetricStorage.Summary => {
  const byKey = new Map<string, Array<Doc>>()
  for (const chunk of chunks.filter((d) => d["runId"] === runId)) byKey.set(String(chunk["key"]), [...(byKey.get(String(chunk["key"])) ?? []), chunk])
  return Object.fromEntries(
    [...byKey].map(([key, list]) => {
      const sorted = [...list].sort((a, b) => (a["firstStep"] as number) - (b["firstStep"] as number))
      const last = sorted[sorted.length - 1]!
      const values = last["values"] as ReadonlyArray<number>
      return [
        key,
        {
          last: values[values.length - 1]!,
          min: Math.min(...sorted.map((d) => d["min"] as number)),
          max: Math.max(...sorted.map((d) => d["max"] as number)),
          count: sorted.reduce((n, d) => n + (d["count"] as number), 0),
          step: last["lastStep"] as number
        }
      ]
    })
  )
}

const storedSummary = async (s: Session, run: Records.Run) => (await s.persisted(Records.RunModel.table, run.id))?.["metricSummary"]

/** A driver that performs its first write of metric points, then answers as if it had failed (a lost reply). */
const losingFirstAnswer = (driver: Driver.Driver): Driver.Driver => {
  let lost = false
  const lose = <A>(touches: boolean, write: Effect.Effect<A, StoreError>) =>
    touches && !lost
      ? Effect.flatMap(write, () => {
          lost = true
          return Effect.fail(StoreError.unavailable("the connection dropped before the answer came"))
        })
      : write
  return {
    ...driver,
    insert: (t, docs) => lose(t === table, driver.insert(t, docs)),
    batch: driver.batch === undefined ? undefined : (ops) => lose(ops.some((op) => op.table === table), driver.batch!(ops))
  }
}

const loss = Array.from({ length: 2_345 }, (_, i) => 1 / (i + 1) + (i % 7) * 1e-3)

export const metrics: ReadonlyArray<Case> = [
  c("points come back as their history, in step order with their timestamps, stored as chunks of one series", async (s) => {
    const [run] = await runs(s, 1)
    await logSeries(s, run!, "loss", loss)
    await logSeries(s, run!, "acc", [0.5, 0.75])
    const history = await s.run(Metrics.history({ runs: run! }))
    assert.deepStrictEqual(
      history.map((h) => [h.run, h.key, h.points.length, h.downsampled]),
      [
        [{ id: run!.id, uid: run!.uid }, "acc", 2, false],
        [{ id: run!.id, uid: run!.uid }, "loss", loss.length, false]
      ]
    )
    assert.deepStrictEqual(
      history[1]!.points,
      loss.map((value, step) => ({ step, value, timestamp: at(step) }))
    )
    const chunks = (await s.persistedAll(table)).filter((d) => d["key"] === "loss")
    assert.deepStrictEqual(
      chunks.map((d) => [d["firstStep"], d["lastStep"], d["count"]]).sort((a, b) => (a[0] as number) - (b[0] as number)),
      [
        [0, 999, 1_000],
        [1_000, 1_999, 1_000],
        [2_000, 2_344, 345]
      ]
    )
    for (const d of chunks) {
      const values = d["values"] as ReadonlyArray<number>
      // Each chunk is a MetricPoints record, as its entity decodes and encodes it.
      assert.deepStrictEqual(MetricStorage.chunkEntity.encode(MetricStorage.chunkEntity.decode(d)), d)
      assert.equal(d["runId"], run!.id)
      assert.deepStrictEqual([d["min"], d["max"]], [Math.min(...values), Math.max(...values)])
      assert.deepStrictEqual(d["timestamps"], (d["steps"] as ReadonlyArray<number>).map((step) => at(step).getTime()))
    }
  }),

  c("the run's summary is kept in step with its chunks, flush after flush", async (s) => {
    const [run] = await runs(s, 1)
    await logSeries(s, run!, "loss", loss.slice(0, 1_500))
    await logSeries(s, run!, "loss", [9, -3], 1_500)
    await s.run(Effect.all([Metrics.logTo(run!, { acc: 0.1, loss: 0.2 }, { step: 2_000 }), Metrics.logTo(run!, { acc: 0.3 })]))
    await s.run(Metrics.flush())
    const expected = impliedSummary(await s.persistedAll(table), run!.id)
    assert.deepStrictEqual(expected, {
      loss: { last: 0.2, min: -3, max: 9, count: 1_503, step: 2_000 },
      acc: { last: 0.3, min: 0.1, max: 0.3, count: 2, step: 2_001 }
    })
    assert.deepStrictEqual(await storedSummary(s, run!), expected)
    assert.deepStrictEqual(await s.run(Metrics.summary(run!)), expected)
    assert.deepStrictEqual((await s.run(Run.get(run!.id))).metricSummary, expected)
  }),

  c("runs are filtered and ordered by a metric's summary; runs without the metric match no comparison", async (s) => {
    const made = await runs(s, 6)
    // loss min, acc last per run; r4 has no acc, r5 no metric at all.
    const data: ReadonlyArray<readonly [number, number | undefined]> = [[0.5, 0.7], [0.1, 0.9], [0.15, 0.6], [0.3, 0.95], [0.05, undefined]]
    for (const [i, [minLoss, acc]] of data.entries()) {
      await logSeries(s, made[i]!, "loss", [1, minLoss, minLoss + 0.01])
      if (acc !== undefined) await logSeries(s, made[i]!, "acc", [acc / 2, acc])
    }
    const ids = (rows: ReadonlyArray<{ readonly id: number }>) => rows.map((r) => r.id)
    const [r0, r1, r2, r3, r4, r5] = made.map((r) => r.id)
    assert.deepStrictEqual(ids(await s.run(Run.filter({ metrics__loss__min__lt: 0.2 }).orderBy("id").all())), [r1, r2, r4])
    assert.deepStrictEqual(ids(await s.run(Run.filter({ metrics__loss__min__lt: 0.2 }).orderBy("-metrics__acc__last", "id").all())), [r1, r2, r4])
    assert.deepStrictEqual(ids(await s.run(Run.filter().orderBy("-metrics__acc__last", "id").all())), [r3, r1, r0, r2, r4, r5])
    assert.deepStrictEqual(ids(await s.run(Run.filter().orderBy("metrics__acc__last", "id").all())), [r4, r5, r2, r0, r1, r3])
    assert.deepStrictEqual(ids(await s.run(Run.filter({ metrics__acc__last__gte: 0.6, metrics__loss__count: 3 }).orderBy("id").all())), [r0, r1, r2, r3])
    assert.deepStrictEqual(ids(await s.run(Run.filter({ metrics__acc__isnull: true }).orderBy("id").all())), [r4, r5])
    assert.deepStrictEqual(ids(await s.run(Run.filter(Q.or({ metrics__acc__max__gt: 0.9 }, { metrics__loss__last__lt: 0.1 })).orderBy("id").all())), [r3, r4])
    // The same through the summary's own field name, as the reference evaluator reads the documents.
    const docs = await Promise.all(made.map(async (r) => (await s.persisted(Records.RunModel.table, r.id))!))
    const byEvaluator = docs.filter((d) => Evaluator.matches(d, { _tag: "Field", path: ["metricSummary", "loss", "min"], op: "lt", value: 0.2 }))
    assert.deepStrictEqual(ids(await s.run(anyRuns().filter({ metricSummary__loss__min__lt: 0.2 }).orderBy("id").all())), byEvaluator.map((d) => d["id"] as number))
  }),

  c("a run stored before summaries existed reads as {}, matches no metric filter, and takes metrics", async (s) => {
    const [model] = await runs(s, 1)
    const [doc] = await Effect.runPromise(s.ctx.driver.get(Records.RunModel.table, [model!.id]))
    const id = await Effect.runPromise(s.ctx.driver.reserveIds(Records.RunModel.table, 1))
    const legacy = { ...Object.fromEntries(Object.entries(doc!).filter(([field]) => field !== "metricSummary")), id, uid: "LegacyRun0000000" }
    await Effect.runPromise(s.ctx.driver.insert(Records.RunModel.table, [legacy]))
    assert.equal("metricSummary" in (await s.persisted(Records.RunModel.table, id))!, false)
    const old = await s.run(Run.get(id))
    assert.deepStrictEqual(old.metricSummary, {})
    assert.deepStrictEqual(await s.run(Metrics.summary(old)), {})
    assert.deepStrictEqual(await s.run(Run.filter({ metrics__loss__min__lt: 1 }).all()), [])
    assert.deepStrictEqual((await s.run(Run.filter().orderBy("metrics__loss__last", "id").all())).map((r) => r.id), [model!.id, id])
    await logSeries(s, old, "loss", [0.4, 0.2])
    assert.deepStrictEqual(await storedSummary(s, old), { loss: { last: 0.2, min: 0.2, max: 0.4, count: 2, step: 1 } })
    assert.deepStrictEqual((await s.run(Run.filter({ metrics__loss__min__lt: 1 }).all())).map((r) => r.id), [id])
  }),

  c("history of several runs and keys: in the order asked, keys sorted, runs without points left out", async (s) => {
    const [a, b, none] = await runs(s, 3)
    await logSeries(s, a!, "loss", [3, 2])
    await logSeries(s, a!, "acc", [0.1])
    await logSeries(s, b!, "loss", [5])
    await logSeries(s, b!, "constructor", [1])
    const series = await s.run(Metrics.history({ runs: [b!.uid, none!.id, a!], keys: ["loss", "acc", "constructor"] }))
    assert.deepStrictEqual(
      series.map((h) => [h.run.uid, h.key, h.points.map((p) => p.value)]),
      [
        [b!.uid, "constructor", [1]],
        [b!.uid, "loss", [5]],
        [a!.uid, "acc", [0.1]],
        [a!.uid, "loss", [3, 2]]
      ]
    )
    assert.deepStrictEqual((await s.run(Metrics.history({ runs: [a!, b!], keys: "acc" }))).map((h) => h.run.id), [a!.id])
    assert.deepStrictEqual(Object.keys(await s.run(Metrics.summary(b!))).sort(), ["constructor", "loss"])
    await s.fail(Metrics.history({ runs: "Zzzzzzzzzzzzzzzz" }), "DoesNotExist")
    await s.fail(Metrics.history({ runs: a!, keys: [""] }), "ValidationError")
  }),

  c("downsampled history keeps each bucket's lowest and highest point and the last one", async (s) => {
    const [run] = await runs(s, 1)
    const values = Array.from({ length: 1_000 }, (_, i) => (i === 537 ? 100 : i === 811 ? -100 : Math.sin(i / 50)))
    await logSeries(s, run!, "loss", values)
    const [full] = await s.run(Metrics.history({ runs: run!, maxPoints: 1_000 }))
    assert.equal(full!.downsampled, false)
    assert.equal(full!.points.length, 1_000)
    const [down] = await s.run(Metrics.history({ runs: run!, maxPoints: 21 }))
    assert.equal(down!.downsampled, true)
    assert.ok(down!.points.length <= 21, `${down!.points.length} points`)
    const steps = down!.points.map((p) => p.step)
    assert.deepStrictEqual(steps, [...steps].sort((x, y) => x - y))
    for (const step of [537, 811, 999]) assert.ok(steps.includes(step), `step ${step} kept`)
    for (const p of down!.points) assert.equal(p.value, values[p.step])
  }),

  c("a flush whose answer was lost is retried: every point stored once, the summary counted once", async (s) => {
    const store = await open(s.ctx, losingFirstAnswer(s.ctx.driver))
    const transform = await store.run(Transform.create({ key: "lossy.ts", kind: "script" }))
    const run = await store.run(Run.create({ transformId: transform.id, startedAt: at(0) }))
    await store.run(Effect.forEach([4, 2, 3], (value) => Metrics.logTo(run, { loss: value }), { discard: true }))
    await store.run(Metrics.flush())
    const chunks = await s.persistedAll(table)
    assert.deepStrictEqual(chunks.map((d) => [d["steps"], d["values"]]), [[[0, 1, 2], [4, 2, 3]]])
    assert.deepStrictEqual(await storedSummary(s, run), { loss: { last: 3, min: 2, max: 4, count: 3, step: 2 } })
    assert.equal(await store.run(Metrics.dropped), 0)
  }),

  c("two writers logging other keys to one run at once: its summary keeps both", async (s) => {
    const [run] = await runs(s, 1)
    const other = await open(s.ctx)
    const log = (writer: Session, key: string) =>
      writer.run(Effect.andThen(Effect.forEach([1, 2, 3], (value) => Metrics.logTo(run!, { [key]: value }), { discard: true }), Metrics.flush()))
    for (let round = 0; round < 3; round++) await Promise.all([log(s, `a${round}`), log(other, `b${round}`), log(s, `c${round}`)])
    const summary = MetricStorage.summaryOf(await storedSummary(s, run!))
    assert.deepStrictEqual(Object.keys(summary).sort(), ["a0", "a1", "a2", "b0", "b1", "b2", "c0", "c1", "c2"])
    assert.deepStrictEqual(summary, impliedSummary(await s.persistedAll(table), run!.id))
  }),

  c("points of a run deleted while they were buffered are dropped and counted; a deleted run's points go with it", async (s) => {
    const [kept, gone] = await runs(s, 2)
    await logSeries(s, kept!, "loss", [1, 2])
    await s.run(Effect.all([Metrics.logTo(gone!, { loss: 1, acc: 2 }), Metrics.logTo(kept!, { loss: 3 })]))
    await s.run(Run.delete(gone!, { permanent: true }))
    await s.run(Metrics.flush())
    assert.equal(await s.run(Metrics.dropped), 2)
    assert.deepStrictEqual(await storedSummary(s, kept!), { loss: { last: 3, min: 1, max: 3, count: 3, step: 2 } })
    await s.run(Run.delete(kept!, { permanent: true }))
    assert.deepStrictEqual(await s.persistedAll(table), [])
  }),

  storageCase(group, "finish() stores the run's points before the run reads as completed", async (s) => {
    const run = await s.run(Tracking.track({ transform: { key: "finishing.ts", kind: "script" }, handleProcess: false }))
    await s.run(Effect.forEach([0.3, 0.2, 0.1], (loss) => Metrics.log({ loss }), { discard: true }))
    await s.fail(Metrics.log({ loss: Number.NaN }), "ValidationError")
    const finished = await s.run(Tracking.finish())
    assert.equal(finished.status, "completed")
    assert.deepStrictEqual((await s.persistedAll(table)).map((d) => d["values"]), [[0.3, 0.2, 0.1]])
    assert.deepStrictEqual(MetricStorage.summaryOf((await s.persisted(Records.RunModel.table, run.id))?.["metricSummary"]), {
      loss: { last: 0.1, min: 0.1, max: 0.3, count: 3, step: 2 }
    })
    await s.fail(Metrics.log({ loss: 1 }), "TrackNotCalled")
  }),

  c("a chunk holds at most maxChunkPoints points of one series, unique by run, key and first step", async (s) => {
    const [run] = await runs(s, 1)
    await logSeries(s, run!, "x", Array.from({ length: MetricBuffer.maxChunkPoints + 1 }, (_, i) => i))
    const chunks = await s.persistedAll(table)
    assert.deepStrictEqual(chunks.map((d) => d["count"]).sort((a, b) => (b as number) - (a as number)), [MetricBuffer.maxChunkPoints, 1])
    const [first] = chunks
    const id = await Effect.runPromise(s.ctx.driver.reserveIds(table, 1))
    await s.fail(
      Store.Store.use((store) => store.batch([{ _tag: "Insert", table, docs: [{ ...first!, id, uid: "DuplicateChunk00" }] }])),
      "UniqueViolation"
    )
  })
]
