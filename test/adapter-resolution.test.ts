/**
 * `Lineage.connect` imports a store adapter resolved from core's own location, never from the working
 * directory: a script run in a directory whose `node_modules` holds someone else's `@lineage/store-redis`
 * does not execute it. Checked on the built packages (ESM and CJS), in an application directory laid out
 * as a package manager lays one out, because inside this workspace core resolves the real adapters anyway.
 * Builds core and the Redis adapter first when their builds are missing or older than their sources.
 */
import { spawnSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Effect } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import * as RedisStore from "@lineage/store-redis"
import { freshPrefix, redisServer } from "./support/redis.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const corePackage = join(root, "packages/core")
const work = mkdtempSync(join(tmpdir(), "lineage-adapters-"))
/** An application with core (and its own dependencies) installed, but no adapter. */
const bare = join(work, "bare")
/** The same with the Redis adapter installed. */
const withRedis = join(work, "with-redis")
/** Where the script runs: someone else's directory, with a planted adapter. */
const untrusted = join(work, "untrusted")
const marker = join(untrusted, "node_modules/@lineage/store-redis/PLANTED-CODE-RAN")
const opened: Array<string> = []

const install = (app: string, name: string, target: string) => {
  mkdirSync(dirname(join(app, "node_modules", name)), { recursive: true })
  symlinkSync(target, join(app, "node_modules", name), "dir")
}

const installCore = (app: string) => {
  const core = join(app, "node_modules/@lineage/core")
  mkdirSync(core, { recursive: true })
  cpSync(join(corePackage, "package.json"), join(core, "package.json"))
  cpSync(join(corePackage, "dist"), join(core, "dist"), { recursive: true })
  const manifest = JSON.parse(readFileSync(join(corePackage, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>
    peerDependencies?: Record<string, string>
  }
  for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }))
    install(app, dep, realpathSync(join(corePackage, "node_modules", dep)))
}

/** Runs `connect(url)` on the app's built core, as ESM or CJS, in the untrusted directory. */
const connectFrom = (app: string, format: "esm" | "cjs", url: string) => {
  const entry = join(app, "node_modules/@lineage/core/dist", format === "esm" ? "index.js" : "index.cjs")
  const load = format === "esm" ? `await import(${JSON.stringify(pathToFileURL(entry).href)})` : `require(${JSON.stringify(entry)})`
  const source = `
    const { Lineage } = ${load}
    try {
      const ln = await Lineage.connect(${JSON.stringify(url)})
      await ln.close()
      console.log(JSON.stringify({ connected: true }))
    } catch (e) {
      console.log(JSON.stringify({ tag: e._tag, reason: e.reason?._tag, message: e.message }))
    }`
  const child = spawnSync(process.execPath, ["--input-type", format === "esm" ? "module" : "commonjs", "-e", format === "esm" ? source : `(async () => { ${source} })()`], {
    cwd: untrusted,
    encoding: "utf8",
    timeout: 20_000
  })
  const line = child.stdout.trim().split("\n").at(-1) ?? ""
  if (!line.startsWith("{")) throw new Error(`the script failed (${child.status}): ${child.stderr}`)
  return JSON.parse(line) as { connected?: boolean; tag?: string; reason?: string; message?: string }
}

/** The newest modification time of the files below `dir`, 0 when there is none. */
const newest = (dir: string): number =>
  existsSync(dir)
    ? Math.max(0, ...readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => statSync(join(e.parentPath, e.name)).mtimeMs))
    : 0

/** Builds the packages this test runs built, when their build is missing or older than their sources. */
const buildIfStale = () => {
  for (const name of ["core", "store-redis"]) {
    const dir = join(root, "packages", name)
    if (newest(join(dir, "dist")) >= newest(join(dir, "src"))) continue
    // The package's own build script, run as it runs it (no package manager on PATH needed).
    const built = spawnSync(join(root, "node_modules/.bin/tsup"), [], { cwd: dir, encoding: "utf8" })
    if (built.status !== 0) throw new Error(`building packages/${name} failed: ${built.stderr}${built.stdout}`)
  }
}

beforeAll(() => {
  buildIfStale()
  installCore(bare)
  installCore(withRedis)
  install(withRedis, "@lineage/store-redis", join(root, "packages/store-redis"))
  const planted = join(untrusted, "node_modules/@lineage/store-redis")
  mkdirSync(planted, { recursive: true })
  writeFileSync(join(untrusted, "package.json"), JSON.stringify({ name: "untrusted" }))
  writeFileSync(join(planted, "package.json"), JSON.stringify({ name: "@lineage/store-redis", version: "9.9.9", main: "index.js" }))
  writeFileSync(
    join(planted, "index.js"),
    `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran"); exports.fromUrl = () => { throw new Error("planted") }`
  )
}, 120_000)
beforeEach(() => rmSync(marker, { force: true }))
afterAll(async () => {
  rmSync(work, { recursive: true, force: true })
  for (const url of opened) {
    const driver = await Effect.runPromise(RedisStore.fromUrl(url))
    await Effect.runPromise(Effect.andThen(driver.drop(), driver.close()))
  }
})

describe.each(["esm", "cjs"] as const)("the built core (%s), run in a directory with a planted adapter", (format) => {
  it("with no adapter installed: Unsupported, naming the package to install; the planted code never runs", () => {
    const outcome = connectFrom(bare, format, "redis://127.0.0.1:1/0")
    expect(existsSync(marker)).toBe(false)
    expect(outcome.tag).toBe("StoreError")
    expect(outcome.reason).toBe("Unsupported")
    expect(outcome.message).toContain("npm install @lineage/store-redis ioredis")
  })

  it("with the adapter installed next to core: connects through it; the planted code never runs", async () => {
    const server = await redisServer()
    const url = `${server.url}/0?prefix=${encodeURIComponent(freshPrefix("adapters"))}`
    opened.push(url)
    const outcome = connectFrom(withRedis, format, url)
    expect(existsSync(marker)).toBe(false)
    expect(outcome).toEqual({ connected: true })
  })
})
