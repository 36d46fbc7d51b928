/**
 * Makes `docs/viewer.png`, the README's picture of the viewer: the demo (`examples/pipeline.ts`) run twice in
 * a temporary directory, the viewer served over what it recorded, and its runs table shot in Debian's
 * Chromium. Prints `lineage runs` on the same data, for the README beside it. On demand, not in the tests:
 *
 *   npx tsx --conditions=@lineage/source docs/screenshot.ts
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { launch } from "../packages/cli/test/support/chromium.js"
import { serve } from "../packages/cli/test/support/viewer.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const tsx = join(root, "node_modules/.bin/tsx")
const directory = mkdtempSync(join(tmpdir(), "lineage-screenshot-"))
const env = { ...process.env }
for (const name of ["LINEAGE_STORE", "LINEAGE_STORAGE", "LINEAGE_UI_TOKEN"]) delete env[name]

/** Runs a TypeScript entry point from source in the demo's directory; its failure ends the script. */
const run = (file: string, args: ReadonlyArray<string> = []): string => {
  const result = spawnSync(tsx, ["--conditions=@lineage/source", join(root, file), ...args], { cwd: directory, env, encoding: "utf8" })
  if (result.status !== 0) throw new Error(`${file} ${args.join(" ")} failed: ${result.stderr}`)
  return result.stdout
}

try {
  for (let execution = 0; execution < 2; execution++) run("examples/pipeline.ts")
  const url = `sqlite:${join(directory, ".lineage/lineage.db")}`
  process.stdout.write(`$ lineage runs\n${run("packages/cli/src/bin.ts", ["runs", "--store", url])}`)

  const viewer = await serve({ url, storage: join(directory, ".lineage/storage") })
  const browser = await launch({ viewport: { width: 1360, height: 680 } })
  try {
    const page = await browser.context.newPage()
    await page.goto(`${viewer.url}#/runs`)
    await page.locator("table.runs tbody tr").first().waitFor()
    await page.screenshot({ path: join(root, "docs/viewer.png") })
    process.stdout.write("wrote docs/viewer.png\n")
  } finally {
    await browser.close()
    await viewer.close()
  }
} finally {
  rmSync(directory, { recursive: true, force: true })
}
