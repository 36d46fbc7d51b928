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
import { type Driver, StoreError } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import { freePort } from "../support/redis.js"
import { record, since } from "./support/figures.js"

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

const thing: Driver.TableSpec = {
  name: "thing",
  unique: [{ name: "thing_uid", fields: ["uid"] }],
  indexes: [{ path: ["n"], kind: "sorted" }]
}

describe("redis restart", () => {
  it("a server restart mid-stream loses no acknowledged write and leaves no drift", async () => {
    const started = performance.now()
    const port = await freePort()
    server = await startServer(port)
    const driver = await Effect.runPromise(
      RedisStore.make({ url: `redis://127.0.0.1:${port}`, prefix: "restart", retry: { times: 2, baseDelayMs: 20 } })
    )
    try {
      await Effect.runPromise(driver.declare([thing]))
      const total = 300
      const first = await Effect.runPromise(driver.reserveIds("thing", total))
      const acknowledged: Array<number> = []
      const failures: Array<unknown> = []
      let restarted = false
      let down = false
      let startedWhileDown = 0
      for (let i = 0; i < total; i++) {
        const id = first + i
        if (i === 100) {
          // Down in the middle of the stream, back a moment later on the same port and files.
          const stopping = server
          down = true
          void stopServer(stopping).then(async () => {
            await new Promise((r) => setTimeout(r, 1_500))
            server = await startServer(port)
            down = false
            restarted = true
          })
        }
        // A write that fails while the server is down is retried until it is acknowledged.
        for (let attempt = 0; ; attempt++) {
          if (down) startedWhileDown++
          const exit = await Effect.runPromiseExit(driver.insert("thing", [{ id, uid: `u${id}`, n: i }]))
          if (exit._tag === "Success") {
            acknowledged.push(id)
            break
          }
          const error = exit.cause.reasons.find((r) => r._tag === "Fail")
          const failure = error?._tag === "Fail" ? error.error : exit.cause
          failures.push(failure)
          // A re-sent write whose first attempt did land is a unique violation on its own id: it is there.
          if (failure instanceof StoreError && failure.reason._tag === "UniqueViolation") {
            acknowledged.push(id)
            break
          }
          expect(attempt).toBeLessThan(200)
          await new Promise((r) => setTimeout(r, 25))
        }
      }
      expect(restarted).toBe(true)
      // Writes went on through the restart: held until the client reconnected, or failed typed and retried.
      expect(startedWhileDown).toBeGreaterThan(0)
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(StoreError)
        const reason = (failure as StoreError).reason._tag
        expect(["Unavailable", "UniqueViolation"]).toContain(reason)
        if (reason === "Unavailable") expect((failure as StoreError).isRetryable).toBe(true)
      }
      const stored = await Effect.runPromise(driver.get("thing", acknowledged))
      expect(stored.map((d) => d["id"])).toEqual(acknowledged)
      expect(acknowledged).toHaveLength(total)
      const report = await Effect.runPromise(driver.verifyIndexes())
      expect(report.drift).toEqual([])
      expect(report.documents).toBe(total)
      record({
        target: "faults: Redis server restarted mid-stream",
        store: "redis",
        processes: 1,
        operations: total,
        faults: 1,
        inputs: 0,
        lost: total - stored.length,
        seconds: since(started),
        note: `${startedWhileDown} writes sent while it was down; ${failures.length} failed (typed) and were retried`
      })
    } finally {
      await Effect.runPromise(Effect.ignore(driver.close()))
    }
  })
})
