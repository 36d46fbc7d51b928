/**
 * The simplest store that passes the suite: arrays of JSON text and the reference evaluator. It is the example
 * for implementers and the base the suite's deliberately broken stores wrap. Like every store it checks no
 * request itself: `Driver.validated` refuses malformed ones before they reach it.
 *
 * Rows are kept as JSON text so nothing a caller holds can alias stored state, and every write is checked
 * against a copy before being committed so a failure writes nothing. Every operation runs synchronously
 * inside one `Effect.suspend`, which on a single JS thread makes each one atomic.
 */
import { Ast, Driver, Evaluator, StoreError } from "@lineage/core"
import { Effect } from "effect"
import type { Backdoor } from "./Case.js"

type Doc = Driver.Doc

interface Table {
  readonly spec: Driver.TableSpec
  /** id → JSON text of the document. */
  readonly rows: Map<number, string>
  /**
   * The next id `reserveIds` hands out: past every id reserved or inserted, and never lowered, so removing
   * rows never makes an id reusable.
   */
  nextId: number
}

/** Table name → table. */
type Tables = Map<string, Table>

export interface ReferenceDriver extends Driver.Driver {
  /** Reads the stored JSON text directly: what `find` would have to lie about. */
  readonly backdoor: Backdoor
}

export const capabilities: Driver.Capabilities = {
  transactions: true,
  nativeOperators: Ast.operators,
  shared: false
}

/** `validated` lets through only declared tables; the backdoor, which bypasses it, may still ask for others. */
const tableOf = (tables: Tables, name: string): Table => {
  const table = tables.get(name)
  if (table === undefined) throw StoreError.invalid(`unknown table "${name}": declare it first`)
  return table
}

/** Field values of a unique constraint, or `undefined` when a null leaves the document unconstrained. */
const uniqueKey = (doc: Doc, fields: ReadonlyArray<string>): { key: string; values: Array<Driver.Json> } | undefined => {
  const values = fields.map((f) => Evaluator.read(doc, [f]))
  if (values.some((v) => v === null)) return undefined
  return { key: Evaluator.canonical(values), values }
}

/** Refuses the table's state when two rows share the values of a unique constraint. */
const checkUnique = (table: Table, changed: ReadonlySet<number>): void => {
  for (const constraint of table.spec.unique) {
    const seen = new Map<string, number>()
    // Changed rows go last so the error names the values they brought in.
    const ids = [...table.rows.keys()].sort((a, b) => Number(changed.has(a)) - Number(changed.has(b)))
    for (const id of ids) {
      const k = uniqueKey(JSON.parse(table.rows.get(id)!) as Doc, constraint.fields)
      if (k === undefined) continue
      if (seen.has(k.key)) throw StoreError.uniqueViolation(table.spec.name, constraint.name, constraint.fields, k.values)
      seen.set(k.key, id)
    }
  }
}

const mergeSpecs = (a: Driver.TableSpec, b: Driver.TableSpec): Driver.TableSpec => ({
  name: a.name,
  unique: [...a.unique, ...b.unique.filter((u) => !a.unique.some((x) => x.name === u.name))],
  indexes: [
    ...a.indexes,
    ...b.indexes.filter((i) => !a.indexes.some((x) => x.kind === i.kind && x.path.join("\u0000") === i.path.join("\u0000")))
  ]
})

const cloneTables = (tables: Tables): Tables => new Map([...tables].map(([name, t]) => [name, { ...t, rows: new Map(t.rows) }]))

const applyInsert = (tables: Tables, name: string, docs: ReadonlyArray<Doc>): void => {
  const table = tableOf(tables, name)
  const changed = new Set<number>()
  for (const doc of docs) {
    const id = doc["id"] as number
    if (table.rows.has(id)) throw StoreError.uniqueViolation(name, "id", ["id"], [id])
    table.rows.set(id, JSON.stringify(doc))
    table.nextId = Math.max(table.nextId, id + 1)
    changed.add(id)
  }
  checkUnique(table, changed)
}

const applyUpdate = (tables: Tables, name: string, id: number, patch: Doc, expect: Doc | undefined): Doc => {
  const table = tableOf(tables, name)
  const text = table.rows.get(id)
  if (text === undefined) throw StoreError.notFound(name, id)
  const current = JSON.parse(text) as Doc
  if (expect !== undefined) {
    for (const [k, v] of Object.entries(expect)) {
      if (!Evaluator.testValue(Evaluator.read(current, [k]), "eq", v)) {
        throw StoreError.conflict(name, id, `expected ${k} = ${JSON.stringify(v)}`)
      }
    }
  }
  const next: Doc = { ...current, ...patch, id }
  table.rows.set(id, JSON.stringify(next))
  checkUnique(table, new Set([id]))
  return JSON.parse(JSON.stringify(next)) as Doc
}

const applyRemove = (tables: Tables, name: string, ids: ReadonlyArray<number>): number => {
  const table = tableOf(tables, name)
  let n = 0
  for (const id of new Set(ids)) if (table.rows.delete(id)) n++
  return n
}

/** Runs `f` on a copy of the tables and commits only when it returns: all or none. */
const transact = <A>(tables: Tables, f: (draft: Tables) => A): A => {
  const draft = cloneTables(tables)
  const result = f(draft)
  tables.clear()
  for (const [k, v] of draft) tables.set(k, v)
  return result
}

export const make = (name = "reference"): ReferenceDriver => {
  const tables: Tables = new Map()
  let closed = false

  /** Turns a thrown StoreError into a typed failure; anything else is a bug of this driver, hence a defect. */
  const op = <A>(f: () => A): Effect.Effect<A, StoreError> =>
    Effect.suspend(() => (closed ? Effect.fail(StoreError.unavailable(`driver "${name}" is closed`)) : StoreError.attempt(f)))

  const rowsOf = (table: string): Array<Doc> =>
    [...tableOf(tables, table).rows.values()].map((t) => JSON.parse(t) as Doc)

  return Driver.validated({
    name,
    capabilities,
    declare: (specs) =>
      op(() =>
        transact(tables, (draft) => {
          for (const spec of specs) {
            const existing = draft.get(spec.name)
            if (existing === undefined) {
              draft.set(spec.name, { spec, rows: new Map(), nextId: 1 })
              continue
            }
            // Declaring again adds what is missing; stored rows must already satisfy a new constraint.
            const merged: Table = { ...existing, spec: mergeSpecs(existing.spec, spec) }
            checkUnique(merged, new Set())
            draft.set(spec.name, merged)
          }
        })
      ),
    reserveIds: (table, count) =>
      op(() => {
        const target = tableOf(tables, table)
        const first = target.nextId
        target.nextId += count
        return first
      }),
    insert: (table, docs) => op(() => transact(tables, (draft) => applyInsert(draft, table, docs))),
    update: (table, id, patch, expect) => op(() => transact(tables, (draft) => applyUpdate(draft, table, id, patch, expect))),
    remove: (table, ids) => op(() => transact(tables, (draft) => applyRemove(draft, table, ids))),
    get: (table, ids) =>
      op(() => {
        const rows = tableOf(tables, table).rows
        return ids.flatMap((id) => {
          const text = rows.get(id)
          return text === undefined ? [] : [JSON.parse(text) as Doc]
        })
      }),
    find: (table, spec) => op(() => Evaluator.find(rowsOf(table), spec)),
    count: (table, where) => op(() => rowsOf(table).filter(Evaluator.predicate(where)).length),
    batch: (ops) =>
      op(() =>
        transact(tables, (draft) => {
          for (const w of ops) {
            switch (w._tag) {
              case "Insert":
                applyInsert(draft, w.table, w.docs)
                break
              case "Update":
                applyUpdate(draft, w.table, w.id, w.patch, w.expect)
                break
              case "Delete":
                applyRemove(draft, w.table, w.ids)
                break
              default:
                w satisfies never
            }
          }
        })
      ),
    close: () =>
      Effect.sync(() => {
        closed = true
      }),
    backdoor: {
      all: async (table) => rowsOf(table),
      get: async (table, id) => {
        const text = tables.get(table)?.rows.get(id)
        return text === undefined ? undefined : (JSON.parse(text) as Doc)
      }
    }
  })
}
