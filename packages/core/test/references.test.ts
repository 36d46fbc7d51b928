/**
 * A reference is checked whatever other keys of the input name it: a relation key given as undefined after
 * the reference field (which the insert skips) must not hide the field's id from the check.
 */
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { Run, Store, Transform, ValidationError } from "../src/index.js"
import * as MemoryStore from "../../store-memory/src/index.js"

describe("references given twice", () => {
  it("an undefined relation key after a dangling reference field does not let the id through", async () => {
    const store = await Effect.runPromise(Store.make(MemoryStore.makeDriver()))
    const exit = <A, E>(effect: Effect.Effect<A, E, Store.Store>) => Effect.runPromiseExit(Effect.provideService(effect, Store.Store, store))
    const refused = (e: Exit.Exit<unknown, unknown>) =>
      Exit.isFailure(e) && e.cause.reasons.some((r) => r._tag === "Fail" && r.error instanceof ValidationError && r.error.field === "transformId")

    const transform = await Effect.runPromise(Effect.provideService(Transform.create({ key: "refs.ts" }), Store.Store, store))
    const run = await Effect.runPromise(Effect.provideService(Run.create({ transformId: transform.id }), Store.Store, store))
    const dangling = transform.id + 1_000

    expect(refused(await exit(Run.create({ transformId: dangling, transform: undefined } as never)))).toBe(true)
    expect(refused(await exit(Run.createMany([{ transformId: dangling, transform: undefined } as never])))).toBe(true)
    expect(refused(await exit(Run.create({ transform: { id: dangling }, transformId: undefined } as never)))).toBe(true)
    expect(refused(await exit(Run.update(run, { transformId: undefined, transform: { id: dangling } } as never)))).toBe(true)
    // Nothing dangling was stored, and an existing reference is still accepted.
    const stored = await Effect.runPromise(Effect.provideService(Run.filter({}).all(), Store.Store, store))
    expect(stored.map((r) => r.transformId)).toEqual([transform.id])
    expect(Exit.isSuccess(await exit(Run.create({ transformId: transform.id, transform: undefined } as never)))).toBe(true)
  })
})
