/**
 * Table declarations as the namespace stores them (in the `schema` hash, so every handle and process sees
 * the same tables), and how a new declaration merges into a stored one: constraints and indexes are only
 * ever added, never dropped, so a writer that planned against an older schema can only miss additions,
 * which the schema version it checks catches.
 */
import { Evaluator, StoreError } from "@lineage/core"
import type { Ast, Driver } from "@lineage/core"

type Doc = Evaluator.Doc

export interface StoredTable {
  readonly name: string
  readonly unique: ReadonlyArray<Driver.UniqueSpec>
  /** Paths with an index. One index serves both kinds (`hash` and `sorted`): see Encoding. */
  readonly indexes: ReadonlyArray<Ast.Path>
}

/** Every table indexes `id` (whole-table walks, id order) and `uid` (uid and uid-prefix lookups). */
export const builtinIndexes: ReadonlyArray<Ast.Path> = [["id"], ["uid"]]

export const pathKey = (path: Ast.Path): string => JSON.stringify(path)

const sameFields = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((f, i) => f === b[i])

const indexLists = new WeakMap<StoredTable, ReadonlyArray<Ast.Path>>()

/** Every index a table keeps, built-in ones first (stored tables never change, so this is kept per table). */
export const indexesOf = (table: StoredTable): ReadonlyArray<Ast.Path> => {
  let out = indexLists.get(table)
  if (out === undefined) {
    const seen = new Set<string>()
    const list: Array<Ast.Path> = []
    for (const path of [...builtinIndexes, ...table.indexes]) {
      if (seen.has(pathKey(path))) continue
      seen.add(pathKey(path))
      list.push(path)
    }
    indexLists.set(table, (out = list))
  }
  return out
}

export const hasIndex = (table: StoredTable, path: Ast.Path): boolean =>
  indexesOf(table).some((p) => pathKey(p) === pathKey(path))

export interface Merged {
  readonly table: StoredTable
  readonly changed: boolean
  /** Constraints and indexes that existing documents must now be entered into. */
  readonly addedUnique: ReadonlyArray<Driver.UniqueSpec>
  readonly addedIndexes: ReadonlyArray<Ast.Path>
}

/** Adds what `spec` declares and `stored` lacks. A constraint on the same fields adopts the declared name. */
export const merge = (stored: StoredTable | undefined, spec: Driver.TableSpec): Merged => {
  const base: StoredTable = stored ?? { name: spec.name, unique: [], indexes: [] }
  const unique = [...base.unique]
  const addedUnique: Array<Driver.UniqueSpec> = []
  let changed = stored === undefined
  for (const u of spec.unique) {
    const at = unique.findIndex((x) => sameFields(x.fields, u.fields))
    if (at >= 0) {
      if (unique[at]!.name !== u.name) {
        unique[at] = { name: u.name, fields: [...u.fields] }
        changed = true
      }
      continue
    }
    const added = { name: u.name, fields: [...u.fields] }
    unique.push(added)
    addedUnique.push(added)
    changed = true
  }
  const indexes = [...base.indexes]
  const addedIndexes: Array<Ast.Path> = []
  for (const index of spec.indexes) {
    const probe: StoredTable = { ...base, indexes }
    if (hasIndex(probe, index.path)) continue
    indexes.push([...index.path])
    addedIndexes.push([...index.path])
    changed = true
  }
  return { table: { name: spec.name, unique, indexes }, changed, addedUnique, addedIndexes }
}

export const validateSpec = (spec: Driver.TableSpec): void => {
  if (typeof spec?.name !== "string" || spec.name.length === 0) throw StoreError.invalid(`a table needs a name, got ${JSON.stringify(spec?.name)}`)
  for (const u of spec.unique ?? [])
    if (!Array.isArray(u.fields) || u.fields.length === 0) throw StoreError.invalid(`unique constraint "${u.name}" on ${spec.name} has no fields`)
  for (const i of spec.indexes ?? [])
    if (!Array.isArray(i.path) || i.path.length === 0 || !i.path.every((s) => typeof s === "string"))
      throw StoreError.invalid(`an index on ${spec.name} needs a path of strings, got ${JSON.stringify(i.path)}`)
}

