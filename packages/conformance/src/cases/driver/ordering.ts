/**
 * Ordering: numbers numerically, strings by code point (so astral characters sort after U+FFFD), nulls first
 * ascending and last descending, types in the evaluator's rank, and ties always broken by ascending id, even
 * in a descending order. Rows are inserted shuffled so insertion order cannot pass for id order.
 */
import assert from "node:assert/strict"
import { Ast, Driver } from "@lineage/core"
import type { Case, CaseContext } from "../../Case.js"
import { agrees, declareAll, seed, uidsOf } from "../../Fixtures.js"
import { seedSpecimens } from "./queries.js"

const group = "ordering"

const asc = (...path: ReadonlyArray<string>): Ast.OrderKey => ({ path, direction: "asc" })
const desc = (...path: ReadonlyArray<string>): Ast.OrderKey => ({ path, direction: "desc" })

/** Seeds `rows`, asks for them in `orderBy`, and checks evaluator agreement and the hand-written uid order. */
const ordered = async (
  ctx: CaseContext,
  rows: ReadonlyArray<Driver.Doc>,
  orderBy: ReadonlyArray<Ast.OrderKey>,
  want: ReadonlyArray<string>
): Promise<void> => {
  await declareAll(ctx)
  // Shuffled on one table and reversed on the other, so no arrival order can pass for id order.
  for (const [table, arrival] of [["thing", "shuffled"], ["bare", "reversed"]] as const) {
    const docs = await seed(ctx, table, rows, { arrival })
    const got = await agrees(ctx, table, docs, { where: Ast.always, orderBy }, table)
    assert.deepStrictEqual(uidsOf(got), want, `wrong order on ${table} for ${JSON.stringify(orderBy)}`)
  }
}

const numbers: ReadonlyArray<Driver.Doc> = [
  { uid: "ten", n: 10 },
  { uid: "two", n: 2 },
  { uid: "minus1", n: -1 },
  { uid: "half", n: 0.5 },
  { uid: "hundred", n: 100 },
  { uid: "minusQuarter", n: -0.25 },
  { uid: "big", n: 9007199254740991 }
]

const strings: ReadonlyArray<Driver.Doc> = [
  { uid: "b", name: "b" },
  { uid: "a", name: "a" },
  { uid: "B", name: "B" },
  { uid: "eacute", name: "é" },
  { uid: "z", name: "z" },
  { uid: "fffd", name: "\uFFFD" },
  { uid: "grin", name: "😀" },
  { uid: "empty", name: "" },
  { uid: "aa", name: "aa" }
]

const dates: ReadonlyArray<Driver.Doc> = [
  { uid: "d2", at: "2024-03-01T12:34:56.789Z" },
  { uid: "d4", at: "2025-01-01T00:00:00.000Z" },
  { uid: "d1", at: "2023-12-31T23:59:59.999Z" },
  { uid: "d3", at: "2024-03-01T12:34:56.790Z" }
]

const withNulls: ReadonlyArray<Driver.Doc> = [
  { uid: "three", n: 3 },
  { uid: "null1", n: null },
  { uid: "missing" },
  { uid: "one", n: 1 },
  { uid: "null2", n: null }
]

const ties: ReadonlyArray<Driver.Doc> = Array.from({ length: 12 }, (_, i) => ({ uid: `t${String(i).padStart(2, "0")}`, key: i % 3 === 0 ? "x" : "y" }))

export const ordering: ReadonlyArray<Case> = [
  {
    group,
    name: "numbers ascending are ordered numerically, not as text",
    run: (ctx) => ordered(ctx, numbers, [asc("n")], ["minus1", "minusQuarter", "half", "two", "ten", "hundred", "big"])
  },
  {
    group,
    name: "numbers descending",
    run: (ctx) => ordered(ctx, numbers, [desc("n")], ["big", "hundred", "ten", "two", "half", "minusQuarter", "minus1"])
  },
  {
    group,
    name: "strings by code point: uppercase first, astral characters after U+FFFD",
    run: (ctx) => ordered(ctx, strings, [asc("name")], ["empty", "B", "a", "aa", "b", "z", "eacute", "fffd", "grin"])
  },
  {
    group,
    name: "strings descending by code point",
    run: (ctx) => ordered(ctx, strings, [desc("name")], ["grin", "fffd", "eacute", "z", "b", "aa", "a", "B", "empty"])
  },
  {
    group,
    name: "ISO datetimes ascending, to the millisecond",
    run: (ctx) => ordered(ctx, dates, [asc("at")], ["d1", "d2", "d3", "d4"])
  },
  {
    group,
    name: "ISO datetimes descending, to the millisecond",
    run: (ctx) => ordered(ctx, dates, [desc("at")], ["d4", "d3", "d2", "d1"])
  },
  {
    group,
    name: "null and missing sort first ascending, with ties by id",
    run: (ctx) => ordered(ctx, withNulls, [asc("n")], ["null1", "missing", "null2", "one", "three"])
  },
  {
    group,
    name: "null and missing sort last descending, still with ties by ascending id",
    run: (ctx) => ordered(ctx, withNulls, [desc("n")], ["three", "one", "null1", "missing", "null2"])
  },
  {
    group,
    name: "ties are broken by ascending id in both directions",
    run: async (ctx) => {
      const xs = ["t00", "t03", "t06", "t09"]
      const ys = ["t01", "t02", "t04", "t05", "t07", "t08", "t10", "t11"]
      await ordered(ctx, ties, [desc("key")], [...ys, ...xs])
    }
  },
  {
    group,
    name: "no order at all is ascending id",
    run: (ctx) => ordered(ctx, ties, [], ties.map((t) => String(t["uid"])))
  },
  {
    group,
    name: "an explicit id key replaces the tiebreak: descending id",
    run: (ctx) => ordered(ctx, ties, [desc("id")], ties.map((t) => String(t["uid"])).reverse())
  },
  {
    group,
    name: "several keys: key ascending, then n descending, then id",
    run: (ctx) =>
      ordered(
        ctx,
        [
          { uid: "y1", key: "y", n: 1 },
          { uid: "x1", key: "x", n: 1 },
          { uid: "x5", key: "x", n: 5 },
          { uid: "y9", key: "y", n: 9 },
          { uid: "x5b", key: "x", n: 5 },
          { uid: "xnull", key: "x" }
        ],
        [asc("key"), desc("n")],
        ["x5", "x5b", "x1", "xnull", "y9", "y1"]
      )
  },
  {
    group,
    name: "by a nested JSON path",
    run: (ctx) =>
      ordered(
        ctx,
        [
          { uid: "p2", params: { lr: 0.1 } },
          { uid: "p0", params: {} },
          { uid: "p1", params: { lr: 0.01 } },
          { uid: "p3", params: { lr: 1 } }
        ],
        [desc("params", "lr")],
        ["p3", "p2", "p1", "p0"]
      )
  },
  {
    group,
    name: "mixed types follow the rank null, boolean, number, string, array, object",
    run: (ctx) =>
      ordered(
        ctx,
        [
          { uid: "obj", v: { a: 1 } },
          { uid: "str", v: "0" },
          { uid: "arr", v: [0] },
          { uid: "num", v: 0 },
          { uid: "true", v: true },
          { uid: "false", v: false },
          { uid: "null", v: null }
        ],
        [asc("v")],
        ["null", "false", "true", "num", "str", "arr", "obj"]
      )
  },
  {
    group,
    name: "every field of the specimens, both directions, agrees with the evaluator",
    run: async (ctx) => {
      const docs = await seedSpecimens(ctx)
      for (const table of ["thing", "bare"]) {
        for (const path of [["name"], ["n"], ["at"], ["flag"], ["tags"], ["params", "a", "b"], ["uid"]]) {
          for (const direction of ["asc", "desc"] as const) {
            await agrees(ctx, table, docs[table]!, { where: Ast.always, orderBy: [{ path, direction }] }, table)
          }
        }
      }
    }
  }
]
