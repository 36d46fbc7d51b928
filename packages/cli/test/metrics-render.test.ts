/**
 * Metrics drawn without a store: sparklines (bars, scales shared or not, spikes, gaps, blanks, widths) and the
 * SVG chart (points drawn as given, ticks at round numbers, lowest and highest points marked, a legend with a
 * colour per run, hostile labels escaped, numbers at the ends of what a double holds).
 */
import { describe, expect, it } from "vitest"
import { type MetricsView, render, scaleOf, sparkline, sparkWidth } from "../src/Metrics.js"
import { maxSeries, palette, tickLabel, toSvg } from "../src/MetricsChart.js"

const series = (n: number, f: (step: number) => number, every = 1) => Array.from({ length: n }, (_, i) => ({ step: i * every, value: f(i * every) }))

describe("sparkline", () => {
  it("draws one bar per step of a short series, lowest ▁ to highest █", () => {
    expect(sparkline(series(8, (s) => s), 60)).toBe("▁▂▃▄▅▆▇█")
    expect(sparkline(series(8, (s) => -s), 60)).toBe("█▇▆▅▄▃▂▁")
  })

  it("spreads a long series over its width, and keeps a spike that averaging would hide", () => {
    const points = series(1_000, (s) => (s === 500 ? 10 : 1))
    const line = sparkline(points, 50)
    expect([...line]).toHaveLength(50)
    expect(line).toBe(`${"▁".repeat(25)}█${"▁".repeat(24)}`)
    const dip = sparkline(series(1_000, (s) => (s === 500 ? -10 : 1)), 50)
    expect(dip).toBe(`${"█".repeat(25)}▁${"█".repeat(24)}`)
  })

  it("draws a constant series as middle bars, and none for no point or no width", () => {
    expect(sparkline(series(5, () => 3), 60)).toBe("▄▄▄▄▄")
    expect(sparkline([], 60)).toBe("")
    expect(sparkline(series(5, (s) => s), 0)).toBe("")
  })

  it("fills the columns between sparse points with the line between them", () => {
    expect(sparkline([{ step: 0, value: 0 }, { step: 7, value: 7 }], 8)).toBe("▁▂▃▄▅▆▇█")
  })

  it("on a shared scale, a shorter series stops where its steps do and a lower one draws lower", () => {
    const long = series(100, () => 10)
    const short = series(50, () => 0)
    const scale = scaleOf([long, short])!
    expect(scale).toEqual({ steps: { lo: 0, hi: 99 }, values: { lo: 0, hi: 10 } })
    expect(sparkline(long, 20, scale)).toBe("█".repeat(20))
    expect(sparkline(short, 20, scale)).toBe("▁".repeat(10))
    const late = [{ step: 50, value: 5 }, { step: 99, value: 5 }]
    expect(sparkline(late, 20, scale)).toBe(`${" ".repeat(10)}${"▅".repeat(10)}`)
  })

  it("takes what a double holds, at both ends, without a NaN or a throw", () => {
    const extreme = [
      { step: 0, value: -Number.MAX_VALUE },
      { step: Number.MAX_SAFE_INTEGER, value: Number.MAX_VALUE }
    ]
    const line = sparkline(extreme, 10)
    expect(line).toMatch(/^▁[▁▂▃▄▅▆▇█]{8}█$/)
  })

  it("draws values a hair apart and at the smallest doubles on their scale, every column a bar", () => {
    expect(sparkline([{ step: 0, value: 0 }, { step: 1, value: 5e-324 }], 10)).toBe("▁█")
    expect(sparkline([{ step: 0, value: 1e308 }, { step: 1, value: 1.79e308 }], 10)).toBe("▁█")
  })

  it("is as wide as the terminal leaves beside the table, within bounds, and 60 off a terminal", () => {
    expect(sparkWidth({ color: false }, 40)).toBe(60)
    expect(sparkWidth({ color: false, columns: 120 }, 40)).toBe(78)
    expect(sparkWidth({ color: false, columns: 30 }, 40)).toBe(10)
    expect(sparkWidth({ color: false, columns: 1_000 }, 40)).toBe(200)
  })
})

describe("the terminal rendering", () => {
  const run = (uid: string, summary: MetricsView["runs"][number]["summary"]) => ({
    uid,
    transform: { uid: "T", key: "train", version: "1" },
    status: "completed" as const,
    summary,
    more: 0
  })
  const loss = { last: 1, min: 0.5, max: 2, count: 3, step: 2 }
  const points = [0, 1, 2].map((step) => ({ step, value: [2, 0.5, 1][step]!, timestamp: "2026-01-01T00:00:00.000Z" }))

  it("takes keys named like an object's own properties as keys a run lacks", () => {
    const view: MetricsView = { runs: [run("A", { loss })], keys: ["constructor", "toString", "__proto__"], series: [] }
    expect(render(view, { color: false })).toBe('Run A  train 1  completed\nNo metric "constructor", "toString", "__proto__".')
    const compared: MetricsView = { runs: [run("A", { loss }), run("B", {})], keys: ["constructor"], series: [] }
    expect(render(compared, { color: false }).split("\n\n").at(1)).toBe("constructor\n  run  last  min  max  count  step  series\n  not logged by A, B")
  })

  it("cuts and makes safe what a key holds, and colours only when told", () => {
    const key = `a\u001b[31m${"k".repeat(100)}`
    const view: MetricsView = { runs: [run("A", { [key]: loss })], keys: [key], series: [{ run: "A", key, points, downsampled: false }] }
    const plain = render(view, { color: false })
    expect(plain).not.toContain("\u001b")
    expect(plain.split("\n")[2]).toMatch(/^a\?\[31mk+… +1 +0\.5 +2 +3 +2 +█▁▃$/)
    expect(render(view, { color: true })).toMatch(/\u001b\[36m█▁▃ *\u001b\[39m/)
  })
})

/** The points of the `i`th path: its `M`/`L` commands. */
const pathPoints = (svg: string, i = 0): number => {
  const paths = [...svg.matchAll(/<path class="series" d="([^"]*)" data-points="(\d+)"/g)]
  const [, d, count] = paths[i]!
  const commands = d!.match(/[ML]/g)!.length
  expect(commands).toBe(Number(count))
  return commands
}

const texts = (svg: string, cls: string) => [...svg.matchAll(new RegExp(`<text [^>]*class="${cls}"[^>]*>([^<]*)</text>`, "g"))].map((m) => m[1])

describe("the SVG chart", () => {
  it("draws every point it is given, steps and values ticked at round numbers, lowest and highest marked", () => {
    const svg = toSvg([{ label: "run1", points: series(101, (s) => 100 - s / 10, 10) }], { title: "loss" })
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" class="metrics-chart"')).toBe(true)
    expect(pathPoints(svg)).toBe(101)
    const ticks = texts(svg, "tick")
    expect(ticks).toEqual(["0", "20", "40", "60", "80", "100", "0", "200", "400", "600", "800", "1000"])
    expect(texts(svg, "title")).toEqual(["loss"])
    expect(texts(svg, "extreme max")).toEqual(["max 100"])
    expect(texts(svg, "extreme min")).toEqual(["min 0"])
    expect(svg).toContain("<title>run1: max 100 at step 0</title>")
    expect(svg).toContain("<title>run1: min 0 at step 1000</title>")
    expect(svg).not.toContain('class="legend"')
    expect(toSvg([{ label: "run1", points: series(101, (s) => 100 - s / 10, 10) }], { title: "loss" })).toBe(svg)
  })

  it("compares runs in one chart: a path and a legend entry per run, each in a colour of its own", () => {
    const runs = Array.from({ length: maxSeries + 2 }, (_, i) => ({ label: `run${i}`, points: series(20, (s) => s * i) }))
    const svg = toSvg(runs, { title: "acc" })
    const paths = [...svg.matchAll(/<path class="series"[^>]* stroke="(#[0-9a-f]{6})"/g)].map((m) => m[1])
    expect(paths).toEqual(palette)
    expect(new Set(paths).size).toBe(maxSeries)
    expect([...svg.matchAll(/<g class="entry"/g)]).toHaveLength(maxSeries)
    expect(texts(svg, "label").filter((t) => t!.startsWith("run"))).toEqual(runs.slice(0, maxSeries).map((r) => r.label))
    expect(texts(svg, "extreme max")).toEqual([])
  })

  it("escapes hostile labels and titles, and holds no script or style", () => {
    const hostile = `<script>alert(1)</script>&"'\u0000`
    const svg = toSvg([{ label: hostile, points: series(3, (s) => s) }, { label: "b", points: series(3, (s) => s) }], { title: hostile })
    expect(svg).not.toMatch(/<script|<style|on\w+=/i)
    expect(svg).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;\uFFFD")
  })

  it("draws a single point as a dot with one tick each way, and says when there is no point", () => {
    const one = toSvg([{ label: "r", points: [{ step: 0, value: 0.1 }] }], { title: "lr" })
    expect(pathPoints(one)).toBe(1)
    expect(one).toMatch(/<circle cx="[\d.]+" cy="[\d.]+" r="2.5"/)
    expect(texts(one, "tick")).toEqual(["0.1", "0"])
    const late = toSvg([{ label: "r", points: [{ step: 1_234_567, value: 0.1 }] }])
    expect(texts(late, "tick")).toEqual(["0.1", "1234567"])
    expect(texts(one, "extreme max")).toEqual(["min = max 0.1"])
    const none = toSvg([{ label: "r", points: [] }], { title: "lr" })
    expect(texts(none, "empty")).toEqual(["no points"])
    expect(none).not.toContain("<path")
  })

  it("labels ticks with the decimals their spacing needs, in exponent notation at the extremes", () => {
    expect(tickLabel(0.30000000000000004, 0.1)).toBe("0.3")
    expect(tickLabel(1500, 500)).toBe("1500")
    expect(tickLabel(2e9, 5e8)).toBe("2e+9")
    expect(tickLabel(3e-6, 1e-6)).toBe("3e-6")
    const svg = toSvg([{ label: "r", points: [{ step: 0, value: -Number.MAX_VALUE }, { step: 1, value: Number.MAX_VALUE }] }])
    expect(svg).not.toContain("NaN")
    expect(svg).not.toContain("Infinity")
    expect(pathPoints(svg)).toBe(2)
  })

  it("gives every tick a label of its own, however narrow the range", () => {
    const cases: ReadonlyArray<ReadonlyArray<{ step: number; value: number }>> = [
      series(5, (s) => 0.50001 + s * 0.00001),
      series(11, (s) => 1e8 + s),
      [0, 5].map((i) => ({ step: 10_000_000 + i, value: i })),
      series(5, (s) => 1e-7 + s * 1e-12)
    ]
    for (const points of cases) {
      const svg = toSvg([{ label: "r", points }])
      const [x, y] = [/<g class="axis x">.*?<\/g>/, /<g class="axis y">.*?<\/g>/].map((axis) => texts(svg.match(axis)![0], "tick"))
      for (const ticks of [x!, y!]) {
        expect(ticks.length).toBeGreaterThan(1)
        expect(new Set(ticks).size).toBe(ticks.length)
      }
    }
  })

  it("draws numbers at the ends of what a double holds on their scale, no tick past it", () => {
    for (const values of [
      [1e308, 1.79e308],
      [0, 5e-324],
      [-1.79e308, -1e308],
      [5e-324, 1e-323]
    ]) {
      const svg = toSvg([{ label: "r", points: values.map((value, step) => ({ step, value })) }])
      expect(svg).not.toMatch(/NaN|Infinity|undefined/)
      expect(texts(svg, "tick").length).toBeGreaterThan(1)
      const ys = [...svg.matchAll(/<path class="series" d="M[\d.]+ ([\d.]+) L[\d.]+ ([\d.]+)"/g)].flatMap((m) => [Number(m[1]), Number(m[2])])
      expect(ys).toHaveLength(2)
      expect(ys[0]).toBeGreaterThan(ys[1]!)
    }
  })
})
