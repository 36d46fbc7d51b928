/**
 * The Redis store against the whole contract, every case, no skips: each case on a fresh namespace of a
 * real Redis (dropped afterwards), with a backdoor through the raw client and second handles for the
 * multi-handle cases.
 */
import { conformance } from "@lineage/conformance/vitest"
import type { RedisDriver } from "@lineage/store-redis"
import { backdoor, freshDriver, reopen } from "./support/redis.js"

conformance<RedisDriver>({
  name: "redis store",
  makeDriver: () => freshDriver("conformance"),
  backdoor: (driver) => backdoor(driver),
  reopen: (driver) => reopen(driver)
})
