/**
 * The embedded default store against the whole contract: every case, no skip but the multi-process ones its
 * manifest rules out (`shared: false`: one process owns an in-memory store).
 */
import { conformance } from "@lineage/conformance/vitest"
import * as MemoryStore from "@lineage/store-memory"

conformance({
  name: "memory store",
  makeDriver: async () => MemoryStore.makeDriver()
})
