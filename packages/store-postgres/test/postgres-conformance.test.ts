/**
 * The PostgreSQL store against the whole contract, every case, no skips: each case on a fresh schema of the
 * test server (dropped afterwards), with a backdoor through a separate pool and second handles (a second
 * pool on the same schema) for the multi-handle cases.
 */
import { afterAll } from "vitest"
import { conformance } from "@lineage/conformance/vitest"
import type { PostgresDriver } from "../src/index.js"
import { backdoor, closeAdmin, dropSchema, freshDriver, reopen } from "./support.js"

afterAll(closeAdmin)

conformance<PostgresDriver>({
  name: "postgres store",
  makeDriver: () => freshDriver("c"),
  backdoor: (driver) => backdoor(driver),
  reopen: (driver) => reopen(driver),
  teardown: (driver) => dropSchema(driver.schema),
  // A differential case sends hundreds of queries; a hang still fails fast on the call that does not answer.
  timeoutMs: 90_000,
  // The cases wait on the server, each on a schema of its own: they overlap.
  concurrent: true
})
