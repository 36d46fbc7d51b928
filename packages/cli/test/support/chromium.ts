/**
 * Debian's Chromium (`/usr/bin/chromium`, which `.ci/run` installs) driven by playwright-core, in a fresh
 * profile that is removed on close; nothing it does reaches the network on its own.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BrowserContext, chromium, type Page } from "playwright-core"

export const executablePath = "/usr/bin/chromium"

const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run"
]

export interface Browser {
  readonly context: BrowserContext
  readonly close: () => Promise<void>
}

/** A browser with a profile of its own; `close` ends it and removes the profile. */
export const launch = async (options: { readonly viewport?: { readonly width: number; readonly height: number } } = {}): Promise<Browser> => {
  const profile = mkdtempSync(join(tmpdir(), "lineage-chromium-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args,
    viewport: options.viewport ?? { width: 1280, height: 800 }
  })
  return {
    context,
    close: async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}

/**
 * Waits until the expression holds in the page, asking from here: Playwright's own `waitForFunction` evaluates
 * its predicate with `eval`, which the viewer's Content-Security-Policy rightly refuses.
 */
export const holds = async (page: Page, expression: string): Promise<void> => {
  const deadline = Date.now() + 15_000
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`still not true after 15 s: ${expression}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * A new page of `browser` whose uncaught errors and Content-Security-Policy refusals are collected in
 * `problems`: a viewer page must end every test with none.
 */
export const watchedPage = async (browser: Browser): Promise<{ readonly page: Page; readonly problems: Array<string> }> => {
  const page = await browser.context.newPage()
  const problems: Array<string> = []
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`)
  })
  return { page, problems }
}
