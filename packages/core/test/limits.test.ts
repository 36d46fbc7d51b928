/**
 * The bounds of `Limits` and the regex dialect of `Regex`, unit by unit: what is accepted at each bound, what
 * is refused past it and with which words, and that no check costs more than its input's size.
 */
import { describe, expect, it } from "vitest"
import { Ast, Evaluator, Limits, Regex } from "../src/index.js"

const matches = (pattern: string, text: string): boolean => {
  const compiled = Regex.compile(pattern)
  if ("refused" in compiled) throw new Error(compiled.refused)
  return compiled.test(text)
}

const refusal = (pattern: string): string => {
  const compiled = Regex.compile(pattern)
  return "refused" in compiled ? compiled.refused : "accepted"
}

const nested = (levels: number, leaf: unknown = 1): unknown => {
  let v = leaf
  for (let i = 0; i < levels; i++) v = { a: v }
  return v
}

describe("the regex dialect (RE2 syntax, by code point)", () => {
  it("matches by code point, with ASCII shorthand classes and Unicode property classes", () => {
    expect(matches("^.$", "😀")).toBe(true)
    expect(matches("^\\x{1F600}$", "😀")).toBe(true)
    expect(matches("\\d", "٣")).toBe(false)
    expect(matches("\\pN", "٣")).toBe(true)
    expect(matches("\\w", "é")).toBe(false)
    expect(matches("^\\p{Lu}", "Ärzte")).toBe(true)
    expect(matches("\\p{Greek}", "λ")).toBe(true)
  })
  it("anchors at the text's ends unless (?m); `.` skips newlines unless (?s); (?i) folds simply", () => {
    expect(matches("a$", "a\n")).toBe(false)
    expect(matches("(?m)a$", "a\nb")).toBe(true)
    expect(matches("^.$", "\n")).toBe(false)
    expect(matches("(?s)^.$", "\n")).toBe(true)
    expect(matches("(?i)épsilon", "ÉPSILON")).toBe(true)
    expect(matches("(?i)straße", "STRASSE")).toBe(false)
  })
  it("refuses what RE2 cannot match in linear time, saying why", () => {
    expect(refusal("(a)\\1")).toBe("backreferences (\\1) are not supported")
    expect(refusal("(?<n>a)\\k<n>")).toMatch(/named backreferences/)
    expect(refusal("a(?=b)")).toMatch(/^lookahead/)
    expect(refusal("a(?!b)")).toMatch(/^lookahead/)
    expect(refusal("(?<=a)b")).toMatch(/^lookbehind/)
    expect(refusal("(?<!a)b")).toMatch(/^lookbehind/)
    expect(refusal("\\u00e9")).toMatch(/\\x\{00E9\}/)
    expect(refusal("a++")).toMatch(/nested repetition/)
    expect(refusal("((a{100}){100}){100}")).toMatch(/repeat count/)
    expect(refusal(`${"(".repeat(300)}a${")".repeat(300)}`)).toBe("accepted")
  })
  it("bounds a pattern's length and compiled size, accepting each bound itself", () => {
    expect(refusal("a".repeat(Limits.maxRegexLength - 2))).toBe("accepted")
    expect(refusal("(?:a)".repeat(Limits.maxRegexLength / 5))).toBe("accepted")
    expect(refusal("a".repeat(Limits.maxRegexLength + 1))).toBe(
      `it has ${Limits.maxRegexLength + 1} characters; at most ${Limits.maxRegexLength} are accepted`
    )
    expect(refusal(`[ab]{${Limits.maxRegexSize - 2}}`)).toBe("accepted")
    expect(refusal(`[ab]{${Limits.maxRegexSize - 1}}`)).toMatch(`it compiles to ${Limits.maxRegexSize + 1} RE2 instructions`)
  })
  it("answers nested quantifiers over long text in linear time", () => {
    const text = `${"a".repeat(100_000)}!`
    expect(matches("^(a+)+$", text)).toBe(false)
    expect(matches("^(a|a?)+$", text)).toBe(false)
    expect(matches("^(.*a){20}!$", text)).toBe(true)
  })
  it("the evaluator refuses a pattern outside the dialect with a typed StoreError", () => {
    expect(() => Evaluator.check(Ast.field(["name"], "regex", "(a)\\1"))).toThrow(/backreferences/)
    expect(() => Evaluator.testValue("a", "regex", "a(?=b)")).toThrow(/lookahead/)
  })
})

describe("nesting", () => {
  it("counts each object and array as a level, and finds cycles", () => {
    expect(Limits.nesting(nested(Limits.maxDepth))).toBeUndefined()
    expect(Limits.nesting(nested(Limits.maxDepth + 1))).toBe("tooDeep")
    expect(Limits.nesting(nested(Limits.maxDepth - 1, []))).toBeUndefined()
    expect(Limits.nesting(nested(Limits.maxDepth, []))).toBe("tooDeep")
    expect(Limits.nesting(nested(1_000_000))).toBe("tooDeep")
    const cyclic: { self?: unknown } = {}
    cyclic.self = cyclic
    expect(Limits.nesting({ a: [cyclic] })).toBe("cycle")
    expect(Limits.nesting("text")).toBeUndefined()
  })
  it("walks a subtree shared by many parents once per depth, not once per path", () => {
    // 60 levels, each two references to the level below: 2^60 paths, 60 objects; too large once expanded.
    let shared: unknown = { leaf: 1 }
    for (let i = 0; i < 60; i++) shared = { left: shared, right: shared }
    expect(Limits.nesting(shared)).toBe("tooLarge")
  })
  it("the JSON copier refuses what is nested too deep instead of overflowing the stack", () => {
    expect(Ast.toJson(nested(Limits.maxDepth))).toEqual({ json: nested(Limits.maxDepth) })
    const expected = `JSON nested at most ${Limits.maxDepth} levels deep (each object or array is a level)`
    expect(Ast.toJson(nested(100_000))).toMatchObject({ expected })
  })
  it("the evaluator refuses a condition deeper than maxConditionDepth with a typed StoreError", () => {
    let cond: Ast.Cond = Ast.field(["name"], "eq", "x")
    for (let i = 0; i < 100_000; i++) cond = Ast.not(cond)
    expect(() => Evaluator.check(cond)).toThrow(`at most ${Evaluator.maxConditionDepth}`)
  })
})

describe("listing names in an error", () => {
  it("lists maxListedNames of them, each cut at maxShownNameLength, and counts the rest", () => {
    const names = Array.from({ length: 100_000 }, (_, i) => `${"n".repeat(10_000)}${i}`)
    const listed = Limits.listNames(names)
    expect(listed.length).toBeLessThan(2_200)
    expect(listed).toMatch(/… and 99980 more$/)
    expect(Limits.listNames(["a", "b"])).toBe('"a", "b"')
  })
})
