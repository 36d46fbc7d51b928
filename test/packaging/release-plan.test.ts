/**
 * `pnpm changeset version` on this repository's manifests: a minor change to core moves every package of the
 * fixed group to the next minor, not to a major. Changesets would make a peer dependent's release major when
 * its peer's is minor (changesets/changesets#1126), and the adapters peer-depend on core; `patches/` fixes
 * that for packages released in one fixed group. Run on copies of the manifests and the changesets config.
 */
import { spawnSync } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { afterAll, expect, it } from "vitest"
import { packageFolders, root } from "../support/build.js"

const work = mkdtempSync(join(tmpdir(), "lineage-release-plan-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const manifest = (folder: string) =>
  JSON.parse(readFileSync(join(work, "packages", folder, "package.json"), "utf8")) as {
    version: string
    peerDependencies?: Record<string, string>
  }

it("a minor changeset to core releases every package at the next minor, keeping workspace:^ peers", () => {
  const copied = ["package.json", "pnpm-workspace.yaml", ".changeset/config.json", "test/mongo-emulator/package.json", ...packageFolders.map((f) => `packages/${f}/package.json`)]
  for (const path of copied) {
    mkdirSync(dirname(join(work, path)), { recursive: true })
    cpSync(join(root, path), join(work, path))
  }
  const before = manifest("core").version
  writeFileSync(join(work, ".changeset/a-feature.md"), '---\n"@lineage/core": minor\n---\n\nA feature.\n')
  const versioned = spawnSync(join(root, "node_modules/.bin/changeset"), ["version"], { cwd: work, encoding: "utf8" })
  expect(versioned.status, versioned.stderr).toBe(0)
  const [major, minor] = before.split(".").map(Number)
  const next = `${major}.${minor! + 1}.0`
  for (const folder of packageFolders) {
    expect(manifest(folder).version, folder).toBe(next)
    if (folder !== "core") expect(manifest(folder).peerDependencies?.["@lineage/core"], folder).toBe("workspace:^")
  }
})
