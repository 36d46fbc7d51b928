/**
 * Which tables exist, with their unique constraints and indexes: kept in the `<prefix>_lineage_tables`
 * collection so every handle (every process) knows tables another declared, and cached per handle. A handle
 * reloads on a miss, so a table declared elsewhere is found on first use.
 *
 * Declared index paths are kept by what they need from MongoDB, not one by one: a top-level field needs an
 * index on its order key, a nested path needs the wildcard index over its top-level field's escaped copy. So
 * a collection's index count is bounded by its schema (`_id_`, one per unique constraint, one per indexed
 * top-level field, one per field holding indexed nested paths) whatever the number of features, and mongod's
 * 64 indexes per collection are never reached by declaring features.
 */
import type { Collection, Db, Document } from "mongodb"
import type { Driver } from "@lineage/core"
import { StoreError } from "@lineage/core"
import { escapeKey } from "./Encoding.js"
import { uniqueIndexName } from "./Failures.js"

type TableSpec = Driver.TableSpec
type Path = ReadonlyArray<string>

export interface Layout {
  readonly db: Db
  readonly prefix: string
}

/** A table as recorded: its constraints and what its declared indexes need. */
export interface Declared {
  readonly name: string
  readonly unique: ReadonlyArray<Driver.UniqueSpec>
  /** Top-level fields indexed on their order key (`o.<field>`). */
  readonly fields: ReadonlyArray<string>
  /** Top-level fields with indexed nested paths: one wildcard index each over `d.<field>`. */
  readonly subtrees: ReadonlyArray<string>
  /** Nested paths recorded one by one, each with an index of its own (the per-path layout): to retire. */
  readonly legacy: ReadonlyArray<Path>
}

export interface IndexModel {
  readonly key: Document
  readonly name: string
  readonly unique?: boolean
  readonly partialFilterExpression?: Document
}

/** `<prefix><table>`: one collection per table. */
export const collectionName = (layout: Layout, table: string): string => `${layout.prefix}${table}`
export const tablesCollection = (layout: Layout): string => `${layout.prefix}_lineage_tables`
export const idsCollection = (layout: Layout): string => `${layout.prefix}_lineage_ids`

/** Why a (non-empty) table name cannot be a collection name, or undefined. */
export const invalidTable = (name: string): string | undefined =>
  /[$\u0000]/.test(name) || name.startsWith("system.") || name.startsWith("_lineage_")
    ? `"${name}" cannot name a MongoDB collection (no "$", no NUL, not "system." or "_lineage_")`
    : undefined

/** The name of a top-level field's index (and of a nested path's own index in the per-path layout). */
const pathIndexName = (path: Path): string => `lineage_x_${encodeURIComponent(JSON.stringify(path))}`
const subtreeIndexName = (field: string): string => `lineage_w_${encodeURIComponent(field)}`

/** Top-level fields and subtrees a spec's index paths need; `id` is `_id`, indexed already. */
const needs = (indexes: ReadonlyArray<{ readonly path: Path }>): { readonly fields: Array<string>; readonly subtrees: Array<string> } => {
  const fields = new Set<string>()
  const subtrees = new Set<string>()
  for (const { path } of indexes) {
    if (path.length === 0 || path[0] === "id") continue
    if (path.length === 1) fields.add(path[0]!)
    else subtrees.add(path[0]!)
  }
  return { fields: [...fields], subtrees: [...subtrees] }
}

/**
 * The MongoDB indexes a table needs: unique constraints on order keys, an index per top-level field on its
 * order key, and a wildcard index per field with nested indexed paths (mongod >= 4.2 serves an equality,
 * range or prefix on any one path under it).
 */
export const indexModels = (table: Declared): Array<IndexModel> => {
  const out: Array<IndexModel> = []
  for (const u of table.unique) {
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
  for (const field of table.fields) out.push({ key: { [`o.${escapeKey(field)}`]: 1 }, name: pathIndexName([field]) })
  for (const field of table.subtrees) out.push({ key: { [`d.${escapeKey(field)}.$**`]: 1 }, name: subtreeIndexName(field) })
  return out
}

/** The index the per-path layout gave one nested path. */
export const legacyIndexName = (path: Path): string => pathIndexName(path)

/** A catalog document, in this layout or the per-path one. */
interface Recorded {
  readonly _id: string
  readonly unique?: Array<Driver.UniqueSpec>
  /** The per-path layout: every declared index path. */
  readonly indexes?: Array<{ readonly path: Array<string>; readonly kind: string }>
  readonly fields?: Array<string>
  readonly subtrees?: Array<string>
}

const strings = (u: unknown): Array<string> => (Array.isArray(u) ? u.filter((x): x is string => typeof x === "string") : [])

/**
 * The per-path layout's recorded paths. The catalog is shared, so whoever wrote it may have written anything:
 * an entry that is not `{ path: [string, …] }` is skipped, never read, so it cannot break the other tables.
 */
const recordedPaths = (u: unknown): Array<{ readonly path: Array<string> }> =>
  Array.isArray(u)
    ? u.flatMap((entry: unknown) => {
        const path: unknown = entry !== null && typeof entry === "object" ? (entry as { readonly path?: unknown }).path : undefined
        return Array.isArray(path) && path.every((p) => typeof p === "string") ? [{ path: path as Array<string> }] : []
      })
    : []

const fromDocument = (d: Document): Declared => {
  const recorded = recordedPaths(d["indexes"])
  const old = needs(recorded)
  return {
    name: String(d["_id"]),
    unique: Array.isArray(d["unique"]) ? (d["unique"] as Array<Driver.UniqueSpec>) : [],
    fields: [...new Set([...strings(d["fields"]), ...old.fields])],
    subtrees: [...new Set([...strings(d["subtrees"]), ...old.subtrees])],
    legacy: recorded.filter((i) => i.path.length > 1).map((i) => i.path)
  }
}

const declaredOf = (spec: TableSpec): Declared => ({ name: spec.name, unique: spec.unique, ...needs(spec.indexes), legacy: [] })

export class Catalog {
  private tables = new Map<string, Declared>()
  constructor(private readonly layout: Layout) {}

  private get collection(): Collection<Document> {
    return this.layout.db.collection(tablesCollection(this.layout))
  }

  async reload(): Promise<void> {
    const docs = await this.collection.find({}).toArray()
    this.tables = new Map(docs.map((d) => [String(d["_id"]), fromDocument(d)]))
  }

  /** The declared table, reloading once on a miss; `Invalid` when nobody declared it. */
  async table(name: string): Promise<Declared> {
    let spec = this.tables.get(name)
    if (spec === undefined) {
      await this.reload()
      spec = this.tables.get(name)
    }
    if (spec === undefined) throw StoreError.invalid(`table "${name}" is not declared`)
    return spec
  }

  /**
   * Records constraints and index needs (never removing any) and returns the merged tables; `$addToSet`
   * lets concurrent declarations merge, and a declaration naming only new indexes adds to what is there.
   * One round trip for the writes, one to read the result.
   */
  async record(specs: ReadonlyArray<TableSpec>): Promise<ReadonlyArray<Declared>> {
    await this.collection.bulkWrite(
      specs.map((spec) => {
        const { fields, subtrees } = needs(spec.indexes)
        return {
          updateOne: {
            filter: { _id: spec.name } as Document,
            update: {
              $addToSet: {
                unique: { $each: spec.unique.map((u) => ({ name: u.name, fields: [...u.fields] })) },
                fields: { $each: fields },
                subtrees: { $each: subtrees }
              }
            },
            upsert: true
          }
        }
      }),
      { ordered: false }
    )
    await this.reload()
    return specs.map((spec) => this.tables.get(spec.name) ?? declaredOf(spec))
  }

  /**
   * Forgets the nested paths the per-path layout recorded one by one, once their indexes are dropped, keeping
   * the subtrees they stood for.
   */
  async retireLegacy(table: Declared): Promise<void> {
    await this.layout.db.collection<Recorded>(tablesCollection(this.layout)).updateOne(
      { _id: table.name },
      { $pull: { indexes: { "path.1": { $exists: true } } }, $addToSet: { subtrees: { $each: [...table.subtrees] } } }
    )
    await this.reload()
  }
}
