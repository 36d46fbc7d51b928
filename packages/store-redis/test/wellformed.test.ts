/**
 * Text with an unpaired UTF-16 surrogate never reaches Redis: Redis keeps UTF-8, which has no encoding for
 * one, so a stored copy would read back as U+FFFD and its index entries would disagree with the document.
 * Every such write is refused by the domain, and `verifyIndexes` finds the namespace consistent after them.
 */
import { Effect, Exit } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Feature, Features, Run, Store, Transform } from "@lineage/core"
import type { RedisDriver } from "../src/index.js"
import { freshDriver, run } from "../../../test/support/redis.js"

describe("unpaired surrogates on Redis", () => {
  let driver: RedisDriver
  let store: Store.StoreShape
  beforeEach(async () => {
    driver = await freshDriver("wellformed")
    store = await run(Store.make(driver))
  })
  afterEach(() => run(driver.close()))

  const on = <A, E>(effect: Effect.Effect<A, E, Store.Store>) => Effect.runPromiseExit(Effect.provideService(effect, Store.Store, store))

  it("are refused on every write, and the indexes show no drift afterwards", async () => {
    const ok = async <A, E>(effect: Effect.Effect<A, E, Store.Store>) => {
      const exit = await on(effect)
      if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
      return exit.value
    }
    await ok(Feature.create({ name: "label", dtype: "str" }))
    const t = await ok(Transform.create({ key: "astral 🧬" }))
    const r = await ok(Run.create({ transformId: t.id, name: "r 🧬", params: { "k🧬": "v🧬" } }))
    await ok(Features.add(r, { label: "🧬" }))
    const attempts = [
      Transform.create({ key: "lone \uD800" }),
      Transform.create({ key: "k", description: "\uDC00" }),
      Run.create({ transformId: t.id, name: "\uDBFF" }),
      Run.create({ transformId: t.id, params: { "\uD800": 1 } }),
      Run.update(r, { name: "x\uDFFF" }),
      Features.add(r, { label: "\uD83E" }),
      Feature.create({ name: "\uD800", dtype: "int" })
    ] as const
    for (const attempt of attempts) {
      const exit = await on(attempt as Effect.Effect<unknown, { readonly _tag: string }, Store.Store>)
      expect(Exit.isFailure(exit) && exit.cause.reasons.some((x) => x._tag === "Fail" && x.error._tag === "ValidationError")).toBe(true)
    }
    const report = await run(driver.verifyIndexes())
    expect(report.drift).toEqual([])
    expect(report.ok).toBe(true)
    const [stored] = await ok(Store.Store.use((s) => s.get(Store.entity(Run.model, Run.schema), [r.id])))
    expect(stored?.name).toBe("r 🧬")
    expect(stored?.featureValues).toEqual({ label: "🧬" })
  })
})
