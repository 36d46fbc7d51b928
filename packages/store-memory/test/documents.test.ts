/** The documents container against a plain Map, with ids near the end, far past it, negative and fractional. */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Documents } from "../src/Documents.js"

const id = fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: -5, max: 5 }), fc.constantFrom(1e9, 2 ** 40, 0.5, 2.5))

describe("documents by id", () => {
  it("holds exactly what a Map would, whatever the ids", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(id, fc.boolean()), { maxLength: 300 }), (ops) => {
        const docs = new Documents()
        const model = new Map<number, { readonly id: number }>()
        ops.forEach(([key, remove], i) => {
          if (remove) {
            docs.delete(key)
            model.delete(key)
          } else {
            const doc = { id: key, n: i }
            docs.set(key, doc)
            model.set(key, doc)
          }
        })
        expect(docs.size).toBe(model.size)
        for (const [key, doc] of model) expect(docs.get(key)).toBe(doc)
        for (const [key] of ops) expect(docs.has(key)).toBe(model.has(key))
        expect(new Set(docs.values())).toEqual(new Set(model.values()))
      }),
      { numRuns: 500 }
    )
  })
})
