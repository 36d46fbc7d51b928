/**
 * Inputs built to exhaust the process are refused or answered in bounded time, the same on every store:
 * - `regex` patterns are RE2 syntax, matched in linear time, so nested quantifiers cannot stall a query; a
 *   pattern outside the dialect is InvalidQuery naming the field, the pattern and why;
 * - JSON nested deeper than `Limits.maxDepth` (params, dict fields, feature values) is ValidationError naming
 *   the field, and a query nested deeper is InvalidQuery, both before anything is read or written;
 * - an error listing unknown names lists `Limits.maxListedNames` of them and counts the rest.
 */
import assert from "node:assert/strict"
import { type Ast, Feature, Features, Limits, Q, Run, Transform, ULabel } from "@lineage/core"
import type { Case } from "../../Case.js"
import { anyRuns, counting, newRun, open, registryCase, type Session } from "./support.js"

const group = "limits"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

/** `{ a: { a: … 1 } }` with `levels` objects. */
const nested = (levels: number): Ast.Json => {
  let v: Ast.Json = 1
  for (let i = 0; i < levels; i++) v = { a: v }
  return v
}

/** `[[… 1]]` with `levels` arrays. */
const nestedArrays = (levels: number): Ast.Json => {
  let v: Ast.Json = 1
  for (let i = 0; i < levels; i++) v = [v]
  return v
}

const countAll = (s: Session) => Promise.all(["transform", "run", "ulabel"].map(async (t) => (await s.persistedAll(t)).length))

export const limits: ReadonlyArray<Case> = [
  c("regex: nested quantifiers over a long stored name answer exactly (ULabel.filter name__regex)", async (s) => {
    const names = [`${"a".repeat(30)}!`, `${"a".repeat(5_000)}!`, "a".repeat(30), "b"]
    for (const name of names) await s.run(ULabel.create({ name }))
    const matching = async (pattern: string) =>
      (await s.run(ULabel.filter({ name__regex: pattern }).all())).map((l) => l.name).sort()
    assert.deepStrictEqual(await matching("^(a+)+$"), ["a".repeat(30)])
    assert.deepStrictEqual(await matching("^(a|a?)+$"), ["a".repeat(30)])
    assert.deepStrictEqual(await matching("^(a+)+!$"), [`${"a".repeat(30)}!`, `${"a".repeat(5_000)}!`])
    assert.equal(await s.run(ULabel.filter(Q.not({ name__regex: "^(a+)+$" })).count()), 3)
  }),

  c("regex: a pattern outside RE2 syntax or its bounds is InvalidQuery naming field, pattern and why, before the store", async (s) => {
    const spy = counting(s.ctx.driver)
    const t = await open(s.ctx, spy.driver)
    spy.reset()
    const refused: ReadonlyArray<readonly [string, RegExp]> = [
      ["(a)\\1", /backreferences/],
      ["(?<x>a)\\k<x>", /named backreferences/],
      ["a(?=b)", /lookahead/],
      ["(?<!a)b", /lookbehind/],
      ["\\u00e9", /\\x\{00E9\}/],
      ["(", /missing closing \)/],
      ["a{1001}", /repeat count/],
      ["[ab]{1000}[ab]{1000}", new RegExp(`at most ${Limits.maxRegexSize} are accepted`)],
      ["a".repeat(Limits.maxRegexLength + 1), new RegExp(`at most ${Limits.maxRegexLength} are accepted`)]
    ]
    for (const [pattern, why] of refused) {
      const e = await t.fail(ULabel.filter({ name__regex: pattern }).all(), "InvalidQuery")
      assert.equal(e.field, "name")
      assert.equal(e.operator, "regex")
      assert.equal(e.value, pattern)
      assert.match(e.expected, /RE2 syntax/)
      assert.match(e.expected, why, `why ${JSON.stringify(pattern)} is refused`)
    }
    assert.equal(spy.calls(), 0)
    // At the bounds, accepted: 1,000 characters; 998 repetitions and the program's two fixed instructions.
    await t.run(ULabel.filter({ name__regex: "(?:a)".repeat(Limits.maxRegexLength / 5) }).count())
    await t.run(ULabel.filter({ name__regex: `[ab]{${Limits.maxRegexSize - 2}}` }).count())
    const over = await t.fail(ULabel.filter({ name__regex: `[ab]{${Limits.maxRegexSize - 1}}` }).count(), "InvalidQuery")
    assert.match(over.expected, new RegExp(`compiles to ${Limits.maxRegexSize + 1} RE2 instructions`))
  }),

  c("depth: JSON nested deeper than maxDepth (params, dict fields, feature values) is ValidationError naming the field", async (s) => {
    await s.run(Feature.create({ name: "meta", dtype: "dict" }))
    const t = await s.run(Transform.create({ key: "deep" }))
    const run = await newRun(s, t)
    const before = await countAll(s)
    const cyclic: { self?: unknown } = {}
    cyclic.self = cyclic
    for (const deep of [nested(10_000), nested(Limits.maxDepth + 1), { x: nestedArrays(10_000) }, cyclic]) {
      // @ts-expect-error a cycle is no JSON, on purpose
      const params = await s.fail(Run.create({ transformId: t.id, params: deep }), "ValidationError")
      assert.equal(params.field, "params")
      assert.match(params.expected, /nested at most 64 levels|without cycles/)
      // @ts-expect-error a cycle is no JSON, on purpose
      assert.equal((await s.fail(Run.update(run, { params: deep }), "ValidationError")).field, "params")
      const feature = await s.fail(Features.add(run, { meta: deep }), "ValidationError")
      assert.equal(feature.field, "meta")
      assert.match(feature.expected, /nested at most 64 levels|without cycles/)
    }
    assert.deepStrictEqual(await countAll(s), before)
    assert.equal((await s.persisted("run", run.id))?.["params"], null)
    // At the limit, stored and read back whole.
    const deepest = nested(Limits.maxDepth)
    const kept = await s.run(Run.create({ transformId: t.id, params: deepest }))
    assert.deepStrictEqual((await s.run(Run.get(kept.id))).params, deepest)
    await s.run(Features.add(kept, { meta: deepest }))
    assert.deepStrictEqual((await s.run(Features.get(kept)))["meta"], deepest)
  }),

  c("depth: a feature dtype of lists nested deeper than maxDepth is ValidationError naming dtype; at the limit it works", async (s) => {
    const list = (levels: number, item: string) => `${"list[".repeat(levels)}${item}${"]".repeat(levels)}`
    for (const levels of [10_000, Limits.maxDepth + 1]) {
      const e = await s.fail(Feature.create({ name: `deep${levels}`, dtype: list(levels, "int") }), "ValidationError")
      assert.equal(e.field, "dtype")
      assert.match(e.expected, /nested at most 64 deep/)
    }
    assert.equal((await s.persistedAll("feature")).length, 0)
    await s.run(Feature.create({ name: "deepest", dtype: list(Limits.maxDepth, "int") }))
    const run = await newRun(s, await s.run(Transform.create({ key: "lists" })))
    const value = nested(0)
    const deepest = ((): unknown => {
      let v: unknown = value
      for (let i = 0; i < Limits.maxDepth; i++) v = [v]
      return v
    })()
    await s.run(Features.add(run, { deepest }))
    assert.deepStrictEqual((await s.run(Features.get(run)))["deepest"], deepest)
  }),

  c("depth: a query or a page cursor nested deeper than maxDepth is InvalidQuery before the store is touched", async (s) => {
    await s.run(Feature.create({ name: "meta", dtype: "dict" }))
    await newRun(s, await s.run(Transform.create({ key: "q" })), { params: { a: 1 } })
    // A cursor is a token the caller hands back: one crafted to nest deep must not reach a comparison.
    const cursor = Buffer.from(`[[${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}],1]`).toString("base64url")
    const spy = counting(s.ctx.driver)
    const t = await open(s.ctx, spy.driver)
    spy.reset()
    let nots: Q | { key: string } = { key: "k" }
    for (let i = 0; i < 10_000; i++) nots = Q.not(nots)
    let ands: Q | { key: string } = { key: "k" }
    for (let i = 0; i < Limits.maxDepth; i++) ands = Q.and(ands, { key: "k" })
    const cyclic: { self?: unknown } = {}
    cyclic.self = cyclic
    const deepQueries: ReadonlyArray<readonly [() => Promise<unknown>, string]> = [
      [() => t.fail(Transform.filter(nots).count(), "InvalidQuery"), "(query)"],
      [() => t.fail(Transform.filter(ands).count(), "InvalidQuery"), "key"],
      [() => t.fail(anyRuns().filter({ params: nested(10_000) }).count(), "InvalidQuery"), "params__a__a"],
      [() => t.fail(anyRuns().filter({ params__x: nestedArrays(10_000) }).count(), "InvalidQuery"), "params__x"],
      [() => t.fail(anyRuns().filter({ params__x__in: [nestedArrays(10_000)] }).count(), "InvalidQuery"), "params__x__in"],
      [() => t.fail(anyRuns().filter({ [`params${"__a".repeat(10_000)}`]: 1 }).count(), "InvalidQuery"), "params__a__a"],
      [() => t.fail(anyRuns().filter({ meta: nested(Limits.maxDepth) }).count(), "InvalidQuery"), "meta__a"],
      [() => t.fail(anyRuns().filter({ [`transform${"__runs__transform".repeat(1_000)}__key`]: 1 }).count(), "InvalidQuery"), "transform__runs"],
      [() => t.fail(Run.filter(Q.where(["params", ...Array<string>(1_000).fill("a")], "eq", 1)).count(), "InvalidQuery"), "params__a"],
      [() => t.fail(anyRuns().filter({}).orderBy(`params${"__a".repeat(1_000)}`).all(), "InvalidQuery"), "params__a"]
    ]
    for (const [query, field] of deepQueries) {
      const e = (await query()) as { readonly field: string; readonly expected: string; readonly message: string }
      assert.ok(e.field.startsWith(field), `field ${e.field} starts with ${field}`)
      assert.match(e.expected, /at most 64/)
      assert.ok(e.message.length < 500, `a short message, got ${e.message.length} characters`)
    }
    assert.match((await t.fail(anyRuns().filter({ params__x__eq: cyclic }).count(), "InvalidQuery")).expected, /without cycles/)
    const page = await t.fail(Run.filter({}).orderBy("params").page({ size: 1, after: cursor }), "InvalidQuery")
    assert.equal(page.field, "after")
    assert.equal(spy.calls(), 0)
    // Within the limit, answered: 62 negations of `key = q` (63 levels) are `key = q`, 63 (the limit) its negation.
    let within: Q | { key: string } = { key: "q" }
    for (let i = 0; i < Limits.maxDepth - 2; i++) within = Q.not(within)
    assert.equal(await t.run(Transform.filter(within).count()), 1)
    assert.equal(await t.run(Transform.filter(Q.not(within)).count()), 0)
  }),

  c("messages: an error listing 25,000 unknown feature names lists 20 and counts the rest", async (s) => {
    const t = await s.run(Transform.create({ key: "names" }))
    const run = await newRun(s, t)
    const count = 25_000
    // Some listed names are long: each is cut, so they cannot stretch the message either.
    const names = Array.from({ length: count }, (_, i) => `unknown_${"x".repeat(i % 3 === 1 && i < 20 ? 1_000 : 1)}_${i}`)
    const values = Object.fromEntries(names.map((n) => [n, 1]))
    const add = await s.fail(Features.add(run, values), "ValidationError")
    assert.match(add.message, new RegExp(`… and ${count - Limits.maxListedNames} more`))
    assert.ok(add.message.length < 3_000, `a short message, got ${add.message.length} characters`)
    const query = await s.fail(anyRuns().filter(values).count(), "InvalidQuery")
    assert.match(query.message, new RegExp(`… and ${count - Limits.maxListedNames} more`))
    assert.ok(query.message.length < 3_000, `a short message, got ${query.message.length} characters`)
  })
]
