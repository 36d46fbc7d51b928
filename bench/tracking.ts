/** `track()` + `finish()`: a whole tracked run's overhead on each store, as a script pays it. */
import { Store, Tracking } from "@lineage/core"
import * as MemoryStore from "@lineage/store-memory"
import * as PostgresStore from "@lineage/store-postgres"
import * as RedisStore from "@lineage/store-redis"
import * as SqliteStore from "@lineage/store-sqlite"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { medianOf, quick, runner } from "./common.js"
import { url as postgresUrl } from "./postgres.js"
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

/** On a database file under the temp directory (WAL, as a user's default store), deleted afterwards. */
export const sqlite = async (): Promise<number> => {
  const dir = mkdtempSync(join(tmpdir(), "lineage-bench-track-"))
  const driver = await Effect.runPromise(SqliteStore.make({ filename: join(dir, "track.db") }))
  try {
    return await trackFinish(driver)
  } finally {
    await Effect.runPromise(driver.close())
    rmSync(dir, { recursive: true, force: true })
  }
}

/** In a fresh schema of the PostgreSQL server, dropped afterwards. */
export const postgres = async (): Promise<number> => {
  const driver = await Effect.runPromise(PostgresStore.makeDriver({ url: postgresUrl, schema: `lineage_bench_track_${process.pid}_${randomBytes(3).toString("hex")}` }))
  try {
    return await trackFinish(driver)
  } finally {
    await Effect.runPromise(Effect.ignore(driver.drop()))
    await Effect.runPromise(driver.close())
  }
}
