/**
 * `@lineage/conformance`: the contract every lineage store must meet, as plain-data cases and a
 * runner-agnostic entry. For vitest, import `conformance` from `@lineage/conformance/vitest`.
 *
 * ```ts
 * const report = await runConformance({ makeDriver: async () => MyStore.makeDriver(freshUrl()) })
 * if (report.failed > 0) process.exit(1)
 * ```
 */
import type { Driver } from "@lineage/core"
import type { Case, Group, Skip } from "./Case.js"
import { fullName, skipReason } from "./Case.js"
import { allCases } from "./cases/index.js"
import type { StoreUnderTest } from "./Runner.js"
import { probe, runCase } from "./Runner.js"

export type { Backdoor, BooleanCapability, Case, CaseContext, CapabilityRequirement, Group, Manifest, Skip } from "./Case.js"
export { fullName, plan, skipReason } from "./Case.js"
export { allCases, driverGroups, groups, registryGroups } from "./cases/index.js"
export type { StoreUnderTest } from "./Runner.js"
export { defaultCallTimeoutMs, defaultTimeoutMs, probe, runCase } from "./Runner.js"
export * as ReferenceDriver from "./ReferenceDriver.js"
export * as Fixtures from "./Fixtures.js"

export interface ConformanceOptions<D extends Driver.Driver = Driver.Driver> extends StoreUnderTest<D> {
  /** Groups to run (e.g. `[groups.crud, groups.paging]`); every group unless given. */
  readonly groups?: ReadonlyArray<Group> | undefined
  /** Where per-case lines and the summary go; `console.log` unless given. */
  readonly log?: ((line: string) => void) | undefined
}

export interface Failure {
  readonly group: string
  readonly name: string
  readonly error: unknown
}

export interface ConformanceReport {
  readonly passed: number
  readonly failed: number
  readonly skipped: ReadonlyArray<Skip>
  readonly failures: ReadonlyArray<Failure>
}

const errorText = (error: unknown): string => {
  if (error instanceof Error) return error.message.split("\n").slice(0, 12).join("\n    ")
  return String(error)
}

/**
 * Runs the cases one after another, each on a fresh store, and reports. Prints one line per case and a final
 * line `N passed, N failed, N skipped`. Never throws for a failing case: the report says what failed.
 */
export const runConformance = async <D extends Driver.Driver>(options: ConformanceOptions<D>): Promise<ConformanceReport> => {
  const log = options.log ?? ((line: string) => console.log(line))
  const cases: ReadonlyArray<Case> = options.groups === undefined ? allCases : options.groups.flat()
  const manifest = await probe(options)
  let passed = 0
  const failures: Array<Failure> = []
  const skipped: Array<Skip> = []
  for (const c of cases) {
    const name = fullName(c)
    const reason = skipReason(c, manifest)
    if (reason !== undefined) {
      skipped.push({ group: c.group, name: c.name, reason })
      log(`- ${name} (skipped: ${reason})`)
      continue
    }
    try {
      await runCase(c, options)
      passed++
      log(`✓ ${name}`)
    } catch (error) {
      failures.push({ group: c.group, name: c.name, error })
      log(`✗ ${name}\n    ${errorText(error)}`)
    }
  }
  log(`${passed} passed, ${failures.length} failed, ${skipped.length} skipped`)
  return { passed, failed: failures.length, skipped, failures }
}
