/**
 * The MongoDB store against the whole contract: each case on a fresh database (dropped afterwards) of the
 * server `support/mongo.ts` picked (MONGODB_URL, else the emulator; the output says which), with a backdoor
 * through a separate client and second handles for the multi-handle cases.
 */
import { afterAll } from "vitest"
import { conformance } from "@lineage/conformance/vitest"
import type { MongoDriver } from "@lineage/store-mongodb"
import { backdoor, closeAll, freshDriver, reopen } from "./support/mongo.js"

afterAll(closeAll)

conformance<MongoDriver>({
  name: "mongodb store",
  makeDriver: () => freshDriver("c"),
  backdoor: (driver) => backdoor(driver),
  reopen: (driver) => reopen(driver),
  // A differential case sends hundreds of queries and takes up to 30 s on a loaded machine: a case gets 90 s
  // (vitest 95 s). A hang still fails fast, on the call that does not answer (`callTimeoutMs`, 10 s).
  timeoutMs: 90_000
})
