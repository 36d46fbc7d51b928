/**
 * `Lineage.connect` finds the adapter for a URL's scheme among core's optional peers that are installed, by the
 * schemes each declares in its package.json, and imports only that one. Everything is resolved from core's own
 * location, never from the working directory: a script run in a directory whose `node_modules` holds someone
 * else's `@lineage/store-redis` does not execute it. Checked on the built core, imported (ESM) and required
 * (CommonJS, through require(esm)), in application directories laid out as a package manager lays them out,
 * because inside this workspace core resolves the real adapters anyway. Builds what it runs when stale.
 */
import { spawnSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import * as RedisStore from "@lineage/store-redis"
import { buildIfStale, root } from "./support/build.js"
import { freshPrefix, redisServer } from "./support/redis.js"

const corePackage = join(root, "packages/core")
const work = mkdtempSync(join(tmpdir(), "lineage-adapters-"))
/** An application with core (and its own dependencies) installed, but no adapter. */
const bare = join(work, "bare")
/** The same with the Redis adapter installed. */
const withRedis = join(work, "with-redis")
/** The Redis adapter installed without its peer dependency, ioredis. */
const withoutPeer = join(work, "without-peer")
/** Two adapters of core's: one declaring the scheme `fake:`, one declaring `memory:`; each leaves a marker when loaded. */
const decoys = join(work, "decoys")
/** An adapter of core's whose manifest declares its scheme in upper case, among entries that are no scheme. */
const oddSchemes = join(work, "odd-schemes")
/** Where the scripts run: someone else's directory, with a planted adapter. */
const untrusted = join(work, "untrusted")
const markers = join(work, "markers")
const planted = join(markers, "planted")
const opened: Array<string> = []

const install = (app: string, name: string, target: string) => {
  mkdirSync(dirname(join(app, "node_modules", name)), { recursive: true })
  symlinkSync(target, join(app, "node_modules", name), "dir")
}

/** Installs a built package by copying its manifest and `dist`, as a package manager extracts it. */
const installCopy = (app: string, name: string, folder: string) => {
  const dir = join(app, "node_modules", name)
  mkdirSync(dir, { recursive: true })
  cpSync(join(root, "packages", folder, "package.json"), join(dir, "package.json"))
  cpSync(join(root, "packages", folder, "dist"), join(dir, "dist"), { recursive: true })
}

const installCore = (app: string) => {
  installCopy(app, "@lineage/core", "core")
  const manifest = JSON.parse(readFileSync(join(corePackage, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>
    peerDependencies?: Record<string, string>
  }
  for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }))
    install(app, dep, realpathSync(join(corePackage, "node_modules", dep)))
}

/** An adapter package under one of core's adapter names, serving `schemes`, that leaves a marker when loaded. */
const installFake = (app: string, name: string, schemes: ReadonlyArray<unknown>) => {
  const dir = join(app, "node_modules", name)
  mkdirSync(dir, { recursive: true })
  const manifest = { name, version: "0.1.0", type: "module", exports: { ".": "./index.js", "./package.json": "./package.json" }, lineage: { schemes } }
  writeFileSync(join(dir, "package.json"), JSON.stringify(manifest))
  writeFileSync(
    join(dir, "index.js"),
    `import { writeFileSync } from "node:fs"
     import { StoreError } from "@lineage/core"
     import { Effect } from "effect"
     writeFileSync(${JSON.stringify(join(markers, name.replace("/", "+")))}, "loaded")
     export const fromUrl = (url) => Effect.fail(StoreError.unavailable("the fake adapter was asked for " + url))`
  )
}

interface Outcome {
  readonly connected?: boolean
  readonly tag?: string
  readonly reason?: string
  readonly message?: string
}

/** Runs `connect(url)` on the app's built core, imported or required, in the untrusted directory. */
const connectFrom = (app: string, format: "esm" | "cjs", url: string): Outcome => {
  const entry = join(app, "node_modules/@lineage/core/dist/index.js")
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
  return JSON.parse(line) as Outcome
}

const loaded = (name: string) => existsSync(join(markers, name.replace("/", "+")))

beforeAll(() => {
  buildIfStale(["core", "store-redis"])
  for (const app of [bare, withRedis, withoutPeer, decoys, oddSchemes]) installCore(app)
  install(withRedis, "@lineage/store-redis", join(root, "packages/store-redis"))
  installCopy(withoutPeer, "@lineage/store-redis", "store-redis")
  installFake(decoys, "@lineage/store-mongodb", ["fake:"])
  installFake(decoys, "@lineage/store-memory", ["memory:"])
  installFake(oddSchemes, "@lineage/store-mongodb", ["FAKE:", "odd\u001b[2J:", 42, null, " memory:", "memory: ", `x${"y".repeat(100_000)}`])
  const plantedAdapter = join(untrusted, "node_modules/@lineage/store-redis")
  mkdirSync(plantedAdapter, { recursive: true })
  mkdirSync(markers, { recursive: true })
  writeFileSync(join(untrusted, "package.json"), JSON.stringify({ name: "untrusted" }))
  const manifest = { name: "@lineage/store-redis", version: "9.9.9", main: "index.js", exports: { ".": "./index.js", "./package.json": "./package.json" }, lineage: { schemes: ["redis:", "rediss:", "fake:"] } }
  writeFileSync(join(plantedAdapter, "package.json"), JSON.stringify(manifest))
  writeFileSync(
    join(plantedAdapter, "index.js"),
    `require("node:fs").writeFileSync(${JSON.stringify(planted)}, "ran"); exports.fromUrl = () => { throw new Error("planted") }`
  )
}, 600_000)
beforeEach(() => {
  rmSync(markers, { recursive: true, force: true })
  mkdirSync(markers)
})
afterAll(async () => {
  rmSync(work, { recursive: true, force: true })
  for (const url of opened) {
    const driver = await Effect.runPromise(RedisStore.fromUrl(url))
    await Effect.runPromise(Effect.andThen(driver.drop(), driver.close()))
  }
})

describe.each(["esm", "cjs"] as const)("the built core (%s), run in a directory with a planted adapter", (format) => {
  it("with no adapter installed: Unsupported, naming the adapters to install; the planted code never runs", () => {
    const outcome = connectFrom(bare, format, "redis://127.0.0.1:1/0")
    expect(existsSync(planted)).toBe(false)
    expect(outcome.tag).toBe("StoreError")
    expect(outcome.reason).toBe("Unsupported")
    expect(outcome.message).toContain('no installed store serves redis: URLs ("redis://127.0.0.1:1/0"); installed: none')
    expect(outcome.message).toContain(
      "not installed: @lineage/store-memory, @lineage/store-mongodb, @lineage/store-postgres, @lineage/store-redis, @lineage/store-sqlite: npm install"
    )
  })

  it("with the adapter installed next to core: connects through it; the planted code never runs", async () => {
    const server = await redisServer()
    const url = `${server.url}/0?prefix=${encodeURIComponent(freshPrefix("adapters"))}`
    opened.push(url)
    const outcome = connectFrom(withRedis, format, url)
    expect(existsSync(planted)).toBe(false)
    expect(outcome).toEqual({ connected: true })
  })

  it("the schemes are the adapter's own: a URL goes to the adapter declaring its scheme, and no other adapter is loaded", () => {
    const outcome = connectFrom(decoys, format, "fake://somewhere/x?token=secret")
    expect(outcome).toEqual({ tag: "StoreError", reason: "Unavailable", message: "store unavailable: the fake adapter was asked for fake://somewhere/x?token=secret" })
    expect(loaded("@lineage/store-mongodb")).toBe(true)
    expect(loaded("@lineage/store-memory")).toBe(false)
    expect(existsSync(planted)).toBe(false)
  })

  it("a scheme no installed adapter declares: Unsupported, listing what is installed; no adapter is loaded", () => {
    const outcome = connectFrom(decoys, format, "mongodb://127.0.0.1:1/db")
    expect(outcome.reason).toBe("Unsupported")
    expect(outcome.message).toContain(
      "installed: @lineage/store-memory (memory:), @lineage/store-mongodb (fake:); not installed: @lineage/store-postgres, @lineage/store-redis, @lineage/store-sqlite"
    )
    expect(loaded("@lineage/store-mongodb") || loaded("@lineage/store-memory") || existsSync(planted)).toBe(false)
  })

  it("an installed adapter whose peer dependency is missing: Unsupported, naming the missing package", () => {
    const outcome = connectFrom(withoutPeer, format, "redis://127.0.0.1:1/0")
    expect(outcome.reason).toBe("Unsupported")
    expect(outcome.message).toContain("the store for redis: rediss: redis+cluster: rediss+cluster: URLs is @lineage/store-redis, which could not be loaded")
    expect(outcome.message).toContain("ioredis")
    expect(outcome.message).toContain("npm install @lineage/store-redis ioredis")
    expect(existsSync(planted)).toBe(false)
  })

  it("declared schemes are compared in lower case, and entries that are no scheme serve no URL and are not shown", () => {
    expect(connectFrom(oddSchemes, format, "Fake://somewhere/x").message).toBe("store unavailable: the fake adapter was asked for Fake://somewhere/x")
    expect(loaded("@lineage/store-mongodb")).toBe(true)
    const outcome = connectFrom(oddSchemes, format, "memory:")
    expect(outcome.reason).toBe("Unsupported")
    expect(outcome.message).toContain("installed: @lineage/store-mongodb (fake:); not installed:")
    expect(outcome.message!.length).toBeLessThan(1_000)
  })
})
