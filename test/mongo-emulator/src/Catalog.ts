/**
 * Databases and collections. A collection keeps records in insertion order (a Map keyed by record id, so an
 * updated document keeps its place, like mongod's natural order: ascending record ids), one key table per
 * unique index and one `PathLookup` per indexed first field.
 */
import { UUID, type Document } from "bson"
import { CommandError } from "./Errors.js"
import { formatValue, type StoredDoc } from "./Documents.js"
import { ID_INDEX, MAX_INDEXES_PER_COLLECTION, PathLookup, UniqueIndex, lookupPath, type IndexSpec } from "./Indexes.js"
import { firstEquality } from "./Query.js"
import type { ShardKey } from "./Sharding.js"

export class Collection {
  readonly uuid = new UUID()
  private readonly records = new Map<number, StoredDoc>()
  private nextRecord = 1
  private specs: Array<IndexSpec> = [ID_INDEX]
  private uniques: Array<UniqueIndex>
  private readonly lookups = new Map<string, PathLookup>([["_id", new PathLookup("_id")]])
  /** Set by `shardCollection` (the emulator as mongos); a sharded collection stays sharded until dropped. */
  shardKey: ShardKey | undefined = undefined

  constructor(
    readonly db: string,
    readonly name: string,
    readonly options: Document = {}
  ) {
    this.uniques = [new UniqueIndex(ID_INDEX, this.ns)]
  }

  get ns(): string {
    return `${this.db}.${this.name}`
  }

  get size(): number {
    return this.records.size
  }

  /** Snapshot of [recordId, doc] in natural order. */
  entries(): Array<[number, StoredDoc]> {
    return [...this.records.entries()]
  }

  docs(): Array<StoredDoc> {
    return [...this.records.values()]
  }

  /**
   * The records a filter must be tested on, in natural order: those a lookup files under the filter's first
   * equality (see `firstEquality`), else all of them.
   */
  candidates(filter: unknown): Array<[number, StoredDoc]> {
    const equality = firstEquality(filter)
    const lookup = equality === undefined ? undefined : this.lookups.get(equality.path)
    // Mostly unfiled (a field holding arrays): sorting them would cost more than the scan saves.
    if (equality === undefined || lookup === undefined || lookup.unfiledCount * 2 > this.records.size) return this.entries()
    return lookup.records(equality.values).flatMap((record) => {
      const doc = this.records.get(record)
      return doc === undefined ? [] : [[record, doc] as [number, StoredDoc]]
    })
  }

  get(record: number): StoredDoc | undefined {
    return this.records.get(record)
  }

  insert(doc: StoredDoc): number {
    for (const u of this.uniques) u.check(doc, undefined)
    const record = this.nextRecord++
    this.records.set(record, doc)
    for (const u of this.uniques) u.add(doc, record)
    for (const l of this.lookups.values()) l.add(doc, record)
    return record
  }

  replace(record: number, doc: StoredDoc): void {
    const old = this.records.get(record)
    if (old === undefined) throw CommandError.of("InternalError", "record vanished")
    for (const u of this.uniques) u.check(doc, record)
    for (const u of this.uniques) u.remove(old, record)
    for (const l of this.lookups.values()) l.remove(old, record)
    this.records.set(record, doc)
    for (const u of this.uniques) u.add(doc, record)
    for (const l of this.lookups.values()) l.add(doc, record)
  }

  remove(record: number): void {
    const old = this.records.get(record)
    if (old === undefined) return
    for (const u of this.uniques) u.remove(old, record)
    for (const l of this.lookups.values()) l.remove(old, record)
    this.records.delete(record)
  }

  indexes(): ReadonlyArray<IndexSpec> {
    return this.specs
  }

  /**
   * Adds indexes, all or none, as one mongod `createIndexes` builds them: refused when the collection would
   * hold more than MAX_INDEXES_PER_COLLECTION (naming the first index over the limit, as mongod), and when a
   * unique one meets existing duplicates (E11000).
   */
  addIndexes(specs: ReadonlyArray<IndexSpec>): void {
    const room = MAX_INDEXES_PER_COLLECTION - this.specs.length
    const over = specs[Math.max(0, room)]
    if (over !== undefined) {
      throw new CommandError(67, `add index fails, too many indexes for ${this.ns} key:${formatValue(over.key)}`, {}, "CannotCreateIndex")
    }
    const built = specs.filter((spec) => spec.unique).map((spec) => {
      const index = new UniqueIndex(spec, this.ns)
      for (const [record, doc] of this.records) {
        index.check(doc, record)
        index.add(doc, record)
      }
      return index
    })
    this.uniques.push(...built)
    this.specs.push(...specs)
    this.syncLookups()
  }

  dropIndex(name: string): void {
    this.specs = this.specs.filter((s) => s.name !== name)
    this.uniques = this.uniques.filter((u) => u.spec.name !== name)
    this.syncLookups()
  }

  /** One lookup per path an index starts with (`_id` always), built over the records it lacks. */
  private syncLookups(): void {
    const paths = new Set(this.specs.flatMap((spec) => lookupPath(spec) ?? []))
    for (const path of this.lookups.keys()) if (!paths.has(path)) this.lookups.delete(path)
    for (const path of paths) {
      if (this.lookups.has(path)) continue
      const lookup = new PathLookup(path)
      for (const [record, doc] of this.records) lookup.add(doc, record)
      this.lookups.set(path, lookup)
    }
  }
}

const INVALID_DB_CHARS = /[/\\. "$\0]/

export const validateDbName = (db: string): void => {
  if (db.length === 0 || db.length >= 64 || INVALID_DB_CHARS.test(db)) {
    throw CommandError.of("InvalidNamespace", `Invalid database name: '${db}'`)
  }
}

export const validateCollectionName = (db: string, name: string): void => {
  if (name.length === 0 || name.includes("$") || name.includes("\0") || name.startsWith(".")) {
    throw CommandError.of("InvalidNamespace", `Invalid namespace specified '${db}.${name}'`)
  }
}

export class Catalog {
  private readonly dbs = new Map<string, Map<string, Collection>>()

  databases(): Array<[string, ReadonlyMap<string, Collection>]> {
    return [...this.dbs.entries()]
  }

  collections(db: string): Array<Collection> {
    return [...(this.dbs.get(db)?.values() ?? [])]
  }

  get(db: string, name: string): Collection | undefined {
    return this.dbs.get(db)?.get(name)
  }

  /** Implicit creation, as inserts, upserts and createIndexes do. */
  getOrCreate(db: string, name: string): { collection: Collection; created: boolean } {
    const existing = this.get(db, name)
    if (existing !== undefined) return { collection: existing, created: false }
    return { collection: this.create(db, name, {}), created: true }
  }

  create(db: string, name: string, options: Document): Collection {
    validateDbName(db)
    validateCollectionName(db, name)
    if (this.get(db, name) !== undefined) throw CommandError.of("NamespaceExists", `Collection ${db}.${name} already exists.`)
    let collections = this.dbs.get(db)
    if (collections === undefined) {
      collections = new Map()
      this.dbs.set(db, collections)
    }
    const collection = new Collection(db, name, options)
    collections.set(name, collection)
    return collection
  }

  drop(db: string, name: string): Collection | undefined {
    const collections = this.dbs.get(db)
    const collection = collections?.get(name)
    if (collections === undefined || collection === undefined) return undefined
    collections.delete(name)
    if (collections.size === 0) this.dbs.delete(db)
    return collection
  }

  /** Re-homes a collection object under a new name (renameCollection). */
  rename(from: Collection, db: string, name: string): Collection {
    this.drop(from.db, from.name)
    const target = this.create(db, name, from.options)
    target.shardKey = from.shardKey
    target.addIndexes(from.indexes().filter((spec) => spec.name !== "_id_"))
    for (const doc of from.docs()) target.insert(doc)
    return target
  }

  dropDatabase(db: string): void {
    this.dbs.delete(db)
  }

  clear(): void {
    this.dbs.clear()
  }
}
