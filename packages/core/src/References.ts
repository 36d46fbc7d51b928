/**
 * References name records that exist. A create or update whose reference (`transformId`, or the relation
 * `{ transform }`, `runId`, `environmentId`, …) holds an id no record has is refused with a ValidationError
 * naming the field and the id, before anything is written: the stores keep no foreign keys, so a dangling id
 * would otherwise be stored and only surface later as a relation that leads nowhere.
 *
 * A write looks each referenced registry up once, with every id its records give, however many records it
 * holds. A record in the trash still exists, so it may be referenced. Values that are no integer id are left
 * to the Schema, which refuses them with their type.
 */
import { Effect } from "effect"
import { modelOf } from "./Records.js"
import { type StoreError, ValidationError } from "./Errors.js"
import type { Model } from "./Model.js"
import { idOf, Store } from "./Store.js"

type Input = { readonly [field: string]: unknown }

interface Reference {
  readonly field: string
  /** The registry whose id the field holds. */
  readonly target: string
}

const referencesOf = new WeakMap<Model, ReadonlyMap<string, Reference>>()

/** Input keys that set a reference: each reference field, and each forward relation by name. */
const references = (model: Model): ReadonlyMap<string, Reference> => {
  let found = referencesOf.get(model)
  if (found === undefined) {
    const byField = new Map<string, Reference>()
    for (const [field, def] of Object.entries(model.fields))
      if (def.ref !== undefined) byField.set(field, { field, target: def.ref.registry })
    const byKey = new Map(byField)
    for (const [name, relation] of Object.entries(model.relations)) {
      const reference = relation.kind === "forward" ? byField.get(relation.field) : undefined
      if (reference !== undefined) byKey.set(name, reference)
    }
    found = byKey
    referencesOf.set(model, found)
  }
  return found
}

/** Checks that every integer id the inputs give for a reference names an existing record of its registry. */
export const check = (model: Model, inputs: ReadonlyArray<Input>): Effect.Effect<void, ValidationError | StoreError, Store> =>
  Effect.gen(function* () {
    const keys = references(model)
    // Target registry → id → the field that first named it (for the error).
    const wanted = new Map<string, Map<number, string>>()
    for (const input of inputs) {
      // Every id given for a reference is checked, not only the one a key given later leaves in place: an
      // insert skips a later key whose value is undefined (`{ transformId: 9, transform: undefined }` stores
      // 9) where an update lets it win, so "the last key" would name different values on the two paths.
      for (const key of Object.keys(input)) {
        const reference = keys.get(key)
        if (reference === undefined) continue
        const id = key === reference.field ? input[key] : idOf(input[key])
        if (!Number.isSafeInteger(id)) continue
        const ids = wanted.get(reference.target) ?? new Map<number, string>()
        if (!ids.has(id as number)) ids.set(id as number, reference.field)
        wanted.set(reference.target, ids)
      }
    }
    if (wanted.size === 0) return
    const store = yield* Store
    for (const [target, ids] of wanted) {
      const found = yield* store.driver.get(modelOf(target).table, [...ids.keys()])
      const existing = new Set(found.map((doc) => doc["id"]))
      for (const [id, field] of ids)
        if (!existing.has(id))
          return yield* new ValidationError({
            registry: model.name,
            field,
            value: id,
            expected: `the id of an existing ${target} (no ${target} has id ${id})`
          })
    }
  })
