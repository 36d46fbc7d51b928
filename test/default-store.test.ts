/**
 * `Lineage.connect()` with no URL and no `LINEAGE_STORE` keeps runs in SQLite in the working directory
 * (`.lineage/lineage.db`, the directory 0700) with artifact bytes beside it (`.lineage/storage`), so a second
 * client, or a second execution of a script, sees the first one's runs. Without `@lineage/store-sqlite` the
 * error says how to install it or which store to pick instead. Each case works in a fresh temp directory.
 */
import { spawnSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Lineage } from "@lineage/core"
import { root } from "./support/build.js"

const saved = { cwd: process.cwd(), store: process.env["LINEAGE_STORE"], storage: process.env["LINEAGE_STORAGE"] }
let work = ""

const restore = (name: string, value: string | undefined) => {
  if (value === undefined) delete process.env[name]
  else process.env[name] = value
}

beforeEach(() => {
  work = realpathSync(mkdtempSync(join(tmpdir(), "lineage-default-")))
  process.chdir(work)
  delete process.env["LINEAGE_STORE"]
  delete process.env["LINEAGE_STORAGE"]
})
afterEach(() => {
  process.chdir(saved.cwd)
  restore("LINEAGE_STORE", saved.store)
  restore("LINEAGE_STORAGE", saved.storage)
  rmSync(work, { recursive: true, force: true })
})

const modeOf = (path: string) => statSync(path).mode & 0o777

/** Node with TypeScript sources, from any working directory. */
const tsNode = ["--import", import.meta.resolve("tsx"), "--conditions=@lineage/source"]

/** This process's environment without a store or storage named, as a user's shell has it. */
const defaultEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env["LINEAGE_STORE"]
  delete env["LINEAGE_STORAGE"]
  return env
}

/** Tracks one run registering `text` on a new client of `url` (the default store when undefined), and closes it. */
const trackOnce = async (text: string, url?: string, options?: Lineage.ConnectOptions) => {
  const ln = await Lineage.connect(url, options)
  const run = await ln.track({ transform: { key: "default-store.test", kind: "script" } })
  const artifact = await ln.Artifact.fromBytes(text, { key: "notes.txt" })
  await ln.finish()
  await ln.close()
  return { run, artifact }
}

describe("connect() with no URL and no LINEAGE_STORE", () => {
  it("creates .lineage/lineage.db (directory 0700) and keeps bytes in .lineage/storage; a second client sees the first's runs", async () => {
    const first = await trackOnce("first")
    expect(existsSync(join(work, ".lineage/lineage.db"))).toBe(true)
    expect(modeOf(join(work, ".lineage"))).toBe(0o700)
    expect(existsSync(join(work, ".lineage/storage", `${first.artifact.uid}.txt`))).toBe(true)
    expect(first.artifact.storage).toBe(pathToFileURL(join(work, ".lineage/storage")).href)

    const ln = await Lineage.connect()
    try {
      expect((await ln.Run.get(first.run.uid)).status).toBe("completed")
      expect(new TextDecoder().decode(await ln.Artifact.load(await ln.Artifact.get(first.artifact.uid)))).toBe("first")
    } finally {
      await ln.close()
    }
  })

  it("the storage option and LINEAGE_STORAGE still choose where bytes go", async () => {
    const byOption = await trackOnce("by option", undefined, { storage: join(work, "chosen") })
    expect(byOption.artifact.storage).toBe(pathToFileURL(join(work, "chosen")).href)
    process.env["LINEAGE_STORAGE"] = join(work, "from-env")
    const byEnv = await trackOnce("by env")
    expect(byEnv.artifact.storage).toBe(pathToFileURL(join(work, "from-env")).href)
    expect(existsSync(join(work, ".lineage/storage"))).toBe(false)
  })

  it("a .lineage that is no directory is refused, naming it, and nothing is created", async () => {
    writeFileSync(join(work, ".lineage"), "not a directory")
    const error = await Lineage.connect().then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toMatchObject({ _tag: "StoreError", reason: { _tag: "Invalid" } })
    expect((error as Error).message).toContain(`${join(work, ".lineage")}: it is not a directory`)
    expect(readFileSync(join(work, ".lineage"), "utf8")).toBe("not a directory")
  })
})

describe("the storage root follows a SQLite database file", () => {
  it("sqlite:<dir>/<file> keeps bytes in <dir>/storage, and LINEAGE_STORE names the database as a URL does", async () => {
    mkdirSync(join(work, "runs"))
    const named = await trackOnce("named", "sqlite:./runs/lineage.db")
    expect(named.artifact.storage).toBe(pathToFileURL(join(work, "runs/storage")).href)
    process.env["LINEAGE_STORE"] = "sqlite:./runs/lineage.db"
    const ln = await Lineage.connect()
    try {
      expect(new TextDecoder().decode(await ln.Artifact.load(await ln.Artifact.get(named.artifact.uid)))).toBe("named")
    } finally {
      await ln.close()
    }
    expect(existsSync(join(work, ".lineage"))).toBe(false)
  })

  it("a percent-encoded path is read as the SQLite adapter reads it: the bytes go beside the file it opens", async () => {
    mkdirSync(join(work, "my runs"))
    const named = await trackOnce("encoded", "sqlite:./my%20runs%2Flineage.db")
    expect(existsSync(join(work, "my runs/lineage.db"))).toBe(true)
    expect(named.artifact.storage).toBe(pathToFileURL(join(work, "my runs/storage")).href)
  })

  it("a store with no file of its own (memory) keeps bytes in the per-user default root, never in the working directory", async () => {
    const throwaway = await trackOnce("throwaway", "memory:")
    expect(throwaway.artifact.storage).not.toContain(work)
    expect(existsSync(join(work, ".lineage"))).toBe(false)
  })
})

describe("without @lineage/store-sqlite", () => {
  it("the default store's error says how to install it or which store to pick instead, and creates nothing", () => {
    // Core's sources in an application that has no adapter: core finds adapters from its own location.
    const app = join(work, "app")
    const core = join(app, "core")
    mkdirSync(core, { recursive: true })
    cpSync(join(root, "packages/core/package.json"), join(core, "package.json"))
    cpSync(join(root, "packages/core/src"), join(core, "src"), { recursive: true })
    mkdirSync(join(core, "node_modules"))
    for (const dep of ["effect", "re2js"]) symlinkSync(realpathSync(join(root, "packages/core/node_modules", dep)), join(core, "node_modules", dep), "dir")
    const script = join(app, "connect.mts")
    writeFileSync(
      script,
      `import { Lineage } from "./core/src/index.ts"
       await Lineage.connect().then(
         () => console.log(JSON.stringify({ connected: true })),
         (e) => console.log(JSON.stringify({ tag: e._tag, reason: e.reason?._tag, message: e.message }))
       )`
    )
    const child = spawnSync(process.execPath, [...tsNode, script], {
      cwd: work,
      env: defaultEnv(),
      encoding: "utf8",
      timeout: 30_000
    })
    const line = child.stdout.trim().split("\n").at(-1) ?? ""
    expect(line.startsWith("{"), child.stderr).toBe(true)
    const outcome = JSON.parse(line) as { tag?: string; reason?: string; message?: string }
    expect(outcome).toMatchObject({ tag: "StoreError", reason: "Unsupported" })
    expect(outcome.message).toContain(`keeps runs in SQLite (sqlite:./.lineage/lineage.db in ${work}), which needs @lineage/store-sqlite`)
    expect(outcome.message).toContain("npm install @lineage/store-sqlite")
    expect(outcome.message).toContain('"memory:"')
    expect(existsSync(join(work, ".lineage"))).toBe(false)
  })
})

describe("the demo", () => {
  const demo = join(root, "examples/pipeline.ts")
  const runDemo = () => {
    const child = spawnSync(process.execPath, [...tsNode, demo], {
      cwd: work,
      env: defaultEnv(),
      encoding: "utf8",
      timeout: 60_000
    })
    expect(child.status, child.stderr).toBe(0)
    return child.stdout
  }
  /** The uid of the execution's own `download` run, which its history marks "(this one)". */
  const ownRun = (output: string) => /^\s+([0-9A-Za-z]{16}) \S+ \(this one\)$/m.exec(output)?.[1]

  it("runs again on the default store, and the second execution lists the first in its history", () => {
    const first = runDemo()
    const firstRun = ownRun(first)
    expect(firstRun, first).toBeDefined()
    expect(first).toContain("executions of this demo so far: 1")

    const second = runDemo()
    expect(second).toContain("executions of this demo so far: 2")
    expect(second).toMatch(new RegExp(`^\\s+${firstRun} \\S+$`, "m"))
    expect(ownRun(second)).not.toBe(firstRun)
    expect(existsSync(join(work, ".lineage/lineage.db"))).toBe(true)
  }, 120_000)
})
