/**
 * Every operator of `Ast.operators`, several ways each. The hand-written answers pin the traps a native
 * compilation falls into: MongoDB matching array elements, case-insensitive collations, regex-escaped
 * `contains`, UTF-16 instead of code-point order, `limit`-like treatment of nulls, numbers vs numeric strings.
 */
import assert from "node:assert/strict"
import { Ast, type Driver, Evaluator } from "@lineage/core"
import type { Case } from "../../Case.js"
import { agrees, declareAll, failsWith, seed, uidsOf } from "../../Fixtures.js"
import type { Check } from "./queries.js"
import { allUids, f, queryCase, stringNames } from "./queries.js"

const group = "operators"

const byOperator: Record<Ast.Operator, ReadonlyArray<readonly [string, ReadonlyArray<Check>]>> = {
  eq: [
    ["strings are compared exactly (case, whitespace)", [
      { where: f("name", "eq", "Cell Ranger"), want: ["ranger"] },
      { where: f("name", "eq", "cell ranger"), want: [] },
      { where: f("name", "eq", "$where"), want: ["dollar"] },
      { where: f("name", "eq", "ÄRZTE CAFÉ"), want: ["upper"] }
    ]],
    ["numbers never equal numeric strings, arrays or booleans", [
      { where: f("n", "eq", 10), want: ["ranger", "space"] },
      { where: f("n", "eq", "10"), want: ["numstr"] },
      { where: f("n", "eq", 2.5), want: ["cafe"] },
      { where: f("n", "eq", 9007199254740991), want: ["strasse"] },
      { where: f("n", "eq", 0), want: ["xgene"] },
      { where: f("flag", "eq", true), want: ["ranger", "xgene"] }
    ]],
    ["eq null matches null and missing fields", [
      { where: f("name", "eq", null), want: ["nulls", "bare"] },
      { where: f(["params", "a", "b"], "eq", null), includes: ["scanpy", "cafe", "upper", "bare", "nulls"], excludes: ["ranger", "obj", "numstr"] }
    ]],
    ["arrays and objects compare as whole values, never by element", [
      { where: f("tags", "eq", ["a", "b"]), want: ["ranger"] },
      { where: f("tags", "eq", ["b", "a"]), want: [] },
      { where: f("tags", "eq", "a"), want: [] },
      { where: f("tags", "eq", []), want: ["xgene"] },
      { where: f(["params", "a", "b"], "eq", { c: 1 }), want: ["obj"] },
      { where: f("n", "eq", 10), excludes: ["arr", "obj"] }
    ]],
    ["nested JSON paths and ISO datetimes", [
      { where: f(["params", "a", "b"], "eq", 1), want: ["ranger"] },
      { where: f(["params", "a"], "eq", [{ b: 1 }]), want: ["bool"] },
      { where: f(["params", "a", "b"], "eq", "1"), want: ["xgene"] },
      { where: f(["params", "lr"], "eq", 0.01), want: ["ranger", "scanpy"] },
      { where: f("at", "eq", "2024-03-01T12:34:56.789Z"), want: ["ranger"] },
      { where: f("at", "eq", "2024-03-01T12:34:56.789"), want: [] }
    ]]
  ],
  ne: [
    ["ne matches null and missing fields", [
      { where: f("name", "ne", "Cell Ranger"), includes: ["nulls", "bare", "arr", "space"], excludes: ["ranger"] },
      { where: f("n", "ne", 10), includes: ["nulls", "bare", "numstr", "arr"], excludes: ["ranger", "space"] }
    ]],
    ["ne null matches every present value", [
      { where: f("name", "ne", null), want: allUids.filter((u) => u !== "nulls" && u !== "bare") },
      { where: f(["params", "lr"], "ne", null), want: ["ranger", "cellpose", "scanpy", "bool"] }
    ]],
    ["ne compares types and whole values", [
      { where: f("flag", "ne", true), excludes: ["ranger", "xgene"], includes: ["numstr", "obj", "bool", "cellpose", "bare"] },
      { where: f("tags", "ne", ["a"]), excludes: ["arr"], includes: ["ranger", "xgene", "bare"] }
    ]]
  ],
  gt: [
    ["numbers compare with numbers only", [
      { where: f("n", "gt", 2), want: ["ranger", "scanpy", "cafe", "dna", "istanbul", "strasse", "space"] },
      { where: f("n", "gt", 9007199254740990), want: ["strasse"] },
      { where: f(["params", "lr"], "gt", 0.01), want: ["cellpose"] }
    ]],
    ["strings compare by code point, also beyond the BMP", [
      { where: f("name", "gt", "a"), want: ["cellpose", "scanpy", "cafe", "upper", "dna", "istanbul", "strasse", "regexy", "space"] },
      { where: f("name", "gt", "\uFFFD"), want: ["dna"] },
      { where: f("n", "gt", "1"), want: ["numstr"] }
    ]],
    ["ISO datetimes as strings", [
      { where: f("at", "gt", "2024-03-01T12:34:56.789Z"), want: ["cellpose", "upper"] },
      { where: f("at", "gt", "2024-12-31T23:59:59.999Z"), want: ["upper"] }
    ]],
    ["null never matches an order operator", [
      { where: f("n", "gt", null), want: [] },
      { where: f("n", "gt", -1e300), excludes: ["nulls", "bare", "bool", "numstr", "arr"] }
    ]]
  ],
  gte: [
    ["inclusive bound on numbers and dates", [
      { where: f("n", "gte", 2), want: ["ranger", "scanpy", "cafe", "upper", "dna", "istanbul", "strasse", "space"] },
      { where: f("at", "gte", "2024-03-01T12:34:56.789Z"), want: ["ranger", "cellpose", "upper"] },
      { where: f(["params", "lr"], "gte", 0.01), want: ["ranger", "cellpose", "scanpy"] }
    ]],
    ["booleans are not ordered against numbers", [
      { where: f("n", "gte", 0), excludes: ["bool"] },
      { where: f("flag", "gte", false), want: [] }
    ]]
  ],
  lt: [
    ["negative and fractional numbers", [
      { where: f("n", "lt", 0), want: ["cellpose", "regexy", "empty"] },
      { where: f("n", "lt", -0.5), want: ["cellpose", "empty"] }
    ]],
    ["strings below a bound, by code point", [
      { where: f("name", "lt", "a"), want: ["ranger", "xgene", "dollar", "empty", "numstr"] },
      { where: f("name", "lt", "\uFFFD"), want: stringNames.filter((u) => u !== "dna") }
    ]],
    ["ISO datetimes before a bound", [
      { where: f("at", "lt", "2024-01-01T00:00:00.000Z"), want: ["xgene"] }
    ]]
  ],
  lte: [
    ["inclusive upper bound", [
      { where: f("n", "lte", 0), want: ["cellpose", "xgene", "regexy", "empty"] },
      { where: f("at", "lte", "2024-01-01T00:00:00.000Z"), want: ["xgene", "scanpy"] }
    ]],
    ["null never compares", [
      { where: f("n", "lte", null), want: [] },
      { where: f("name", "lte", "\u{10FFFF}"), excludes: ["nulls", "bare", "arr", "obj", "bool"] }
    ]]
  ],
  in: [
    ["strings and numbers, with values that match nothing", [
      { where: f("name", "in", ["Cell Ranger", "scanpy", "nope"]), want: ["ranger", "scanpy"] },
      { where: f("n", "in", [10, "2.5", 7]), want: ["ranger", "dna", "space"] },
      { where: f("uid", "in", ["dollar", "DOLLAR"]), want: ["dollar"] }
    ]],
    ["an empty list matches nothing; null in the list matches null and missing", [
      { where: f("name", "in", []), want: [] },
      { where: f("n", "in", [null, 0]), want: ["xgene", "nulls", "bare"] }
    ]],
    ["array fields match whole arrays in the list, never single elements", [
      { where: f("tags", "in", [["a"], []]), want: ["xgene", "arr"] },
      { where: f("tags", "in", ["a", "b"]), want: [] },
      { where: f("at", "in", ["2024-03-01T12:34:56.789Z"]), want: ["ranger"] }
    ]]
  ],
  notIn: [
    ["notIn matches null and missing fields", [
      { where: f("name", "notIn", ["Cell Ranger", "scanpy"]), want: allUids.filter((u) => u !== "ranger" && u !== "scanpy") },
      { where: f("flag", "notIn", [true, false]), includes: ["nulls", "bare", "numstr", "obj"], excludes: ["ranger", "cellpose", "xgene", "bool"] }
    ]],
    ["an empty list matches everything; null in the list excludes null and missing", [
      { where: f("n", "notIn", []), want: allUids },
      { where: f("n", "notIn", [null]), excludes: ["nulls", "bare"], includes: ["bool", "arr"] }
    ]],
    ["array fields are compared whole", [
      { where: f("tags", "notIn", ["a"]), includes: ["arr", "ranger"] },
      { where: f("tags", "notIn", [["a"]]), excludes: ["arr"] }
    ]]
  ],
  contains: [
    ["case-sensitive substring", [
      { where: f("name", "contains", "Ranger"), want: ["ranger"] },
      { where: f("name", "contains", "ell"), want: ["ranger", "cellpose", "space"] },
      { where: f("name", "contains", "🧪"), want: ["dna"] }
    ]],
    ["the value is literal text, never a pattern", [
      { where: f("name", "contains", "."), want: ["regexy"] },
      { where: f("name", "contains", "*c(d)["), want: ["regexy"] },
      { where: f("name", "contains", "$"), want: ["dollar"] },
      { where: f("name", "contains", ".*"), want: [] }
    ]],
    ["only string fields match", [
      { where: f("name", "contains", ""), want: stringNames },
      { where: f("tags", "contains", "a"), want: [] },
      { where: f("n", "contains", "1"), want: ["numstr"] }
    ]]
  ],
  icontains: [
    ["case-insensitive substring: CELL matches Cell Ranger", [
      { where: f("name", "icontains", "CELL"), want: ["ranger", "cellpose", "xgene", "space"] },
      { where: f("name", "icontains", "ranger"), want: ["ranger", "space"] }
    ]],
    ["unicode case folding is toLowerCase", [
      { where: f("name", "icontains", "café"), want: ["cafe", "upper"] },
      { where: f("name", "icontains", "ärzte"), want: ["cafe", "upper"] },
      { where: f("name", "icontains", "STRASSE"), want: [] },
      { where: f("name", "icontains", "İSTANBUL"), want: ["istanbul"] },
      { where: f("name", "icontains", "istanbul"), want: [] }
    ]],
    ["literal text, only string fields", [
      { where: f("name", "icontains", "A.B*C"), want: ["regexy"] },
      { where: f("name", "icontains", "dna 🧪"), want: ["dna"] },
      { where: f("tags", "icontains", "A"), want: [] }
    ]]
  ],
  startsWith: [
    ["uid prefix and case-sensitive prefix", [
      { where: f("uid", "startsWith", "cell"), want: ["cellpose"] },
      { where: f("name", "startsWith", "Cell"), want: ["ranger"] },
      { where: f("name", "startsWith", "cell"), want: ["cellpose", "space"] }
    ]],
    ["metacharacters and astral characters are literal", [
      { where: f("name", "startsWith", "a.b"), want: ["regexy"] },
      { where: f("name", "startsWith", "a*"), want: [] },
      { where: f("name", "startsWith", "$"), want: ["dollar"] },
      { where: f("name", "startsWith", "🧬"), want: ["dna"] }
    ]],
    ["the empty prefix matches every string and nothing else", [
      { where: f("name", "startsWith", ""), want: stringNames },
      { where: f("n", "startsWith", "1"), want: ["numstr"] }
    ]]
  ],
  istartsWith: [
    ["case-insensitive prefix", [
      { where: f("name", "istartsWith", "cell"), want: ["ranger", "cellpose", "xgene", "space"] },
      { where: f("uid", "istartsWith", "CELL"), want: ["cellpose"] }
    ]],
    ["unicode and metacharacters", [
      { where: f("name", "istartsWith", "är"), want: ["cafe", "upper"] },
      { where: f("name", "istartsWith", "A.B"), want: ["regexy"] },
      { where: f("name", "istartsWith", "A.C"), want: [] }
    ]]
  ],
  endsWith: [
    ["case-sensitive suffix", [
      { where: f("name", "endsWith", "pose"), want: ["cellpose"] },
      { where: f("name", "endsWith", "Café"), want: ["cafe"] },
      { where: f("name", "endsWith", " "), want: ["space"] }
    ]],
    ["astral characters and metacharacters", [
      { where: f("name", "endsWith", "🧪"), want: ["dna"] },
      { where: f("name", "endsWith", "[e]"), want: ["regexy"] },
      { where: f("tags", "endsWith", "a"), want: [] }
    ]]
  ],
  iendsWith: [
    ["case-insensitive suffix", [
      { where: f("name", "iendsWith", "CAFÉ"), want: ["cafe", "upper"] },
      { where: f("name", "iendsWith", "RANGER"), want: ["ranger"] },
      { where: f("name", "iendsWith", "GENE"), want: ["xgene"] }
    ]],
    ["lower-casing is not full case folding", [
      { where: f("name", "iendsWith", "SSE"), want: [] },
      { where: f("name", "iendsWith", "ẞE"), want: ["strasse"] }
    ]]
  ],
  iexact: [
    ["whole-string equality ignoring case", [
      { where: f("name", "iexact", "cell ranger"), want: ["ranger"] },
      { where: f("name", "iexact", "ärzte café"), want: ["cafe", "upper"] },
      { where: f("name", "iexact", ""), want: ["empty"] }
    ]],
    ["folding by toLowerCase, only string fields", [
      { where: f("name", "iexact", "STRASSE"), want: [] },
      { where: f("name", "iexact", "STRAßE"), want: ["strasse"] },
      { where: f("n", "iexact", "10"), want: ["numstr"] },
      { where: f("flag", "iexact", "TRUE"), want: ["numstr"] }
    ]]
  ],
  isNull: [
    ["true matches null and missing, false everything else", [
      { where: f("name", "isNull", true), want: ["nulls", "bare"] },
      { where: f("name", "isNull", false), want: allUids.filter((u) => u !== "nulls" && u !== "bare") }
    ]],
    ["nested paths: a missing or non-object step reads as null", [
      { where: f(["params", "a", "b"], "isNull", true), includes: ["cafe", "upper", "dna", "nulls", "scanpy"], excludes: ["ranger", "xgene", "obj", "numstr"] },
      { where: f(["params", "lr"], "isNull", false), want: ["ranger", "cellpose", "scanpy", "bool"] }
    ]],
    ["a path naming an Object.prototype member reads as missing", [
      { where: f("constructor", "isNull", true), want: allUids },
      { where: f(["params", "hasOwnProperty"], "isNull", false), want: [] },
      { where: f(["toString"], "eq", null), want: allUids }
    ]],
    ["empty arrays, empty strings and false are not null", [
      { where: f("tags", "isNull", false), want: ["ranger", "cellpose", "xgene", "regexy", "arr"] },
      { where: f("name", "isNull", true), excludes: ["empty", "bool"] }
    ]]
  ],
  range: [
    ["inclusive on both ends, numbers and ISO datetimes", [
      { where: f("n", "range", [0, 10]), want: ["ranger", "xgene", "cafe", "upper", "dna", "dollar", "space"] },
      { where: f("at", "range", ["2024-03-01T00:00:00.000Z", "2024-03-01T12:34:56.789Z"]), want: ["ranger", "cafe", "dna"] }
    ]],
    ["strings by code point; types never mix", [
      { where: f("n", "range", ["0", "9"]), want: ["numstr"] },
      { where: f("name", "range", ["a", "c"]), want: ["regexy"] }
    ]],
    ["an inverted or null bound matches nothing", [
      { where: f("n", "range", [10, 0]), want: [] },
      { where: f("n", "range", [null, 10]), want: [] }
    ]]
  ],
  regex: [
    ["RE2 patterns, anchored and not", [
      { where: f("name", "regex", "^Cell"), want: ["ranger"] },
      { where: f("name", "regex", "[Cc][Ee][Ll][Ll]"), want: ["ranger", "cellpose", "xgene", "space"] },
      { where: f("name", "regex", "e$"), want: ["cellpose", "strasse", "dollar"] },
      { where: f("name", "regex", "^$"), want: ["empty"] },
      { where: f("name", "regex", "\\d"), want: ["numstr"] }
    ]],
    ["by code point: astral characters are one character, Unicode classes and code points work", [
      { where: f("name", "regex", "^. DNA .$"), want: ["dna"] },
      { where: f("name", "regex", "^\\p{Lu}"), want: ["ranger", "xgene", "cafe", "upper", "istanbul"] },
      { where: f("name", "regex", "^\\x{1F9EC}"), want: ["dna"] }
    ]],
    ["inline flags: (?i) folds case by Unicode simple folding", [
      { where: f("name", "regex", "(?i)^cell ranger$"), want: ["ranger"] },
      { where: f("name", "regex", "(?i)ärzte"), want: ["cafe", "upper"] },
      { where: f("name", "regex", "(?i)^STRASSE$"), want: [] }
    ]],
    ["only string fields match", [
      { where: f("tags", "regex", "a"), want: [] },
      { where: f("n", "regex", "^1"), want: ["numstr"] }
    ]]
  ]
}

/**
 * Patterns that make a backtracking engine try exponentially many ways to fail: over forty `a`s and a `!`,
 * one of them would run for days. The answers must still be exact.
 */
const linearRegex: Case = {
  group,
  name: "regex: nested quantifiers answer exactly over long values (no backtracking)",
  run: async (ctx) => {
    await declareAll(ctx)
    const rows = [
      { uid: "bang", name: `${"a".repeat(40)}!` },
      { uid: "long", name: `${"a".repeat(20_000)}!` },
      { uid: "plain", name: "a".repeat(40) },
      { uid: "other", name: "b" }
    ]
    const checks: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
      ["^(a+)+$", ["plain"]],
      ["^(a|a?)+$", ["plain"]],
      ["(a|aa)+$", ["plain"]],
      ["^(.*a){20}!$", ["bang", "long"]],
      ["^(a+)+!", ["bang", "long"]]
    ]
    // `note` indexes `name`, `thing` and `bare` do not.
    for (const table of ["note", "thing", "bare"]) {
      const docs = await seed(ctx, table, rows)
      for (const [pattern, want] of checks) {
        const got = uidsOf(await agrees(ctx, table, docs, { where: f("name", "regex", pattern), orderBy: [] }, table))
        assert.deepStrictEqual([...got].sort(), want, `wrong matches for ${table}: name regex ${pattern}`)
      }
    }
  }
}

/** What a driver called directly (not through core) must refuse with a typed error, never a stack overflow. */
const refusedConditions: Case = {
  group,
  name: "a condition nested past Evaluator.maxConditionDepth, or a regex RE2 refuses, is a typed Invalid StoreError",
  run: async (ctx) => {
    await declareAll(ctx)
    const [doc] = await seed(ctx, "thing", [{ uid: "x", name: "x" }])
    const nots = (n: number): Ast.Cond => {
      let c: Ast.Cond = f("name", "eq", "x")
      for (let i = 0; i < n; i++) c = Ast.not(c)
      return c
    }
    for (const where of [nots(10_000), nots(Evaluator.maxConditionDepth), f("name", "regex", "(a)\\1"), f("name", "regex", "a(?=b)")]) {
      await failsWith(() => ctx.driver.find("thing", { where, orderBy: [] }), "Invalid")
      await failsWith(() => ctx.driver.count("thing", where), "Invalid")
    }
    // At the limit, answered: an even number of negations is the predicate itself, an odd one its negation.
    const negations = Evaluator.maxConditionDepth - 1
    const got = uidsOf(await agrees(ctx, "thing", [doc!], { where: nots(negations), orderBy: [] }))
    assert.deepStrictEqual(got, negations % 2 === 0 ? ["x"] : [])
  }
}

/** `id` is always an integer: a store that reads it as one must still answer any value as the evaluator does. */
const idQueries: Case = {
  group,
  name: "id against non-integers, strings, booleans, arrays and huge numbers answers as the evaluator",
  run: async (ctx) => {
    await declareAll(ctx)
    const docs = await seed(ctx, "thing", [{ uid: "a" }, { uid: "b" }])
    const first = docs[0]!["id"] as number
    const values: ReadonlyArray<Driver.Json> = [
      first + 0.5, -0.5, String(first), "x", "", true, false, [first], { id: first }, 1e300, -1e300, 1e20, -1e20, 2 ** 63,
      Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -0, first
    ]
    const ops: ReadonlyArray<Ast.Operator> = [
      "eq", "ne", "gt", "gte", "lt", "lte", "startsWith", "endsWith", "contains", "istartsWith", "iexact", "regex"
    ]
    const conds: Array<Ast.Cond> = [
      ...values.flatMap((v) => ops.map((op) => f("id", op, v))),
      f("id", "in", ["a", first, first + 0.5, true, 1e300]),
      f("id", "notIn", [String(first), first + 1.5]),
      f("id", "range", [first - 0.5, first + 0.5]),
      f("id", "range", [-1e300, 1e300]),
      f("id", "range", ["0", "9"]),
      f("id", "isNull", true)
    ]
    for (const where of conds) await agrees(ctx, "thing", docs, { where, orderBy: [] })
    const desc: Ast.FindSpec = { where: f("id", "lt", 1e20), orderBy: [{ path: ["id"], direction: "desc" }], limit: 1 }
    await agrees(ctx, "thing", docs, desc)
  }
}

export const operators: ReadonlyArray<Case> = [
  ...Ast.operators.flatMap((op) => byOperator[op].map(([name, checks]) => queryCase(group, `${op}: ${name}`, checks))),
  idQueries,
  linearRegex,
  refusedConditions
]
