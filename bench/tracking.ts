/** `track()` + `finish()`: a whole tracked run's overhead on each store, as a script pays it. */
import { Store, Tracking } from "@lineage/core"
import * as MemoryStore from "@lineage/store-memory"
import * as RedisStore from "@lineage/store-redis"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { medianOf, quick, runner } from "./common.js"
import { url } from "./redis.js"

const trackFinish = async (driver: Store.StoreShape["driver"]): Promise<number> => {
  const store = await Effect.runPromise(Store.make(driver))
  const run = runner(store)
  let i = 0
  const once = async () => {
    await run(Tracking.track({ transform: { key: "bench-tracking.ts", version: "1" }, params: { i: i++, lr: 0.01 }, handleProcess: false }))
    await run(Tracking.finish())
  }
  for (let w = 0; w < (quick ? 2 : 5); w++) await once()
  return medianOf(quick ? 5 : 30, once)
}

export const memory = (): Promise<number> => trackFinish(MemoryStore.makeDriver())

export const redis = async (): Promise<number> => {
  const driver = await Effect.runPromise(RedisStore.make({ url, prefix: `lineage-bench-track:${process.pid}-${randomBytes(3).toString("hex")}` }))
  try {
    return await trackFinish(driver)
  } finally {
    await Effect.runPromise(Effect.ignore(driver.drop()))
    await Effect.runPromise(driver.close())
  }
}
