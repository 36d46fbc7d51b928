/**
 * How records change state: new versions of a family, the trash, restore, and permanent deletes that follow
 * lamindb's cascade and protect rules. `isLatest` moves atomically where the driver has transactions and by
 * compare-and-set otherwise, so a family never has two latest versions.
 */
import { Effect } from "effect"
import * as Ast from "./Ast.js"
import { ArtifactModel, models } from "./Domain.js"
import type { Doc, WriteOp } from "./Driver.js"
import { DoesNotExist, ProtectedRecord, type StoreError, type UniqueViolation, type ValidationError } from "./Errors.js"
import { familyKey, mainBranch, type Model, trashBranch } from "./Model.js"
import * as StorageRoot from "./StorageRoot.js"
import { type Entity, Store } from "./Store.js"
import * as Uid from "./Uid.js"

export interface Base {
  readonly id: number
  readonly uid: string
}

export type Versioned = Base & { readonly isLatest: boolean; readonly branchId: number; readonly key: string | null }

/** The patch that makes a version its family's latest, or not; `latestKey` travels with `isLatest`. */
export const latestPatch = (record: Versioned, isLatest: boolean): Doc => ({
  isLatest,
  latestKey: isLatest ? record.key : null
})

export interface DeleteOptions {
  /** Remove for good (with what cascades), instead of moving to the trash. */
  readonly permanent?: boolean | undefined
}

export const familyOf = <A extends Versioned>(entity: Entity<A>, stem: string) =>
  Store.use((store) => store.find(entity, Ast.field(["uid"], "startsWith", stem)))

/**
 * Inserts the next version of `head`'s family: same stem, suffix one past the family's highest (trash
 * included), `isLatest` moved from the head in one atomic step where the driver has transactions, and
 * otherwise by compare-and-set on the head, undone if the insert fails, so two latest can never coexist.
 */
export const insertVersion = <A extends Versioned>(entity: Entity<A>, head: A, input: { readonly [field: string]: unknown }) =>
  Effect.gen(function* () {
    const store = yield* Store
    const stem = Uid.stem(head.uid)
    const family = yield* familyOf(entity, stem)
    const top = family.map((r) => Uid.suffix(r.uid)).sort(Uid.compareSuffix).at(-1) ?? Uid.firstSuffix
    const [record] = yield* store.prepare(entity, [{ ...input, uid: stem + Uid.increment(top), isLatest: true }])
    const table = entity.model.table
    const demote: WriteOp = { _tag: "Update", table, id: head.id, patch: latestPatch(head, false), expect: { isLatest: true } }
    const insert: WriteOp = { _tag: "Insert", table, docs: [entity.encode(record!)] }
    if (store.driver.capabilities.transactions) yield* store.batch([demote, insert])
    else {
      yield* store.batch([demote])
      yield* store.batch([insert]).pipe(
        Effect.tapError(() =>
          store.batch([{ _tag: "Update", table, id: head.id, patch: latestPatch(head, true), expect: { isLatest: false } }])
        )
      )
    }
    return record!
  })

export const reload = <A extends Base>(entity: Entity<A>, record: A): Effect.Effect<A, DoesNotExist | StoreError, Store> =>
  Store.use((store) =>
    Effect.flatMap(store.get(entity, [record.id]), ([row]) =>
      row === undefined ? Effect.fail(new DoesNotExist({ registry: entity.model.name, query: `id ${record.id}` })) : Effect.succeed(row)
    )
  )

/** Moves a family's `isLatest` to its newest remaining version when `leaving` stops being it. */
const promotion = <A extends Base>(entity: Entity<A>, leaving: A): Effect.Effect<ReadonlyArray<WriteOp>, StoreError, Store> =>
  Effect.gen(function* () {
    const model = entity.model
    const current = leaving as unknown as Versioned
    if (!model.versioned || !current.isLatest) return []
    const family = yield* familyOf(entity as unknown as Entity<Versioned>, Uid.stem(current.uid))
    const next = family
      .filter((r) => r.id !== current.id && r.branchId === mainBranch)
      .sort((a, b) => Uid.compareSuffix(Uid.suffix(a.uid), Uid.suffix(b.uid)))
      .at(-1)
    return next === undefined
      ? []
      : [{ _tag: "Update", table: model.table, id: next.id, patch: latestPatch(next, true), expect: { isLatest: false } }]
  })

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
      if ((current as unknown as Versioned).branchId === trashBranch) return
      // In the trash a version claims nothing: not the latest version, not the family's key.
      const patch = model.versioned
        ? { branchId: trashBranch, ...latestPatch(current as unknown as Versioned, false), [familyKey]: null }
        : { branchId: trashBranch }
      // Demote before promoting: at no point may two versions hold the key's latestKey.
      yield* store.batch([
        { _tag: "Update", table: model.table, id: current.id, patch },
        ...(yield* promotion(entity, current))
      ])
      return
    }
    const plan = yield* cascade(model, [entity.encode(current)], new Set())
    const artifacts = yield* deletedArtifacts(plan)
    yield* store.batch([...plan, ...(yield* promotion(entity, current))])
    yield* StorageRoot.removeFiles(artifacts)
  })

/** The artifact documents `plan` deletes, read before they go: their files go after them. */
const deletedArtifacts = (plan: ReadonlyArray<WriteOp>): Effect.Effect<ReadonlyArray<Doc>, StoreError, Store> => {
  const ids = plan.flatMap((op) => (op._tag === "Delete" && op.table === ArtifactModel.table ? op.ids : []))
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
    let patch: { readonly [field: string]: unknown } = { branchId: mainBranch }
    if (model.versioned) {
      const family = yield* familyOf(entity as unknown as Entity<Versioned>, Uid.stem(current.uid))
      // The family's only live version again: it is the latest one.
      if (!family.some((r) => r.isLatest && r.id !== current.id)) patch = { ...patch, isLatest: true }
    }
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

