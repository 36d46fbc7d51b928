/**
 * The simplest store that passes the suite: arrays of JSON text and the reference evaluator. It is the example
 * for implementers and the base the suite's deliberately broken stores wrap.
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
}

interface State {
  readonly tables: Map<string, Table>
  /** Next id per table; kept apart from rows so removing rows never makes an id reusable. */
  readonly nextIds: Map<string, number>
}

export interface ReferenceDriver extends Driver.Driver {
  /** Reads the stored JSON text directly: what `find` would have to lie about. */
  readonly backdoor: Backdoor
}

export const capabilities: Driver.Capabilities = {
  transactions: true,
  nativeOperators: Ast.operators,
  shared: false
}

const unknownTable = (name: string) => StoreError.invalid(`unknown table "${name}"; declare it first`)

const tableOf = (state: State, name: string): Table => {
  const table = state.tables.get(name)
  if (table === undefined) throw unknownTable(name)
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

const validDoc = (table: string, doc: Doc): number => {
  const id = doc["id"]
  if (typeof id !== "number" || !Number.isSafeInteger(id)) {
    throw StoreError.invalid(`a ${table} document needs an integer id, got ${JSON.stringify(id)}`)
  }
  return id
}


const mergeSpecs = (a: Driver.TableSpec, b: Driver.TableSpec): Driver.TableSpec => ({
  name: a.name,
  unique: [...a.unique, ...b.unique.filter((u) => !a.unique.some((x) => x.name === u.name))],
  indexes: [
    ...a.indexes,
    ...b.indexes.filter((i) => !a.indexes.some((x) => x.kind === i.kind && x.path.join("\u0000") === i.path.join("\u0000")))
  ]
})

const cloneTables = (state: State): Map<string, Table> =>
  new Map([...state.tables].map(([name, t]) => [name, { spec: t.spec, rows: new Map(t.rows) }]))

const applyInsert = (tables: Map<string, Table>, state: State, name: string, docs: ReadonlyArray<Doc>): void => {
  const table = tableOf({ ...state, tables }, name)
  const changed = new Set<number>()
  for (const doc of docs) {
    const id = validDoc(name, doc)
    if (table.rows.has(id)) throw StoreError.uniqueViolation(name, "id", ["id"], [id])
    table.rows.set(id, JSON.stringify(doc))
    changed.add(id)
  }
  checkUnique(table, changed)
}

const applyUpdate = (
  tables: Map<string, Table>,
  state: State,
  name: string,
  id: number,
  patch: Doc,
  expect: Doc | undefined
): Doc => {
  const table = tableOf({ ...state, tables }, name)
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

const applyRemove = (tables: Map<string, Table>, state: State, name: string, ids: ReadonlyArray<number>): number => {
  const table = tableOf({ ...state, tables }, name)
  let n = 0
  for (const id of new Set(ids)) if (table.rows.delete(id)) n++
  return n
}

/** Runs `f` on a copy of the tables and commits only when it returns: all or none. */
const transact = <A>(state: State, f: (tables: Map<string, Table>) => A): A => {
  const draft = cloneTables(state)
  const result = f(draft)
  state.tables.clear()
  for (const [k, v] of draft) state.tables.set(k, v)
  return result
}

export const make = (name = "reference"): ReferenceDriver => {
  const state: State = { tables: new Map(), nextIds: new Map() }
  let closed = false

  /** Turns a thrown StoreError into a typed failure; anything else is a bug of this driver, hence a defect. */
  const op = <A>(f: () => A): Effect.Effect<A, StoreError> =>
    Effect.suspend(() => {
      if (closed) return Effect.fail(StoreError.unavailable(`driver "${name}" is closed`))
      try {
        return Effect.succeed(f())
      } catch (e) {
        if (e instanceof StoreError) return Effect.fail(e)
        throw e
      }
    })

  const rowsOf = (table: string): Array<Doc> =>
    [...tableOf(state, table).rows.values()].map((t) => JSON.parse(t) as Doc)

  return {
    name,
    capabilities,
    declare: (tables) =>
      op(() =>
        transact(state, (draft) => {
          for (const spec of tables) {
            const existing = draft.get(spec.name)
            if (existing === undefined) {
              draft.set(spec.name, { spec, rows: new Map() })
              continue
            }
            // Declaring again adds what is missing; stored rows must already satisfy a new constraint.
            const merged: Table = { spec: mergeSpecs(existing.spec, spec), rows: existing.rows }
            checkUnique(merged, new Set())
            draft.set(spec.name, merged)
          }
        })
      ),
    reserveIds: (table, count) =>
      op(() => {
        tableOf(state, table)
        if (!Number.isSafeInteger(count) || count < 1) throw StoreError.invalid(`cannot reserve ${count} ids`)
        const first = state.nextIds.get(table) ?? 1
        state.nextIds.set(table, first + count)
        return first
      }),
    insert: (table, docs) => op(() => transact(state, (tables) => applyInsert(tables, state, table, docs))),
    update: (table, id, patch, expect) =>
      op(() => transact(state, (tables) => applyUpdate(tables, state, table, id, patch, expect))),
    remove: (table, ids) => op(() => transact(state, (tables) => applyRemove(tables, state, table, ids))),
    get: (table, ids) =>
      op(() => {
        const rows = tableOf(state, table).rows
        return ids.flatMap((id) => {
          const text = rows.get(id)
          return text === undefined ? [] : [JSON.parse(text) as Doc]
        })
      }),
    find: (table, spec) =>
      op(() => {
        Evaluator.check(spec.where)
        return Evaluator.find(rowsOf(table), spec)
      }),
    count: (table, where) =>
      op(() => {
        Evaluator.check(where)
        return rowsOf(table).filter(Evaluator.predicate(where)).length
      }),
    batch: (ops) =>
      op(() =>
        transact(state, (tables) => {
          for (const w of ops) {
            switch (w._tag) {
              case "Insert":
                applyInsert(tables, state, w.table, w.docs)
                break
              case "Update":
                applyUpdate(tables, state, w.table, w.id, w.patch, w.expect)
                break
              case "Delete":
                applyRemove(tables, state, w.table, w.ids)
                break
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
        const text = state.tables.get(table)?.rows.get(id)
        return text === undefined ? undefined : (JSON.parse(text) as Doc)
      }
    }
  }
}
