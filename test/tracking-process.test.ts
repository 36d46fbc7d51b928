/**
 * A tracked process that ends badly still leaves a truthful run, on a store several processes share
 * (Redis): SIGTERM marks it aborted, an uncaught exception errored, and SIGKILL leaves it to be found stale.
 * With two clients tracking in one process, both runs are marked.
 */
import { once } from "node:events"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Lineage, StoreError } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import { Effect } from "effect"
import { freshPrefix, redisServer } from "./support/redis.js"
import * as Tracked from "./support/tracked.js"

let url: string
let ln: Lineage.Client

beforeAll(async () => {
  const server = await redisServer()
  url = `${server.url}?prefix=${encodeURIComponent(freshPrefix("tracking"))}`
  ln = await Lineage.connect(url)
})
afterAll(async () => {
  await ln.close()
  const driver = await Effect.runPromise(RedisStore.fromUrl(url))
  await Effect.runPromise(Effect.andThen(driver.drop(), driver.close()))
})

/** Starts the tracked process on this file's store and resolves with it once it printed its run's uid. */
const startTracked = (mode: "wait" | "throw", clients: 1 | 2 = 1) => Tracked.startTracked(mode, { LINEAGE_STORE: url }, clients)

describe("tracked processes on a shared store", () => {
  it("SIGTERM: the run is aborted, then the process ends as SIGTERM would end it", async () => {
    const { child, uid } = await startTracked("wait")
    expect((await ln.Run.get(uid)).status).toBe("started")
    child.kill("SIGTERM")
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null]
    expect(code).toBeNull()
    expect(signal).toBe("SIGTERM")
    const run = await ln.Run.get(uid)
    expect(run.status).toBe("aborted")
    expect(run.finishedAt).toBeInstanceOf(Date)
  })

  it("an uncaught exception: the run is errored and the process exits with code 1", async () => {
    const { child, uid, stderr } = await startTracked("throw")
    const [code] = (await once(child, "exit")) as [number | null]
    expect(code).toBe(1)
    expect(stderr()).toContain("the job failed")
    const run = await ln.Run.get(uid)
    expect(run.status).toBe("errored")
    expect(run.finishedAt).toBeInstanceOf(Date)
  })

  it("SIGKILL: nothing can mark the run, and it is found as stale once its heartbeat stops", async () => {
    const { child, uid } = await startTracked("wait")
    await new Promise((resolve) => setTimeout(resolve, 350))
    expect((await ln.Run.stale({ olderThanMs: 300 }).all()).map((r) => r.uid)).not.toContain(uid)
    child.kill("SIGKILL")
    await once(child, "exit")
    await new Promise((resolve) => setTimeout(resolve, 600))
    const run = await ln.Run.get(uid)
    expect(run.status).toBe("started")
    expect((await ln.Run.stale({ olderThanMs: 300 }).all()).map((r) => r.uid)).toContain(uid)
  })

  it("two clients in one process: SIGTERM marks both runs aborted, then the process ends as SIGTERM would", async () => {
    const { child, uid } = await startTracked("wait", 2)
    const [a, b, , env] = uid.split(" ")
    expect(env).toBe(b)
    child.kill("SIGTERM")
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null]
    expect([code, signal]).toEqual([null, "SIGTERM"])
    for (const run of [await ln.Run.get(a!), await ln.Run.get(b!)]) {
      expect(run.status).toBe("aborted")
      expect(run.finishedAt).toBeInstanceOf(Date)
    }
  })

  it("two clients in one process: an uncaught exception marks both runs errored, then exits with code 1", async () => {
    const { child, uid, stderr } = await startTracked("throw", 2)
    const [a, b] = uid.split(" ")
    const [code] = (await once(child, "exit")) as [number | null]
    expect(code).toBe(1)
    expect(stderr()).toContain("the job failed")
    expect([(await ln.Run.get(a!)).status, (await ln.Run.get(b!)).status]).toEqual(["errored", "errored"])
  })

  it("a child process started from a tracked run is initiated by it", async () => {
    const parent = await ln.track({ transform: { key: "parent.ts", kind: "script" } })
    const { child, uid } = await startTracked("wait")
    child.kill("SIGTERM")
    await once(child, "exit")
    expect((await ln.Run.get(uid)).initiatedByRunId).toBe(parent.id)
    await ln.finish()
  })
})

describe("connecting by URL", () => {
  it("an unknown scheme says which URLs work; a password never appears in the error", async () => {
    const error = await Lineage.connect("cassandra://ada:hunter2@db/lab").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StoreError)
    expect((error as StoreError).message).toContain("@lineage/store-redis (redis: rediss: redis+cluster: rediss+cluster:)")
    expect((error as StoreError).message).not.toContain("hunter2")
  })

})
