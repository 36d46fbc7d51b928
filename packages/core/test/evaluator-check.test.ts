/**
 * `Evaluator.check` is what a driver called directly relies on for a typed error: a combinator whose
 * `conds` is not an array is a `StoreError` (Invalid), not a TypeError that dies as a defect.
 */
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { type Ast, Evaluator, StoreError } from "../src/index.js"
import * as MemoryStore from "../../store-memory/src/index.js"

const malformed = [
  { _tag: "And", conds: 5 },
  { _tag: "Or", conds: null },
  { _tag: "Not", cond: { _tag: "And", conds: { length: 1, 0: { _tag: "And", conds: [] } } } }
] as unknown as ReadonlyArray<Ast.Cond>

describe("Evaluator.check on malformed combinators", () => {
  it("throws a StoreError for a combinator without an array of conditions", () => {
    for (const cond of malformed) {
      let thrown: unknown
      try {
        Evaluator.check(cond)
      } catch (e) {
        thrown = e
      }
      expect(thrown).toBeInstanceOf(StoreError)
      expect((thrown as StoreError).reason._tag).toBe("Invalid")
    }
  })
  it("a driver answers such a condition with a failure, not a defect", async () => {
    const driver = MemoryStore.makeDriver()
    await Effect.runPromise(driver.declare([{ name: "t", unique: [], indexes: [] }]))
    for (const where of malformed) {
      const exit = await Effect.runPromiseExit(driver.find("t", { where, orderBy: [] }))
      expect(Exit.isFailure(exit) && exit.cause.reasons.every((r) => r._tag === "Fail")).toBe(true)
    }
  })
})
