/**
 * Declaring tables: recorded in the catalog (see Catalog), given an id counter, a collection and the indexes
 * their constraints and index paths need. Additive and idempotent; concurrent declarations from other handles
 * are expected and harmless.
 */
import type { Driver } from "@lineage/core"
import { StoreError } from "@lineage/core"
import { collectionName, type Declared, indexModels, invalidTable, legacyIndexName } from "./Catalog.js"
import { failure } from "./Failures.js"
import { createCounters } from "./Ids.js"
import { documents, type Namespace } from "./Namespace.js"

/** mongod's indexes per collection, `_id_` included (`IndexCatalogImpl::kMaxNumIndexesAllowed`). */
const maxIndexesPerCollection = 64

/** mongod's error codes met while declaring. */
const code = { namespaceNotFound: 26, indexNotFound: 27, namespaceExists: 48 } as const

const codeOf = (e: unknown): unknown => (e as { readonly code?: unknown }).code

export const declare = async (ns: Namespace, specs: ReadonlyArray<Driver.TableSpec>): Promise<void> => {
  for (const spec of specs) {
    const why = invalidTable(spec.name)
    if (why !== undefined) throw StoreError.invalid(why)
  }
  if (specs.length === 0) return
  const merged = await ns.catalog.record(specs)
  await createCounters(ns, specs.map((spec) => spec.name))
  await createCollections(ns, merged.filter((table) => indexModels(table).length === 0))
  for (const table of merged) await buildIndexes(ns, table)
}

/** Tables without indexes still get their collection, so they show in the database as declared. */
const createCollections = async (ns: Namespace, tables: ReadonlyArray<Declared>): Promise<void> => {
  if (tables.length === 0) return
  const { db } = ns.layout
  const names = tables.map((table) => collectionName(ns.layout, table.name))
  const existing = new Set((await db.listCollections({ name: { $in: names } }, { nameOnly: true }).toArray()).map((c) => c.name))
  for (const name of names) {
    if (existing.has(name)) continue
    await db.createCollection(name).catch((e: unknown) => {
      // Created concurrently by another handle: fine.
      if (codeOf(e) !== code.namespaceExists) throw e
    })
  }
}

/**
 * Builds the indexes a table lacks. The per-path layout fails by filling a collection up to mongod's index
 * limit, and then the indexes replacing its own cannot be built beside them: they go first, and feature
 * queries are scans until the wildcard index is built.
 */
const buildIndexes = async (ns: Namespace, table: Declared): Promise<void> => {
  const models = indexModels(table)
  if (models.length === 0) return
  try {
    const roomFirst = table.legacy.length > 0 && !(await hasRoom(ns, table.name, models))
    if (roomFirst) await dropLegacy(ns, table)
    await documents(ns, table.name).createIndexes(models.map((m) => ({ ...m })))
    if (table.legacy.length > 0) {
      if (!roomFirst) await dropLegacy(ns, table)
      await ns.catalog.retireLegacy(table)
    }
  } catch (e) {
    throw failure(`declare ${table.name}`, e, ns.secret, { table: table.name, unique: table.unique, docs: [] })
  }
}

/** Whether the indexes in `models` that a table's collection lacks fit under mongod's limit beside the others. */
const hasRoom = async (ns: Namespace, table: string, models: ReadonlyArray<{ readonly name: string }>): Promise<boolean> => {
  const existing = await documents(ns, table)
    .listIndexes()
    .toArray()
    .catch((e: unknown) => {
      // No collection yet: no index.
      if (codeOf(e) === code.namespaceNotFound) return []
      throw e
    })
  const names = new Set(existing.map((i) => String(i["name"])))
  return existing.length + models.filter((m) => !names.has(m.name)).length <= maxIndexesPerCollection
}

/**
 * Drops the indexes the per-path layout made for nested paths (one per feature), so they no longer cost
 * writes or index slots; the catalog forgets them once they are gone.
 */
const dropLegacy = async (ns: Namespace, table: Declared): Promise<void> => {
  for (const path of table.legacy) {
    await documents(ns, table.name)
      .dropIndex(legacyIndexName(path))
      .catch((e: unknown) => {
        // Dropped already (by another handle), or never built (no collection).
        const c = codeOf(e)
        if (c !== code.indexNotFound && c !== code.namespaceNotFound) throw e
      })
  }
}
