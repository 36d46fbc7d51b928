/**
 * Names and text as data: keyword keys reach `__name__` names (a feature called `__proto__`), prototype
 * member names resolve as features, not as `Object.prototype`, and text with an unpaired surrogate is found
 * wherever it sits in a value, however deep, with its location.
 */
import { describe, expect, it } from "vitest"
import * as Ast from "../src/Ast.js"
import { ArtifactModel, RunModel, TransformModel } from "../src/Records.js"
import { InvalidQuery } from "../src/Errors.js"
import { featureValues } from "../src/Model.js"
import { normalize, orderKeys, Q, type QueryInput } from "../src/Query.js"
import { expectedWellFormed, illFormed } from "../src/Text.js"

const cond = (input: QueryInput) => normalize(RunModel, [input])

describe("keyword keys and prototype member names", () => {
  it("`__proto__` and other `__name__` segments are one segment; prototype members are feature names", () => {
    expect(cond(Object.fromEntries([["__proto__", 3]]))).toEqual(Ast.field([featureValues, "__proto__"], "eq", 3))
    expect(cond({ __proto____gte: 3 })).toEqual(Ast.field([featureValues, "__proto__"], "gte", 3))
    expect(cond({ __defineGetter____isnull: true })).toEqual(Ast.field([featureValues, "__defineGetter__"], "isNull", true))
    expect(cond({ params____proto____x: 1 })).toEqual(Ast.field(["params", "__proto__", "x"], "eq", 1))
    expect(cond(Q.where("__proto__", "lt", 2))).toEqual(Ast.field([featureValues, "__proto__"], "lt", 2))
    for (const name of ["constructor", "toString", "hasOwnProperty", "valueOf"])
      expect(cond({ [`${name}__in`]: [1] })).toEqual(Ast.field([featureValues, name], "in", [1]))
    expect(orderKeys(RunModel, ["-__proto__", "constructor"])).toEqual([
      { path: [featureValues, "__proto__"], direction: "desc" },
      { path: [featureValues, "constructor"], direction: "asc" }
    ])
  })
  it("empty segments that form no `__name__` are still refused", () => {
    for (const key of ["params____x", "", "____", "name__"]) expect(cond({ [key]: 1 })).toBeInstanceOf(InvalidQuery)
    expect(normalize(TransformModel, [{ constructor: 1 }])).toBeInstanceOf(InvalidQuery)
  })
})

describe("unpaired surrogates", () => {
  it("are located in strings, keys and nested values; well-formed astral text passes", () => {
    expect(illFormed("\uD800")).toEqual([])
    expect(illFormed("🧬 \uFFFD")).toBeUndefined()
    expect(illFormed({ a: [1, { b: "x\uDC00" }] })).toEqual(["a", 1, "b"])
    expect(illFormed({ ok: "🧬", ["k\uDBFF"]: 1 })).toEqual(["k\uDBFF"])
    expect(illFormed([null, true, 1, new Date(0), { "🧬": ["🧬"] }])).toBeUndefined()
    expect(expectedWellFormed(["k\uDBFF"])).toContain('["k\\udbff"]')
  })
  it("are found at any depth without exhausting the stack", () => {
    let deep: unknown = "\uD800"
    for (let i = 0; i < 100_000; i++) deep = { a: [deep] }
    expect(illFormed(deep)?.length).toBe(200_000)
    expect(expectedWellFormed(illFormed(deep)!).length).toBeLessThan(400)
  })
  it("in a query are InvalidQuery naming the field, escaped so the message itself is well-formed", () => {
    const e = normalize(ArtifactModel, [{ run__transform__key__in: ["ok", "\uD800"] }])
    expect(e).toBeInstanceOf(InvalidQuery)
    expect((e as InvalidQuery).field).toBe("run__transform__key")
    const key = normalize(RunModel, [{ "x\uDC00": 1 }]) as InvalidQuery
    expect(key.field).toBe("x\\udc00")
    expect(illFormed(key.message)).toBeUndefined()
    expect(orderKeys(RunModel, ["-\uD800"])).toBeInstanceOf(InvalidQuery)
  })
})
