/**
 * Where a client last saw the record holding a unique value: a hint that turns a query by that value into a
 * read by id. A hint is never an answer by itself. Whoever takes one reads the record by its id and checks that
 * it still holds the value; the registry's unique constraint (one that spans the trash, or one among live
 * records checked together with the branch) then makes it the very record a query by the value would find,
 * whatever other processes created, renamed, trashed or deleted meanwhile. A hint that fails the check is
 * dropped and the caller queries as it would have without one. Ids are never reused, and hints are kept per
 * `Store` instance, so a hint never crosses namespaces.
 */
import type { StoreShape } from "./Store.js"

/** At most this many hints per store and kind: past it the oldest go (a hint only saves a query). */
export const maxHints = 4_096

export interface Hints {
  /** The id last seen holding `value`, if any. */
  readonly get: (store: StoreShape, value: string) => number | undefined
  readonly set: (store: StoreShape, value: string, id: number) => void
  readonly forget: (store: StoreShape, value: string) => void
}

/** Hints for one kind of unique value (feature names, artifact hashes, …). */
export const make = (): Hints => {
  const byStore = new WeakMap<StoreShape, Map<string, number>>()
  return {
    get: (store, value) => byStore.get(store)?.get(value),
    set: (store, value, id) => {
      let hints = byStore.get(store)
      if (hints === undefined) {
        hints = new Map()
        byStore.set(store, hints)
      }
      hints.delete(value)
      hints.set(value, id)
      if (hints.size > maxHints) hints.delete(hints.keys().next().value!)
    },
    forget: (store, value) => void byStore.get(store)?.delete(value)
  }
}
