/**
 * `declare`: tables, unique constraints and indexes are added to the namespace's schema, and a constraint
 * or index added to a table that holds documents is built over them in the same script that publishes it.
 * The script guards every document and the table's id index, so a write that slipped in between the read
 * and the build makes the declaration start over; writes planned against the old schema are refused by
 * the version bump and re-planned with the new index.
 */
import { Driver, Evaluator, StoreError } from "@lineage/core"
import { idOfMember, member } from "./Encoding.js"
import * as Scripts from "./Scripts.js"
import { merge, type StoredTable, validateSpec } from "./Tables.js"
import { execute, type Namespace, newToken, ScriptCall } from "./Writes.js"

type Doc = Evaluator.Doc

const chunk = 1_000

/** Every document of a table with its raw JSON, found through the id index. */
export const readTable = async (ns: Namespace, table: string): Promise<{ readonly members: ReadonlyArray<string>; readonly docs: ReadonlyArray<{ readonly key: string; readonly raw: string; readonly doc: Doc }> }> => {
  const members = await ns.client.zrange(ns.keys.index(table, ["id"]), 0, "-1")
  const docs: Array<{ key: string; raw: string; doc: Doc }> = []
  for (let i = 0; i < members.length; i += chunk) {
    const keys = members.slice(i, i + chunk).map((m) => ns.keys.doc(table, idOfMember(m)))
    const raws = keys.length === 0 ? [] : await ns.client.mget(...keys)
    raws.forEach((raw, j) => {
      if (raw !== null) docs.push({ key: keys[j]!, raw, doc: JSON.parse(raw) as Doc })
    })
  }
  return { members, docs }
}

const maxAttempts = 50

export const declare = async (ns: Namespace, specs: ReadonlyArray<Driver.TableSpec>): Promise<void> => {
  specs.forEach(validateSpec)
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const schema = await ns.catalog.reload()
    const merged = new Map<string, { table: StoredTable; changed: boolean; addedUnique: Array<Driver.UniqueSpec>; addedIndexes: Array<ReadonlyArray<string>> }>()
    for (const spec of specs) {
      const prior = merged.get(spec.name)
      const m = merge(prior?.table ?? schema.tables.get(spec.name), spec)
      merged.set(spec.name, {
        table: m.table,
        changed: (prior?.changed ?? false) || m.changed,
        addedUnique: [...(prior?.addedUnique ?? []), ...m.addedUnique],
        addedIndexes: [...(prior?.addedIndexes ?? []), ...m.addedIndexes]
      })
    }
    const changed = [...merged.values()].filter((m) => m.changed)
    if (changed.length === 0) return

    const call = new ScriptCall(ns.keys, newToken())
    for (const { table, addedUnique, addedIndexes } of changed) {
      call.hsets.push(call.ref(ns.keys.schema), table.name, JSON.stringify(table))
      if (addedUnique.length === 0 && addedIndexes.length === 0) continue
      const { members, docs } = await readTable(ns, table.name)
      if (docs.length === 0 && members.length === 0) continue
      call.setGuards.push(call.ref(ns.keys.index(table.name, ["id"])), Scripts.sha1(members.join(",")))
      for (const { key, raw } of docs) call.guard(key, raw)
      for (const path of addedIndexes) {
        const key = call.ref(ns.keys.index(table.name, path))
        for (const { doc } of docs) call.zadd(key, member(Evaluator.read(doc, path), doc["id"] as number))
      }
      for (const u of addedUnique) {
        const key = call.ref(ns.keys.unique(table.name, u.fields))
        const seen = new Set<string>()
        for (const { doc } of docs) {
          const field = Driver.uniqueKey(u, doc)
          if (field === undefined) continue
          // Stored documents that already break the new constraint: it cannot be added.
          if (seen.has(field)) throw StoreError.uniqueViolation(table.name, u.name, u.fields, Driver.uniqueValues(u, doc))
          seen.add(field)
          call.claims.push(key, field, String(doc["id"]))
          call.claimInfo.push({ table: table.name, unique: u, values: Driver.uniqueValues(u, doc) })
        }
      }
    }
    call.bump = true
    const outcome = await execute(ns, call, schema.version)
    if (outcome._tag === "Done") {
      await ns.catalog.reload()
      return
    }
  }
  throw StoreError.unavailable(`declaring tables was interrupted by concurrent writes ${maxAttempts} times; giving up`)
}
