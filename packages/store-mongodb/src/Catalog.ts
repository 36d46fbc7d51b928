/**
 * Which tables exist, with their unique constraints and indexes: kept in the `<prefix>_lineage_tables`
 * collection so every handle (every process) knows tables another declared, and cached per handle. A handle
 * reloads on a miss, so a table declared elsewhere is found on first use.
 */
import type { Collection, Db, Document } from "mongodb"
import type { Driver } from "@lineage/core"
import { StoreError } from "@lineage/core"
import { escapeKey, escapePath } from "./Encoding.js"
import { uniqueIndexName } from "./Failures.js"

type TableSpec = Driver.TableSpec

export interface Layout {
  readonly db: Db
  readonly prefix: string
}

/** `<prefix><table>`: one collection per table. */
export const collectionName = (layout: Layout, table: string): string => `${layout.prefix}${table}`
export const tablesCollection = (layout: Layout): string => `${layout.prefix}_lineage_tables`
export const idsCollection = (layout: Layout): string => `${layout.prefix}_lineage_ids`

/** Why a table name cannot be a collection name, or undefined. */
export const invalidTable = (name: string): string | undefined =>
  typeof name !== "string" || name === ""
    ? "a table needs a non-empty name"
    : /[$\u0000]/.test(name) || name.startsWith("system.") || name.startsWith("_lineage_")
      ? `"${name}" cannot name a MongoDB collection (no "$", no NUL, not "system." or "_lineage_")`
      : undefined

/** The MongoDB indexes a table needs: unique constraints on order keys, indexes on order keys or the copy. */
export const indexModels = (spec: TableSpec): Array<{ readonly key: Document; readonly name: string; readonly unique?: boolean; readonly partialFilterExpression?: Document }> => {
  const out: Array<{ key: Document; name: string; unique?: boolean; partialFilterExpression?: Document }> = []
  for (const u of spec.unique) {
    // `_id` is the id: a constraint including it holds already.
    if (u.fields.includes("id") || u.fields.length === 0) continue
    const key: Document = {}
    const partial: Document = {}
    for (const f of u.fields) {
      key[`o.${escapeKey(f)}`] = 1
      // SQL semantics: a null (stored as a missing key) in any field leaves the document unconstrained.
      partial[`o.${escapeKey(f)}`] = { $exists: true }
    }
    out.push({ key, name: uniqueIndexName(u.name), unique: true, partialFilterExpression: partial })
  }
  for (const ix of spec.indexes) {
    if (ix.path.length === 0 || (ix.path.length === 1 && ix.path[0] === "id")) continue
    const field = ix.path.length === 1 ? `o.${escapeKey(ix.path[0]!)}` : `d.${escapePath(ix.path)}`
    out.push({ key: { [field]: 1 }, name: `lineage_x_${encodeURIComponent(JSON.stringify(ix.path))}` })
  }
  return out
}

const fromDocument = (d: Document): TableSpec => ({
  name: String(d["_id"]),
  unique: Array.isArray(d["unique"]) ? (d["unique"] as Array<Driver.UniqueSpec>) : [],
  indexes: Array.isArray(d["indexes"]) ? (d["indexes"] as Array<Driver.IndexSpec>) : []
})

export class Catalog {
  private tables = new Map<string, TableSpec>()
  constructor(private readonly layout: Layout) {}

  private get collection(): Collection<Document> {
    return this.layout.db.collection(tablesCollection(this.layout))
  }

  async reload(): Promise<void> {
    const docs = await this.collection.find({}).toArray()
    this.tables = new Map(docs.map((d) => [String(d["_id"]), fromDocument(d)]))
  }

  /** The declared table, reloading once on a miss; `Invalid` when nobody declared it. */
  async table(name: string): Promise<TableSpec> {
    let spec = this.tables.get(name)
    if (spec === undefined) {
      await this.reload()
      spec = this.tables.get(name)
    }
    if (spec === undefined) throw StoreError.invalid(`table "${name}" is not declared`)
    return spec
  }

  /**
   * Records constraints and indexes (never removing any) and returns the merged tables; `$addToSet` lets
   * concurrent declarations merge. One round trip for the writes, one to read the result.
   */
  async record(specs: ReadonlyArray<TableSpec>): Promise<ReadonlyArray<TableSpec>> {
    await this.collection.bulkWrite(
      specs.map((spec) => ({
        updateOne: {
          filter: { _id: spec.name } as Document,
          update: {
            $addToSet: {
              unique: { $each: spec.unique.map((u) => ({ name: u.name, fields: [...u.fields] })) },
              indexes: { $each: spec.indexes.map((i) => ({ path: [...i.path], kind: i.kind })) }
            }
          },
          upsert: true
        }
      })),
      { ordered: false }
    )
    await this.reload()
    return specs.map((spec) => this.tables.get(spec.name) ?? spec)
  }
}
