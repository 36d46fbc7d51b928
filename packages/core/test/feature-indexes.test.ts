/**
 * Creating features costs what is new: each `Feature.create` declares the indexes of its own feature, never
 * again those of the features before it, so creating N features hands the driver O(N) index specs in all.
 * Checked by counting what reaches a real driver (the conformance suite's reference driver) through a
 * counting decorator, and by queries on the features afterwards.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Feature, Features, Q, Run, Store, Transform } from "../src/index.js"
import type { Driver } from "../src/index.js"
import * as ReferenceDriver from "../../conformance/src/ReferenceDriver.js"

interface Counted {
  readonly driver: Driver.Driver
  /** Index specs passed to `declare`, per call. */
  readonly declared: Array<number>
}

const counting = (inner: Driver.Driver): Counted => {
  const declared: Array<number> = []
  return {
    declared,
    driver: {
      ...inner,
      declare: (tables) => {
        declared.push(tables.reduce((n, t) => n + t.indexes.length, 0))
        return inner.declare(tables)
      }
    }
  }
}

const createFeatures = async (n: number): Promise<{ readonly perCreate: ReadonlyArray<number>; readonly store: Store.StoreShape }> => {
  const { driver, declared } = counting(ReferenceDriver.make())
  const store = await Effect.runPromise(Store.make(driver))
  const opening = declared.length
  for (let i = 0; i < n; i++)
    await Effect.runPromise(Effect.provideService(Feature.create({ name: `f${i}`, dtype: "int" }), Store.Store, store))
  return { perCreate: declared.slice(opening), store }
}

describe("feature creation", () => {
  it("declares only the new feature's indexes: the index specs declared grow linearly with the features", async () => {
    const { perCreate: small } = await createFeatures(20)
    const { perCreate: large, store } = await createFeatures(200)
    // Every creation declares the same few specs (the tables' own and one per feature-holding table), so
    // ten times the features is ten times the specs, not a hundred times.
    const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
    expect(sum(large)).toBe(10 * sum(small))
    expect(new Set(large).size).toBe(1)

    // And every feature is still served: a value set on a run is found by a query on it.
    const found = await Effect.runPromise(
      Effect.provideService(
        Effect.gen(function* () {
          const transform = yield* Transform.create({ key: "script.ts" })
          const run = yield* Run.create({ transformId: transform.id })
          yield* Features.add(run, { f0: 1, f199: 7 })
          return [yield* Run.filter(Q.where("f199", "eq", 7)).count(), yield* Run.filter(Q.where("f0", "eq", 2)).count()] as const
        }),
        Store.Store,
        store
      )
    )
    expect(found).toEqual([1, 0])
  })
})
