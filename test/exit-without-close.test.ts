/**
 * A script that forgets `close()` exits by itself, on Redis as on memory: an idle client holds no socket or
 * timer that keeps Node running, while a pending request does (the script's top-level awaits complete and
 * its writes are stored). Redis going away while the script is still busy leaves a reconnecting client that
 * must not hold the process either.
 */
import { spawn, spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import { Lineage } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import { freePort, freshPrefix, redisServer } from "./support/redis.js"

const script = fileURLToPath(new URL("./fixtures/no-close.ts", import.meta.url))

/** How long a script that ended may take to exit: Node's start and tsx's compile included. */
const exitWithinMs = 10_000

interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly uid: string | undefined
  readonly stderr: string
  /** From the printed uid to the exit. */
  readonly lingeredMs: number
}

/** Runs the script on `store`; `onWrote` runs once it printed its run's uid. Kills it after `exitWithinMs`. */
const runScript = (store: string, env: Record<string, string> = {}, onWrote: () => void = () => {}): Promise<Ended> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@lineage/source", script], {
      env: { ...process.env, LINEAGE_STORE: store, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let stderr = ""
    let wroteAt = Date.now()
    const killer = setTimeout(() => child.kill("SIGKILL"), exitWithinMs)
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.on("data", (chunk: Buffer) => {
      const before = out
      out += chunk.toString()
      if (!/run [0-9A-Za-z]{16}/.test(before) && /run [0-9A-Za-z]{16}/.test(out)) {
        wroteAt = Date.now()
        onWrote()
      }
    })
    child.once("exit", (code, signal) => {
      clearTimeout(killer)
      resolve({ code, signal, uid: /run ([0-9A-Za-z]{16})/.exec(out)?.[1], stderr, lingeredMs: Date.now() - wroteAt })
    })
  })

describe("a script that forgets close()", () => {
  it("on memory, exits by itself (the reference behaviour)", async () => {
    const ended = await runScript("memory:")
    expect(ended.signal, ended.stderr).toBeNull()
    expect(ended.code, ended.stderr).toBe(0)
    expect(ended.uid).toBeDefined()
  }, 20_000)

  describe("on Redis", () => {
    let url: string
    let ln: Lineage.Client
    beforeAll(async () => {
      const server = await redisServer()
      url = `${server.url}/0?prefix=${encodeURIComponent(freshPrefix("no-close"))}`
      ln = await Lineage.connect(url)
    })
    afterAll(async () => {
      await ln.close()
      const driver = await Effect.runPromise(RedisStore.fromUrl(url))
      await Effect.runPromise(Effect.andThen(driver.drop(), driver.close()))
    })

    it("exits by itself with code 0 once done, and its writes are stored", async () => {
      const ended = await runScript(url)
      expect(ended.signal, `killed after ${exitWithinMs} ms: the idle client kept the process alive`).toBeNull()
      expect(ended.code, ended.stderr).toBe(0)
      expect(ended.lingeredMs).toBeLessThan(2_000)
      const run = await ln.Run.get(ended.uid!)
      expect(run.uid).toBe(ended.uid)
    }, 20_000)

    it("exits by itself when Redis went away while the script was still busy (the client keeps reconnecting)", async () => {
      const port = await freePort()
      const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" })
      try {
        for (let i = 0; i < 100 && spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout.trim() !== "PONG"; i++)
          await new Promise((r) => setTimeout(r, 50))
        const ended = await runScript(`redis://127.0.0.1:${port}/0?prefix=gone`, { BUSY_MS: "1000" }, () => server.kill("SIGKILL"))
        expect(ended.signal, `killed after ${exitWithinMs} ms: the reconnecting client kept the process alive`).toBeNull()
        expect(ended.code, ended.stderr).toBe(0)
        expect(ended.uid).toBeDefined()
      } finally {
        if (server.exitCode === null) server.kill("SIGKILL")
      }
    }, 20_000)
  })
})
