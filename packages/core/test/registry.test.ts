/**
 * Runs every registry-level conformance group against the conformance suite's reference driver, and again on
 * a variant of it that has no transactions and yields to other fibers before every call, so core's
 * compare-and-set fallback and its handling of racing writers are exercised too.
 */
import { Effect } from "effect"
import { describe, it } from "vitest"
import type { Driver } from "../src/index.js"
import type { CaseContext } from "../../conformance/src/Case.js"
import * as ReferenceDriver from "../../conformance/src/ReferenceDriver.js"
import { registryGroups } from "../../conformance/src/cases/registry/index.js"

/** The reference driver without `batch`, interleaving with other fibers at every call. */
const interleaving = (inner: ReferenceDriver.ReferenceDriver): Driver.Driver => {
  const pause = <A, E>(effect: Effect.Effect<A, E>) => Effect.andThen(Effect.sleep(0), effect)
  return {
    name: "reference-interleaving",
    capabilities: { ...inner.capabilities, transactions: false },
    declare: (tables) => inner.declare(tables),
    reserveIds: (table, count) => pause(inner.reserveIds(table, count)),
    insert: (table, docs) => pause(inner.insert(table, docs)),
    update: (table, id, patch, expect) => pause(expect === undefined ? inner.update(table, id, patch) : inner.update(table, id, patch, expect)),
    remove: (table, ids) => pause(inner.remove(table, ids)),
    get: (table, ids) => pause(inner.get(table, ids)),
    find: (table, spec) => pause(inner.find(table, spec)),
    count: (table, where) => pause(inner.count(table, where)),
    batch: undefined,
    close: () => inner.close()
  }
}

const variants: ReadonlyArray<readonly [string, () => CaseContext]> = [
  [
    "reference driver",
    () => {
      const driver = ReferenceDriver.make()
      return { driver, backdoor: driver.backdoor, reopen: undefined }
    }
  ],
  [
    "reference driver without transactions, interleaving",
    () => {
      const inner = ReferenceDriver.make()
      return { driver: interleaving(inner), backdoor: inner.backdoor, reopen: undefined }
    }
  ]
]

for (const [variant, makeContext] of variants) {
  describe(`registry groups on the ${variant}`, () => {
    for (const [groupName, cases] of Object.entries(registryGroups)) {
      describe(groupName, () => {
        for (const c of cases) {
          it(c.name, async () => {
            const ctx = makeContext()
            try {
              await c.run(ctx)
            } finally {
              await Effect.runPromise(ctx.driver.close())
            }
          })
        }
      })
    }
  })
}
