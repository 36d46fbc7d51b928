/**
 * The embedded default store: tables in process memory behind the `Driver` interface, whose `validated`
 * layer checks every request first. Everything is synchronous underneath; the Effect face only turns thrown
 * `StoreError`s into typed failures.
 */
import { Effect, type Layer } from "effect"
import { Driver, Evaluator, IndexPlanner, Store, StoreError } from "@lineage/core"
import type { Ast } from "@lineage/core"
import * as Executor from "./Executor.js"
import { planCount, planFind, type Plan } from "./Planner.js"
import { Table } from "./Table.js"

type Doc = Evaluator.Doc

export interface Stats {
  /** Documents visited by full scans. */
  readonly scanned: number
  /** Documents checked with the reference evaluator (after an index or a scan proposed them). */
  readonly examined: number
}

export interface MemoryDriver extends Driver.Driver {
  readonly batch: (ops: ReadonlyArray<Driver.WriteOp>) => Effect.Effect<void, StoreError>
  /** Work done by queries since creation or the last `resetStats`. */
  readonly stats: () => Stats
  readonly resetStats: () => void
  /** The plan `find` would run, without running it. Throws `StoreError` for an unknown table. */
  readonly explain: (table: string, spec: Ast.FindSpec) => Plan
}

/** Operators whose candidates come from indexes; the rest are filtered by the evaluator. */
const nativeOperators: ReadonlyArray<Ast.Operator> = IndexPlanner.indexedOperators

export const makeDriver = (): MemoryDriver => {
  const tables = new Map<string, Table>()
  const counters: Executor.Counters = { scanned: 0, examined: 0 }

  /** `validated` lets through only declared tables; `explain` and a closed store still meet unknown ones. */
  const table = (name: string): Table => {
    const found = tables.get(name)
    if (found === undefined) throw StoreError.invalid(`unknown table "${name}": declare it first`)
    return found
  }

  const declare = (specs: ReadonlyArray<Driver.TableSpec>): void => {
    for (const spec of specs) {
      let found = tables.get(spec.name)
      if (found === undefined) {
        found = new Table(spec.name)
        tables.set(spec.name, found)
      }
      found.declare(spec)
    }
  }

  /** Applies one write and returns what undoes it. */
  const apply = (op: Driver.WriteOp): (() => void) => {
    const target = table(op.table)
    switch (op._tag) {
      case "Insert": {
        const inserted = target.insert(op.docs)
        return () => target.remove(inserted.map((doc) => doc["id"] as number))
      }
      case "Update": {
        const { before, after } = target.update(op.id, op.patch, op.expect)
        return () => target.replace(after, before)
      }
      case "Delete": {
        const removed = target.remove(op.ids)
        return () => target.restore(removed)
      }
    }
  }

  // Each write is all-or-none on its own, so a batch only has to undo the writes before the one that failed.
  const batch = (ops: ReadonlyArray<Driver.WriteOp>): void => {
    const undo: Array<() => void> = []
    try {
      for (const op of ops) undo.push(apply(op))
    } catch (e) {
      for (const step of undo.reverse()) step()
      throw e
    }
  }

  return Driver.validated({
    name: "memory",
    capabilities: { transactions: true, shared: false, nativeOperators },
    declare: (specs) => StoreError.attempt(() => declare(specs)),
    reserveIds: (name, count) => StoreError.attempt(() => table(name).reserveIds(count)),
    insert: (name, docs) => StoreError.attempt(() => void table(name).insert(docs)),
    update: (name, id, patch, expect) => StoreError.attempt((): Doc => table(name).update(id, patch, expect).after),
    remove: (name, ids) => StoreError.attempt(() => table(name).remove(ids).length),
    get: (name, ids) =>
      StoreError.attempt(() => {
        const docs = table(name).docs
        return ids.flatMap((id): ReadonlyArray<Doc> => {
          const doc = docs.get(id)
          return doc === undefined ? [] : [doc]
        })
      }),
    find: (name, spec) =>
      StoreError.attempt(() => {
        const target = table(name)
        return Executor.find(target, planFind(target, spec), spec, counters)
      }),
    count: (name, where) =>
      StoreError.attempt(() => {
        const target = table(name)
        return Executor.count(target, planCount(target, where).access, where, counters)
      }),
    batch: (ops) => StoreError.attempt(() => batch(ops)),
    close: () => Effect.sync(() => tables.clear()),
    stats: () => ({ scanned: counters.scanned, examined: counters.examined }),
    resetStats: () => {
      counters.scanned = 0
      counters.examined = 0
    },
    explain: (name, spec) => planFind(table(name), spec)
  })
}

export const make = (): Effect.Effect<MemoryDriver> => Effect.sync(makeDriver)

/** The `Store` service on a fresh in-memory driver: the embedded default. */
export const layer = (): Layer.Layer<Store.Store, StoreError> => Store.layer(make())

/** `memory:` (the only URL of this store: it takes no options), for `Lineage.connect`. */
export const fromUrl = (url: string): Effect.Effect<MemoryDriver, StoreError> => {
  if (/^memory:(\/\/)?$/.test(url)) return make()
  const query = /^memory:(?:\/\/)?\?(.*)$/s.exec(url)?.[1]
  const options = query === undefined ? [] : [...new Set(new URLSearchParams(query).keys())]
  return Effect.fail(
    StoreError.invalid(
      options.length > 0
        ? `invalid memory store URL "memory:?…": ${Driver.unknownUrlOptions(options, [])}`
        : `a memory store URL is "memory:", got "${Driver.urlWithoutQuery(url)}"`
    )
  )
}
