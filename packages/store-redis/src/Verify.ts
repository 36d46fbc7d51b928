/**
 * `verifyIndexes`: checks every stored document against every index and unique constraint of its table,
 * and every index entry and claim against the documents, and reports the drift. Documents are found by
 * SCAN over their keys (on every primary of a cluster), not through the id index, so a document missing
 * from that index is found too.
 * Run it on a quiet namespace: writes made while it runs may show as drift. Indexes still being built (see
 * Declare) are not checked.
 */
import { Driver, Evaluator } from "@lineage/core"
import { scanKeys } from "./Client.js"
import { idOfMember, member } from "./Encoding.js"
import { readyIndexesOf, type StoredTable } from "./Tables.js"
import type { Namespace } from "./Writes.js"

type Doc = Evaluator.Doc

export type DriftKind =
  /** A document has no entry in an index it belongs to. */
  | "missingEntry"
  /** An index entry names a document that is absent or holds another value. */
  | "orphanEntry"
  /** A document's unique value is not claimed for it. */
  | "missingClaim"
  /** A claim names a document that is absent or no longer holds that value. */
  | "orphanClaim"
  /** Two documents hold the same unique value. */
  | "duplicate"
  /** The id counter is behind a stored id, so `reserveIds` could hand it out again. */
  | "idCounterBehind"
  /** A document key holds something that is not a JSON document with its own id. */
  | "corruptDocument"

export interface Drift {
  readonly table: string
  readonly kind: DriftKind
  /** The index path (JSON) or constraint name concerned. */
  readonly structure: string
  readonly id?: number | undefined
  readonly detail: string
}

export interface IndexReport {
  readonly ok: boolean
  readonly tables: number
  readonly documents: number
  readonly drift: ReadonlyArray<Drift>
}

/** A table's documents by id; a key whose value is not a document of that id is reported and skipped. */
const readDocuments = async (ns: Namespace, table: StoredTable, drift: Array<Drift>): Promise<Map<number, Doc>> => {
  const keys = await scanKeys(ns.client, ns.keys.docPattern(table.name))
  const docs = new Map<number, Doc>()
  for (let i = 0; i < keys.length; i += 500) {
    const slice = keys.slice(i, i + 500)
    const raws = await ns.client.mget(...slice)
    raws.forEach((raw, j) => {
      const key = slice[j]!
      const id = ns.keys.idOfDocKey(table.name, key)
      if (raw === null) return
      let doc: Doc | undefined
      try {
        doc = JSON.parse(raw) as Doc
      } catch {
        doc = undefined
      }
      if (id === undefined || doc === undefined || doc["id"] !== id) {
        drift.push({ table: table.name, kind: "corruptDocument", structure: "document", id, detail: `key ${JSON.stringify(key)}` })
        return
      }
      docs.set(id, doc)
    })
  }
  return docs
}

/** Every ready index holds one entry per document and nothing else. */
const checkIndexes = async (ns: Namespace, table: StoredTable, docs: ReadonlyMap<number, Doc>, drift: Array<Drift>): Promise<void> => {
  // An index still being built is missing entries until its build completes: only ready ones are checked.
  for (const path of readyIndexesOf(table)) {
    const structure = JSON.stringify(path)
    const actual = new Set(await ns.client.zrange(ns.keys.index(table.name, path), 0, "-1"))
    for (const [id, doc] of docs) {
      const m = member(Evaluator.read(doc, path), id)
      if (actual.has(m)) actual.delete(m)
      else drift.push({ table: table.name, kind: "missingEntry", structure, id, detail: `no entry for value ${JSON.stringify(Evaluator.read(doc, path))}` })
    }
    for (const m of actual) drift.push({ table: table.name, kind: "orphanEntry", structure, id: idOfMember(m), detail: `entry ${JSON.stringify(m)}` })
  }
}

/** Every unique hash holds exactly the claims of the documents, and no two documents share one. */
const checkClaims = async (ns: Namespace, table: StoredTable, docs: ReadonlyMap<number, Doc>, drift: Array<Drift>): Promise<void> => {
  for (const u of table.unique) {
    const claims = await ns.client.hgetall(ns.keys.unique(table.name, u.fields))
    const seen = new Map<string, number>()
    for (const [id, doc] of docs) {
      const field = Driver.uniqueKey(u, doc)
      if (field === undefined) continue
      const other = seen.get(field)
      if (other !== undefined) drift.push({ table: table.name, kind: "duplicate", structure: u.name, id, detail: `shares ${field} with id ${other}` })
      seen.set(field, id)
      if (claims[field] === String(id)) delete claims[field]
      else drift.push({ table: table.name, kind: "missingClaim", structure: u.name, id, detail: `${field} is claimed by ${claims[field] ?? "nobody"}` })
    }
    for (const [field, owner] of Object.entries(claims)) {
      if (seen.get(field) === Number(owner)) continue
      drift.push({ table: table.name, kind: "orphanClaim", structure: u.name, id: Number(owner), detail: `claim ${field}` })
    }
  }
}

/** The id counter is at least the highest id stored, so `reserveIds` never hands out a taken id. */
const checkIdCounter = async (ns: Namespace, table: StoredTable, docs: ReadonlyMap<number, Doc>, drift: Array<Drift>): Promise<void> => {
  const seq = Number((await ns.client.get(ns.keys.seq(table.name))) ?? "0")
  let maxId = 0
  for (const id of docs.keys()) if (id > maxId) maxId = id
  if (seq < maxId) drift.push({ table: table.name, kind: "idCounterBehind", structure: "seq", id: maxId, detail: `counter at ${seq}` })
}

export const verifyIndexes = async (ns: Namespace): Promise<IndexReport> => {
  const schema = await ns.catalog.reload()
  const drift: Array<Drift> = []
  let documents = 0
  for (const table of schema.tables.values()) {
    const docs = await readDocuments(ns, table, drift)
    documents += docs.size
    await checkIndexes(ns, table, docs, drift)
    await checkClaims(ns, table, docs, drift)
    await checkIdCounter(ns, table, docs, drift)
  }
  return { ok: drift.length === 0, tables: schema.tables.size, documents, drift }
}
