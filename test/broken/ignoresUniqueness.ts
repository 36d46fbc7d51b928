/** Broken on purpose: declares tables without their unique constraints, so duplicates slip in. */
import { ReferenceDriver } from "@lineage/conformance"

export const make = (): ReferenceDriver.ReferenceDriver => {
  const inner = ReferenceDriver.make("ignores-uniqueness")
  return { ...inner, declare: (tables) => inner.declare(tables.map((t) => ({ ...t, unique: [] }))) }
}
