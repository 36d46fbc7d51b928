/**
 * The viewer's metrics routes without a browser: a real server on loopback, in this process, over SQLite runs
 * whose metrics were logged through `Lineage.connect`. Summaries, series downsampled to `maxPoints`, the chart as
 * SVG for one run and for several, and hostile run ids, keys and bounds refused with a 400 that says why.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Lineage, Store } from "@lineage/core"
import { Cause, Effect, Exit, ManagedRuntime, Semaphore } from "effect"
import * as Metrics from "../src/Metrics.js"
import type { MetricRun, MetricsView } from "../src/Metrics.js"
import { defaultChartPoints, maxChartPoints, maxStoredPoints, metricReads } from "../src/viewer/Api.js"
import { ask, expectFailure } from "./support/http.js"
import { hostileKey, longLoss, longSteps, type MetricsSeeded, seedMetrics, spikeStep, spikeValue } from "./support/metrics.js"
import { type Running, serve } from "./support/viewer.js"

let directory: string
let url: string
let seeded: MetricsSeeded
let viewer: Running
/** A run of two keys that hold, together, one point more than a request may read. */
let big: string

/** Logs `a` and `b` at steps 0 to `steps` − 1. */
const seedBig = async (steps: number): Promise<string> => {
  const ln = await Lineage.connect(url)
  try {
    const run = await ln.track({ transform: { key: "big", version: "1" } })
    for (let step = 0; step < steps; step++) ln.log({ a: step % 7, b: 1 }, { step })
    await ln.finish()
    return run.uid
  } finally {
    await ln.close()
  }
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "lineage-viewer-metrics-"))
  url = `sqlite:${join(directory, "lineage.db")}`
  seeded = await seedMetrics(url)
  big = await seedBig(Math.floor(maxStoredPoints / 2) + 1)
  viewer = await serve({ url, storage: join(directory, "storage") })
}, 120_000)
afterAll(async () => {
  await viewer?.close()
  rmSync(directory, { recursive: true, force: true })
})

const get = (path: string) => ask(viewer.port, path)
const history = (query: string) => get(`/api/metrics/history?${query}`)

describe("GET /api/metrics", () => {
  it("answers each run's summary by key, in the order asked, without reading a point", async () => {
    const answer = await get(`/api/metrics?runs=${seeded.short},${seeded.long.slice(0, 9)},${seeded.none}`)
    expect(answer.status).toBe(200)
    const { runs } = answer.json<{ runs: ReadonlyArray<MetricRun> }>()
    expect(runs.map((r) => [r.uid, Object.keys(r.summary)])).toEqual([
      [seeded.short, ["loss"]],
      [seeded.long, ["acc", "loss", "lr"]],
      [seeded.none, []]
    ])
    expect(runs[1]!.summary["loss"]).toEqual({ last: longLoss(longSteps - 1), min: longLoss(longSteps - 1), max: spikeValue, count: longSteps, step: longSteps - 1 })
    expect(runs[1]!.transform).toMatchObject({ key: "train", version: "1" })
  })
})

describe("GET /api/metrics/history", () => {
  it("answers the series downsampled to maxPoints, the spike kept, and every point without it", async () => {
    const view = (await history(`runs=${seeded.long}&key=loss&maxPoints=200`)).json<MetricsView>()
    expect(view.series.map((s) => [s.key, s.points.length, s.downsampled])).toEqual([["loss", 199, true]])
    expect(view.series[0]!.points).toContainEqual(expect.objectContaining({ step: spikeStep, value: spikeValue }))
    const whole = (await history(`runs=${seeded.long}&key=loss&key=lr&maxPoints=${maxChartPoints}`)).json<MetricsView>()
    expect(whole.series.map((s) => [s.key, s.points.length, s.downsampled])).toEqual([
      ["loss", longSteps, false],
      ["lr", 1, false]
    ])
    const byDefault = (await history(`runs=${seeded.long}`)).json<MetricsView>()
    expect(byDefault.keys).toEqual(["acc", "loss", "lr"])
    expect(byDefault.series.map((s) => s.points.length)).toEqual([defaultChartPoints - 1, defaultChartPoints - 1, 1])
  })

  it("draws one run's key as an SVG chart: a path of as many points as the series has, ticks, lowest and highest", async () => {
    const answer = await history(`runs=${seeded.long}&key=loss&format=svg&maxPoints=200`)
    expect(answer.status).toBe(200)
    expect(answer.headers["content-type"]).toBe("image/svg+xml; charset=utf-8")
    const paths = [...answer.text.matchAll(/<path class="series" d="([^"]*)" data-points="(\d+)"/g)]
    expect(paths).toHaveLength(1)
    expect(paths[0]![1]!.match(/[ML]/g)).toHaveLength(199)
    expect(answer.text).toContain('>max 5</text>')
    expect(answer.text).toContain(`${seeded.long} train 1: max 5 at step ${spikeStep}`)
    expect(answer.text).toMatch(/class="tick"[^>]*>800</)
  })

  it("answers the series in the order the keys were asked for, each key once", async () => {
    const view = (await history(`runs=${seeded.long}&key=loss&key=acc&key=loss`)).json<MetricsView>()
    expect(view.keys).toEqual(["loss", "acc"])
    expect(view.series.map((s) => s.key)).toEqual(["loss", "acc"])
    const twice = await history(`runs=${seeded.long}&key=loss&key=loss&format=svg`)
    expect(twice.status).toBe(200)
    expect([...twice.text.matchAll(/<path class="series"/g)]).toHaveLength(1)
  })

  it("refuses with a 413, before reading a point, a request whose series hold more points than one request reads", async () => {
    // Points read at once are held in memory and block the event loop: the bound stays far below a million.
    expect(maxStoredPoints).toBeLessThanOrEqual(500_000)
    const error = expectFailure(await history(`runs=${big}&key=a&key=b`), 413, "TooLarge")
    expect(error.message).toContain(`hold ${2 * (Math.floor(maxStoredPoints / 2) + 1)} points in all, more than the ${maxStoredPoints}`)
  })

  it("reads series for at most two requests at a time in the process; the others wait their turn", async () => {
    await Effect.runPromise(Semaphore.take(metricReads, 2))
    let answered = false
    const waiting = history(`runs=${seeded.short}&key=loss`).then((answer) => {
      answered = true
      return answer
    })
    try {
      // Summaries read no series: they are answered meanwhile.
      expect((await get(`/api/metrics?runs=${seeded.short}`)).status).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(answered).toBe(false)
    } finally {
      await Effect.runPromise(Semaphore.release(metricReads, 2))
    }
    expect((await waiting).status).toBe(200)
  })

  it("draws several runs' series of one key in one chart, with a legend entry each", async () => {
    const answer = await history(`runs=${seeded.long},${seeded.short},${seeded.none}&key=loss&format=svg`)
    expect([...answer.text.matchAll(/<path class="series"/g)]).toHaveLength(2)
    expect([...answer.text.matchAll(/<g class="entry"/g)]).toHaveLength(2)
    expect(answer.text).toContain(`>${seeded.short} train 1</text>`)
  })

  it("escapes a key made of markup in the chart", async () => {
    const answer = await history(`runs=${seeded.hostile}&key=${encodeURIComponent(hostileKey)}&format=svg`)
    expect(answer.status).toBe(200)
    expect(answer.text).not.toContain("<img")
    expect(answer.text).toContain("&lt;img src=x onerror=&quot;window.pwnedByKey=1&quot;&gt; &amp; &quot;q&quot;")
  })

  it("refuses hostile run ids, keys and bounds with a 400 naming the parameter, before the store is asked", async () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["", 'field "runs": expected 1 to 10 run uids'],
      ["runs=", 'field "runs"'],
      [`runs=${seeded.long}%00`, 'field "run" and value "'],
      ["runs=..%2F..%2Fetc", 'field "run"'],
      [`runs=${"a".repeat(17)}`, "1 to 16 base62 characters"],
      [`runs=${Array.from({ length: 11 }, () => seeded.long).join(",")}`, "expected 1 to 10 runs"],
      [`runs=${seeded.long}&key=%07bell`, 'field "key" and value "\\u0007bell": expected a metric key'],
      [`runs=${seeded.long}&key=${"k".repeat(251)}`, "a string of 1 to 250 characters"],
      [`runs=${seeded.long}&${Array.from({ length: 101 }, (_, i) => `key=k${i}`).join("&")}`, "expected at most 100 keys"],
      [`runs=${seeded.long}&maxPoints=2`, "expected an integer from 3 to 10000"],
      [`runs=${seeded.long}&maxPoints=1e9`, 'field "maxPoints"'],
      [`runs=${seeded.long}&format=png`, "expected one of json, svg"],
      [`runs=${seeded.long}&format=svg`, "exactly one key for format=svg"],
      [`runs=${seeded.long}&key=a&key=b&format=svg`, "exactly one key for format=svg"],
      [`runs=${seeded.long}&runs=${seeded.short}`, "given once"],
      [`runs=${seeded.long}&where=1`, "one of the parameters runs, key, maxPoints, format"]
    ]
    for (const [query, message] of cases) {
      const error = expectFailure(await history(query), 400, "InvalidQuery")
      expect(error.message).toContain(message)
    }
    expectFailure(await get("/api/metrics?runs=a,,b"), 400, "InvalidQuery")
  })

  it("answers no series for a key named like an object's own property, and refuses a key no run can hold", async () => {
    const view = (await history(`runs=${seeded.long},${seeded.short}&key=constructor&key=toString`)).json<MetricsView>()
    expect([view.keys, view.series]).toEqual([["constructor", "toString"], []])
    const refused = await history(`runs=${seeded.long}&key=__proto__`)
    expect([refused.status, refused.text]).toEqual([400, expect.stringContaining("__proto__")])
  })

  it("reads no more stored points than its bound allows, counted from the summaries before reading", async () => {
    const runtime = ManagedRuntime.make(Store.layer(Lineage.driverFor(url)))
    try {
      const view = (maxStoredPoints: number) =>
        runtime.runPromiseExit(Metrics.view([seeded.long, seeded.short], { keys: ["loss", "acc"], maxStoredPoints }))
      const refused = await view(2 * longSteps + 199)
      expect(Exit.isFailure(refused) && Cause.squash(refused.cause)).toMatchObject({ _tag: "TooManyPoints", points: 2 * longSteps + 200 })
      expect(Exit.isSuccess(await view(2 * longSteps + 200))).toBe(true)
    } finally {
      await runtime.dispose()
    }
  })

  it("answers 404 for a run no uid names, naming what was looked for", async () => {
    const error = expectFailure(await history("runs=ZZZZZZZZ&key=loss"), 404, "DoesNotExist")
    expect(error.message).toBe("No Run matches uid or uid prefix 'ZZZZZZZZ'.")
  })
})
