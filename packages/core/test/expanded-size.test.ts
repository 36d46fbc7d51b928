/**
 * Values built from a few shared objects (each level `{ l: x, r: x }`) are tiny in memory and huge once
 * expanded: 40 levels are 2^41 values. Every store encodes a value whole, so such a value is refused by its
 * expanded size (`Limits.maxValues`, `Limits.maxQueryValues`) before anything walks it, wherever it enters.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as MemoryStore from "@lineage/store-memory"
import type { Json } from "../src/Ast.js"
import { Features, Feature, InvalidQuery, Limits, Params, Run, Tracking, Transform, ValidationError } from "../src/index.js"

const dag = (levels: number): Json => {
  let x: Json = 1
  for (let i = 0; i < levels; i++) x = { l: x, r: x }
  return x
}

const run = <A, E>(effect: Effect.Effect<A, E, never>) => Effect.runPromise(Effect.flip(effect))
const withStore = <A, E>(effect: Effect.Effect<A, E, import("../src/Store.js").Store>) =>
  Effect.provide(effect, MemoryStore.layer())

const transform = Transform.create({ key: "dag.ts", version: "1", kind: "script" })

describe("a value of a few shared objects, huge once expanded", () => {
  it("Limits.nesting counts it expanded, in time proportional to its objects", () => {
    // `levels` levels hold 2^(levels+1) - 1 values: 524,287 at 18, 1,048,575 at 19.
    expect(Limits.nesting(dag(18))).toBeUndefined()
    expect(Limits.nesting(dag(19))).toBe("tooLarge")
    expect(Limits.nesting(dag(60))).toBe("tooLarge")
    expect(Limits.nesting(new Array(2 ** 24))).toBe("tooLarge")
    expect(Limits.nesting(Array.from({ length: Limits.maxValues - 1 }, () => 0))).toBeUndefined()
    expect(Limits.nesting(Array.from({ length: Limits.maxValues }, () => 0))).toBe("tooLarge")
  })

  it("as params of Run.create: a ValidationError naming params and the limit, nothing written", async () => {
    const error = await run(
      withStore(
        Effect.gen(function* () {
          const t = yield* transform
          return yield* Run.create({ transform: t, params: { v: dag(40) } })
        })
      )
    )
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).field).toBe("params")
    expect(String(error)).toContain("1,000,000 values")
  })

  it("as params of track() or Params.serialize: a ValidationError before anything is copied or written", async () => {
    const error = await run(
      withStore(Tracking.track({ transform: { key: "dag.ts", version: "1" }, params: { v: dag(40) }, handleProcess: false }))
    )
    expect(error).toBeInstanceOf(ValidationError)
    expect(String(error)).toContain("1,000,000 values")
    // A list's slots count whether or not they hold anything: 2^32 - 1 holes are refused, not walked.
    const holes = await Effect.runPromise(Effect.flip(Params.serialize({ v: new Array(2 ** 32 - 1) })))
    expect(String(holes)).toContain("1,000,000 values")
    const fits = await Effect.runPromise(Params.serialize({ v: dag(18) }))
    expect(JSON.stringify(fits.params).length).toBeGreaterThan(1_000_000)
  })

  it("as a dict feature value: a ValidationError naming the feature", async () => {
    const error = await run(
      withStore(
        Effect.gen(function* () {
          yield* Feature.create({ name: "config", dtype: "dict" })
          const r = yield* Run.create({ transform: yield* transform })
          return yield* Features.add(r, { config: dag(40) })
        })
      )
    )
    expect(error).toBeInstanceOf(ValidationError)
    expect(String(error)).toContain("config")
    expect(String(error)).toContain("1,000,000 values")
  })

  it("as a query operand: InvalidQuery before any store is touched", async () => {
    const error = await run(withStore(Run.filter({ params__v: dag(40) }).count()))
    expect(error).toBeInstanceOf(InvalidQuery)
    expect(String(error)).toContain(`${Limits.maxQueryValues.toLocaleString("en-US")} values`)
  })

  it("an error quoting such a value shows at most 200 characters of it, without walking the rest", () => {
    for (const value of [dag(40), new Array(2 ** 32 - 1), "x".repeat(1_000_000), { a: { b: [1, 2, { c: dag(30) }] } }]) {
      const message = new ValidationError({ registry: "Run", field: "params", value, expected: "anything" }).message
      expect(message.length).toBeLessThan(320)
      expect(message).toContain("…")
    }
  })

  it("a full in list still fits in a query", async () => {
    const ids = Array.from({ length: Limits.maxListValues }, (_, i) => i + 1)
    expect(await Effect.runPromise(withStore(Run.filter({ id__in: ids, status: "started" }).count()))).toBe(0)
  })
})
