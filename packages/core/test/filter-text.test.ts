/**
 * Filter text: terms typed on a command line or in a query box become the keyword filter the query language
 * takes, with values typed by what their keys name, and reach the same AST as the equivalent object filter.
 * What the text cannot say is an `InvalidQuery` naming the term; what the query language refuses is its own
 * `InvalidQuery`, unchanged.
 */
import { Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import * as Ast from "../src/Ast.js"
import { InvalidQuery } from "../src/Errors.js"
import * as FilterText from "../src/FilterText.js"
import { maxQueryValues } from "../src/Limits.js"
import type { Model } from "../src/Model.js"
import { normalize, Q, type QueryInput } from "../src/Query.js"
import { RunModel, TransformModel } from "../src/Records.js"
import { Feature, Run, Transform } from "../src/Registry.js"
import * as Store from "../src/Store.js"
import * as MemoryStore from "../../store-memory/src/index.js"

const parsed = (model: Model, terms: string | ReadonlyArray<string>): QueryInput => Effect.runSync(FilterText.parse(model, terms))

/** The AST the text normalises to, as the query language makes it. */
const ast = (model: Model, terms: string | ReadonlyArray<string>): Ast.Cond => {
  const out = normalize(model, [parsed(model, terms)])
  if (out instanceof InvalidQuery) throw new Error(`unexpected InvalidQuery: ${out.message}`)
  return out
}

const same = (model: Model, terms: string | ReadonlyArray<string>, object: QueryInput) => {
  const expected = normalize(model, [object])
  if (expected instanceof InvalidQuery) throw new Error(`bad expectation: ${expected.message}`)
  expect(ast(model, terms)).toEqual(expected)
}

/** The InvalidQuery the text fails with, in parsing or in the query language. */
const refused = (model: Model, terms: string | ReadonlyArray<string>): InvalidQuery => {
  const exit = Effect.runSyncExit(FilterText.parse(model, terms))
  if (Exit.isFailure(exit)) {
    const error = exit.cause.reasons.find((r) => r._tag === "Fail")
    if (error !== undefined && error._tag === "Fail" && error.error instanceof InvalidQuery) return error.error
    throw new Error("expected an InvalidQuery failure")
  }
  const out = normalize(model, [exit.value])
  if (!(out instanceof InvalidQuery)) throw new Error(`expected InvalidQuery, got ${JSON.stringify(out)}`)
  return out
}

describe("one line of terms", () => {
  it("the keyword forms the command line documents", () => {
    same(RunModel, "status=errored transform__key__startswith=train learning_rate__gt=0.01", {
      status: "errored",
      transform__key__startswith: "train",
      learning_rate__gt: 0.01
    })
  })
  it("quotes group a value with spaces; double quotes take JSON escapes, single quotes none", () => {
    same(RunModel, 'name="two words"  description=\'it\\s "x"\'', { name: "two words", description: 'it\\s "x"' })
    same(RunModel, 'name="tab\\there \\"q\\""', { name: 'tab\there "q"' })
    same(RunModel, "name=it's", { name: "it's" })
  })
  it("a quoted key reaches a feature whose name has spaces", () => {
    same(RunModel, '"learning rate"=0.1', { "learning rate": 0.1 })
  })
  it("an empty line matches everything", () => {
    expect(ast(RunModel, "   ")).toEqual(Ast.always)
    expect(ast(RunModel, [])).toEqual(Ast.always)
  })
})

describe("argv terms", () => {
  it("each element is one term, split at the first '='; the shell already removed the quotes", () => {
    same(RunModel, ["name=two words", "params__expr=a=b"], { name: "two words", params__expr: "a=b" })
  })
  it("a value still wholly quoted is a quoted value", () => {
    same(RunModel, ['seed="42"', "seed2='7'", "seed3=42"], { seed: "42", seed2: "7", seed3: 42 })
  })
})

describe("values typed by the field they compare", () => {
  it("numbers, booleans and null for declared fields", () => {
    same(RunModel, "id__gte=3 transformId=7", { id__gte: 3, transformId: 7 })
    same(TransformModel, "isLatest=false", { isLatest: false })
    same(RunModel, "finishedAt=null", { finishedAt: null })
    same(RunModel, 'name="null"', { name: "null" })
  })
  it("a string field keeps digits as text", () => {
    same(TransformModel, "version=2 key=007", { version: "2", key: "007" })
  })
  it("dates in ISO 8601, UTC without an offset", () => {
    same(RunModel, "startedAt__gte=2024-05-01", { startedAt__gte: new Date("2024-05-01T00:00:00Z") })
    same(RunModel, 'startedAt__lt="2024-05-01 12:30"', { startedAt__lt: new Date("2024-05-01T12:30:00Z") })
    same(RunModel, "startedAt__lt=2024-05-01T12:30:00+0200", { startedAt__lt: new Date("2024-05-01T10:30:00Z") })
  })
  it("a related record's id, as a number", () => {
    same(RunModel, "transform=5 initiatedByRun__isnull=true", { transform: 5, initiatedByRun__isnull: true })
  })
  it("lists: comma-separated values or a JSON array", () => {
    same(RunModel, "status__in=errored,aborted id__range=1,9", { status__in: ["errored", "aborted"], id__range: [1, 9] })
    same(RunModel, 'params__k__in=["1",2,null]', { params__k__in: ["1", 2, null] })
    same(RunModel, "startedAt__range=2024-01-01,2024-02-01", {
      startedAt__range: [new Date("2024-01-01T00:00:00Z"), new Date("2024-02-01T00:00:00Z")]
    })
  })
  it("a JSON list's elements are typed as scalars are: a date without an offset is UTC whatever the local time zone", () => {
    const saved = process.env["TZ"]
    process.env["TZ"] = "America/New_York"
    try {
      // Only where local time is not UTC can reading the dates as local time be told from reading them as UTC.
      expect(new Date("2024-01-01T12:00").getTime()).not.toBe(Date.UTC(2024, 0, 1, 12))
      same(RunModel, ['startedAt__range=["2024-01-01T12:00","2024-02-01 08:30"]'], {
        startedAt__range: [new Date("2024-01-01T12:00:00Z"), new Date("2024-02-01T08:30:00Z")]
      })
      same(RunModel, "startedAt__range=2024-01-01T12:00,2024-02-01T08:30", {
        startedAt__range: [new Date("2024-01-01T12:00:00Z"), new Date("2024-02-01T08:30:00Z")]
      })
      same(RunModel, 'id__in=["3",4] status__in=["errored"]', { id__in: [3, 4], status__in: ["errored"] })
      expect(refused(RunModel, 'startedAt__in=["May-1"]').expected).toContain("ISO 8601")
    } finally {
      if (saved === undefined) delete process.env["TZ"]
      else process.env["TZ"] = saved
    }
  })
  it("string operators take the text as it is", () => {
    same(RunModel, "params__tag__startswith=10 name__regex=^a.*", { params__tag__startswith: "10", name__regex: "^a.*" })
  })
})

describe("keys read as the query language reads them", () => {
  it("an operator only as the query language spells it; any other spelling is a path segment, its value typed as for eq", () => {
    same(RunModel, "params__tags__IN=a,b", { params__tags__IN: "a,b" })
    same(RunModel, "params__n__StartsWith=10", { params__n__StartsWith: 10 })
    same(RunModel, "params__lr__is_null=true", { params__lr__is_null: true })
  })
  it("lamindb's lower-case spellings are operators", () => {
    same(RunModel, "status__notin=errored,aborted params__k__not_in=1,2 name__startswith=10 finishedAt__isnull=true", {
      status__notIn: ["errored", "aborted"],
      params__k__notIn: [1, 2],
      name__startsWith: "10",
      finishedAt__isNull: true
    })
  })
})

describe("features and params take the literal's own form", () => {
  it("number, true/false, null, else string; quoted always a string", () => {
    same(RunModel, "lr=0.01 done=true note=null tag=abc", { lr: 0.01, done: true, note: null, tag: "abc" })
    same(RunModel, 'lr="0.01" done="true"', { lr: "0.01", done: "true" })
    same(RunModel, "params__batch__size__lte=64 params__lr=-1e-3", { params__batch__size__lte: 64, params__lr: -1e-3 })
    same(RunModel, "tag__in=1,b", { tag__in: [1, "b"] })
  })
  it("a repeated key is ANDed, not overwritten", () => {
    expect(ast(RunModel, "name__contains=a name__contains=b")).toEqual(
      Ast.and([Ast.field(["name"], "contains", "a"), Ast.field(["name"], "contains", "b")])
    )
  })
})

describe("refusals name the term and what was expected", () => {
  it("a term without '='", () => {
    const e = refused(RunModel, "status=errored oops")
    expect(e.field).toBe("oops")
    expect(e.message).toContain("key=value")
    expect(refused(RunModel, ["oops"]).expected).toContain("key=value")
  })
  it("an unclosed quote, a bad escape, text after a closing quote", () => {
    expect(refused(RunModel, 'name="open').expected).toContain("closing")
    expect(refused(RunModel, 'name="\\q"').expected).toContain("JSON escapes")
    expect(refused(RunModel, 'name="a"b').expected).toContain("whitespace after a closing quote")
  })
  it("a date that is not ISO 8601", () => {
    const e = refused(RunModel, '"startedAt__gt"="May 1, 2024"')
    expect(e.field).toBe("startedAt__gt")
    expect(e.expected).toContain("ISO 8601")
  })
  it("a number JavaScript cannot hold exactly", () => {
    expect(refused(RunModel, "count=123456789012345678901").expected).toContain("holds exactly")
    expect(refused(RunModel, "x=1e999").expected).toContain("holds exactly")
  })
  it("a date or time that does not exist, in a scalar, a comma list or a JSON list", () => {
    for (const text of [
      "startedAt__gt=2024-02-30",
      "startedAt__gt=2023-02-29",
      "startedAt__gt=2024-04-31T10:00",
      "startedAt__gt=2024-13-01",
      "startedAt__gt=2024-01-01T24:00",
      "startedAt__gt=2024-01-01T10:60",
      "startedAt__gt=2024-01-01T10:00:61Z",
      "startedAt__gt=2024-01-01T10:00+25:00",
      "startedAt__range=2024-01-01,2024-02-30",
      'startedAt__in=["2024-02-30"]'
    ]) {
      const e = refused(RunModel, text)
      expect(e.field).toBe(text.slice(0, text.indexOf("=")))
      expect(e.expected).toContain("a date that exists")
    }
    same(RunModel, "startedAt__gt=2024-02-29T23:59:59", { startedAt__gt: new Date("2024-02-29T23:59:59Z") })
  })
  it("a number JavaScript cannot hold exactly, in a list too; one that underflows to 0", () => {
    for (const text of [
      "params__k__in=[12345678901234567890]",
      "params__k__in=[1,-12345678901234567890]",
      "params__k__in=1,12345678901234567890",
      'id__in=[1e999,"x"]',
      "x=1e-400",
      "params__k__in=[1e-400]",
      "params__k__range=0,-2.5e-999"
    ])
      expect(refused(RunModel, text).expected).toContain("holds exactly")
    same(RunModel, 'x=0e5 y=-0.000 params__k__in=[0,1.5e-300,"12345678901234567890"]', {
      x: 0,
      y: -0,
      params__k__in: [0, 1.5e-300, "12345678901234567890"]
    })
  })
  it("a bad JSON list", () => {
    expect(refused(RunModel, "id__in=[1,").expected).toContain("JSON array")
  })
  it("what the query language refuses comes from it, unchanged", () => {
    const unknownField = refused(TransformModel, "nope=1")
    expect(unknownField.expected).toContain("a field or relation of Transform")
    const badEnum = refused(RunModel, "status=exploded")
    expect(badEnum.field).toBe("status")
    expect(badEnum.expected).toContain("errored")
    const badInt = refused(RunModel, "id=abc")
    expect(badInt.expected).toBe("an integer")
    expect(badInt.value).toBe("abc")
    expect(refused(RunModel, "finishedAt__isnull=maybe").expected).toBe("true or false")
  })
  it("a hostile term is shown bounded and escaped", () => {
    const e = refused(RunModel, `${"k\u0007".repeat(5_000)}`)
    expect(e.field.length).toBeLessThanOrEqual(101)
    expect(e.field).toContain("\\u0007")
    expect(e.message.length).toBeLessThan(600)
  })
  it("a line as large as a query may be answers, and one term more is refused before it is read", () => {
    // As many terms as the query language takes values: work growing faster than the input would not end here.
    const terms = Array.from({ length: maxQueryValues }, (_, i) => `k${i}=${i}`)
    const q = parsed(RunModel, terms.join(" ")) as { readonly [k: string]: unknown }
    expect(Object.keys(q)).toHaveLength(maxQueryValues)
    for (const input of [[...terms, "x=1"].join(" "), [...terms, "x=1"]]) {
      const e = refused(RunModel, input)
      expect(e.field).toBe("(filter)")
      expect(e.expected).toContain(`at most ${maxQueryValues.toLocaleString("en-US")} terms`)
    }
  })
  it("a value of megabytes, quoted or not, is read in one pass", () => {
    const big = "v".repeat(5_000_000)
    // Each `\"\\` is a JSON-escaped quote and backslash.
    const escaped = '\\"\\\\'.repeat(500_000)
    expect(parsed(RunModel, `name=${big}`)).toEqual({ name: big })
    expect(parsed(RunModel, `name="${escaped}"`)).toEqual({ name: '"\\'.repeat(500_000) })
  })
})

describe("through QuerySet.filter on a store", () => {
  it("finds what the equivalent object filter finds, and fails with the query language's error", async () => {
    const layer = Store.layerFromDriver(MemoryStore.makeDriver())
    const program = Effect.gen(function* () {
      yield* Feature.create({ name: "lr", dtype: "float" })
      const t = yield* Transform.create({ key: "train.ts" })
      yield* Run.create({ transformId: t.id, status: "errored", params: { epochs: 3 }, featureValues: { lr: 0.1 } })
      yield* Run.create({ transformId: t.id, status: "completed", params: { epochs: 5 }, featureValues: { lr: 0.01 } })
      const q = yield* FilterText.parse(RunModel, "transform__key__startswith=train lr__gt=0.05 params__epochs__lt=4")
      // Parsed at run time: untyped, through a Q built without a registry.
      const found = yield* Run.filter(Q.and<unknown>(q)).all()
      const unknown = yield* Effect.flip(Effect.flatMap(FilterText.parse(RunModel, "nosuchfeature=1"), (q2) => Run.filter(Q.and<unknown>(q2)).all()))
      return { statuses: found.map((r) => r.status), unknown }
    })
    const { statuses, unknown } = await Effect.runPromise(Effect.provide(program, Layer.fresh(layer)))
    expect(statuses).toEqual(["errored"])
    expect(unknown._tag).toBe("InvalidQuery")
    expect(unknown.message).toContain("nosuchfeature")
  })
})
