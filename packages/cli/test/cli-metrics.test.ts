/**
 * `lineage metrics` through the built bin, on runs whose metrics were logged through `Lineage.connect`: on
 * SQLite in detail (the table and its sparklines, runs compared, a key chosen, JSON and downsampling, a run
 * without metrics, every refusal and its exit code) and on Redis (a store of another kind) for what every store
 * must show alike.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as RedisStore from "@lineage/store-redis"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildIfStale } from "../../../test/support/build.js"
import { freshPrefix, redisServer } from "../../../test/support/redis.js"
import type { MetricsView } from "../src/Metrics.js"
import { baseEnv, bin, lineage, lineageJson } from "./support/bin.js"
import { longAcc, longLoss, longSteps, type MetricsSeeded, seedMetrics, shortLoss, shortSteps, spikeStep, spikeValue } from "./support/metrics.js"

const bars = /^[▁▂▃▄▅▆▇█ ]+$/
/** What `MetricsChart.valueLabel` prints: six significant digits. */
const shown = (v: number) => String(Number(v.toPrecision(6)))

/** The table's line for `name` (a key or a run), split into its columns. */
const rowOf = (stdout: string, name: string): ReadonlyArray<string> => {
  const line = stdout.split("\n").find((l) => l.trim().split(/\s+/)[0] === name)
  if (line === undefined) throw new Error(`no line for ${name} in:\n${stdout}`)
  return line.trim().split(/\s+/)
}

interface Store {
  readonly url: string
  readonly seeded: MetricsSeeded
}

/** What every store shows alike: the table of one run, runs compared, the series as JSON. */
const commonChecks = (store: () => Store) => {
  it("a run: a line per key with last, min, max, count, step and a 60-column sparkline off a terminal", async () => {
    const { url, seeded } = store()
    const result = await lineage(["metrics", seeded.long, "--store", url])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const lines = result.stdout.trimEnd().split("\n")
    expect(lines[0]).toBe(`Run ${seeded.long}  train 1  completed`)
    expect(lines[1]!.split(/\s+/)).toEqual(["key", "last", "min", "max", "count", "step", "series"])
    const last = longLoss(longSteps - 1)
    const loss = rowOf(result.stdout, "loss")
    expect(loss.slice(0, 6)).toEqual(["loss", shown(last), shown(last), String(spikeValue), String(longSteps), String(longSteps - 1)])
    // The spike, kept by the downsampling, is the one full bar; the rest falls from the middle.
    expect(loss[6]).toMatch(bars)
    expect([...loss[6]!]).toHaveLength(60)
    expect([...loss[6]!].filter((c) => c === "█")).toHaveLength(1)
    expect([...loss[6]!].indexOf("█")).toBe(Math.floor((spikeStep / longSteps) * 60))
    // By default a bucket of the downsample per column: no column beside the spike drawn high by interpolation.
    expect([...loss[6]!].filter((c) => "▅▆▇█".includes(c))).toEqual(["█"])
    expect(loss[6]!.at(-1)).toBe("▁")
    const acc = rowOf(result.stdout, "acc")
    expect(acc.slice(1, 6)).toEqual([shown(longAcc(longSteps - 1)), "0", shown(longAcc(longSteps - 1)), String(longSteps), String(longSteps - 1)])
    expect(acc[6]!.startsWith("▁")).toBe(true)
    expect(acc[6]!.endsWith("█")).toBe(true)
    expect(rowOf(result.stdout, "lr").slice(1)).toEqual(["0.1", "0.1", "0.1", "1", "0", "▄"])
  })

  it("runs compared: a block per key, a line per run on one scale, and the runs that lack a key named", async () => {
    const { url, seeded } = store()
    const result = await lineage(["metrics", seeded.long, seeded.short, seeded.none, "--store", url, "--key", "loss", "--key", "acc"])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const [runs, loss, acc] = result.stdout.trimEnd().split("\n\n")
    expect(runs!.split("\n").map((l) => l.split(/\s+/)[0])).toEqual(["run", seeded.long, seeded.short, seeded.none])
    const lossLines = loss!.split("\n")
    expect(lossLines[0]).toBe("loss")
    expect(lossLines[1]).toContain(`series (steps 0–${longSteps - 1})`)
    const longRow = rowOf(loss!, seeded.long)
    const shortRow = rowOf(loss!, seeded.short)
    expect(shortRow.slice(1, 6)).toEqual([shown(shortLoss(398)), shown(shortLoss(398)), "3", String(shortSteps.length), "398"])
    // One step scale: the short run's line ends where its last step (398 of 999) falls.
    expect([...longRow[6]!]).toHaveLength(60)
    expect([...shortRow[6]!]).toHaveLength(Math.floor((398 / longSteps) * 60) + 1)
    expect(lossLines.at(-1)).toBe(`  not logged by ${seeded.none}`)
    expect(acc!.split("\n").at(-1)).toBe(`  not logged by ${seeded.short}, ${seeded.none}`)
  })

  it("--json --max-points: the summaries and the series, downsampled to each stretch's lowest and highest point and the last", async () => {
    const { url, seeded } = store()
    const view = await lineageJson<MetricsView>(["metrics", seeded.long, "--store", url, "--key", "loss", "--max-points", "200"])
    expect(view.keys).toEqual(["loss"])
    expect(view.runs.map((r) => [r.uid, Object.keys(r.summary)])).toEqual([[seeded.long, ["acc", "loss", "lr"]]])
    const [series] = view.series
    expect(view.series).toHaveLength(1)
    expect(series).toMatchObject({ run: seeded.long, key: "loss", downsampled: true })
    // 99 stretches of a falling series, each keeping two points, then the last.
    expect(series!.points).toHaveLength(199)
    expect(series!.points).toContainEqual(expect.objectContaining({ step: spikeStep, value: spikeValue }))
    expect(series!.points.at(-1)).toMatchObject({ step: longSteps - 1, value: longLoss(longSteps - 1) })
    const steps = series!.points.map((p) => p.step)
    expect(steps).toEqual([...steps].sort((a, b) => a - b))
    for (const p of series!.points) {
      expect(p.value).toBe(longLoss(p.step))
      expect(Number.isNaN(Date.parse(p.timestamp))).toBe(false)
    }
  })
}

describe("on sqlite", () => {
  let directory: string
  let url: string
  let seeded: MetricsSeeded
  beforeAll(async () => {
    buildIfStale(["sql", "store-sqlite", "cli"])
    directory = mkdtempSync(join(tmpdir(), "lineage-cli-metrics-"))
    url = `sqlite:${join(directory, "lineage.db")}`
    seeded = await seedMetrics(url)
  }, 600_000)
  afterAll(() => rmSync(directory, { recursive: true, force: true }))

  commonChecks(() => ({ url, seeded }))

  it("--json without a bound: every point of every key, none downsampled", async () => {
    const view = await lineageJson<MetricsView>(["metrics", seeded.long.slice(0, 8), "--store", url])
    expect(view.keys).toEqual(["acc", "loss", "lr"])
    expect(view.series.map((s) => [s.key, s.points.length, s.downsampled])).toEqual([
      ["acc", longSteps, false],
      ["loss", longSteps, false],
      ["lr", 1, false]
    ])
  })

  it("on a terminal, fits the sparklines to its width (util-linux `script` gives the command a terminal of 100 columns)", async () => {
    const command = `stty cols 100; ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} metrics ${seeded.long} --store ${JSON.stringify(url)}`
    const output = await new Promise<string>((resolve, reject) =>
      execFile("script", ["-qec", command, "/dev/null"], { env: baseEnv(), timeout: 60_000 }, (error, stdout) => (error === null ? resolve(stdout) : reject(error)))
    )
    const lines = output.replace(/\u001b\[[0-9;]*m/g, "").replaceAll("\r", "").trimEnd().split("\n")
    expect(output).toContain("\u001b[36m")
    for (const line of lines) expect([...line.trimEnd()].length).toBeLessThanOrEqual(100)
    const loss = rowOf(lines.join("\n"), "loss")
    // What the terminal leaves beside the other columns: 100, less those columns and their gutter.
    const others = lines.find((l) => l.startsWith("loss"))!.indexOf(loss[6]!)
    expect([...loss[6]!]).toHaveLength(100 - others)
  })

  it("a run without metrics says so; a key the run lacks is named", async () => {
    const [none, missing, only] = await Promise.all([
      lineage(["metrics", seeded.none, "--store", url]),
      lineage(["metrics", seeded.long, "--store", url, "--key", "loss", "--key", "nope"]),
      lineage(["metrics", seeded.long, "--store", url, "--key", "nope"])
    ])
    expect(none).toEqual({ code: 0, stdout: `Run ${seeded.none}  prepare 1  completed\nNo metrics.\n`, stderr: "" })
    expect(missing.code).toBe(0)
    expect(rowOf(missing.stdout, "loss")[0]).toBe("loss")
    expect(missing.stdout.trimEnd().split("\n").at(-1)).toBe('No metric "nope".')
    expect(only.stdout.trimEnd().split("\n").slice(1)).toEqual(['No metric "nope".'])
  })

  it("refuses what it cannot read with the usual exit codes, naming the value, before a store is opened", async () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, number, string]> = [
      [["metrics", "ZZZZZZ", "--store", url], 3, "DoesNotExist: No Run matches uid or uid prefix 'ZZZZZZ'."],
      [["metrics", "not a uid", "--store", url], 2, `InvalidQuery: Invalid query on Metrics: field "run" and value "not a uid"`],
      [["metrics", ...Array.from({ length: 11 }, () => seeded.long), "--store", url], 2, "expected 1 to 10 runs"],
      [["metrics", seeded.long, "--key", "a\u0007b", "--store", url], 2, 'field "key" and value "a\\u0007b": expected a metric key'],
      [["metrics", seeded.long, "--key", "k".repeat(251), "--store", url], 2, "a string of 1 to 250 characters"],
      [["metrics", seeded.long, "--max-points", "2", "--store", url], 2, 'field "maxPoints" and value 2: expected an integer from 3 to 1000000'],
      [["metrics", seeded.long, "--max-points", "1000001", "--store", url], 2, "expected an integer from 3 to 1000000"],
      // Checked before the store: this one does not exist.
      [["metrics", "not a uid", "--store", `sqlite:${join(directory, "missing.db")}`], 2, `field "run"`]
    ]
    const results = await Promise.all(cases.map(([args]) => lineage(args)))
    for (const [i, [, code, message]] of cases.entries()) {
      expect([results[i]!.code, results[i]!.stdout]).toEqual([code, ""])
      expect(results[i]!.stderr).toContain(message)
      expect(results[i]!.stderr).not.toMatch(/[\u0000-\u0008]/)
    }
    expect(existsSync(join(directory, "missing.db"))).toBe(false)
    const usage = await lineage(["metrics", "--store", url])
    expect(usage.code).toBe(2)
  })

  it("is listed in --help", async () => {
    const [help, own] = await Promise.all([lineage(["--help"]), lineage(["metrics", "--help"])])
    expect(help.stdout).toMatch(/metrics\s+Show runs' metrics with sparklines/)
    expect(own.stdout).toContain("--max-points")
  })
})

describe("on redis", () => {
  let url: string
  let storage: string
  let seeded: MetricsSeeded
  beforeAll(async () => {
    buildIfStale(["store-redis", "cli"])
    const server = await redisServer()
    url = `${server.url}/0?prefix=${encodeURIComponent(freshPrefix("cli-metrics"))}`
    storage = mkdtempSync(join(tmpdir(), "lineage-cli-metrics-redis-"))
    seeded = await seedMetrics(url, { storage })
  }, 600_000)
  afterAll(async () => {
    if (storage !== undefined) rmSync(storage, { recursive: true, force: true })
    const driver = await Effect.runPromise(RedisStore.fromUrl(url))
    await Effect.runPromise(Effect.andThen(driver.drop(), driver.close()))
  })

  commonChecks(() => ({ url, seeded }))
})
