/**
 * The registry-level groups: the same contract as the driver groups, seen through the domain (`Transform`,
 * `Run`, …) on a `Store` built from the driver under test.
 */
import type { Group } from "../../Case.js"
import { artifacts } from "./artifacts.js"
import { constraints } from "./constraints.js"
import { errors } from "./errors.js"
import { featureNames } from "./featureNames.js"
import { features } from "./features.js"
import { filters } from "./filters.js"
import { storageFormat } from "./format.js"
import { get } from "./get.js"
import { inputs } from "./inputs.js"
import { limits } from "./limits.js"
import { lineageCases } from "./lineage.js"
import { metrics } from "./metrics.js"
import { querysets } from "./querysets.js"
import { records } from "./records.js"
import { tracking } from "./tracking.js"
import { trash } from "./trash.js"
import { versioning } from "./versioning.js"

export const registryGroups = {
  storageFormat,
  records,
  get,
  constraints,
  filters,
  querysets,
  trash,
  versioning,
  features,
  featureNames,
  artifacts,
  lineage: lineageCases,
  tracking,
  domainErrors: errors,
  inputs,
  limits,
  metrics
} satisfies { readonly [name: string]: Group }

export const registryCases: Group = Object.values(registryGroups).flat()
