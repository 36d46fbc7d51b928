/**
 * Debian's Chromium (`/usr/bin/chromium`, which `.ci/run` installs) driven by playwright-core, in a fresh
 * profile that is removed on close; nothing it does reaches the network on its own.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BrowserContext, chromium } from "playwright-core"

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
