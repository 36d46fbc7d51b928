import { describe, expect, it } from "vitest"
import { Ast, Evaluator } from "@lineage/core"
import type { Driver } from "@lineage/core"
import { driverWith, run } from "./helpers.js"

/** Values chosen to sit on type boundaries, code point ordering traps and JSON-equality edge cases. */
const values: ReadonlyArray<Ast.Json> = [
  null,
  false,
  true,
  -1.5,
  0,
  1,
  2,
  10,
  "",
  "1",
  "a",
  "ab",
  "abc",
  "abd",
  "ab\uffff",
  "ab\ud83d\ude00",
  "b",
  "B",
  "\uffff",
  "\ud83d\ude00",
  "\u0000x",
  [],
  [1],
  [1, 2],
  { a: 1 },
  { a: 1, b: 2 },
  { b: 2, a: 1 }
]

const docs: ReadonlyArray<Evaluator.Doc> = [
  ...values.map((v, i) => ({ id: i + 1, uid: `u${i}`, v, n: { v } })),
  { id: 100, uid: "missing" },
  { id: 101, uid: "missing-nested", n: 3 }
]

const args: ReadonlyArray<Ast.Json> = [...values, 1.5, "aa", "abz", "c", ["a", 1], [1, "1", null], [0, 2], ["a", "abc"], [2, 0], [1, "b"], [{ b: 2, a: 1 }, [1]], ".*b", "^a", "A"]

const kinds: ReadonlyArray<ReadonlyArray<Driver.IndexSpec["kind"]>> = [[], ["hash"], ["sorted"], ["hash", "sorted"]]

describe.each(kinds.map((indexKinds) => ({ indexKinds })))("every operator vs the evaluator, indexes $indexKinds", ({ indexKinds }) => {
  const paths: ReadonlyArray<Ast.Path> = [["v"], ["n", "v"]]
  const driver = driverWith({
    name: "t",
    unique: [],
    indexes: paths.flatMap((path) => indexKinds.map((kind) => ({ path, kind })))
  })
  run(driver.insert("t", docs))

  for (const op of Ast.operators) {
    it(op, () => {
      for (const path of paths) {
        for (const arg of args) {
          if (op === "regex" && typeof arg === "string" && !/^[.*^a-zA-Z]*$/.test(arg)) continue
          const spec: Ast.FindSpec = { where: Ast.field(path, op, arg), orderBy: [] }
          const expected = Evaluator.find(docs, spec)
          expect(run(driver.find("t", spec)), `${path.join(".")} ${op} ${JSON.stringify(arg)}`).toEqual(expected)
          expect(run(driver.count("t", spec.where))).toBe(expected.length)
          const negated: Ast.FindSpec = { where: Ast.not(spec.where), orderBy: [{ path, direction: "desc" }], limit: 5 }
          expect(run(driver.find("t", negated))).toEqual(Evaluator.find(docs, negated))
        }
      }
    })
  }

  it("orders mixed types like the evaluator, both directions, with cursors", () => {
    for (const direction of ["asc", "desc"] as const) {
      for (const path of paths) {
        const orderBy = [{ path, direction }]
        const everything = Evaluator.find(docs, { where: Ast.always, orderBy })
        for (const limit of [undefined, 0, 1, 3, 100]) {
          for (const offset of [undefined, 2]) {
            const spec = { where: Ast.always, orderBy, limit, offset }
            expect(run(driver.find("t", spec))).toEqual(Evaluator.find(docs, spec))
          }
        }
        for (const doc of everything) {
          const spec = { where: Ast.always, orderBy, limit: 4, after: Evaluator.cursorOf(orderBy, doc) }
          expect(run(driver.find("t", spec))).toEqual(Evaluator.find(docs, spec))
        }
      }
    }
  })
})
