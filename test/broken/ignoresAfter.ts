/** Broken on purpose: ignores keyset cursors, so every "next page" is the first page again. */
import { ReferenceDriver } from "@lineage/conformance"

export const make = (): ReferenceDriver.ReferenceDriver => {
  const inner = ReferenceDriver.make("ignores-after")
  return { ...inner, find: (table, spec) => inner.find(table, { ...spec, after: undefined }) }
}
