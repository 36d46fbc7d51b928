/**
 * The driver against the reference evaluator on random tables, writes and queries: answers must be equal,
 * element for element, whatever plan the driver picks.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Ast, Evaluator } from "@lineage/core"
import { driverWith, run } from "./helpers.js"

const scalar: fc.Arbitrary<Ast.Json> = fc.oneof(
  fc.constantFrom<Ast.Json>(null, true, false, 0, 1, -1, 2.5, 3, 10, "", "a", "ab", "abc", "b", "B", "\uffff", "\ud83d\ude00", "é", "1"),
  fc.integer({ min: -5, max: 5 }),
  fc.string({ maxLength: 3 })
)
const value: fc.Arbitrary<Ast.Json> = fc.oneof(
  { weight: 8, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 2 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom("x", "y"), scalar, { maxKeys: 2 }) }
)

/** `a` sorted, `b` hashed, `c` both, `d` unindexed, `n.x` sorted inside a nested object. */
const paths: ReadonlyArray<Ast.Path> = [["a"], ["b"], ["c"], ["d"], ["n", "x"], ["id"], ["uid"]]
const table = {
  name: "t",
  unique: [],
  indexes: [
    { path: ["a"], kind: "sorted" },
    { path: ["b"], kind: "hash" },
    { path: ["c"], kind: "hash" },
    { path: ["c"], kind: "sorted" },
    { path: ["n", "x"], kind: "sorted" }
  ]
} as const

const fields = fc.record(
  { a: value, b: value, c: value, d: value, n: fc.oneof(fc.record({ x: value }, { requiredKeys: [] }), value) },
  { requiredKeys: [] }
)
const uidPrefix = fc.constantFrom("", "a", "ab", "b", "é", "\ud83d\ude00", "\uffff")

const argFor = (op: Ast.Operator): fc.Arbitrary<Ast.Json> => {
  switch (op) {
    case "in":
    case "notIn":
      return fc.array(value, { maxLength: 4 })
    case "range":
      return fc.oneof(fc.tuple(scalar, scalar), fc.array(scalar, { maxLength: 3 }))
    case "isNull":
      return fc.oneof(fc.boolean(), scalar)
    case "regex":
      return fc.constantFrom("^a", "b$", ".", "^$", "\\d")
    case "startsWith":
      return fc.oneof(uidPrefix, scalar)
    default:
      return value
  }
}

const fieldCond: fc.Arbitrary<Ast.Cond> = fc
  .tuple(fc.constantFrom(...paths), fc.constantFrom(...Ast.operators))
  .chain(([path, op]) => argFor(op).map((arg) => Ast.field(path, op, arg)))

const { cond } = fc.letrec<{ cond: Ast.Cond }>((tie) => ({
  cond: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 4, arbitrary: fieldCond },
    fc.array(tie("cond"), { maxLength: 3 }).map((conds): Ast.Cond => ({ _tag: "And", conds })),
    fc.array(tie("cond"), { maxLength: 3 }).map((conds): Ast.Cond => ({ _tag: "Or", conds })),
    tie("cond").map(Ast.not)
  )
}))

const orderBy = fc.array(
  fc.record({ path: fc.constantFrom(...paths), direction: fc.constantFrom<Ast.Direction>("asc", "desc") }),
  { maxLength: 2 }
)

type Write =
  | { readonly _tag: "Update"; readonly target: number; readonly patch: Evaluator.Doc }
  | { readonly _tag: "Delete"; readonly target: number }

const write: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ _tag: fc.constant("Update" as const), target: fc.nat(), patch: fields }),
  fc.record({ _tag: fc.constant("Delete" as const), target: fc.nat() })
)

const scenario = fc.record({
  docs: fc.array(fc.tuple(uidPrefix, fields), { maxLength: 40 }),
  writes: fc.array(write, { maxLength: 6 }),
  queries: fc.array(
    fc.record({
      where: cond,
      orderBy,
      limit: fc.option(fc.nat({ max: 12 }), { nil: undefined }),
      offset: fc.option(fc.nat({ max: 5 }), { nil: undefined }),
      cursorFrom: fc.option(fc.nat(), { nil: undefined })
    }),
    { minLength: 1, maxLength: 5 }
  )
})

describe("differential: driver vs Evaluator.find", () => {
  it("answers every random query exactly as the reference evaluator", () => {
    fc.assert(
      fc.property(scenario, ({ docs, writes, queries }) => {
        const driver = driverWith(table)
        const model = new Map<number, Evaluator.Doc>()
        // Ids out of insertion order, so id order is not insertion order.
        const inserted = docs.map(([prefix, rest], i) => ({ ...rest, id: ((i * 7) % 41) + 1, uid: `${prefix}${i}` }))
        run(driver.insert("t", inserted))
        for (const doc of inserted) model.set(doc.id, doc)

        for (const w of writes) {
          const ids = [...model.keys()]
          if (ids.length === 0) break
          const id = ids[w.target % ids.length]!
          if (w._tag === "Delete") {
            expect(run(driver.remove("t", [id]))).toBe(1)
            model.delete(id)
          } else {
            const next = { ...model.get(id)!, ...w.patch }
            expect(run(driver.update("t", id, w.patch))).toEqual(next)
            model.set(id, next)
          }
        }

        const all = [...model.values()]
        for (const q of queries) {
          const ordered = Evaluator.find(all, { where: Ast.always, orderBy: q.orderBy })
          const cursorDoc = q.cursorFrom === undefined || ordered.length === 0 ? undefined : ordered[q.cursorFrom % ordered.length]
          const spec: Ast.FindSpec = {
            where: q.where,
            orderBy: q.orderBy,
            limit: q.limit,
            offset: q.offset,
            after: cursorDoc === undefined ? undefined : Evaluator.cursorOf(q.orderBy, cursorDoc)
          }
          expect(run(driver.find("t", spec))).toEqual(Evaluator.find(all, spec))
          expect(run(driver.count("t", q.where))).toBe(all.filter((d) => Evaluator.matches(d, q.where)).length)
        }
      }),
      { numRuns: 600 }
    )
  })
})
