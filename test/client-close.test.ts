/**
 * After `close()`, every call of the Promise face rejects with a typed `StoreError` (reason `Closed`), on every
 * store: not Effect's bare "ManagedRuntime disposed" string. `close()` twice is fine.
 */
import { afterAll, describe, expect, it } from "vitest"
import { Lineage, StoreError } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import { Effect } from "effect"
import { freshPrefix, redisServer } from "./support/redis.js"

const rejection = async (call: () => Promise<unknown>): Promise<unknown> => {
  try {
    await call()
  } catch (e) {
    return e
  }
  throw new Error("expected a rejection")
}

const expectClosed = async (call: () => Promise<unknown>) => {
  const error = await rejection(call)
  expect(error, String(error)).toBeInstanceOf(StoreError)
  const e = error as StoreError
  expect(e.reason._tag).toBe("Closed")
  expect(e.isRetryable).toBe(false)
  expect(e.message).toContain("close()")
}

const redisUrls: Array<string> = []
afterAll(async () => {
  for (const url of redisUrls) {
    const driver = await Effect.runPromise(RedisStore.fromUrl(url))
    await Effect.runPromise(Effect.andThen(driver.drop(), driver.close()))
  }
})

const stores: ReadonlyArray<readonly [string, () => Promise<string>]> = [
  ["memory", async () => "memory:"],
  [
    "redis",
    async () => {
      const url = `${(await redisServer()).url}/0?prefix=${encodeURIComponent(freshPrefix("closed"))}`
      redisUrls.push(url)
      return url
    }
  ]
]

describe.each(stores)("a closed client (%s)", (_, url) => {
  it("rejects every call with StoreError Closed, including iterating a query set; close() twice is fine", async () => {
    const ln = await Lineage.connect(await url())
    const transform = await ln.Transform.create({ key: "closing", kind: "script" })
    const run = await ln.Run.create({ transform })
    const pending = ln.Run.filter({ transform })
    await ln.close()
    await ln.close()
    await expectClosed(() => ln.Run.create({ transform }))
    await expectClosed(() => ln.Transform.get({ key: "closing" }))
    await expectClosed(() => pending.all())
    await expectClosed(() => pending.count())
    await expectClosed(async () => {
      for await (const r of pending) void r
    })
    await expectClosed(() => run.features.add({ x: 1 }))
    await expectClosed(() => ln.track())
    await expectClosed(() => ln.step(async () => 1)())
  })
})
