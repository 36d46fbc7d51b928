/**
 * The sorted index on its own, against a plain list of (value, id) entries: values held by one document, by
 * a few, and by more than a thousand (where the holders change representation), added, removed and
 * walked in both directions, including strings whose UTF-16 order differs from code point order.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Ast, Evaluator } from "@lineage/core"
import { rangesFor, SortedIndex } from "../src/Indexes.js"

type Json = Ast.Json

/** What the index must hold: entries ordered by value (the evaluator's order), then by id. */
const expected = (entries: ReadonlyMap<number, Json>): Array<readonly [Json, number]> =>
  [...entries].map(([id, v]) => [v, id] as const).sort((a, b) => Evaluator.compareJson(a[0], b[0]) || a[1] - b[1])

const walked = (index: SortedIndex, direction: Ast.Direction): Array<readonly [Json, number]> =>
  [...index.walk(direction)].flatMap((run) => [...run.ids].map((id) => [run.value, id] as const))

/** The descending walk: values high to low, each value's ids still ascending. */
const descending = (entries: Array<readonly [Json, number]>): Array<readonly [Json, number]> =>
  [...entries].sort((a, b) => Evaluator.compareJson(b[0], a[0]) || a[1] - b[1])

const values: ReadonlyArray<Json> = [null, true, false, 0, 1, 2.5, -3, "", "a", "ab", "b", "\uffff", "\ud83d\ude00", "\uff21", "é", [1], { x: 1 }]

describe("sorted index", () => {
  it("holds exactly what was added and not removed, in the evaluator's order, through every representation", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: fc.integer({ min: 1, max: 3_000 }),
            // Few distinct values, so some are held by many documents.
            value: fc.constantFrom(...values),
            remove: fc.boolean()
          }),
          { maxLength: 400 }
        ),
        fc.integer({ min: 0, max: 2_000 }),
        (ops, bulk) => {
          const index = new SortedIndex(["v"])
          const model = new Map<number, Json>()
          // A bulk load first: one value held by `bulk` documents, past the point where holders become a tree.
          const ids = Array.from({ length: bulk }, (_, i) => 10_000 + i)
          index.addAll(ids, ids.map(() => null))
          for (const id of ids) model.set(id, null)
          for (const op of ops) {
            const held = model.get(op.id)
            if (held !== undefined) {
              index.remove(op.id, held)
              model.delete(op.id)
            }
            if (!op.remove) {
              index.add(op.id, op.value)
              model.set(op.id, op.value)
            }
          }
          // Removing most of the big run sends its holders back to an array.
          for (const id of ids.slice(0, Math.floor(bulk * 0.9))) {
            index.remove(id, null)
            model.delete(id)
          }
          const want = expected(model)
          expect(walked(index, "asc")).toEqual(want)
          expect(walked(index, "desc")).toEqual(descending(want))
          for (const probe of values) {
            const ranges = rangesFor("eq", probe)!
            const got: Array<number> = []
            for (const r of ranges) index.collect(r, got)
            expect(got).toEqual(want.filter(([v]) => Evaluator.equalJson(v, probe)).map(([, id]) => id))
            // A capped walk stops after the value that takes it past its cap: all of it when it fits.
            const capped: Array<number> = []
            for (const r of ranges) if (capped.length <= 2) index.collect(r, capped, 2 - capped.length)
            expect(capped).toEqual(got.slice(0, capped.length))
            if (got.length <= 2) expect(capped.length).toBe(got.length)
            else expect(capped.length).toBeGreaterThan(2)
          }
        }
      ),
      { numRuns: 150 }
    )
  })

  it("orders strings by code point even when a surrogate pair meets a unit above 0xE000", () => {
    const index = new SortedIndex(["v"])
    // Native comparison puts "\ud83d\ude00" (U+1F600) before "\uff21" (U+FF21); code point order is the reverse.
    const strings = ["b", "\ud83d\ude00", "\uff21", "a", "\uffff", "\ud800\udc00"]
    strings.forEach((s, i) => index.add(i + 1, s))
    expect([...index.walk("asc")].map((r) => r.value)).toEqual([...strings].sort(Evaluator.compareStrings))
  })

  it("range probes start after an exclusive bound and stop at the end of their type", () => {
    const index = new SortedIndex(["v"])
    const stored: ReadonlyArray<Json> = [null, true, 1, 2, 2, 3, "1", "2"]
    index.addAll(
      stored.map((_, i) => i + 1),
      stored
    )
    const ids = (op: Ast.Operator, arg: Json) => {
      const out: Array<number> = []
      for (const r of rangesFor(op, arg)!) index.collect(r, out)
      return out
    }
    expect(ids("gt", 2)).toEqual([6])
    expect(ids("gte", 2)).toEqual([4, 5, 6])
    expect(ids("lt", 3)).toEqual([3, 4, 5])
    expect(ids("gt", "1")).toEqual([8])
    expect(ids("isNull", false)).toEqual([2, 3, 4, 5, 6, 7, 8])
  })
})
