/**
 * Fresh builds for the tests that run the built packages: a package is rebuilt, with its own build script,
 * when its `dist` is missing or older than its sources, manifest or build configuration. Core builds first,
 * since the others' declarations import its. One build at a time across test files (a lock directory), because
 * a build empties `dist` before it writes it.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../..", import.meta.url))

/** Every published package's folder under `packages/`, core first. */
export const packageFolders = ["core", "sql", "store-memory", "store-sqlite", "store-postgres", "store-redis", "store-mongodb", "conformance", "cli"] as const
export type PackageFolder = (typeof packageFolders)[number]

/** The newest modification time of the files at or below `path`, 0 when there is none. */
const newest = (path: string): number => {
  if (!existsSync(path)) return 0
  if (statSync(path).isFile()) return statSync(path).mtimeMs
  const files = readdirSync(path, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
  return Math.max(0, ...files.map((e) => statSync(join(e.parentPath, e.name)).mtimeMs))
}

const isStale = (dir: string): boolean => {
  const inputs = ["src", "package.json", "tsup.config.ts", "tsconfig.build.json"].map((p) => join(dir, p))
  return newest(join(dir, "dist")) < Math.max(newest(join(root, "tsup.base.ts")), ...inputs.map(newest))
}

const lock = join(root, "node_modules/.cache/lineage-build.lock")
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
const lockAge = (): number => {
  try {
    return Date.now() - statSync(lock).mtimeMs
  } catch {
    return 0
  }
}

/** Runs `body` holding the build lock; a lock older than 15 minutes is taken as left by a killed run. */
const withLock = <A>(body: () => A): A => {
  mkdirSync(join(lock, ".."), { recursive: true })
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch {
      if (lockAge() > 15 * 60_000) rmSync(lock, { recursive: true, force: true })
      else sleep(250)
    }
  }
  try {
    return body()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

/** Builds each of the packages named whose build is stale (core too, when it is, for the others' types). */
export const buildIfStale = (folders: ReadonlyArray<PackageFolder>): void =>
  withLock(() => {
    for (const name of packageFolders.filter((f) => f === "core" || folders.includes(f))) {
      const dir = join(root, "packages", name)
      if (!isStale(dir)) continue
      // The package's own build script, run as it runs it (no package manager on PATH needed).
      const built = spawnSync(join(root, "node_modules/.bin/tsup"), [], { cwd: dir, encoding: "utf8" })
      if (built.status !== 0) throw new Error(`building packages/${name} failed: ${built.stderr}${built.stdout}`)
    }
  })
