/**
 * Metrics in the viewer, in a real browser: the built `lineage ui` over SQLite runs whose metrics were logged
 * through `Lineage.connect`, driven through Debian's Chromium by playwright-core. A run's page lists its
 * metrics and draws a chart per key (a path of as many points as the downsampled series, ticks on both axes,
 * the highest point labelled); runs checked in the runs table open the compare view, one chart with a line and
 * a legend entry per run, whose key can be switched. A key made of markup shows as text and runs nothing, and
 * no script error or Content-Security-Policy violation occurs. Screens are kept in `test-output/screenshots/`.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Page, Request } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildIfStale, root } from "../../../test/support/build.js"
import { type Browser, holds, launch, watchedPage } from "./support/chromium.js"
import { hostileKey, longLoss, longSteps, type MetricsSeeded, seedMetrics, spikeValue } from "./support/metrics.js"
import { startUi, type Ui } from "./support/ui.js"

const screenshots = join(root, "test-output/screenshots")
/** What the page asks a chart for (`chartPoints` in page/app.js): 199 stretches of two points, then the last. */
const chartPoints = 399

let directory: string
let seeded: MetricsSeeded
let ui: Ui
let browser: Browser
let page: Page
let problems: Array<string>

beforeAll(async () => {
  buildIfStale(["sql", "store-sqlite", "cli"])
  directory = mkdtempSync(join(tmpdir(), "lineage-viewer-metrics-browser-"))
  const url = `sqlite:${join(directory, "lineage.db")}`
  seeded = await seedMetrics(url)
  ui = await startUi(url)
  browser = await launch({ viewport: { width: 1280, height: 900 } })
  const watched = await watchedPage(browser)
  page = watched.page
  problems = watched.problems
  mkdirSync(screenshots, { recursive: true })
}, 600_000)

afterAll(async () => {
  await browser?.close()
  await ui?.stop()
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true })
})

const until = (expression: string) => holds(page, expression)
const shot = (name: string) => page.screenshot({ path: join(screenshots, `viewer-${name}.png`), fullPage: true })
const chart = (key: string) => page.locator(`figure.metric-chart[data-key=${JSON.stringify(key)}]`)
/** The `M`/`L` commands of a chart's paths, one count per path. */
const pathPoints = (key: string) =>
  chart(key)
    .locator("svg path.series")
    .evaluateAll((paths) => paths.map((p) => (p.getAttribute("d")?.match(/[ML]/g) ?? []).length))

describe("a run's metrics", () => {
  it("lists every key's summary and draws each key's series, downsampled, with its axes and extremes", async () => {
    // Chart requests in flight at once: the page asks for a few at a time, not every key's at once.
    let inFlight = 0
    let most = 0
    const isChart = (request: Request) => request.url().includes("/api/metrics/history")
    const started = (request: Request) => {
      if (isChart(request)) most = Math.max(most, ++inFlight)
    }
    const ended = (request: Request) => {
      if (isChart(request)) inFlight--
    }
    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    try {
      await page.goto(`${ui.url}#/run/${seeded.long}`)
      await until(`document.querySelectorAll("figure.metric-chart svg").length === 3`)
    } finally {
      page.off("request", started)
      page.off("requestfinished", ended)
      page.off("requestfailed", ended)
    }
    expect(most).toBe(2)
    const rows = await page
      .locator("table.metrics tbody tr")
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 6).map((td) => td.textContent)))
    const last = String(Number(longLoss(longSteps - 1).toPrecision(6)))
    expect(rows).toEqual([
      ["acc", "0.999", "0", "0.999", "1000", "999"],
      ["loss", last, last, String(spikeValue), "1000", "999"],
      ["lr", "0.1", "0.1", "0.1", "1", "0"]
    ])
    expect(await pathPoints("loss")).toEqual([chartPoints])
    expect(await pathPoints("acc")).toEqual([chartPoints])
    expect(await pathPoints("lr")).toEqual([1])
    expect(await chart("loss").locator("svg path.series").getAttribute("data-points")).toBe(String(chartPoints))
    const ticks = await chart("loss").locator("svg text.tick").allTextContents()
    expect(ticks).toEqual(expect.arrayContaining(["0", "200", "400", "600", "800", "5"]))
    expect(await chart("loss").locator("svg text.extreme.max").textContent()).toBe(`max ${spikeValue}`)
    expect(await chart("loss").locator("svg circle.min, svg circle.max").count()).toBe(2)
    // Drawn, not merely present: the chart takes room on the page.
    const box = await chart("loss").locator("svg").boundingBox()
    expect(box!.width).toBeGreaterThan(300)
    await shot("metrics-run")
  })

  it("says when a run logged none", async () => {
    await page.goto(`${ui.url}#/run/${seeded.none}`)
    await until(`[...document.querySelectorAll("main section h2")].some((h) => h.textContent === "Metrics")`)
    const metrics = page.locator("main section").filter({ has: page.locator("h2", { hasText: /^Metrics$/ }) })
    expect(await metrics.locator(".empty").textContent()).toBe("none logged")
    expect(await page.locator("figure.metric-chart").count()).toBe(0)
  })

  it("shows a key made of markup as text, in the table and the chart, and runs none of it", async () => {
    await page.goto(`${ui.url}#/run/${seeded.hostile}`)
    await until(`document.querySelectorAll("figure.metric-chart svg").length === 1`)
    expect(await page.locator("table.metrics tbody td").first().textContent()).toBe(hostileKey)
    expect(await page.locator("figure.metric-chart svg text.title").textContent()).toBe(hostileKey)
    expect(await page.locator("main img, main script").count()).toBe(0)
    expect(await page.evaluate("window.pwnedByKey")).toBeUndefined()
  })
})

describe("comparing runs", () => {
  it("opens from the runs checked in the table: one chart, a line and a legend entry per run, the key switchable", async () => {
    await page.goto(`${ui.url}#/runs`)
    await until(`document.querySelectorAll("table.runs tbody tr").length === 4`)
    for (const uid of [seeded.long, seeded.short]) await page.locator(`table.runs tr[data-uid="${uid}"] td.select input`).check()
    await page.locator("button.compare").click()
    await until(`location.hash.startsWith("#/compare")`)
    await until(`document.querySelector("figure.metric-chart svg") !== null`)
    const runs = (await page.evaluate(`new URLSearchParams(location.hash.split("?")[1]).get("runs").split(",")`)) as ReadonlyArray<string>
    expect([...runs].sort()).toEqual([seeded.long, seeded.short].sort())
    expect(await page.locator("select.key-select").inputValue()).toBe("acc")

    await page.locator("select.key-select").selectOption("loss")
    await until(`location.hash.includes("key=loss")`)
    await until(`document.querySelectorAll("figure.metric-chart[data-key='loss'] svg path.series").length === 2`)
    expect(await pathPoints("loss")).toEqual(expect.arrayContaining([chartPoints, 200]))
    const strokes = await chart("loss").locator("svg path.series").evaluateAll((paths) => paths.map((p) => p.getAttribute("stroke")))
    expect(new Set(strokes).size).toBe(2)
    const legend = await chart("loss").locator("svg g.legend g.entry text").allTextContents()
    expect(legend.sort()).toEqual([`${seeded.long} train 1`, `${seeded.short} train 1`].sort())
    expect(await page.locator("table.metrics tbody tr").count()).toBe(2)
    await shot("metrics-compare")

    await page.locator("select.key-select").selectOption("acc")
    await until(`document.querySelectorAll("figure.metric-chart[data-key='acc'] svg path.series").length === 1`)
    expect(await page.locator("main p.empty").textContent()).toBe(`No acc in ${seeded.short}`)
  })

  it("says why when a run cannot be compared", async () => {
    await page.goto(`${ui.url}#/compare?runs=${seeded.long},not-a-uid&key=loss`)
    await until(`document.querySelector("main .error") !== null`)
    expect(await page.locator("main .error").textContent()).toContain('field "run" and value "not-a-uid"')
  })
})

describe("the whole visit", () => {
  it("met no script error and no Content-Security-Policy violation", () => {
    expect(problems).toEqual([])
  })
})
