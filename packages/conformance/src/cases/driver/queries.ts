/**
 * How query cases are written: a list of conditions over the specimens, each checked against the reference
 * evaluator (documents, order and count) on an indexed and on an unindexed table, and some also against an
 * expectation written by hand, so the suite still bites if the evaluator itself drifts.
 */
import assert from "node:assert/strict"
import { Ast, Driver } from "@lineage/core"
import type { Case, CaseContext } from "../../Case.js"
import { agrees, declareAll, describeValue, seed, uidsOf } from "../../Fixtures.js"
import { specimens } from "./specimens.js"

export interface Check {
  readonly where: Ast.Cond
  /** Exactly these uids match. */
  readonly want?: ReadonlyArray<string>
  /** At least these match (for long answers, where the point is one member). */
  readonly includes?: ReadonlyArray<string>
  /** None of these match. */
  readonly excludes?: ReadonlyArray<string>
}

/** Every table of the suite that holds the specimens: indexed (`thing`) and not (`bare`). */
const queriedTables = ["thing", "bare"] as const

export const seedSpecimens = async (ctx: CaseContext): Promise<Record<string, Array<Driver.Doc>>> => {
  await declareAll(ctx)
  const out: Record<string, Array<Driver.Doc>> = {}
  for (const table of queriedTables) out[table] = await seed(ctx, table, specimens)
  return out
}

const sorted = (xs: ReadonlyArray<string>): Array<string> => [...xs].sort()

export const runChecks = async (ctx: CaseContext, checks: ReadonlyArray<Check>): Promise<void> => {
  const docs = await seedSpecimens(ctx)
  for (const table of queriedTables) {
    for (const check of checks) {
      const got = uidsOf(await agrees(ctx, table, docs[table]!, { where: check.where, orderBy: [] }, table))
      const what = `${table}: ${describeValue(check.where)}`
      if (check.want !== undefined) assert.deepStrictEqual(sorted(got), sorted(check.want), `wrong matches for ${what}`)
      for (const uid of check.includes ?? []) assert.ok(got.includes(uid), `${uid} should match ${what}`)
      for (const uid of check.excludes ?? []) assert.ok(!got.includes(uid), `${uid} should not match ${what}`)
    }
  }
}

export const queryCase = (group: string, name: string, checks: ReadonlyArray<Check>): Case => ({
  group,
  name,
  run: (ctx) => runChecks(ctx, checks)
})

/** A shorthand for one-segment field predicates. */
export const f = (path: string | ReadonlyArray<string>, op: Ast.Operator, value: Driver.Json): Ast.Field =>
  Ast.field(typeof path === "string" ? [path] : path, op, value)

/** Every specimen whose `name` is a string. */
export const stringNames = [
  "ranger", "cellpose", "xgene", "scanpy", "cafe", "upper", "dna", "istanbul", "strasse", "regexy", "dollar",
  "empty", "space", "numstr"
] as const

export const allUids: ReadonlyArray<string> = specimens.map((d) => String(d["uid"]))
