/**
 * Table declarations as the namespace stores them (in the `schema` hash, so every handle and process sees
 * the same tables), and how a new declaration merges into a stored one: constraints and indexes are only
 * ever added, never dropped, so a writer that planned against an older schema can only miss additions,
 * which the schema version it checks catches.
 */
import type { Ast, Driver } from "@lineage/core"

export interface StoredTable {
  readonly name: string
  readonly unique: ReadonlyArray<Driver.UniqueSpec>
  /** Paths with an index that queries use. One index serves both kinds (`hash` and `sorted`): see Encoding. */
  readonly indexes: ReadonlyArray<Ast.Path>
  /**
   * Indexes being built over the stored documents a step at a time: writes keep them up to date, queries do
   * not use them until every document is in (see Declare).
   */
  readonly building?: ReadonlyArray<Ast.Path> | undefined
}

/** Every table indexes `id` (whole-table walks, id order) and `uid` (uid and uid-prefix lookups). */
export const builtinIndexes: ReadonlyArray<Ast.Path> = [["id"], ["uid"]]

export const pathKey = (path: Ast.Path): string => JSON.stringify(path)

const sameFields = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((f, i) => f === b[i])

/** A table's indexes in order, built-in ones first, and the `pathKey`s of those queries may use and of all. */
interface IndexSet {
  readonly list: ReadonlyArray<Ast.Path>
  readonly ready: ReadonlySet<string>
  readonly all: ReadonlySet<string>
}

/** Stored tables never change, so each one's index set is worked out once (or handed on by `merge`). */
const indexSets = new WeakMap<StoredTable, IndexSet>()

const extend = (base: IndexSet, ready: Iterable<Ast.Path>, building: Iterable<Ast.Path>): IndexSet => {
  const list = [...base.list]
  const readyKeys = new Set(base.ready)
  const all = new Set(base.all)
  for (const [paths, isReady] of [[ready, true], [building, false]] as const) {
    for (const path of paths) {
      const key = pathKey(path)
      if (isReady) readyKeys.add(key)
      if (all.has(key)) continue
      all.add(key)
      list.push(path)
    }
  }
  return { list, ready: readyKeys, all }
}

const indexSetOf = (table: StoredTable): IndexSet => {
  let set = indexSets.get(table)
  if (set === undefined) {
    const empty: IndexSet = { list: [], ready: new Set(), all: new Set() }
    indexSets.set(table, (set = extend(empty, [...builtinIndexes, ...table.indexes], table.building ?? [])))
  }
  return set
}

/** Every index a table keeps, built-in ones first: what a write must keep up to date. */
export const indexesOf = (table: StoredTable): ReadonlyArray<Ast.Path> => indexSetOf(table).list

/** The indexes every stored document is in, so queries may use them. */
export const readyIndexesOf = (table: StoredTable): ReadonlyArray<Ast.Path> => {
  const { list, ready } = indexSetOf(table)
  return list.filter((path) => ready.has(pathKey(path)))
}

/** Whether queries may use an index on `path`. */
export const hasIndex = (table: StoredTable, path: Ast.Path): boolean => indexSetOf(table).ready.has(pathKey(path))

/**
 * `table` with indexes added to it after its `schema` entry was written (kept in `schemaIndexes`), each
 * once: `ready` ones among its indexes, the others among those `building`.
 */
export const withIndexes = (table: StoredTable, ready: ReadonlyArray<Ast.Path>, building: ReadonlyArray<Ast.Path>): StoredTable => {
  if (ready.length === 0 && building.length === 0) return table
  const set = extend(indexSetOf(table), ready, building)
  const out: StoredTable = {
    name: table.name,
    unique: table.unique,
    indexes: set.list.filter((path) => set.ready.has(pathKey(path)) && !builtin.has(pathKey(path))),
    building: set.list.filter((path) => !set.ready.has(pathKey(path)))
  }
  indexSets.set(out, set)
  return out
}

const builtin = new Set(builtinIndexes.map(pathKey))

export interface Merged {
  /** The stored table with the declared constraints (its indexes as stored: see `withIndexes`). */
  readonly table: StoredTable
  /**
   * The table's own schema entry must be written: the table is new, or a constraint was added or renamed.
   * Indexes added to a stored table are each written to a field of their own, so adding one costs the same
   * however many the table has.
   */
  readonly rewrite: boolean
  /** Constraints that existing documents must now be entered into. */
  readonly addedUnique: ReadonlyArray<Driver.UniqueSpec>
  /** Declared indexes the table lacks. */
  readonly addedIndexes: ReadonlyArray<Ast.Path>
  /** Declared indexes the table has, still being built (a build that stopped halfway is taken up again). */
  readonly pending: ReadonlyArray<Ast.Path>
}

/** Adds what `spec` declares and `stored` lacks. A constraint on the same fields adopts the declared name. */
export const merge = (stored: StoredTable | undefined, spec: Driver.TableSpec): Merged => {
  const base: StoredTable = stored ?? { name: spec.name, unique: [], indexes: [] }
  const unique = [...base.unique]
  const addedUnique: Array<Driver.UniqueSpec> = []
  let rewrite = stored === undefined
  for (const u of spec.unique) {
    const at = unique.findIndex((x) => sameFields(x.fields, u.fields))
    if (at >= 0) {
      if (unique[at]!.name !== u.name) {
        unique[at] = { name: u.name, fields: [...u.fields] }
        rewrite = true
      }
      continue
    }
    const added = { name: u.name, fields: [...u.fields] }
    unique.push(added)
    addedUnique.push(added)
    rewrite = true
  }
  // Each declared index costs a lookup in the stored table's key sets, however many indexes it has.
  const { ready, all } = indexSetOf(base)
  const addedIndexes: Array<Ast.Path> = []
  const pending: Array<Ast.Path> = []
  const seen = new Set<string>()
  for (const index of spec.indexes) {
    const key = pathKey(index.path)
    if (ready.has(key) || seen.has(key)) continue
    seen.add(key)
    ;(all.has(key) ? pending : addedIndexes).push([...index.path])
  }
  const table: StoredTable = { ...base, unique }
  indexSets.set(table, indexSetOf(base))
  return { table, rewrite, addedUnique, addedIndexes, pending }
}

/** An index's state in `schemaIndexes`: queries use a ready index; a building one is kept by writes only. */
export const indexState = { ready: "1", building: "building" } as const

/** What a table's `schema` entry holds: indexes still being built are kept apart (see `Keys.schemaIndexes`). */
export const entryOf = (table: StoredTable): string => JSON.stringify({ name: table.name, unique: table.unique, indexes: table.indexes })
