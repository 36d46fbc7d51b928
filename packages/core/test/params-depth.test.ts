import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import { maxDepth } from "../src/Limits.js"
import { Run } from "../src/Registry.js"
import { Store, make as makeStore } from "../src/Store.js"
import * as Tracking from "../src/Tracking.js"

/** `{ a: { a: … { a: 1 } } }` with `depth` objects. */
const nested = (depth: number): { readonly [key: string]: unknown } => {
  let value: { readonly [key: string]: unknown } = { a: 1 }
  for (let i = 1; i < depth; i++) value = { a: value }
  return value
}

const tracked = (params: { readonly [key: string]: unknown }) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const outcome = yield* Effect.result(Tracking.track({ transform: { key: "deep" }, params, handleProcess: false, heartbeatMs: 60_000 }))
      if (outcome._tag === "Success") yield* Tracking.finish()
      return { outcome, runs: yield* Run.filter().count() }
    }).pipe(Effect.provideServiceEffect(Store, makeStore(MemoryStore.makeDriver())))
  )

describe("params nesting depth", () => {
  it(`params nested 10,000 deep are a ValidationError naming the path, before anything is written`, async () => {
    const { outcome, runs } = await tracked(nested(10_000))
    expect(outcome._tag).toBe("Failure")
    if (outcome._tag !== "Failure") return
    const error = outcome.failure as { readonly _tag: string; readonly registry: string; readonly field: string; readonly message: string }
    expect(error._tag).toBe("ValidationError")
    expect(error.registry).toBe("Run")
    expect(error.field).toBe("params")
    expect(error.message).toContain("a.a.a")
    expect(error.message).toContain(`at most ${maxDepth}`)
    expect(runs).toBe(0)
  })

  it(`${maxDepth} levels are accepted, ${maxDepth + 1} refused`, async () => {
    const accepted = await tracked(nested(maxDepth))
    expect(accepted.outcome._tag).toBe("Success")
    const refused = await tracked(nested(maxDepth + 1))
    expect(refused.outcome._tag).toBe("Failure")
  })
})
