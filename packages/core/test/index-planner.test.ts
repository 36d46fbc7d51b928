/**
 * The index planner is pure: plans are plain data computed from a store's estimates. These tests plan over a
 * fake store whose indexed paths have fixed counts, and check the intervals an index reads against the
 * reference evaluator.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Ast from "../src/Ast.js"
import * as Evaluator from "../src/Evaluator.js"
import * as IndexPlanner from "../src/IndexPlanner.js"

/** A table whose indexed paths match fixed counts; it records the cap of every estimate asked. */
const fakeTable = (counts: Record<string, number>, options: { size?: number; walkable?: ReadonlyArray<string> } = {}) => {
  const caps: Array<readonly [string, number]> = []
  const table: IndexPlanner.IndexedTable = {
    name: "t",
    size: options.size ?? 1_000,
    walkable: (path) => (options.walkable ?? []).includes(path[0]!),
    estimate: (cond, cap) => {
      const name = cond.path[0]!
      caps.push([name, cap])
      const estimated = counts[name]
      return estimated === undefined ? undefined : { _tag: "Lookup", path: cond.path, op: cond.op, value: cond.value, estimated }
    }
  }
  return { table, caps }
}

const eq = (name: string): Ast.Field => Ast.field([name], "eq", 1)
const lookup = (name: string, estimated: number) => ({ _tag: "Lookup", path: [name], op: "eq", value: 1, estimated })

describe("planAccess", () => {
  const { table } = fakeTable({ a: 10, b: 40, c: 41, big: 900 })
  const access = (where: Ast.Cond) => IndexPlanner.planCount(table, where).access

  it("reads one indexed predicate from its index, and scans for an unindexed one or a Not", () => {
    expect(access(eq("a"))).toEqual(lookup("a", 10))
    expect(access(eq("none"))).toEqual({ _tag: "Scan", estimated: 1_000 })
    expect(access(Ast.not(eq("a")))).toEqual({ _tag: "Scan", estimated: 1_000 })
  })

  it("unions the branches of an Or, unless one has no index", () => {
    expect(access(Ast.or([eq("a"), eq("b")]))).toEqual({ _tag: "Union", parts: [lookup("a", 10), lookup("b", 40)], estimated: 50 })
    expect(access(Ast.or([eq("a"), eq("none")]))).toEqual({ _tag: "Scan", estimated: 1_000 })
    // Nothing matches an empty Or: no candidates at all.
    expect(access(Ast.never)).toEqual({ _tag: "Union", parts: [], estimated: 0 })
  })

  it("intersects the conjuncts within 4× of the smallest, smallest first, and leaves the rest to the evaluator", () => {
    expect(access(Ast.and([eq("c"), eq("none"), eq("b"), eq("a")]))).toEqual({
      _tag: "Intersect",
      parts: [lookup("a", 10), lookup("b", 40)],
      estimated: 10
    })
    expect(access(Ast.and([eq("big"), eq("a")]))).toEqual(lookup("a", 10))
    expect(access(Ast.and([eq("none"), Ast.not(eq("a"))]))).toEqual({ _tag: "Scan", estimated: 1_000 })
    expect(access(Ast.always)).toEqual({ _tag: "Scan", estimated: 1_000 })
  })

  it("asks for a conjunct's count only as far as it could still be intersected", () => {
    const { table, caps } = fakeTable({ a: 10, b: 40 })
    IndexPlanner.planCount(table, Ast.and([eq("a"), eq("b"), Ast.or([eq("a"), eq("b")])]))
    expect(caps).toEqual([
      ["a", 1_000],
      ["b", 40],
      ["a", 40],
      ["b", 40]
    ])
  })
})

describe("planFind", () => {
  const size = 10_000
  // Top 10 of 10,000: walking the index wins once the candidates reach sqrt(10 × 10,000) ≈ 317.
  const top10 = (where: Ast.Cond, orderBy: ReadonlyArray<Ast.OrderKey> = [{ path: ["at"], direction: "desc" }]): Ast.FindSpec => ({
    where,
    orderBy,
    limit: 10
  })

  it("walks the order key's index when the candidates are many, reading about wanted × size / candidates", () => {
    const { table } = fakeTable({ wide: 1_000, narrow: 100 }, { size, walkable: ["at"] })
    expect(IndexPlanner.planFind(table, top10(eq("wide")))).toEqual({
      table: "t",
      access: { _tag: "IndexOrder", path: ["at"], direction: "desc", estimated: 100 },
      fullScan: false,
      orderedByIndex: true
    })
    expect(IndexPlanner.planFind(table, top10(eq("narrow")))).toEqual({
      table: "t",
      access: lookup("narrow", 100),
      fullScan: false,
      orderedByIndex: false
    })
  })

  it("counts candidates only up to where the walk wins, and fully when there is no walk", () => {
    const walkable = fakeTable({ wide: 1_000 }, { size, walkable: ["at"] })
    IndexPlanner.planFind(walkable.table, top10(eq("wide")))
    expect(walkable.caps).toEqual([["wide", 317]])
    const unwalkable = fakeTable({ wide: 1_000 }, { size })
    expect(IndexPlanner.planFind(unwalkable.table, top10(eq("wide"))).access).toEqual(lookup("wide", 1_000))
    expect(unwalkable.caps).toEqual([["wide", size]])
  })

  it("orders by ascending id when no order is given, and scans when nothing is indexed", () => {
    const { table } = fakeTable({}, { size, walkable: ["id"] })
    expect(IndexPlanner.planFind(table, top10(eq("none"), [])).access).toEqual({ _tag: "IndexOrder", path: ["id"], direction: "asc", estimated: 10 })
    expect(IndexPlanner.planFind(table, top10(eq("none"), [{ path: ["at"], direction: "asc" }]))).toEqual({
      table: "t",
      access: { _tag: "Scan", estimated: size },
      fullScan: true,
      orderedByIndex: false
    })
  })

  it("wants offset + limit documents, at most the table", () => {
    expect(IndexPlanner.wanted({ where: Ast.always, orderBy: [], offset: 5, limit: 10 }, 100)).toBe(15)
    expect(IndexPlanner.wanted({ where: Ast.always, orderBy: [], offset: 95, limit: 10 }, 100)).toBe(100)
    expect(IndexPlanner.wanted({ where: Ast.always, orderBy: [] }, 100)).toBe(100)
  })
})

describe("intervalsFor", () => {
  /** Whether `v` lies in `interval`, by the evaluator's order. */
  const within = (v: Ast.Json, interval: IndexPlanner.Interval): boolean => {
    switch (interval._tag) {
      case "Equal":
        return Evaluator.compareJson(v, interval.value) === 0
      case "NotNull":
        return v !== null
      case "Between": {
        const { low, high } = interval
        if (typeof v !== interval.type) return false
        const fromLow = low === undefined ? 1 : Evaluator.compareJson(v, low.value)
        const toHigh = high === undefined ? -1 : Evaluator.compareJson(v, high.value)
        return (low?.inclusive ? fromLow >= 0 : fromLow > 0) && (high?.inclusive ? toHigh <= 0 : toHigh < 0)
      }
      case "Prefix":
        return typeof v === "string" && v.startsWith(interval.prefix)
    }
  }

  it("lists exactly the operators an index serves", () => {
    const served = Ast.operators.filter((op) => IndexPlanner.intervalsFor(op, 1) !== undefined)
    expect([...IndexPlanner.indexedOperators].sort()).toEqual([...served].sort())
    expect(IndexPlanner.indexedOperators).toEqual(["eq", "in", "gt", "gte", "lt", "lte", "range", "startsWith", "isNull"])
  })

  it("reads each member of an `in` list once, by JSON equality", () => {
    const values = IndexPlanner.intervalsFor("in", [1, -0, 0, "1", "[1]", [1], [1], { a: 1, b: 2 }, { b: 2, a: 1 }, null, null])
    expect(values).toEqual([1, -0, "1", "[1]", [1], { a: 1, b: 2 }, null].map((value) => ({ _tag: "Equal", value })))
  })

  it("reads nothing for an argument no value can match", () => {
    expect(IndexPlanner.intervalsFor("gt", true)).toEqual([])
    expect(IndexPlanner.intervalsFor("range", [1, "z"])).toEqual([])
    expect(IndexPlanner.intervalsFor("range", [1])).toEqual([])
    expect(IndexPlanner.intervalsFor("startsWith", 1)).toEqual([])
    expect(IndexPlanner.intervalsFor("in", "a")).toEqual([])
  })

  // Few distinct values, so a value often meets its predicate's argument (an interval's edge).
  const scalar = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -3, max: 3 }),
    fc.constantFrom(-0, 0.5, -1e300),
    fc.string({ maxLength: 2, unit: fc.constantFrom("a", "b", "é", "😀", "\u0000") })
  )
  const json: fc.Arbitrary<Ast.Json> = fc.oneof(scalar, fc.array(scalar, { maxLength: 2 }), fc.dictionary(fc.constantFrom("a", "b"), scalar))
  const predicate = fc.oneof(
    fc.tuple(fc.constantFrom("eq", "gt", "gte", "lt", "lte", "startsWith"), json),
    fc.tuple(fc.constant("in"), fc.array(json, { maxLength: 4 })),
    fc.tuple(fc.constant("range"), fc.tuple(scalar, scalar)),
    fc.tuple(fc.constant("isNull"), fc.boolean())
  ) as fc.Arbitrary<readonly [IndexPlanner.IndexedOperator, Ast.Json]>

  /** Values at a predicate's edges: its argument, or a member of a list argument. */
  const near = (arg: Ast.Json): fc.Arbitrary<Ast.Json> =>
    Array.isArray(arg) && arg.length > 0 ? fc.constantFrom(...(arg as ReadonlyArray<Ast.Json>)) : fc.constant(arg)
  const cases = predicate.chain((p) => fc.tuple(fc.oneof(json, near(p[1])), fc.constant(p)))

  it("holds exactly the values the evaluator accepts", () => {
    fc.assert(
      fc.property(cases, ([v, [op, arg]]) => {
        const intervals = IndexPlanner.intervalsFor(op, arg)!
        expect(intervals.some((i) => within(v, i))).toBe(Evaluator.testValue(v, op, arg))
      }),
      { numRuns: 2_000 }
    )
  })
})
