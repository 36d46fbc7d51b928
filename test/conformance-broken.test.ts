/**
 * The suite must bite: each deliberately broken store fails it, on the cases written for its flaw, while
 * unrelated groups still pass (the breakage is caught where it is, not by a crash).
 */
import { describe, expect, it } from "vitest"
import { fullName, runConformance } from "@lineage/conformance"
import type { ConformanceReport } from "@lineage/conformance"
import type { ReferenceDriver } from "@lineage/conformance"
import * as caseSensitiveI from "./broken/caseSensitiveI.js"
import * as dropsIdTiebreak from "./broken/dropsIdTiebreak.js"
import * as ignoresAfter from "./broken/ignoresAfter.js"
import * as ignoresUniqueness from "./broken/ignoresUniqueness.js"
import * as keysShortestFirst from "./broken/keysShortestFirst.js"
import * as losesTimeZone from "./broken/losesTimeZone.js"
import * as numbersInPlainNotation from "./broken/numbersInPlainNotation.js"

const against = (make: () => ReferenceDriver.ReferenceDriver): Promise<ConformanceReport> => {
  const lines: Array<string> = []
  return runConformance({ makeDriver: async () => make(), backdoor: (d) => d.backdoor, log: (l) => lines.push(l) }).then((report) => {
    // The summary line is part of the runner's contract: scripts grep for it.
    expect(lines[lines.length - 1]).toBe(`${report.passed} passed, ${report.failed} failed, ${report.skipped.length} skipped`)
    return report
  })
}

const failedNames = (report: ConformanceReport): Array<string> => report.failures.map((f) => fullName(f))
const failedGroups = (report: ConformanceReport): Set<string> => new Set(report.failures.map((f) => f.group))

const cases: ReadonlyArray<{
  readonly store: string
  readonly make: () => ReferenceDriver.ReferenceDriver
  readonly mustFail: ReadonlyArray<string>
  readonly unaffected: ReadonlyArray<string>
}> = [
  {
    store: "a store that ignores unique constraints",
    make: ignoresUniqueness.make,
    mustFail: [
      "uniqueness › a duplicate uid is refused with UniqueViolation naming constraint, fields and values",
      "uniqueness › a violation inside one multi-document insert writes nothing",
      "concurrency › racing inserts of one uid: exactly one wins, the others get UniqueViolation",
      "batch › a unique violation in the middle writes nothing"
    ],
    unaffected: ["operators", "combinators", "ordering", "paging", "differential"]
  },
  {
    store: "a store whose i-operators are case-sensitive",
    make: caseSensitiveI.make,
    mustFail: [
      "operators › icontains: case-insensitive substring: CELL matches Cell Ranger",
      "operators › istartsWith: case-insensitive prefix",
      "operators › iexact: whole-string equality ignoring case",
      "differential › find and count agree with the evaluator on random documents and conditions"
    ],
    unaffected: ["crud", "uniqueness", "ordering", "batch", "concurrency", "errors"]
  },
  {
    store: "a store that loses the time zone of ISO datetimes",
    make: losesTimeZone.make,
    mustFail: [
      "crud › round-trips ISO datetimes preserved exactly (Z and milliseconds)",
      "crud › what was written is what is persisted (backdoor), and nothing else",
      "ordering › ISO datetimes ascending, to the millisecond"
    ],
    unaffected: ["uniqueness", "batch", "concurrency", "errors"]
  },
  {
    store: "a store that drops the id tiebreak",
    make: dropsIdTiebreak.make,
    mustFail: [
      "ordering › ties are broken by ascending id in both directions",
      "ordering › null and missing sort first ascending, with ties by id",
      "paging › keyset walk by n ascending (ties, nulls) returns every row once, in order"
    ],
    unaffected: ["manifest", "errors", "concurrency"]
  },
  {
    store: "a store that ignores after cursors",
    make: ignoresAfter.make,
    mustFail: [
      "paging › keyset walk by id returns every row once, in order",
      "paging › keyset walk while rows are inserted between pages",
      "differential › after cursors agree with the evaluator",
      "ordering › numbers inside arrays and objects order by the text JSON writes, exponent forms included"
    ],
    unaffected: ["crud", "uniqueness", "operators"]
  },
  {
    store: "a store that writes numbers inside arrays and objects without an exponent",
    make: numbersInPlainNotation.make,
    mustFail: ["ordering › numbers inside arrays and objects order by the text JSON writes, exponent forms included"],
    unaffected: ["crud", "uniqueness", "operators", "combinators", "paging", "batch", "errors"]
  },
  {
    store: "a store that sorts object keys shortest first (jsonb's order)",
    make: keysShortestFirst.make,
    mustFail: ["ordering › objects order by canonical JSON: keys sorted by UTF-16 code unit, at every depth"],
    unaffected: ["crud", "uniqueness", "operators", "combinators", "paging", "batch", "errors"]
  }
]

/** A whole suite run per store: far more than one test's default limit on a busy machine. */
const suiteTimeoutMs = 180_000

describe("the conformance suite fails broken stores", () => {
  for (const c of cases) {
    it(c.store, { timeout: suiteTimeoutMs }, async () => {
      const report = await against(c.make)
      expect(report.failed).toBeGreaterThan(0)
      const failed = failedNames(report)
      for (const name of c.mustFail) expect(failed, `expected "${name}" to fail`).toContain(name)
      for (const group of c.unaffected) expect(failedGroups(report).has(group), `group ${group} should pass`).toBe(false)
    })
  }
})
