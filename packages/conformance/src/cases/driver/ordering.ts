/**
 * Ordering: numbers numerically, strings by code point (so astral characters sort after U+FFFD), nulls first
 * ascending and last descending, types in the evaluator's rank, and ties always broken by ascending id, even
 * in a descending order. Arrays and objects order by their canonical JSON text (`Evaluator.canonical`: keys
 * sorted, numbers and strings as `JSON.stringify` writes them), compared by code point: the cases below pin
 * each part of that text a store could write differently. Rows are inserted shuffled so insertion order
 * cannot pass for id order.
 */
import assert from "node:assert/strict"
import { Ast, Driver, Evaluator } from "@lineage/core"
import type { Case, CaseContext } from "../../Case.js"
import { agrees, declareAll, idsOf, keysetWalk, run, seed, uidsOf } from "../../Fixtures.js"
import { seedSpecimens } from "./queries.js"

const group = "ordering"

const asc = (...path: ReadonlyArray<string>): Ast.OrderKey => ({ path, direction: "asc" })
const desc = (...path: ReadonlyArray<string>): Ast.OrderKey => ({ path, direction: "desc" })

/**
 * Seeds `rows` once, then for each order asks for them and walks them page by page, and checks evaluator
 * agreement and the hand-written uid order.
 */
const orders = async (
  ctx: CaseContext,
  rows: ReadonlyArray<Driver.Doc>,
  checks: ReadonlyArray<readonly [ReadonlyArray<Ast.OrderKey>, ReadonlyArray<string>]>
): Promise<void> => {
  await declareAll(ctx)
  // Shuffled on one table and reversed on the other, so no arrival order can pass for id order. `thing` has
  // sorted indexes on `n` and `at` and `bare` none, so both an index walk and a sort are checked.
  for (const [table, arrival] of [["thing", "shuffled"], ["bare", "reversed"]] as const) {
    const docs = await seed(ctx, table, rows, { arrival })
    for (const [orderBy, want] of checks) {
      const got = await agrees(ctx, table, docs, { where: Ast.always, orderBy }, table)
      assert.deepStrictEqual(uidsOf(got), want, `wrong order on ${table} for ${JSON.stringify(orderBy)}`)
      const walked = await keysetWalk(ctx, table, { where: Ast.always, orderBy, pageSize: 3, maxRows: rows.length })
      assert.deepStrictEqual(uidsOf(walked), want, `a keyset walk on ${table} for ${JSON.stringify(orderBy)} went astray`)
    }
  }
}

/** Seeds `rows`, asks for them in `orderBy`, and checks evaluator agreement and the hand-written uid order. */
const ordered = (ctx: CaseContext, rows: ReadonlyArray<Driver.Doc>, orderBy: ReadonlyArray<Ast.OrderKey>, want: ReadonlyArray<string>): Promise<void> =>
  orders(ctx, rows, [[orderBy, want]])

/** `ordered` by `n` ascending, then descending (the rows hold distinct values: the exact reverse). */
const bothWays = (ctx: CaseContext, rows: ReadonlyArray<Driver.Doc>, want: ReadonlyArray<string>): Promise<void> =>
  orders(ctx, rows, [
    [[asc("n")], want],
    [[desc("n")], [...want].reverse()]
  ])

/** Rows named by uid, each holding its value in `n`, listed in id order. */
const valued = (entries: ReadonlyArray<readonly [string, Driver.Json]>): Array<Driver.Doc> => entries.map(([uid, n]) => ({ uid, n }))

/**
 * Numbers inside arrays and objects are compared as the text JSON writes: `1e+21`, `2e-7`, `1.5e+300`,
 * `5e-324` in exponent form (never `1000000000000000000000` or `0.0000002`), so `[1.5e300]` comes before
 * `[100]`, which comes before `[1e21]`.
 */
const numbersInStructures = valued([
  ["e21", [1e21]],
  ["e300", [1.5e300]],
  ["tiny", [2e-7]],
  ["negTiny", [-1e-7]],
  ["denormal", [5e-324]],
  ["hundred", [100]],
  ["half", [0.5]],
  ["objE21", { x: 1e21 }],
  ["objHundred", { x: 100 }],
  ["objTiny", { x: 2e-7 }],
  ["objHalf", { x: 0.5 }]
])

/** Numbers that JSON writes in exponent form still order numerically on their own. */
const extremeNumbers = valued([
  ["e21", 1e21],
  ["tiny", 2e-7],
  ["e300", 1.5e300],
  ["zero", 0],
  ["negTiny", -1e-7],
  ["denormal", 5e-324],
  ["negE300", -1.5e300],
  ["million", 1e6]
])

/**
 * Object keys are sorted in canonical text as JavaScript's `sort()` sorts them, by UTF-16 code unit (so "😀"
 * before "\uFFFD"), at every depth; not kept in insertion order, not sorted by code point, not shortest first
 * (PostgreSQL's `jsonb` order).
 */
const objectKeys = valued([
  ["b0a1", { b: 0, a: 1 }],
  ["a2", { a: 2 }],
  ["aa0b1", { aa: 0, b: 1 }],
  ["ab0", { ab: 0 }],
  ["fffdAndEmoji", { "\uFFFD": 0, "😀": 0 }],
  ["emojiMinus1", { "😀": -1 }],
  ["nestedB0A1", { p: { b: 0, a: 1 } }],
  ["nestedA2", { p: { a: 2 } }]
])

/**
 * Strings inside arrays are compared as `JSON.stringify` writes them: `"` and `\` escaped, U+0000 and other
 * control characters as `\u00XX` (but `\n`, `\t`… short), DEL and non-ASCII characters as themselves.
 */
const stringsInArrays = valued([
  ["nul", ["a\u0000"]],
  ["eacute", ["aé"]],
  ["plain", ["a"]],
  ["unit", ["a\u001f"]],
  ["del", ["a\u007f"]],
  ["newline", ["a\n"]],
  ["bang", ["a!"]],
  ["quote", ['a"']],
  ["tilde", ["a~"]],
  ["backslash", ["a\\"]]
])

/**
 * Arrays are compared as whole text, not element by element: `[1,2]` before `[1]` (`,` before `]`), `[10]`
 * before `[9]`, `[-1]` before `[-2]`, strings first, and `[false]`, `[null]`, `[true]` by their letters.
 */
const arraysAsText = valued([
  ["one", [1]],
  ["oneTwo", [1, 2]],
  ["nine", [9]],
  ["ten", [10]],
  ["minus2", [-2]],
  ["minus1", [-1]],
  ["empty", []],
  ["nestedOneThenTwo", [[1], 2]],
  ["nestedOneTwo", [[1, 2]]],
  ["true", [true]],
  ["null", [null]],
  ["false", [false]],
  ["strX", ["x"]]
])

/** Strings that read as numbers are still strings: by code point, never by their numeric value. */
const numericStrings = valued([
  ["ten", "10"],
  ["nine", "9"],
  ["minusOne", "-1"],
  ["thousand", "1e3"],
  ["two", "2"],
  ["spaceThree", " 3"],
  ["hex", "0x10"],
  ["oneHalf", "1.5"],
  ["plusOne", "+1"]
])

/** Long strings sharing a 10 000-character prefix: every character counts, as in a store's order key. */
const prefix = "x".repeat(10_000)
const longStrings = valued([
  ["b", `${prefix}b`],
  ["a", `${prefix}a`],
  ["az", `${prefix}az`],
  ["bare", prefix],
  ["arrB", [`${prefix}b`]],
  ["arrA", [`${prefix}a`]]
])

/**
 * -0 is 0 (JSON has no -0, and a store may give it back as 0): it ties with 0, broken by id, alone and inside
 * arrays, in a sort and as a cursor's value.
 */
const zeros = valued([
  ["negZero", -0],
  ["zero", 0],
  ["tinyNeg", -1e-300],
  ["negZero2", -0],
  ["tinyPos", 5e-324],
  ["zeroArr", [0]],
  ["negZeroArr", [-0]]
])

/** Reads documents as JSON text does, turning -0 into 0. */
const asJson = (docs: ReadonlyArray<Driver.Doc>): unknown => JSON.parse(JSON.stringify(docs))

/** `find` from `after` agrees with the evaluator, up to -0 read as 0, and returns `want`. */
const fromCursor = async (
  ctx: CaseContext,
  table: string,
  docs: ReadonlyArray<Driver.Doc>,
  spec: Ast.FindSpec,
  want: ReadonlyArray<string>
): Promise<void> => {
  const expected = Evaluator.find(docs, spec)
  const got = await run(ctx.driver.find(table, spec))
  const what = `${table}: ${JSON.stringify(spec.orderBy)} after ${JSON.stringify(spec.after)}`
  assert.deepStrictEqual(idsOf(got), idsOf(expected), `find ids differ from the reference evaluator for ${what}`)
  assert.deepStrictEqual(asJson(got), asJson(expected), `find documents differ from the reference evaluator for ${what}`)
  assert.deepStrictEqual(uidsOf(got), want, `wrong order for ${what}`)
}

const negativeZero = async (ctx: CaseContext): Promise<void> => {
  await declareAll(ctx)
  for (const table of ["thing", "bare"]) {
    const docs = await seed(ctx, table, zeros)
    const id = (uid: string): number => docs.find((d) => d["uid"] === uid)!["id"] as number
    const all = { where: Ast.always }
    await fromCursor(ctx, table, docs, { ...all, orderBy: [asc("n")] }, ["tinyNeg", "negZero", "zero", "negZero2", "tinyPos", "zeroArr", "negZeroArr"])
    await fromCursor(ctx, table, docs, { ...all, orderBy: [desc("n")] }, ["zeroArr", "negZeroArr", "tinyPos", "negZero", "zero", "negZero2", "tinyNeg"])
    const afterZero = { values: [-0], id: id("zero") }
    await fromCursor(ctx, table, docs, { ...all, orderBy: [asc("n")], after: afterZero }, ["negZero2", "tinyPos", "zeroArr", "negZeroArr"])
    await fromCursor(ctx, table, docs, { ...all, orderBy: [desc("n")], after: afterZero }, ["negZero2", "tinyNeg"])
    await fromCursor(ctx, table, docs, { ...all, orderBy: [asc("n")], after: { values: [[-0]], id: id("zeroArr") } }, ["negZeroArr"])
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
    name: "numbers in exponent form order numerically",
    run: (ctx) => bothWays(ctx, extremeNumbers, ["negE300", "negTiny", "zero", "denormal", "tiny", "million", "e21", "e300"])
  },
  {
    group,
    name: "numbers inside arrays and objects order by the text JSON writes, exponent forms included",
    run: (ctx) =>
      bothWays(ctx, numbersInStructures, ["negTiny", "half", "e300", "hundred", "e21", "tiny", "denormal", "objHalf", "objHundred", "objE21", "objTiny"])
  },
  {
    group,
    name: "objects order by canonical JSON: keys sorted by UTF-16 code unit, at every depth",
    run: (ctx) => bothWays(ctx, objectKeys, ["b0a1", "a2", "aa0b1", "ab0", "nestedB0A1", "nestedA2", "emojiMinus1", "fffdAndEmoji"])
  },
  {
    group,
    name: "strings inside arrays order by their JSON text: escapes, U+0000, DEL and non-ASCII",
    run: (ctx) => bothWays(ctx, stringsInArrays, ["bang", "plain", "quote", "backslash", "newline", "nul", "unit", "tilde", "del", "eacute"])
  },
  {
    group,
    name: "arrays order by their whole text, not element by element: a longer array before its prefix",
    run: (ctx) =>
      bothWays(ctx, arraysAsText, ["strX", "minus1", "minus2", "oneTwo", "ten", "one", "nine", "nestedOneTwo", "nestedOneThenTwo", "empty", "false", "null", "true"])
  },
  {
    group,
    name: "strings that look like numbers order as strings",
    run: (ctx) => bothWays(ctx, numericStrings, ["spaceThree", "plusOne", "minusOne", "hex", "oneHalf", "ten", "thousand", "two", "nine"])
  },
  {
    group,
    name: "long strings order by every character, past any prefix",
    run: (ctx) => bothWays(ctx, longStrings, ["bare", "a", "az", "b", "arrA", "arrB"])
  },
  {
    group,
    name: "negative zero orders as 0, alone, inside arrays and in a cursor",
    run: negativeZero
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
