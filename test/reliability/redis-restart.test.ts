/**
 * The Redis server restarts in the middle of a stream of writes. A private server (never the shared one) with
 * an fsync-always append-only file stands in for a production server with persistence: every write it
 * acknowledged must be there after the restart, writes sent while it is down wait for the reconnect or fail
 * with a typed, retryable StoreError and succeed when retried, and the index check finds no drift.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as RedisStore from "@lineage/store-redis"
import { freePort } from "../support/redis.js"
import { since } from "./support/figures.js"
import { expectTypedRetryable, recordRestart, writeThroughRestart } from "./support/restart.js"

const dir = mkdtempSync(join(tmpdir(), "lineage-redis-restart-"))
let server: ChildProcess | undefined

const startServer = async (port: number): Promise<ChildProcess> => {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  child.once("error", (e) => {
    throw new Error(`could not start redis-server (install it: apt-get install redis-server): ${String(e)}`)
  })
  // Ready once it says it accepts connections.
  await new Promise<void>((resolve, reject) => {
    let out = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes("Ready to accept connections")) resolve()
    })
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)))
  })
  return child
}

const stopServer = async (child: ChildProcess) => {
  child.kill("SIGTERM")
  await once(child, "exit")
}

afterAll(async () => {
  if (server !== undefined && server.exitCode === null) await stopServer(server)
  rmSync(dir, { recursive: true, force: true })
})

describe("redis restart", () => {
  it("a server restart mid-stream loses no acknowledged write and leaves no drift", async () => {
    const started = performance.now()
    const port = await freePort()
    server = await startServer(port)
    const driver = await Effect.runPromise(
      RedisStore.make({ url: `redis://127.0.0.1:${port}`, prefix: "restart", retry: { times: 2, baseDelayMs: 20 } })
    )
    try {
      const total = 300
      const stream = await writeThroughRestart(driver, async () => {
        await stopServer(server!)
        await new Promise((r) => setTimeout(r, 1_500))
        server = await startServer(port)
      }, total)
      expect(stream.restartedInStream).toBe(true)
      // Writes went on through the restart: held until the client reconnected, or failed typed and retried.
      expect(stream.sentWhileDown).toBeGreaterThan(0)
      expectTypedRetryable(stream.failures)
      const stored = await Effect.runPromise(driver.get("thing", stream.acknowledged))
      expect(stored.map((d) => d["id"])).toEqual(stream.acknowledged)
      expect(stream.acknowledged).toHaveLength(total)
      const report = await Effect.runPromise(driver.verifyIndexes())
      expect(report.drift).toEqual([])
      expect(report.documents).toBe(total)
      recordRestart({
        target: "faults: Redis server restarted mid-stream",
        store: "redis",
        total,
        lost: total - stored.length,
        seconds: since(started),
        note: `${stream.sentWhileDown} writes sent while it was down; ${stream.failures.length} failed (typed) and were retried`
      })
    } finally {
      await Effect.runPromise(Effect.ignore(driver.close()))
    }
  })
})
