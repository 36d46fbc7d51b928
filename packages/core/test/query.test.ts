/**
 * The normaliser: each way of writing a query (typed objects, lamindb keyword lookups, `Q`) becomes the same
 * plain AST, values are validated for their field and copied as JSON, and anything that cannot mean anything
 * is an `InvalidQuery` naming it.
 */
import { describe, expect, it } from "vitest"
import * as Ast from "../src/Ast.js"
import { ArtifactModel, RunModel, TransformModel } from "../src/Records.js"
import { InvalidQuery } from "../src/Errors.js"
import type { Model } from "../src/Model.js"
import { normalize, orderKeys, Q, type QueryInput } from "../src/Query.js"

const norm = (model: Model, ...inputs: ReadonlyArray<QueryInput>): Ast.Cond => {
  const out = normalize(model, inputs)
  if (out instanceof InvalidQuery) throw new Error(`unexpected InvalidQuery: ${out.message}`)
  return out
}

const invalid = (model: Model, ...inputs: ReadonlyArray<QueryInput>): InvalidQuery => {
  const out = normalize(model, inputs)
  if (!(out instanceof InvalidQuery)) throw new Error(`expected InvalidQuery, got ${JSON.stringify(out)}`)
  return out
}

const d = new Date("2024-02-29T23:59:59.999Z")
const iso = "2024-02-29T23:59:59.999Z"

describe("typed objects", () => {
  it("a scalar is eq", () => {
    expect(norm(TransformModel, { key: "k" })).toEqual(Ast.field(["key"], "eq", "k"))
  })
  it("an operator object is an And of its operators", () => {
    expect(norm(RunModel, { startedAt: { gte: d, lt: "2025-01-01T00:00:00Z" } })).toEqual({
      _tag: "And",
      conds: [Ast.field(["startedAt"], "gte", iso), Ast.field(["startedAt"], "lt", "2025-01-01T00:00:00.000Z")]
    })
  })
  it("several keys are an And; an empty object matches everything", () => {
    expect(norm(TransformModel, { key: "k", version: "1" })).toEqual({
      _tag: "And",
      conds: [Ast.field(["key"], "eq", "k"), Ast.field(["versionTag"], "eq", "1")]
    })
    expect(norm(TransformModel, {})).toEqual(Ast.always)
    expect(norm(TransformModel)).toEqual(Ast.always)
  })
  it("null means isNull; ne null means not null", () => {
    expect(norm(RunModel, { finishedAt: null })).toEqual(Ast.field(["finishedAt"], "isNull", true))
    expect(norm(RunModel, { finishedAt: { ne: null } })).toEqual(Ast.field(["finishedAt"], "isNull", false))
  })
  it("relations: nested objects, records, ids and relation operators", () => {
    expect(norm(RunModel, { transform: { key: { startsWith: "Cell" } } })).toEqual(Ast.field(["transform", "key"], "startsWith", "Cell"))
    expect(norm(RunModel, { transform: 7 })).toEqual(Ast.field(["transform", "id"], "eq", 7))
    class Rec {
      constructor(readonly id: number) {}
    }
    expect(norm(RunModel, { transform: new Rec(3) })).toEqual(Ast.field(["transform", "id"], "eq", 3))
    expect(norm(RunModel, { transform: { in: [new Rec(1), 2] } })).toEqual(Ast.field(["transform", "id"], "in", [1, 2]))
    expect(norm(RunModel, { initiatedByRun: null })).toEqual(Ast.field(["initiatedByRun"], "isNull", true))
    expect(norm(ArtifactModel, { run: { transform: { key: "k" } } })).toEqual(Ast.field(["run", "transform", "key"], "eq", "k"))
  })
  it("JSON fields: plain objects walk down the path, operator objects end it", () => {
    expect(norm(RunModel, { params: { a: { b: { gt: 1 } } } })).toEqual(Ast.field(["params", "a", "b"], "gt", 1))
    expect(norm(RunModel, { params: { a: 1, b: "x" } })).toEqual({
      _tag: "And",
      conds: [Ast.field(["params", "a"], "eq", 1), Ast.field(["params", "b"], "eq", "x")]
    })
    expect(norm(RunModel, { params: {} })).toEqual(Ast.field(["params"], "eq", {}))
  })
  it("operator-like user keys inside JSON are data, not operators", () => {
    expect(norm(RunModel, { params: { x: { $gt: "" } } })).toEqual(Ast.field(["params", "x", "$gt"], "eq", ""))
    expect(norm(RunModel, { params__x__in: [{ $gt: "" }] })).toEqual(Ast.field(["params", "x"], "in", [{ $gt: "" }]))
  })
  it("values are copied, so mutating the input later changes nothing", () => {
    const list = [1, 2]
    const cond = norm(RunModel, { params__x__in: list })
    list.push(3)
    expect(cond).toEqual(Ast.field(["params", "x"], "in", [1, 2]))
  })
})

describe("keyword lookups", () => {
  it("field__op with lamindb's lower-case operator names", () => {
    expect(norm(TransformModel, { key__startswith: "a" })).toEqual(Ast.field(["key"], "startsWith", "a"))
    expect(norm(TransformModel, { key__istartswith: "a" })).toEqual(Ast.field(["key"], "istartsWith", "a"))
    expect(norm(TransformModel, { key__endswith: "a" })).toEqual(Ast.field(["key"], "endsWith", "a"))
    expect(norm(TransformModel, { key__exact: "a" })).toEqual(Ast.field(["key"], "eq", "a"))
    expect(norm(RunModel, { finishedAt__isnull: false })).toEqual(Ast.field(["finishedAt"], "isNull", false))
    expect(norm(RunModel, { status__notIn: ["completed"] })).toEqual(Ast.field(["status"], "notIn", ["completed"]))
  })
  it("snake_case names map to camelCase fields", () => {
    expect(norm(RunModel, { started_at__gte: d })).toEqual(Ast.field(["startedAt"], "gte", iso))
    expect(norm(RunModel, { initiated_by_run__name: "x" })).toEqual(Ast.field(["initiatedByRun", "name"], "eq", "x"))
  })
  it("relations and JSON paths by __", () => {
    expect(norm(RunModel, { transform__key__startswith: "Cell" })).toEqual(Ast.field(["transform", "key"], "startsWith", "Cell"))
    expect(norm(RunModel, { transform__in: [1, 2] })).toEqual(Ast.field(["transform", "id"], "in", [1, 2]))
    expect(norm(RunModel, { inputArtifacts__isnull: true })).toEqual(Ast.field(["inputArtifacts"], "isNull", true))
    expect(norm(RunModel, { params__a__b: 2 })).toEqual(Ast.field(["params", "a", "b"], "eq", 2))
    expect(norm(RunModel, { params__a__b__gt: 2 })).toEqual(Ast.field(["params", "a", "b"], "gt", 2))
    expect(norm(RunModel, { params__lr: null })).toEqual(Ast.field(["params", "lr"], "isNull", true))
  })
  it("keyword, typed and Q spellings give the same tree", () => {
    const a = norm(RunModel, { transform__key__startswith: "C", startedAt__gte: d })
    const b = norm(RunModel, { transform: { key: { startsWith: "C" } }, startedAt: { gte: d } })
    const c = norm(RunModel, Q.and(Q.where("transform__key", "startsWith", "C"), Q.where(["startedAt"], "gte", d)))
    expect(b).toEqual(a)
    expect(c).toEqual(a)
  })
})

describe("Q combinators", () => {
  it("and, or, not", () => {
    expect(norm(RunModel, Q.or({ name: "a" }, { name: "b" }))).toEqual({
      _tag: "Or",
      conds: [Ast.field(["name"], "eq", "a"), Ast.field(["name"], "eq", "b")]
    })
    expect(norm(RunModel, Q.not({ name: "a" }))).toEqual(Ast.not(Ast.field(["name"], "eq", "a")))
    expect(norm(RunModel, Q.or())).toEqual(Ast.never)
    expect(norm(RunModel, Q.and())).toEqual(Ast.always)
  })
  it("several inputs are combined with And", () => {
    expect(norm(RunModel, { name: "a" }, Q.not({ status: "completed" }))).toEqual({
      _tag: "And",
      conds: [Ast.field(["name"], "eq", "a"), Ast.not(Ast.field(["status"], "eq", "completed"))]
    })
  })
  it("Q.where reaches keys that would otherwise read as operators", () => {
    expect(norm(RunModel, Q.where(["params", "in"], "eq", 1))).toEqual(Ast.field(["params", "in"], "eq", 1))
  })
  it("plain data can never pass for a Q", () => {
    const forged = JSON.parse('{"node":{"_tag":"or","parts":[]}}') as QueryInput
    expect(invalid(TransformModel, forged).field).toBe("node")
  })
})

describe("features", () => {
  it("on a registry with features, a key that is no field or relation is a feature path", () => {
    expect(normalize(RunModel, [{ learningRate: 1 }])).toEqual(Ast.field(["featureValues", "learningRate"], "eq", 1))
    expect(normalize(RunModel, [{ learning_rate__gt: 0.1, transform__key: "k" }])).toEqual(
      Ast.and([Ast.field(["featureValues", "learning_rate"], "gt", 0.1), Ast.field(["transform", "key"], "eq", "k")])
    )
    expect(normalize(RunModel, [{ config: { depth: { gte: 3 } } }])).toEqual(
      Ast.field(["featureValues", "config", "depth"], "gte", 3)
    )
  })
})

describe("InvalidQuery", () => {
  it("unknown fields name the registry and list what is available", () => {
    const e = invalid(TransformModel, { learningRate: 1 })
    expect(e.registry).toBe("Transform")
    expect(e.field).toBe("learningRate")
    expect(e.expected).toContain("sourceCode")
    expect(invalid(RunModel, { transform__nope: 1 }).field).toBe("transform__nope")
    expect(invalid(ArtifactModel, { run__transform__nope: 1 }).registry).toBe("Artifact")
  })
  it("unknown operators", () => {
    expect(invalid(RunModel, { startedAt__after: d }).field).toBe("startedAt__after")
    const e = invalid(RunModel, { startedAt: { after: d } })
    expect(e.operator).toBe("after")
    expect(invalid(RunModel, { name__eq__eq: "x" }).field).toBe("name__eq__eq")
  })
  it("values of the wrong type", () => {
    expect(invalid(ArtifactModel, { size: "10" })).toMatchObject({ field: "size", operator: "eq", value: "10" })
    expect(invalid(ArtifactModel, { size: 1.5 }).field).toBe("size")
    expect(invalid(TransformModel, { key: 5 }).field).toBe("key")
    expect(invalid(TransformModel, { isLatest: "true" }).field).toBe("isLatest")
    expect(invalid(RunModel, { startedAt: "not a date" }).field).toBe("startedAt")
    expect(invalid(RunModel, { startedAt: new Date(Number.NaN) }).field).toBe("startedAt")
    expect(invalid(RunModel, { status: "finished" }).expected).toContain("completed")
    expect(invalid(RunModel, { status__in: ["completed", "finished"] }).field).toBe("status")
    expect(invalid(RunModel, { transform: "Cell Ranger" }).field).toBe("transform__id")
    expect(invalid(RunModel, { params__x: Number.NaN }).field).toBe("params__x")
    expect(invalid(RunModel, { params__x: () => 1 }).field).toBe("params__x")
    expect(invalid(RunModel, { params__x: new Map() }).field).toBe("params__x")
    expect(invalid(RunModel, { name: undefined }).field).toBe("name")
  })
  it("cyclic values under an explicit operator", () => {
    const cyclic: { self?: unknown } = {}
    cyclic.self = cyclic
    expect(invalid(RunModel, { params__x__eq: cyclic }).expected).toContain("cycles")
    expect(invalid(RunModel, { params__x__in: [cyclic] }).expected).toContain("cycles")
  })
  it("cyclic values as a JSON sub-document are InvalidQuery, not a stack overflow", () => {
    const cyclic: { self?: unknown } = {}
    cyclic.self = cyclic
    expect(invalid(RunModel, { params__x: cyclic })).toBeInstanceOf(InvalidQuery)
  })
  it("operators that do not fit the field", () => {
    expect(invalid(ArtifactModel, { size__contains: "1" }).operator).toBe("contains")
    expect(invalid(RunModel, { startedAt__startswith: "2024" }).operator).toBe("startsWith")
    expect(invalid(TransformModel, { isLatest__gt: true }).operator).toBe("gt")
    expect(invalid(RunModel, { params__x__contains: 1 }).operator).toBe("contains")
    expect(invalid(RunModel, { params__x__gt: true }).operator).toBe("gt")
  })
  it("operands of the wrong shape", () => {
    expect(invalid(RunModel, { status__in: "completed" }).expected).toContain("array")
    expect(invalid(RunModel, { startedAt__range: [d] }).expected).toContain("[low, high]")
    expect(invalid(RunModel, { finishedAt__isnull: "yes" }).operator).toBe("isNull")
    expect(invalid(TransformModel, { key__regex: "(" }).expected).toContain("regular expression")
  })
  it("empty path segments", () => {
    expect(invalid(RunModel, { params____x: 1 }).field).toBe("params____x")
    expect(invalid(RunModel, { "": 1 })).toBeInstanceOf(InvalidQuery)
  })
  it("queries that are not objects", () => {
    expect(invalid(RunModel, [] as unknown as QueryInput).field).toBe("(query)")
    expect(invalid(RunModel, "name=x" as unknown as QueryInput).field).toBe("(query)")
  })
})

describe("orderKeys", () => {
  it("directions, snake_case and JSON paths", () => {
    expect(orderKeys(RunModel, ["-startedAt", "name", "params__a__b", "started_at"])).toEqual([
      { path: ["startedAt"], direction: "desc" },
      { path: ["name"], direction: "asc" },
      { path: ["params", "a", "b"], direction: "asc" },
      { path: ["startedAt"], direction: "asc" }
    ])
  })
  it("refuses unknown fields, relations and paths into plain fields", () => {
    for (const bad of ["transform", "transform__key", "name__x", "params____a", "-"]) {
      expect(orderKeys(RunModel, [bad])).toBeInstanceOf(InvalidQuery)
    }
    expect(orderKeys(TransformModel, ["nope"])).toBeInstanceOf(InvalidQuery)
  })
  it("on a registry with features, an unknown name orders by that feature (checked when the query runs)", () => {
    expect(orderKeys(RunModel, ["-learning_rate"])).toEqual([{ path: ["featureValues", "learning_rate"], direction: "desc" }])
  })
})
