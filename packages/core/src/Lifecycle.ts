/**
 * How records change state: the trash, restore, and permanent deletes that follow lamindb's cascade and
 * protect rules. A version leaving or rejoining the live branch moves its family's `isLatest` and claims as
 * `Versioning` says.
 */
import { Effect } from "effect"
import * as Ast from "./Ast.js"
import { Artifact, ArtifactModel, modelOf, models, RunModel } from "./Records.js"
import type { Doc, WriteOp } from "./Driver.js"
import { DoesNotExist, ProtectedRecord, StoreError, type UniqueViolation, type ValidationError } from "./Errors.js"
import { mainBranch, type Model, trashBranch } from "./Model.js"
import * as StorageRoot from "./StorageRoot.js"
import { type Entity, entity as entityOf, Store } from "./Store.js"
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
 * it, refusing where a protecting reference exists (a run that produced artifacts, say), and, in the same
 * batch, the environment and report artifacts of the runs it removes that nothing else uses. A permanently
 * deleted artifact's file goes too, once its record is gone, if it is in this client's storage root: one
 * file per record (`<uid><suffix>`), so it takes no other record's bytes, not even a record's with the same
 * bytes (a trashed one and a live one may hold them).
 */
export const remove = <A extends Base>(
  entity: Entity<A>,
  record: A,
  options: DeleteOptions = {}
): Effect.Effect<void, ProtectedRecord | UniqueViolation | DoesNotExist | StoreError, Store> =>
  Effect.gen(function* () {
    const model = entity.model
    const store = yield* Store
    if (model.trash && options.permanent !== true) return yield* Versioning.retryingRaces(trash(entity, record))
    const current = yield* reload(entity, record)
    const seen = new Set<string>()
    const deletes = yield* cascade(model, [entity.encode(current)], seen)
    // After the runs: an artifact is protected while a run holding it as environment or report exists.
    const orphans = yield* orphanedRunArtifacts(deletes, seen)
    const removals = [...deletes, ...orphans.deletes]
    // Once every delete is known: no promotion lands on a version the same batch removes.
    const promotions = [
      ...(yield* Versioning.promotion(store, entity, current, deletedIds(removals, model.table))),
      ...(yield* Effect.forEach(orphans.artifacts, (a) =>
        Versioning.promotion(store, artifactEntity, a, deletedIds(removals, ArtifactModel.table))
      )).flat()
    ]
    const artifacts = yield* deletedArtifacts(removals)
    yield* store.batch([...removals, ...promotions])
    yield* StorageRoot.removeFiles(artifacts)
  })

/**
 * One attempt to move a record to the trash, as it is now (reloaded). The store's write gives up what it
 * claims while live (its live-only unique values, the claims of a version) before a successor is promoted:
 * never two versions holding the key's latestKey.
 */
const trash = <A extends Base>(
  entity: Entity<A>,
  record: A
): Effect.Effect<void, UniqueViolation | DoesNotExist | StoreError, Store> =>
  Effect.gen(function* () {
    const store = yield* Store
    const current = yield* reload(entity, record)
    if ((current as unknown as { readonly branchId: number }).branchId === trashBranch) return
    const move = yield* Versioning.trashing(store, entity, current)
    yield* moveTo(entity, current, trashBranch, move).pipe(
      Effect.catchTag("ValidationError", (e) =>
        Effect.fail(StoreError.invalid(`stored ${entity.model.name} ${current.uid} does not validate: ${e.message}`))
      )
    )
  })

/**
 * Writes `move` of `current` to `branchId`, under a compare-and-set on what the move was worked out from (its
 * branch, and in a versioned registry its `isLatest`), so a writer that changed either meanwhile makes this
 * one look again (`Versioning.isRace`). In one atomic batch where the driver has transactions; otherwise
 * write by write, the record put back as it was when a write after it fails, so a lost race leaves nothing
 * half-done for the next look.
 */
const moveTo = <A extends Base>(
  entity: Entity<A>,
  current: A,
  branchId: number,
  move: Versioning.Move
): Effect.Effect<void, ValidationError | UniqueViolation | StoreError, Store> =>
  Effect.gen(function* () {
    const store = yield* Store
    const { model } = entity
    const read = current as unknown as { readonly branchId: number; readonly isLatest: boolean }
    const expect: Doc = model.versioned ? { branchId: read.branchId, isLatest: read.isLatest } : { branchId: read.branchId }
    // `prepareUpdate` makes an Update.
    const write = (yield* store.prepareUpdate(entity, current, { branchId, ...move.patch }, expect)) as Update
    if (store.driver.capabilities.transactions || move.after.length === 0)
      return yield* store.batch([...move.before, write, ...move.after])
    const [stored] = yield* store.driver.get(model.table, [current.id])
    if (stored === undefined) return yield* StoreError.notFound(model.table, current.id)
    yield* store.batch([...move.before, write])
    yield* store.batch(move.after).pipe(Effect.tapError(() => store.batch([undoing(write, stored)])))
  })

/** The write that puts back what `write` changed on a document that was `before`, unless it moved since. */
const undoing = (write: Update, before: Doc): WriteOp => ({
  _tag: "Update",
  table: write.table,
  id: write.id,
  patch: Object.fromEntries(Object.keys(write.patch).map((k) => [k, before[k] ?? null])),
  expect: Object.fromEntries(["branchId", "isLatest"].filter((k) => k in write.patch).map((k) => [k, write.patch[k]!]))
})

type Update = Extract<WriteOp, { readonly _tag: "Update" }>

/** The ids of `table` that `writes` delete. */
const deletedIds = (writes: ReadonlyArray<WriteOp>, table: string): ReadonlySet<number> =>
  new Set(writes.flatMap((op) => (op._tag === "Delete" && op.table === table ? op.ids : [])))

const artifactEntity = entityOf(ArtifactModel, Artifact)

/**
 * lamindb's `delete_run_artifacts`: the environment and report artifacts of the runs `deletes` removes go
 * with them, each once no record that stays uses it (`inUse`), so a shared environment goes with its last
 * run. Gives those artifacts and the writes that delete them.
 */
const orphanedRunArtifacts = (
  deletes: ReadonlyArray<WriteOp>,
  seen: Set<string>
): Effect.Effect<
  { readonly artifacts: ReadonlyArray<Artifact>; readonly deletes: ReadonlyArray<WriteOp> },
  ProtectedRecord | StoreError,
  Store
> =>
  Effect.gen(function* () {
    const store = yield* Store
    const runIds = [...deletedIds(deletes, RunModel.table)]
    if (runIds.length === 0) return { artifacts: [], deletes: [] }
    const runs = yield* store.driver.get(RunModel.table, runIds)
    const ids = new Set(runs.flatMap((r) => [r["environmentId"], r["reportId"]]).filter((id): id is number => typeof id === "number"))
    const artifacts: Array<Artifact> = []
    const ops: Array<WriteOp> = []
    for (const artifact of yield* store.get(artifactEntity, [...ids])) {
      const doc = artifactEntity.encode(artifact)
      if (yield* inUse(doc, seen)) continue
      artifacts.push(artifact)
      ops.push(...(yield* cascade(ArtifactModel, [doc], seen)))
    }
    return { artifacts, deletes: ops }
  })

/**
 * Whether a record outside `seen` (what the delete removes) is related to `artifact` through a relation
 * some registry declares to artifacts: a run's environment or report, an input or recreated link, a
 * collection, the run that produced it.
 */
const inUse = (artifact: Doc, seen: ReadonlySet<string>): Effect.Effect<boolean, StoreError, Store> =>
  Effect.gen(function* () {
    const store = yield* Store
    const stays = (table: string) => (doc: Doc) => !seen.has(`${table}:${doc["id"]}`)
    for (const holder of Object.values(models)) {
      for (const relation of Object.values(holder.relations)) {
        if (relation.to !== ArtifactModel.name) continue
        if (relation.kind === "reverse") {
          const id = artifact[relation.field]
          if (typeof id === "number" && stays(holder.table)({ id })) return true
          continue
        }
        const [table, field] =
          relation.kind === "forward" ? [holder.table, relation.field] : [modelOf(relation.link).table, relation.other]
        const rows = yield* store.driver.find(table, { where: Ast.field([field], "eq", artifact["id"] as number), orderBy: [] })
        if (rows.some(stays(table))) return true
      }
    }
    return false
  })

/** The artifact documents among `deletes`, read before they go: their files go after them. */
const deletedArtifacts = (deletes: ReadonlyArray<WriteOp>): Effect.Effect<ReadonlyArray<Doc>, StoreError, Store> => {
  const ids = [...deletedIds(deletes, ArtifactModel.table)]
  return ids.length === 0 ? Effect.succeed([]) : Store.use((store) => store.driver.get(ArtifactModel.table, ids))
}

/**
 * Brings a record back from the trash (a live one comes back as it is). It takes back its live-only unique
 * values, refused with `UniqueViolation` if a live record took them meanwhile, and a version its family's
 * `isLatest` as `Versioning.restoring` says (which refuses a first version while another family of its key
 * is live, a `UniqueViolation` on `key`); a lost race with another writer looks again.
 */
export const restore = <A extends Base>(
  entity: Entity<A>,
  record: A
): Effect.Effect<A, ValidationError | UniqueViolation | StoreError | DoesNotExist, Store> =>
  Effect.gen(function* () {
    const store = yield* Store
    if (!entity.model.trash) return yield* reload(entity, record)
    const attempt = Effect.gen(function* () {
      const current = yield* reload(entity, record)
      if ((current as unknown as { readonly branchId: number }).branchId === mainBranch) return current
      yield* moveTo(entity, current, mainBranch, yield* Versioning.restoring(store, entity, current))
      return yield* reload(entity, current)
    })
    return yield* Versioning.retryingRaces(attempt)
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

