/**
 * The PostgreSQL server restarts in the middle of a stream of writes. A private server (never the shared one at
 * 5432, which other tests use), with fsync and synchronous commit on, is stopped with a fast shutdown (open
 * transactions rolled back, clients disconnected) and started again 1.5 s later on the same port and data
 * directory: every write the store acknowledged is there, writes sent while it was down failed with a typed,
 * retryable StoreError (`Unavailable`) and succeeded when retried, and the drift check (amcheck, declared
 * indexes present, indexed queries against full scans) finds nothing.
 *
 * Debian's binaries refuse to run as root: as root, they run as the `postgres` user (`runuser`) in a
 * directory it owns. `LINEAGE_POSTGRES_BIN` names another binary directory.
 */
import { execFile, execFileSync } from "node:child_process"
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import pg from "pg"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { StoreError } from "@lineage/core"
import * as PostgresStore from "@lineage/store-postgres"
import { freePort } from "../support/redis.js"
import { since } from "./support/figures.js"
import { expectTypedRetryable, recordRestart, writeThroughRestart } from "./support/restart.js"
import { postgresDrift } from "./support/sql.js"

const bin = process.env["LINEAGE_POSTGRES_BIN"] ?? "/usr/lib/postgresql/15/bin"
const dir = mkdtempSync(join(tmpdir(), "lineage-postgres-restart-"))
const data = join(dir, "data")
const asRoot = process.getuid?.() === 0
let running = false

/** Runs one of the server's binaries, as the `postgres` user when this process is root. */
const pgTool = (tool: string, args: ReadonlyArray<string>) => {
  const file = join(bin, tool)
  return promisify(execFile)(asRoot ? "runuser" : file, asRoot ? ["-u", "postgres", "--", file, ...args] : [...args], { timeout: 30_000 })
}

const setUp = async (port: number) => {
  if (!existsSync(join(bin, "pg_ctl")))
    throw new Error(
      `no PostgreSQL server binaries in ${bin}: install them (apt-get install postgresql) or set LINEAGE_POSTGRES_BIN to their directory`
    )
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }))
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }))
    chownSync(dir, uid, gid)
  }
  // initdb's own files need no fsync (a crash of the test discards them); the server's writes do.
  await pgTool("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"])
  return [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=on",
    "-c synchronous_commit=on",
    "-c full_page_writes=on"
  ].join(" ")
}

const start = async (options: string) => {
  await pgTool("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "server.log"), "-w", "-t", "20", "start"])
  running = true
}

const stop = async (mode: "fast" | "immediate") => {
  await pgTool("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "20", "stop"])
  running = false
}

afterAll(async () => {
  if (running) await stop("immediate").catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
})

describe("postgres restart", () => {
  it("a server restart mid-stream loses no acknowledged write and leaves no drift", async () => {
    const started = performance.now()
    const port = await freePort()
    const options = await setUp(port)
    await start(options)
    const url = `postgres://postgres@127.0.0.1:${port}/postgres?schema=restart&connect_timeout=2`
    const driver = await Effect.runPromise(PostgresStore.fromUrl(url))
    const raw = new pg.Pool({ connectionString: url.replace(/\?.*$/, ""), max: 2, idleTimeoutMillis: 1_000 })
    raw.on("error", () => undefined)
    try {
      const total = 300
      // Stopped with a fast shutdown, back a moment later on the same port and data directory.
      const stream = await writeThroughRestart(driver, async () => {
        await stop("fast")
        await new Promise((r) => setTimeout(r, 1_500))
        await start(options)
      }, total)
      // Writes went on through the restart: each failed typed and retryable while the server was down.
      expect(stream.sentWhileDown).toBeGreaterThan(0)
      const unavailable = stream.failures.filter((f) => f instanceof StoreError && f.reason._tag === "Unavailable")
      expect(unavailable.length).toBeGreaterThan(0)
      expectTypedRetryable(stream.failures)
      expect(stream.acknowledged).toHaveLength(total)
      const stored = await Effect.runPromise(driver.get("thing", stream.acknowledged))
      expect(stored.map((d) => d["id"])).toEqual(stream.acknowledged)
      expect(stored.map((d) => d["n"])).toEqual(stream.acknowledged.map((_, i) => i))
      expect(await Effect.runPromise(driver.count("thing", { _tag: "And", conds: [] }))).toBe(total)
      expect(await postgresDrift(raw, "restart", driver)).toEqual([])
      recordRestart({
        target: "faults: PostgreSQL server restarted mid-stream",
        store: "postgres",
        total,
        lost: total - stored.length,
        seconds: since(started),
        note: `${stream.sentWhileDown} writes sent while it was down; ${unavailable.length} failed Unavailable (retryable) and were retried`
      })
    } finally {
      await raw.end().catch(() => undefined)
      await Effect.runPromise(Effect.ignore(driver.close()))
    }
  }, 30_000)
})
