/**
 * Broken on purpose: orders by the asked keys only and leaves ties in insertion order, as a store that forgets
 * to append `id` to its sort would. Correct whenever rows happen to be inserted in id order.
 */
import { Effect } from "effect"
import type { Ast } from "@lineage/core"
import { Driver, Evaluator } from "@lineage/core"
import { ReferenceDriver } from "@lineage/conformance"

export const make = (): ReferenceDriver.ReferenceDriver => {
  const inner = ReferenceDriver.make("drops-id-tiebreak")
  const arrival = new Map<string, Map<number, number>>()
  let clock = 0
  const keysOnly = (orderBy: ReadonlyArray<Ast.OrderKey>) => (a: Driver.Doc, b: Driver.Doc): number => {
    for (const key of orderBy) {
      const c = Evaluator.compareJson(Evaluator.read(a, key.path), Evaluator.read(b, key.path))
      if (c !== 0) return key.direction === "asc" ? c : -c
    }
    return 0
  }
  // Validated like every store, so a malformed limit or offset is still refused though `find` pages itself.
  return Driver.validated({
    ...inner,
    insert: (table, docs) =>
      inner.insert(table, docs).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            const seen = arrival.get(table) ?? new Map<number, number>()
            for (const d of docs) seen.set(d["id"] as number, clock++)
            arrival.set(table, seen)
          })
        )
      ),
    find: (table, spec) =>
      inner.find(table, { where: spec.where, orderBy: spec.orderBy, after: spec.after }).pipe(
        Effect.map((hits) => {
          const seen = arrival.get(table)
          const byArrival = [...hits].sort((a, b) => (seen?.get(a["id"] as number) ?? 0) - (seen?.get(b["id"] as number) ?? 0))
          const sorted = byArrival.sort(keysOnly(spec.orderBy))
          const start = spec.offset ?? 0
          return sorted.slice(start, spec.limit === undefined ? undefined : start + spec.limit)
        })
      )
  })
}
