/**
 * One table: documents by id, the unique constraints that guard them and the indexes that find them. Requests
 * arrive checked by `Driver.validated` (plain documents with integer ids, patches that keep the id); writes
 * check what only the table knows (taken ids, unique values, `expect`) before changing anything, so each is
 * all-or-none. Failures are thrown as `StoreError`.
 */
import { Driver, Evaluator, StoreError } from "@lineage/core"
import type { Ast } from "@lineage/core"
import { Documents } from "./Documents.js"
import { HashIndex, SortedIndex, primaryIndex, type EqualityIndex } from "./Indexes.js"
import { UniqueConstraint } from "./Unique.js"
import { freezeClone, freezeDoc, type HashKey } from "./Values.js"

type Doc = Evaluator.Doc

const pathKey = (path: Ast.Path): string => JSON.stringify(path)

const sameFields = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.length === b.length && a.every((field, i) => field === b[i])

export class Table {
  readonly docs = new Documents()
  readonly primary: EqualityIndex = primaryIndex(this.docs)
  private nextId = 1
  private readonly uniques: Array<UniqueConstraint>
  private readonly hashIndexes = new Map<string, HashIndex>()
  private readonly sortedIndexes = new Map<string, SortedIndex>()
  /** Both kinds, for writes. */
  private readonly indexes: Array<HashIndex | SortedIndex> = []

  constructor(readonly name: string) {
    // Every table has a unique `uid`, and sorted `id` and `uid` for ordering and uid-prefix lookups.
    this.uniques = [new UniqueConstraint(name, { name: "uid", fields: ["uid"] })]
    this.addIndex(new SortedIndex(["id"]))
    this.addIndex(new SortedIndex(["uid"]))
  }

  get size(): number {
    return this.docs.size
  }

  equalityIndex(path: Ast.Path): EqualityIndex | undefined {
    return path.length === 1 && path[0] === "id" ? this.primary : this.hashIndexes.get(pathKey(path))
  }

  sortedIndex(path: Ast.Path): SortedIndex | undefined {
    return this.sortedIndexes.get(pathKey(path))
  }

  /** Adds what `spec` names and this table lacks. New constraints must hold over the stored documents. */
  declare(spec: Driver.TableSpec): void {
    const added: Array<UniqueConstraint> = []
    for (const unique of spec.unique) {
      const existing = this.uniques.find((u) => sameFields(u.spec.fields, unique.fields))
      if (existing !== undefined) {
        // Same fields, possibly the implicit `uid` one: adopt the declared name rather than enforce twice.
        existing.spec = unique
        continue
      }
      const constraint = new UniqueConstraint(this.name, unique)
      for (const doc of this.docs.values()) {
        const key = constraint.keyOf(doc)
        if (key !== undefined && constraint.ownerOf(key) !== undefined) throw constraint.violation(doc)
        constraint.add(doc)
      }
      added.push(constraint)
    }
    this.uniques.push(...added)
    for (const index of spec.indexes) {
      const exists =
        index.kind === "hash" ? this.equalityIndex(index.path) !== undefined : this.sortedIndex(index.path) !== undefined
      if (exists) continue
      const built = index.kind === "hash" ? new HashIndex(index.path) : new SortedIndex(index.path)
      for (const doc of this.docs.values()) built.add(doc["id"] as number, Evaluator.read(doc, index.path))
      this.addIndex(built)
    }
  }

  reserveIds(count: number): number {
    const first = this.nextId
    this.nextId += count
    return first
  }

  /** Returns the stored (frozen) documents, which undo needs. */
  insert(input: ReadonlyArray<Doc>): ReadonlyArray<Doc> {
    const docs = input.map(freezeDoc)
    const ids = docs.map((doc) => doc["id"] as number)
    const seen = new Set<number>()
    for (const id of ids) {
      if (this.docs.has(id) || seen.has(id)) throw StoreError.uniqueViolation(this.name, "id", ["id"], [id])
      seen.add(id)
    }
    for (const unique of this.uniques) {
      const claimed = new Set<HashKey>()
      for (const doc of docs) {
        const key = unique.keyOf(doc)
        if (key === undefined) continue
        if (unique.ownerOf(key) !== undefined || claimed.has(key)) throw unique.violation(doc)
        claimed.add(key)
      }
    }
    for (const doc of docs) {
      const id = doc["id"] as number
      this.docs.set(id, doc)
      for (const unique of this.uniques) unique.add(doc)
      // Ids chosen without `reserveIds` must not be handed out again either.
      if (id >= this.nextId) this.nextId = id + 1
    }
    for (const index of this.indexes) {
      if (index instanceof SortedIndex)
        index.addAll(
          ids,
          docs.map((doc) => Evaluator.read(doc, index.path))
        )
      else for (let i = 0; i < docs.length; i++) index.add(ids[i]!, Evaluator.read(docs[i]!, index.path))
    }
    return docs
  }

  update(id: number, patch: Doc, expect: Doc | undefined): { readonly before: Doc; readonly after: Doc } {
    const before = this.docs.get(id)
    if (before === undefined) throw StoreError.notFound(this.name, id)
    Driver.checkExpect(this.name, id, before, expect)
    const changes = freezeClone(patch) as Doc
    const after: Doc = Object.freeze({ ...before, ...changes })
    for (const unique of this.uniques) {
      const key = unique.keyOf(after)
      const owner = key === undefined ? undefined : unique.ownerOf(key)
      if (owner !== undefined && owner !== id) throw unique.violation(after)
    }
    this.replace(before, after)
    return { before, after }
  }

  /** Returns the removed documents, which undo needs. */
  remove(ids: ReadonlyArray<number>): ReadonlyArray<Doc> {
    const removed: Array<Doc> = []
    for (const id of ids) {
      const doc = this.docs.get(id)
      if (doc === undefined) continue
      this.unlink(doc)
      this.docs.delete(id)
      removed.push(doc)
    }
    return removed
  }

  /** Puts back documents taken out by `remove`; only undo calls it, so nothing is checked. */
  restore(docs: ReadonlyArray<Doc>): void {
    for (const doc of docs) {
      const id = doc["id"] as number
      this.docs.set(id, doc)
      for (const unique of this.uniques) unique.add(doc)
      for (const index of this.indexes) index.add(id, Evaluator.read(doc, index.path))
    }
  }

  /** Swaps one stored version of a document for another, touching only the index entries that change. */
  replace(before: Doc, after: Doc): void {
    const id = before["id"] as number
    for (const unique of this.uniques) {
      unique.remove(before)
      unique.add(after)
    }
    for (const index of this.indexes) {
      const old = Evaluator.read(before, index.path)
      const next = Evaluator.read(after, index.path)
      if (old === next) continue
      index.remove(id, old)
      index.add(id, next)
    }
    this.docs.set(id, after)
  }

  private addIndex(index: HashIndex | SortedIndex): void {
    if (index instanceof HashIndex) this.hashIndexes.set(pathKey(index.path), index)
    else this.sortedIndexes.set(pathKey(index.path), index)
    this.indexes.push(index)
  }

  private unlink(doc: Doc): void {
    const id = doc["id"] as number
    for (const unique of this.uniques) unique.remove(doc)
    for (const index of this.indexes) index.remove(id, Evaluator.read(doc, index.path))
  }
}
