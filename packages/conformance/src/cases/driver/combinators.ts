/**
 * And / Or / Not. The traps: `Not` over a field that is null or missing must match (SQL's three-valued logic
 * would not), the empty `And` is everything and the empty `Or` nothing, and nesting composes.
 */
import { Ast } from "@lineage/core"
import type { Case } from "../../Case.js"
import { allUids, f, queryCase } from "./queries.js"

const group = "combinators"

const and = (...conds: ReadonlyArray<Ast.Cond>): Ast.Cond => ({ _tag: "And", conds })
const or = (...conds: ReadonlyArray<Ast.Cond>): Ast.Cond => ({ _tag: "Or", conds })
const not = Ast.not

export const combinators: ReadonlyArray<Case> = [
  queryCase(group, "the empty And matches everything, the empty Or nothing", [
    { where: and(), want: allUids },
    { where: or(), want: [] },
    { where: not(and()), want: [] },
    { where: not(or()), want: allUids }
  ]),
  queryCase(group, "And intersects and Or unites", [
    { where: and(f("n", "gte", 2), f("n", "lte", 10)), want: ["ranger", "cafe", "upper", "dna", "space"] },
    { where: or(f("uid", "eq", "dna"), f("name", "startsWith", "Cell")), want: ["ranger", "dna"] },
    { where: and(f("n", "gt", 5), f("n", "lt", 5)), want: [] },
    { where: and(f("uid", "eq", "dna")), want: ["dna"] }
  ]),
  queryCase(group, "Or never returns a document twice", [
    { where: or(f("uid", "eq", "ranger"), f("uid", "eq", "ranger"), f("name", "icontains", "ranger")), want: ["ranger", "space"] }
  ]),
  queryCase(group, "Not over null and missing fields matches them", [
    { where: not(f("n", "gt", 2)), includes: ["nulls", "bare", "numstr", "bool", "arr", "upper"], excludes: ["ranger", "scanpy"] },
    { where: not(f("name", "icontains", "cell")), includes: ["nulls", "bare", "arr", "obj"], excludes: ["ranger", "xgene"] },
    { where: not(f("name", "eq", null)), want: allUids.filter((u) => u !== "nulls" && u !== "bare") },
    { where: not(f(["params", "lr"], "eq", 0.01)), excludes: ["ranger", "scanpy"], includes: ["cellpose", "bare", "nulls"] }
  ]),
  queryCase(group, "double negation and De Morgan", [
    { where: not(not(f("n", "gt", 2))), want: ["ranger", "scanpy", "cafe", "dna", "istanbul", "strasse", "space"] },
    { where: not(or(f("n", "lt", 0), f("n", "isNull", true))), excludes: ["cellpose", "regexy", "empty", "nulls", "bare"], includes: ["xgene", "bool"] },
    { where: and(not(f("n", "lt", 0)), not(f("n", "isNull", true))), excludes: ["cellpose", "regexy", "empty", "nulls", "bare"], includes: ["xgene", "bool"] }
  ]),
  queryCase(group, "nesting three levels deep, mixing fields and operators", [
    {
      where: or(
        and(f("name", "istartsWith", "cell"), not(f("n", "in", [10]))),
        and(f("at", "gte", "2025-01-01T00:00:00.000Z"), or(f("n", "eq", 2), f("flag", "eq", true)))
      ),
      want: ["cellpose", "xgene", "upper"]
    },
    {
      where: and(
        not(and(f(["params", "a", "b"], "isNull", true), f("tags", "isNull", true))),
        or(f("name", "regex", "^[a-z]"), f("n", "lt", 1))
      ),
      want: ["cellpose", "xgene", "regexy"]
    }
  ])
]
