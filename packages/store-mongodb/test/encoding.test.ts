import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Evaluator, type Driver } from "@lineage/core"
import { escapeKey, orderKey, unescapeKey } from "@lineage/store-mongodb"

const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
    fc.integer(),
    fc.string({ unit: "binary" }),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.string(), tie("value"), { maxKeys: 3 })
  )
})).value as fc.Arbitrary<Driver.Json>

/** How MongoDB (and a UTF-16 emulator) compare two order keys: by UTF-16 units. */
const byUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
const sign = (n: number) => Math.sign(n)

describe("order keys", () => {
  it("sort like the reference evaluator, by UTF-16 units as well as by code points", () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        const ka = orderKey(a) ?? ""
        const kb = orderKey(b) ?? ""
        const want = sign(Evaluator.compareJson(a, b))
        expect(sign(byUnits(ka, kb))).toBe(want)
        expect(sign(Evaluator.compareStrings(ka, kb))).toBe(want)
      }),
      { numRuns: 2_000 }
    )
  })

  it("are equal exactly for JSON-equal values (1 and \"1\" differ; key order does not matter)", () => {
    expect(orderKey(1)).not.toBe(orderKey("1"))
    expect(orderKey({ a: 1, b: [2] })).toBe(orderKey({ b: [2], a: 1 }))
    expect(orderKey("🧬")! > orderKey("\uFFFD")!).toBe(true)
    expect(orderKey(null)).toBeUndefined()
  })
})

describe("key escaping", () => {
  it("is reversible and leaves no '$', '.', NUL or empty key", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (k) => {
        const e = escapeKey(k)
        expect(unescapeKey(e)).toBe(k)
        expect(e).not.toMatch(/[$.\u0000]|^$/)
      })
    )
    expect(escapeKey("$where")).toBe("%24where")
    expect(escapeKey("a.b")).toBe("a%2Eb")
  })
})
