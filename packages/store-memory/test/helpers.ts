import { Effect } from "effect"
import type { Driver, StoreError } from "@lineage/core"
import { makeDriver, type MemoryDriver } from "../src/index.js"

export const run = <A>(effect: Effect.Effect<A, StoreError>): A => Effect.runSync(effect)
export const failure = <A>(effect: Effect.Effect<A, StoreError>): StoreError => Effect.runSync(Effect.flip(effect))

export const runsTable: Driver.TableSpec = {
  name: "runs",
  unique: [
    { name: "runs_uid", fields: ["uid"] },
    { name: "runs_key", fields: ["project", "key"] }
  ],
  indexes: [
    { path: ["status"], kind: "hash" },
    { path: ["score"], kind: "sorted" },
    { path: ["params", "lr"], kind: "sorted" }
  ]
}

export const driverWith = (...tables: ReadonlyArray<Driver.TableSpec>): MemoryDriver => {
  const driver = makeDriver()
  run(driver.declare(tables))
  return driver
}
