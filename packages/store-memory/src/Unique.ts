/**
 * A unique constraint over top-level fields. As in SQL, a document with `null` (or nothing) in any of the
 * fields is not constrained.
 */
import { Driver, Evaluator, StoreError } from "@lineage/core"
import type { Ast } from "@lineage/core"
import { hashKey, type HashKey } from "./Values.js"

type Doc = Evaluator.Doc

export class UniqueConstraint {
  private readonly owners = new Map<HashKey, number>()

  constructor(
    readonly table: string,
    public spec: Driver.UniqueSpec
  ) {}

  /** The key `doc` claims, or undefined when it is not constrained. */
  keyOf(doc: Doc): HashKey | undefined {
    const fields = this.spec.fields
    if (fields.length === 1) {
      const value = Evaluator.read(doc, fields)
      return value === null ? undefined : hashKey(value)
    }
    const values = this.values(doc)
    // Canonical text of the tuple: equal tuples give equal text, and every key of this map has this form.
    return values.includes(null) ? undefined : Evaluator.canonical(values)
  }

  values(doc: Doc): Array<Ast.Json> {
    return Driver.uniqueValues(this.spec, doc)
  }

  ownerOf(key: HashKey): number | undefined {
    return this.owners.get(key)
  }

  violation(doc: Doc): StoreError {
    return StoreError.uniqueViolation(this.table, this.spec.name, this.spec.fields, this.values(doc))
  }

  add(doc: Doc): void {
    const key = this.keyOf(doc)
    if (key !== undefined) this.owners.set(key, doc["id"] as number)
  }

  remove(doc: Doc): void {
    const key = this.keyOf(doc)
    if (key !== undefined && this.owners.get(key) === doc["id"]) this.owners.delete(key)
  }
}
