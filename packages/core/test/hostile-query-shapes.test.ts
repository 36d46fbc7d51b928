/**
 * Query shapes whose checks must themselves stay bounded: a query with hundreds of thousands of keys, a chain
 * of `Q.where` with an empty path, and an `in` list made with a huge `length` and no elements. Each is
 * answered (or refused with an InvalidQuery) without overflowing the stack or walking the holes.
 */
import { describe, expect, it } from "vitest"
import { RunModel } from "../src/Records.js"
import { InvalidQuery } from "../src/Errors.js"
import { maxListValues } from "../src/Limits.js"
import { normalize, Q } from "../src/Query.js"

describe("hostile query shapes", () => {
  it("a query with 190,000 keys is normalised, not a stack overflow", () => {
    const wide = Object.fromEntries(Array.from({ length: 190_000 }, (_, i) => [`params__k${i}`, i]))
    const cond = normalize(RunModel, [wide])
    expect(cond).toMatchObject({ _tag: "And" })
    expect((cond as { readonly conds: ReadonlyArray<unknown> }).conds).toHaveLength(190_000)
  }, 30_000)

  it("an unpaired surrogate among many predicates is reported on the first predicate holding one", () => {
    const e = normalize(RunModel, [{ name: "ok", description: "\uD800", params__x: "\uDC00" }])
    expect(e).toBeInstanceOf(InvalidQuery)
    expect((e as InvalidQuery).field).toBe("description")
  })

  it("a chain of Q.where with an empty path counts a level per link, and is refused past maxDepth", () => {
    let q: unknown = 1
    for (let i = 0; i < 100_000; i++) q = Q.where([], "eq", q)
    const e = normalize(RunModel, [q as Q])
    expect(e).toBeInstanceOf(InvalidQuery)
    expect((e as InvalidQuery).expected).toMatch(/nested at most 64 levels/)
  })

  it("an in list with a huge length and no elements is refused by its length at once", () => {
    const started = Date.now()
    const e = normalize(RunModel, [{ id__in: new Array(2 ** 32 - 1) }])
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(e).toBeInstanceOf(InvalidQuery)
    expect((e as InvalidQuery).expected).toBe(`an array of at most ${maxListValues} values (maxListValues), got ${2 ** 32 - 1}`)
  })
})

describe("shared values in a query", () => {
  it("a value referenced from many places is checked once per depth, not listed again at every reference", () => {
    // 6,000 references to one object of 6,000 keys: the nesting check must not cost 36 million steps.
    const shared = Object.fromEntries(Array.from({ length: 6_000 }, (_, i) => [`k${i}`, i]))
    const value = Array.from({ length: 6_000 }, () => shared)
    // 36 million values once expanded: refused by the query's size, after a depth check that met each object once.
    const e = normalize(RunModel, [{ name: value }])
    expect(e).toBeInstanceOf(InvalidQuery)
    expect((e as InvalidQuery).field).toBe("(query)")
    expect((e as InvalidQuery).expected).toContain("200,000 values")
  }, 30_000)
})
