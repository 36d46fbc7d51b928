import { describe, expect, it } from "vitest"
import * as Ast from "../src/Ast.js"
import * as Dtype from "../src/Dtype.js"

describe("dtypes", () => {
  it("parses lamindb's dtypes and refuses others", () => {
    expect(Dtype.parse("list[cat[ULabel]]")).toEqual({ _tag: "list", item: { _tag: "cat", registry: "ULabel" } })
    expect(Dtype.parse("cat")).toEqual({ _tag: "cat", registry: "ULabel" })
    expect(Dtype.parse("float64")).toBeUndefined()
    expect(Dtype.parse("cat[Nope]")).toBeUndefined()
  })

  it("a __proto__ key inside a dict value stays data", () => {
    const value = JSON.parse('{"__proto__":0,"a":{"__proto__":{"x":1}}}') as unknown
    const stored = Dtype.encode({ _tag: "simple", name: "dict" }, value) as Record<string, unknown>
    expect(Object.keys(stored)).toEqual(["__proto__", "a"])
    expect(Object.getOwnPropertyDescriptor(stored, "__proto__")?.value).toBe(0)
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype)
    expect(JSON.stringify(stored)).toBe('{"__proto__":0,"a":{"__proto__":{"x":1}}}')
  })
})

describe("JSON copies", () => {
  it("the same object twice is not a cycle; a real cycle is refused", () => {
    const shared = { x: 1 }
    expect(Ast.toJson({ a: shared, b: [shared, shared] })).toEqual({ json: { a: { x: 1 }, b: [{ x: 1 }, { x: 1 }] } })
    const cyclic: { self?: unknown } = {}
    cyclic.self = cyclic
    expect(Ast.toJson({ c: cyclic })).toEqual({ expected: "JSON without cycles", value: "[cycle]" })
    expect(Ast.toJson({ n: Number.NaN })).toEqual({ expected: "a finite number", value: Number.NaN })
  })
})
