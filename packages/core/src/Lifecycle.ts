/**
 * How records change state: the trash, restore, and permanent deletes that follow lamindb's cascade and
 * protect rules. A version leaving or rejoining the live branch moves its family's `isLatest` and claims as
 * `Versioning` says.
 */
import { Effect } from "effect"
import * as Ast from "./Ast.js"
import { ArtifactModel, models } from "./Records.js"
import type { Doc, WriteOp } from "./Driver.js"
import { DoesNotExist, ProtectedRecord, type StoreError, type UniqueViolation, type ValidationError } from "./Errors.js"
import { mainBranch, type Model, trashBranch } from "./Model.js"
import * as StorageRoot from "./StorageRoot.js"
import { type Entity, Store } from "./Store.js"
import * as Versioning from "./Versioning.js"

export interface Base {
  readonly id: number
  readonly uid: string
}

export interface DeleteOptions {
  /** Remove for good (with what cascades), instead of moving to the trash. */
  readonly permanent?: boolean | undefined
}

export const reload = <A extends Base>(entity: Entity<A>, record: A): Effect.Effect<A, DoesNotExist | StoreError, Store> =>
  Store.use((store) =>
    Effect.flatMap(store.get(entity, [record.id]), ([row]) =>
      row === undefined ? Effect.fail(new DoesNotExist({ registry: entity.model.name, query: `id ${record.id}` })) : Effect.succeed(row)
    )
  )

/**
 * Soft delete moves the record to the trash; `permanent` removes it with everything that cascades from
 * it, refusing where a protecting reference exists (a run that produced artifacts, say). A permanently
 * deleted artifact's file goes too, once its record is gone, if it is in this client's storage root: one
 * file per record, since the same bytes are always one record.
 */
export const remove = <A extends Base>(
  entity: Entity<A>,
  record: A,
  options: DeleteOptions = {}
): Effect.Effect<void, ProtectedRecord | UniqueViolation | DoesNotExist | StoreError, Store> =>
  Effect.gen(function* () {
    const model = entity.model
    const store = yield* Store
    const current = yield* reload(entity, record)
    if (model.trash && options.permanent !== true) {
      if ((current as unknown as { readonly branchId: number }).branchId === trashBranch) return
      const patch = { branchId: trashBranch, ...Versioning.released(model, current) }
      // Demoted before its successor is promoted: never two versions holding the key's latestKey.
      yield* store.batch([
        { _tag: "Update", table: model.table, id: current.id, patch },
        ...(yield* Versioning.promotion(store, entity, current))
      ])
      return
    }
    const deletes = yield* cascade(model, [entity.encode(current)], new Set())
    const artifacts = yield* deletedArtifacts(deletes)
    yield* store.batch([...deletes, ...(yield* Versioning.promotion(store, entity, current))])
    yield* StorageRoot.removeFiles(artifacts)
  })

/** The artifact documents among `deletes`, read before they go: their files go after them. */
const deletedArtifacts = (deletes: ReadonlyArray<WriteOp>): Effect.Effect<ReadonlyArray<Doc>, StoreError, Store> => {
  const ids = deletes.flatMap((op) => (op._tag === "Delete" && op.table === ArtifactModel.table ? op.ids : []))
  return ids.length === 0 ? Effect.succeed([]) : Store.use((store) => store.driver.get(ArtifactModel.table, ids))
}

export const restore = <A extends Base>(
  entity: Entity<A>,
  record: A
): Effect.Effect<A, ValidationError | UniqueViolation | StoreError | DoesNotExist, Store> =>
  Effect.gen(function* () {
    const model = entity.model
    const store = yield* Store
    const current = yield* reload(entity, record)
    if (!model.trash) return current
    const patch = { branchId: mainBranch, ...(yield* Versioning.restored(store, entity, current)) }
    return yield* store.update(entity, current, patch)
  })

/**
 * The writes that permanently delete `ids` of `model` and what cascades from them, children first, or a
 * `ProtectedRecord` naming what protects them.
 */
const cascade = (
  model: Model,
  docs: ReadonlyArray<Doc>,
  seen: Set<string>
): Effect.Effect<ReadonlyArray<WriteOp>, ProtectedRecord | StoreError, Store> =>
  Effect.gen(function* () {
    const store = yield* Store
    const fresh = docs.filter((d) => !seen.has(`${model.table}:${d["id"]}`))
    if (fresh.length === 0) return []
    for (const d of fresh) seen.add(`${model.table}:${d["id"]}`)
    const ids = fresh.map((d) => d["id"] as number)
    const ops: Array<WriteOp> = []
    for (const child of Object.values(models)) {
      for (const [field, def] of Object.entries(child.fields)) {
        if (def.ref?.registry !== model.name) continue
        const refs = yield* store.driver.find(child.table, { where: Ast.field([field], "in", ids), orderBy: [] })
        const others = refs.filter((d) => !seen.has(`${child.table}:${d["id"]}`))
        if (others.length === 0) continue
        const first = others[0]!
        if (def.ref.onDelete === "protect") {
          const owner = fresh.find((d) => d["id"] === first[field]) ?? fresh[0]!
          return yield* new ProtectedRecord({
            registry: model.name,
            uid: String(owner["uid"]),
            reason: `${others.length} ${child.name} record(s) reference it through ${field} (e.g. ${child.name} ${String(first["uid"])}); delete those first`
          })
        }
        if (def.ref.onDelete === "setNull")
          for (const d of others) ops.push({ _tag: "Update", table: child.table, id: d["id"] as number, patch: { [field]: null } })
        else for (const op of yield* cascade(child, others, seen)) ops.push(op)
      }
    }
    ops.push({ _tag: "Delete", table: model.table, ids })
    return ops
  })

