/**
 * The reference driver is the simplest store that passes: every case must pass against it, or the suite is
 * demanding something the reference evaluator itself does not do.
 */
import { ReferenceDriver } from "@lineage/conformance"
import { conformance } from "@lineage/conformance/vitest"

conformance({
  name: "reference driver",
  makeDriver: async () => ReferenceDriver.make(),
  backdoor: (driver) => driver.backdoor
})
