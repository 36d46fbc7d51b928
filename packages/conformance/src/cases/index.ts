/**
 * The group registry. Groups are exported one by one and together; a new level (e.g. registry-level groups
 * in `cases/registry/`) adds its record here and joins `groups` and `allCases` without touching the runners.
 */
import type { Case, Group } from "../Case.js"
import * as driver from "./driver/index.js"
import { registryGroups } from "./registry/index.js"

/** Driver-level groups, in the order they run: cheap and fundamental first, randomised last. */
export const driverGroups = {
  manifest: driver.manifest,
  crud: driver.crud,
  ids: driver.ids,
  uniqueness: driver.uniqueness,
  operators: driver.operators,
  combinators: driver.combinators,
  ordering: driver.ordering,
  paging: driver.paging,
  batch: driver.batch,
  concurrency: driver.concurrency,
  errors: driver.errors,
  differential: driver.differential
} as const satisfies Record<string, Group>

export { registryGroups }

/** Every group: the driver's contract first, then the same contract seen through the domain registries. */
export const groups = { ...driverGroups, ...registryGroups } as const satisfies Record<string, Group>

export const allCases: ReadonlyArray<Case> = Object.values(groups).flat()
