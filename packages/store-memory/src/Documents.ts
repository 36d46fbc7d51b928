/**
 * A table's documents by id. Ids come from `reserveIds`, small and consecutive, so they index an array
 * directly: a lookup is one slot instead of a hash probe (on a million documents that is most of what a
 * query returning thousands of them costs), and the table takes a pointer per document instead of a map
 * entry. Ids chosen by a caller far past the end, negative or fractional, go to a map.
 */
import type { Evaluator } from "@lineage/core"

type Doc = Evaluator.Doc

/** How far past the end of the array an id may land and still extend it. */
const reach = 1_024

export class Documents {
  private readonly dense: Array<Doc | undefined> = []
  private readonly sparse = new Map<number, Doc>()
  private count = 0

  get size(): number {
    return this.count
  }

  get(id: number): Doc | undefined {
    return (Number.isInteger(id) && id >= 0 && id < this.dense.length ? this.dense[id] : undefined) ?? this.sparse.get(id)
  }

  has(id: number): boolean {
    return this.get(id) !== undefined
  }

  set(id: number, doc: Doc): void {
    if (this.sparse.has(id)) {
      this.sparse.set(id, doc)
      return
    }
    if (Number.isInteger(id) && id >= 0 && id <= this.dense.length + reach) {
      // Fill the gap first, so the array stays a plain list of slots rather than a sparse dictionary.
      while (this.dense.length < id) this.dense.push(undefined)
      if (this.dense[id] === undefined) this.count++
      this.dense[id] = doc
      return
    }
    this.count++
    this.sparse.set(id, doc)
  }

  delete(id: number): void {
    if (this.sparse.delete(id)) this.count--
    else if (Number.isInteger(id) && id >= 0 && this.dense[id] !== undefined) {
      this.dense[id] = undefined
      this.count--
    }
  }

  *values(): Generator<Doc> {
    for (const doc of this.dense) if (doc !== undefined) yield doc
    yield* this.sparse.values()
  }
}
