/**
 * The packages as a user gets them: packed as a release packs them (`pnpm pack`), installed from the tarballs
 * with npm, offline, into a fresh project, and run there by three applications sharing its `node_modules`: an
 * ES module app (tracked runs on memory and Redis), a CommonJS app (`require` of the ESM-only packages; a
 * refused Redis connection is an `instanceof` the `StoreError` it required: one copy of core for the app and
 * for the adapter core loaded), and a TypeScript app type-checked with `strict`, `exactOptionalPropertyTypes`
 * and `module: nodenext` against the packed declarations (memory, MongoDB, the Effect face, a conformance
 * group). Builds the packages first when stale.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as RedisStore from "@lineage/store-redis"
import { buildIfStale, packageFolders, root } from "../support/build.js"
import { closeAll, freshDatabase, mongoServer } from "../support/mongo.js"
import { freshPrefix, redisServer } from "../support/redis.js"
import { installTarballs, type Manifest, manifestIn, needs, type Packed, packAll, run, vendor, writeApp } from "./pack.js"
import { appSources } from "./apps.js"

const work = mkdtempSync(join(tmpdir(), "lineage-packaging-"))
const project = join(work, "project")
const apps = { esm: join(project, "esm-app"), cjs: join(project, "cjs-app"), ts: join(project, "ts-app") } as const
const storage = join(work, "storage")
let packed: ReadonlyArray<Packed & { readonly manifest: Manifest }> = []
let redisUrl = ""
let mongoUrl = ""

/**
 * Runs an app's entry with node (`.ts` through the workspace's tsx) and returns the JSON line it ends with.
 * Never synchronously: the MongoDB emulator serving the app runs in this process.
 */
const runApp = async (dir: string, entry: string, env: Readonly<Record<string, string>> = {}) => {
  const args = entry.endsWith(".ts") ? [join(root, "node_modules/tsx/dist/cli.mjs"), entry] : [entry]
  const out = await run(process.execPath, args, dir, { LINEAGE_STORAGE: storage, ...env })
  const line = out.trim().split("\n").at(-1) ?? ""
  if (!line.startsWith("{")) throw new Error(`${entry} printed no result:\n${out}`)
  return JSON.parse(line) as Record<string, unknown>
}

const trackedRun = { doubled: 42, completed: 2, accurate: 1, lineageNodes: expect.any(Number) }

beforeAll(async () => {
  buildIfStale(packageFolders)
  const tarballs = await packAll(join(work, "packs"))
  packed = await Promise.all(tarballs.map(async (p) => ({ ...p, manifest: await manifestIn(p.filename) })))
  const thirdParty = packed.flatMap((p) =>
    needs(p.manifest)
      .filter((n) => !n.name.startsWith("@lineage/"))
      .map((n) => ({ name: n.name, from: join(root, "packages", p.name.replace("@lineage/", "")) }))
  )
  const vendored = await vendor([...thirdParty, { name: "@types/node", from: root }], join(work, "vendor"))
  await installTarballs(project, new Map([...vendored, ...packed.map((p) => [p.name, p.filename] as const)]))
  const sources = appSources()
  writeApp(apps.esm, "module", sources.esm)
  writeApp(apps.cjs, "commonjs", sources.cjs)
  writeApp(apps.ts, "module", sources.ts)
  redisUrl = `${(await redisServer()).url}/0?prefix=${encodeURIComponent(freshPrefix("packaging"))}`
  const [base, query = ""] = (await mongoServer()).url.split("?")
  mongoUrl = `${base!.replace(/\/$/, "")}/${freshDatabase("packaging")}${query === "" ? "" : `?${query}`}`
}, 600_000)

afterAll(async () => {
  rmSync(work, { recursive: true, force: true })
  if (redisUrl !== "") {
    const driver = await Effect.runPromise(RedisStore.fromUrl(redisUrl))
    await Effect.runPromise(Effect.andThen(driver.drop(), driver.close()))
  }
  await closeAll()
})

describe("the packed tarballs", () => {
  it("are every package, with workspace: ranges turned into version ranges and core a peer of the others", () => {
    expect(packed.map((p) => p.name).sort()).toEqual(packageFolders.map((f) => `@lineage/${f}`).sort())
    const core = packed.find((p) => p.name === "@lineage/core")!
    for (const { manifest } of packed) {
      expect(JSON.stringify(manifest), manifest.name).not.toContain("workspace:")
      expect(manifest.peerDependencies?.["effect"], manifest.name).toBe("^4.1.0")
      if (manifest.name === "@lineage/core") continue
      expect(manifest.peerDependencies?.["@lineage/core"], manifest.name).toBe(`^${core.version}`)
      expect(manifest.dependencies?.["@lineage/core"], manifest.name).toBeUndefined()
    }
  })

  it("hold the LICENSE (Apache-2.0, the repository's), a README, the ESM build with declarations, and no tests", async () => {
    const rootLicense = readFileSync(join(root, "LICENSE"), "utf8")
    for (const p of packed) {
      expect(p.files, p.name).toEqual(expect.arrayContaining(["LICENSE", "README.md", "package.json", "dist/index.js", "dist/index.d.ts"]))
      expect(p.files.filter((f) => /(^|\/)(test|tests|__tests__)\/|\.test\.|\.cjs$|\.d\.cts$/.test(f)), p.name).toEqual([])
      expect(await run("tar", ["-xzOf", p.filename, "package/LICENSE"], work), p.name).toBe(rootLicense)
      expect(p.manifest.license).toBe("Apache-2.0")
    }
  })

  it("are ESM only: no require condition, no CommonJS entry", () => {
    for (const { manifest } of packed) {
      expect(manifest.type, manifest.name).toBe("module")
      expect(JSON.stringify(manifest.exports), manifest.name).not.toMatch(/"require"|\.cjs/)
      expect(manifest.main ?? "dist/index.js", manifest.name).not.toMatch(/\.cjs$/)
    }
  })
})

describe("installed offline with npm, in applications", () => {
  it("an ES module app: tracked runs on memory and on Redis", { timeout: 60_000 }, async () => {
    expect(await runApp(apps.esm, "main.js", { REDIS_URL: redisUrl })).toEqual({ memory: trackedRun, redis: trackedRun })
  })

  it("a CommonJS app: require() of the packages, a tracked run, and a refused Redis connection is instanceof the required StoreError", { timeout: 60_000 }, async () => {
    expect(await runApp(apps.cjs, "main.cjs")).toEqual({
      memory: trackedRun,
      refused: { instanceOfStoreError: true, reason: "Unavailable" },
      adapters: { memory: "function", conformance: "function" }
    })
  })

  it("a TypeScript app (strict, exactOptionalPropertyTypes, nodenext) type-checks against the packed declarations and runs", { timeout: 120_000 }, async () => {
    await run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], apps.ts)
    expect(await runApp(apps.ts, "main.ts", { MONGO_URL: mongoUrl })).toEqual({
      memory: trackedRun,
      mongodb: trackedRun,
      effectFace: 1,
      conformance: { failed: 0, passed: expect.any(Number) }
    })
  })
})
