/**
 * The viewer in a real browser: the built `lineage ui` serving a seeded SQLite store, driven through Debian's
 * Chromium by playwright-core. Click through as a user would: filter the runs (and mistype a filter, and submit
 * one again), sort, page (and land past the last page), open a run, follow its lineage graph to an artifact,
 * download the artifact, open a transform, follow links built from names no query key holds as written; with a
 * token too, which becomes a cookie. Every screen is kept in `test-output/screenshots/`. Store data with markup
 * in it must show as text, run nothing, and no Content-Security-Policy violation may occur (checked last).
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import type { Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildIfStale, root } from "../../../test/support/build.js"
import { type Browser, holds, launch, watchedPage } from "./support/chromium.js"
import { hostileText, oddNames, type Seeded, seed } from "./support/seed.js"
import { startUi, type Ui } from "./support/ui.js"

const screenshots = join(root, "test-output/screenshots")

let seeded: Seeded
let ui: Ui
let browser: Browser
let page: Page
let problems: Array<string>

beforeAll(async () => {
  buildIfStale(["sql", "store-sqlite", "cli"])
  seeded = await seed()
  ui = await startUi(seeded.url)
  browser = await launch({ viewport: { width: 1280, height: 900 } })
  const watched = await watchedPage(browser)
  page = watched.page
  problems = watched.problems
  mkdirSync(screenshots, { recursive: true })
}, 600_000)

afterAll(async () => {
  await browser?.close()
  await ui?.stop()
  if (seeded !== undefined) rmSync(seeded.directory, { recursive: true, force: true })
})

const shot = (name: string) => page.screenshot({ path: join(screenshots, `viewer-${name}.png`), fullPage: true })

const until = (expression: string) => holds(page, expression)

const rowCount = (n: number) => until(`document.querySelectorAll("table.runs tbody tr").length === ${n}`)
const heading = async () => (await page.locator("main h1").first().textContent()) ?? ""
const untilHeading = (text: string) => until(`document.querySelector("main h1")?.textContent.includes(${JSON.stringify(text)})`)
/** The section under the heading `title`. */
const section = (title: string) => page.locator("main section").filter({ has: page.locator("h2", { hasText: new RegExp(`^${title}$`) }) })
const firstRowUid = () => page.locator("table.runs tbody tr").first().getAttribute("data-uid")

describe("the runs table", () => {
  it("narrows to what the query box asks, and shows why a filter cannot be read", async () => {
    await page.goto(`${ui.url}#/runs`)
    await rowCount(20)
    expect(await page.locator(".pager .count").textContent()).toBe(`1–20 of ${seeded.runs}`)
    await shot("runs")

    await page.locator("input.query").fill("params__learning_rate__gt=0.02 status=completed")
    await page.locator("form.query-form button").click()
    await rowCount(4)
    const uids = await page.locator("table.runs tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-uid")))
    expect([...uids].sort()).toEqual(seeded.train.filter((t) => t.learningRate > 0.02).map((t) => t.uid).sort())
    expect(await page.locator(".pager .count").textContent()).toBe("1–4 of 4")
    expect(await page.evaluate(`new URLSearchParams(location.hash.split("?")[1]).get("filter")`)).toBe("params__learning_rate__gt=0.02 status=completed")
    await shot("runs-filtered")

    await page.locator("input.query").fill("learning_rate__gt=0.01")
    await page.locator("input.query").press("Enter")
    await until(`document.querySelector("main .error") !== null`)
    const error = (await page.locator("main .error").textContent()) ?? ""
    expect(error).toContain('Invalid query on Run: field "learning_rate"')
    expect(await page.locator("table.runs").count()).toBe(0)
    expect(await page.locator("input.query").inputValue()).toBe("learning_rate__gt=0.01")
    await shot("runs-bad-filter")
  })

  it("shows the table again when the same filter is submitted again", async () => {
    await page.goto(`${ui.url}#/runs`)
    await rowCount(20)
    await page.locator("input.query").fill("params__learning_rate__gt=0.02")
    await page.locator("input.query").press("Enter")
    await rowCount(4)
    const hash = await page.evaluate("location.hash")
    await page.evaluate(`document.querySelector("table.runs").remove()`)
    await page.locator("input.query").press("Enter")
    await rowCount(4)
    expect(await page.evaluate("location.hash")).toBe(hash)
  })

  it("says when a page lies past the last one, and links to the last", async () => {
    await page.goto(`${ui.url}#/runs?offset=100`)
    await until(`document.querySelector("main .empty") !== null`)
    const lastOffset = Math.floor((seeded.runs - 1) / 20) * 20
    expect(await page.locator("main .empty").textContent()).toBe(`Past the last page: ${seeded.runs} runs in all. Go to the last page`)
    expect(await page.locator(".pager a", { hasText: "previous" }).getAttribute("href")).toBe(`#/runs?order=-startedAt&offset=${lastOffset}`)
    expect(await page.locator(".pager .count").textContent()).toBe(`${seeded.runs} runs`)
    expect(await page.locator(".pager a", { hasText: "next" }).count()).toBe(0)
    await shot("runs-past-the-end")
    await page.locator("main .empty a", { hasText: "last page" }).click()
    await rowCount(seeded.runs - lastOffset)
    expect(await page.locator(".pager .count").textContent()).toBe(`${lastOffset + 1}–${seeded.runs} of ${seeded.runs}`)
  })

  it("links columns and features by names a query key holds as written, and a feature never as a field", async () => {
    await page.goto(`${ui.url}#/runs`)
    await rowCount(20)
    const head = (kind: string, name: string) => page.locator(`table.runs thead th.${kind}`).filter({ hasText: new RegExp(`^${name}( [▲▼])?$`) })
    for (const name of Object.keys(oddNames.params)) {
      expect(await head("param", name).count()).toBe(1)
      expect(await head("param", name).locator("a").count()).toBe(0)
    }
    expect(await head("feature", "two words").locator("a").count()).toBe(0)
    await head("feature", "status").locator("a").click()
    await until(`location.hash.includes("order=-featureValues__status")`)
    await until(`document.querySelector("table.runs thead th.feature[aria-sort]") !== null`)
    expect(await page.locator("main .error").count()).toBe(0)

    for (const name of Object.keys(oddNames.features)) {
      await page.goto(`${ui.url}#/features`)
      await untilHeading("Features")
      await page.locator("table.features tr", { has: page.locator("td", { hasText: new RegExp(`^${name}$`) }) }).locator("a").click()
      await rowCount(1)
      expect(await firstRowUid()).toBe(seeded.odd.uid)
    }
  })

  it("sorts by a column and pages through the rest", async () => {
    await page.goto(`${ui.url}#/runs`)
    await rowCount(20)
    await page.locator("table.runs thead th", { hasText: "started" }).locator("a").click()
    await until(`location.hash.includes("order=startedAt")`)
    await until(`document.querySelector("table.runs tbody tr")?.getAttribute("data-uid") === ${JSON.stringify(seeded.download.uid)}`)
    expect(await page.locator("table.runs thead th[aria-sort]").textContent()).toContain("▲")

    await page.locator("table.runs thead th", { hasText: "learning_rate" }).locator("a").click()
    await until(`location.hash.includes("order=-params__learning_rate")`)
    await until(`document.querySelector("table.runs tbody tr")?.getAttribute("data-uid") === ${JSON.stringify(seeded.train.at(-1)!.uid)}`)
    expect(await firstRowUid()).toBe(seeded.train.at(-1)!.uid)

    await page.locator(".pager a", { hasText: "next" }).click()
    await rowCount(seeded.runs - 20)
    expect(await page.locator(".pager .count").textContent()).toBe(`21–${seeded.runs} of ${seeded.runs}`)
    expect(await page.locator(".pager a", { hasText: "next" }).count()).toBe(0)
    await shot("runs-page-2")
    await page.locator(".pager a", { hasText: "previous" }).click()
    await rowCount(20)
    expect(await firstRowUid()).toBe(seeded.train.at(-1)!.uid)
  })
})

describe("a run, its graph, an artifact", () => {
  it("goes from the table to the run, to an artifact through the graph, and downloads its bytes", async () => {
    const train = seeded.train[3]!
    await page.goto(`${ui.url}#/runs?filter=${encodeURIComponent(`transform__key=train params__learning_rate=${train.learningRate}`)}`)
    await rowCount(1)
    await page.locator(`table.runs tbody tr[data-uid="${train.uid}"] td:first-child a`).click()
    await untilHeading(train.uid)
    expect(await heading()).toContain("completed")
    const params = section("Params").locator("table.fields")
    expect(await params.locator("tr", { hasText: "learning_rate" }).locator("td").textContent()).toBe(String(train.learningRate))
    expect(await params.locator("tr", { hasText: "epochs" }).locator("td").textContent()).toBe("3")
    const features = section("Features").locator("table.fields")
    expect(await features.locator("tr", { hasText: "accuracy" }).locator("td").textContent()).toBe(String(Number((0.8 + train.learningRate).toFixed(4))))
    await until(`document.querySelector(".graph svg") !== null`)
    expect(await page.locator(".graph svg g.node").count()).toBeGreaterThanOrEqual(4)
    await shot("run")

    await page.locator(`.graph svg a[href="#/artifact/${seeded.raw.uid}"]`).click()
    await untilHeading("data/raw.csv")
    expect(await section("Produced by").locator("tbody tr").getAttribute("data-uid")).toBe(seeded.download.uid)
    await until(`document.querySelector(".graph svg") !== null`)
    await shot("artifact")

    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("a.download.button").click()])
    expect(download.suggestedFilename()).toBe("raw.csv")
    expect(readFileSync(await download.path(), "utf8")).toBe(seeded.raw.bytes)
  })

  it("shows a transform's versions and runs", async () => {
    await page.goto(`${ui.url}#/run/${seeded.train.at(-1)!.uid}`)
    await untilHeading(seeded.train.at(-1)!.uid)
    await page.locator("table.fields a", { hasText: "train" }).click()
    await untilHeading("Transform")
    const versions = await page.locator("table.versions tbody tr td:first-child").allTextContents()
    expect(versions).toEqual(["2.1", "2.2"])
    expect(await page.locator("table.runs tbody tr").count()).toBe(4)
    await shot("transform")
  })

  it("shows markup from the store as text and runs none of it", async () => {
    await page.goto(`${ui.url}#/run/${seeded.prepare.uid}`)
    await untilHeading(seeded.prepare.uid)
    await until(`document.querySelector(".graph svg") !== null`)
    const outputs = section("Outputs")
    expect(await outputs.locator(`tr[data-uid="${seeded.notes.uid}"] td`).first().textContent()).toBe(hostileText)
    expect(await page.locator(`.graph svg g.node[data-id="artifact_${seeded.notes.uid}"] title`).textContent()).toBe(hostileText)
    await page.goto(`${ui.url}#/runs?filter=${encodeURIComponent("transform__key__startswith=prepare")}`)
    await rowCount(3)
    expect(await page.locator(`table.runs tbody tr[data-uid="${seeded.failed.uid}"] td.param`).allTextContents()).toContain(hostileText)
    expect(await page.locator("main img, main script").count()).toBe(0)
    expect(await page.evaluate("window.__pwned")).toBeUndefined()
    await shot("hostile")
  })
})

describe("with a token", () => {
  let guarded: Ui
  const token = "browser-test-token-0123456789"

  beforeAll(async () => {
    guarded = await startUi(seeded.url, ["--token", token])
  }, 60_000)
  afterAll(() => guarded?.stop())

  it("works when opened with ?token=, which becomes a cookie and leaves the address, and not without", async () => {
    const refused = await page.goto(guarded.url)
    expect(refused?.status()).toBe(401)
    await page.goto(`${guarded.url}?token=${token}#/runs`)
    expect(page.url()).toBe(`${guarded.url}#/runs`)
    const cookies = await browser.context.cookies(guarded.url)
    expect(cookies.map((c) => ({ name: c.name, value: c.value, httpOnly: c.httpOnly, sameSite: c.sameSite }))).toEqual([
      { name: `lineage_token_${new URL(guarded.url).port}`, value: token, httpOnly: true, sameSite: "Strict" }
    ])
    expect(await page.evaluate("document.cookie")).toBe("")
    await rowCount(20)
    const uid = (await firstRowUid())!
    await page.locator(`table.runs tbody tr td:first-child a`).first().click()
    await untilHeading(uid)
    await until(`document.querySelector(".graph svg") !== null`)
    await shot("token")

    await page.goto(`${guarded.url}#/artifact/${seeded.raw.uid}`)
    await untilHeading("data/raw.csv")
    expect(await page.locator("a.download.button").getAttribute("href")).toBe(`/api/artifacts/${seeded.raw.uid}/download`)
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("a.download.button").click()])
    expect(readFileSync(await download.path(), "utf8")).toBe(seeded.raw.bytes)
  })
})

describe("the whole visit", () => {
  it("met no script error and no Content-Security-Policy violation", () => {
    expect(problems).toEqual([])
  })
})
