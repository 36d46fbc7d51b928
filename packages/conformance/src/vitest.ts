/**
 * The suite as vitest tests: a `describe` per group, an `it` per case, each case on a fresh store.
 *
 * Cases whose capability the store lacks are not registered at all (a skipped test hides too easily); each is
 * announced with its reason at collection time, and one test checks that a fresh driver's manifest still
 * implies exactly that list, so a store cannot skip by flipping its manifest between instances.
 *
 * ```ts
 * import { conformance } from "@lineage/conformance/vitest"
 * conformance({ name: "my store", makeDriver: async () => makeMyDriver() })
 * ```
 */
import assert from "node:assert/strict"
import type { Driver } from "@lineage/core"
import { describe, it } from "vitest"
import type { Case, Group } from "./Case.js"
import { fullName, plan } from "./Case.js"
import { allCases } from "./cases/index.js"
import type { StoreUnderTest } from "./Runner.js"
import { defaultTimeoutMs, probe, runCase } from "./Runner.js"

export type { Backdoor, Case, CaseContext, Group } from "./Case.js"
export { groups } from "./cases/index.js"
export type { StoreUnderTest } from "./Runner.js"
export { defaultCallTimeoutMs, defaultTimeoutMs } from "./Runner.js"

export interface VitestConformanceOptions<D extends Driver.Driver = Driver.Driver> extends StoreUnderTest<D> {
  /** Names the top-level `describe`. */
  readonly name: string
  /** Groups to register; every group unless given. */
  readonly groups?: ReadonlyArray<Group> | undefined
  /**
   * Runs the cases of a group concurrently (up to vitest's `maxConcurrency`, 5 by default), for a store whose
   * cases spend their time waiting on a server: each case still has a store of its own.
   */
  readonly concurrent?: boolean | undefined
}

export const conformance = <D extends Driver.Driver>(options: VitestConformanceOptions<D>): void => {
  const cases: ReadonlyArray<Case> = options.groups === undefined ? allCases : options.groups.flat()
  const timeout = (options.timeoutMs ?? defaultTimeoutMs) + 5_000
  describe(`conformance: ${options.name}`, async () => {
    const manifest = await probe(options)
    const planned = plan(cases, manifest)
    for (const skip of planned.skipped) {
      console.info(`[conformance: ${options.name}] skipped ${fullName(skip)}: ${skip.reason}`)
    }
    const byGroup = new Map<string, Array<Case>>()
    for (const c of planned.run) {
      const list = byGroup.get(c.group) ?? []
      list.push(c)
      byGroup.set(c.group, list)
    }
    for (const [group, list] of byGroup) {
      describe(group, { concurrent: options.concurrent === true }, () => {
        for (const c of list) it(c.name, () => runCase(c, options), timeout)
      })
    }
    it("capability skips are declared", async () => {
      const again = plan(cases, await probe(options))
      assert.deepStrictEqual(again.skipped, planned.skipped, "a fresh driver's manifest implies other skips")
      assert.equal(planned.run.length + planned.skipped.length, cases.length)
      for (const skip of planned.skipped) assert.match(skip.reason, /^requires /)
    })
  })
}
