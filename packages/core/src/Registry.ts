/**
 * Registry operations written once over `Store`: create (versioned where the registry is), get by id, uid,
 * uid prefix or expression, getOrCreate, filter, update, trash, restore and permanent delete with lamindb's
 * cascade and protect rules. Creates and updates refuse references to records that do not exist. Below them,
 * the registries a user works with (`Transform`, `Run`, `Feature`, `Artifact`, …), each made by `make`.
 */
import { Effect } from "effect"
import * as ArtifactPaths from "./ArtifactPaths.js"
import * as Records from "./Records.js"
import * as Dtype from "./Dtype.js"
import {
  DoesNotExist,
  InvalidQuery,
  MultipleObjectsReturned,
  type StoreError,
  UniqueViolation,
  ValidationError
} from "./Errors.js"
import * as Lifecycle from "./Lifecycle.js"
import { trashBranch } from "./Model.js"
import { cutName, maxShownNameLength } from "./Limits.js"
import type { Expression, QueryInput } from "./Query.js"
import { QuerySet } from "./QuerySet.js"
import * as References from "./References.js"
import { type Entity, entity, Store } from "./Store.js"
import * as Transforms from "./Transforms.js"
import * as Uid from "./Uid.js"
import * as Versioning from "./Versioning.js"

export type { Base } from "./Lifecycle.js"
type Base = Lifecycle.Base
export type Input = { readonly [field: string]: unknown }

export type CreateError = ValidationError | UniqueViolation | StoreError
export type GetError = InvalidQuery | DoesNotExist | MultipleObjectsReturned | StoreError

export const make = <A extends Base>(entity: Entity<A>) => {
  const model = entity.model
  const registry = model.name

  /**
   * Creates a record. In a versioned registry, a key that already has a family makes the family's next
   * version (lamindb's inferred `revises`), unless `revise: false`, which refuses it with `UniqueViolation`.
   */
  const create = (
    input: Input,
    options: { readonly revise?: boolean } = {}
  ): Effect.Effect<A, CreateError | InvalidQuery, Store> =>
    Effect.gen(function* () {
      const store = yield* Store
      yield* References.check(model, [input])
      const key = options.revise === false ? undefined : Versioning.revisedKey(model, input)
      if (key === undefined) return (yield* store.insert(entity, [input]))[0]!
      return yield* Versioning.create(store, entity, key, input)
    })

  /**
   * Creates records in one all-or-none insert (no versioning): the fast path for bulk loads. References are
   * looked up once per referenced registry for the whole batch.
   */
  const createMany = (inputs: ReadonlyArray<Input>): Effect.Effect<ReadonlyArray<A>, CreateError, Store> =>
    Effect.andThen(References.check(model, inputs), Store.use((store) => store.insert(entity, inputs)))

  const filter = (...inputs: ReadonlyArray<QueryInput>) => new QuerySet(entity, inputs)

  /**
   * A string names a uid or uid prefix, as in lamindb, where one that matches nothing (a name passed without
   * its keyword, most often) is `DoesNotExist` with a hint. A string that cannot be a prefix of this
   * registry's uids (empty, too long, not base62) matches nothing either, and is told so without a look-up.
   */
  const byUid = (uid: string): Effect.Effect<A, GetError, Store> =>
    Effect.gen(function* () {
      // Quoted as the hint's code would write it, bounded and escaped: the string may be anything.
      const shown = `'${cutName(JSON.stringify(uid.slice(0, maxShownNameLength + 1)).slice(1, -1).replaceAll("'", "\\'"))}'`
      const missing = new DoesNotExist({
        registry,
        query: `uid ${shown}`,
        hint: `Did you forget a keyword as in ${registry}.get({ ${model.nameField}: ${shown} })?`
      })
      if (uid.length === 0 || uid.length > model.uidLength || !Uid.isBase62(uid)) return yield* missing
      const qs = filter({ uid: { startsWith: uid } })
      if (Versioning.namesFamily(model, uid)) {
        // A stem names a family: its latest version, else its newest.
        const found = yield* qs.orderBy("-isLatest", "-createdAt").first()
        if (found !== undefined) return found
      } else {
        const rows = yield* qs.limit(2).all()
        if (rows.length === 1) return rows[0]!
        if (rows.length > 1)
          return yield* new MultipleObjectsReturned({ registry, query: `uid prefix '${uid}'`, count: yield* qs.count() })
      }
      return yield* missing
    })

  const byExpression = (q: QueryInput): Effect.Effect<A, GetError, Store> =>
    Effect.gen(function* () {
      if (model.versioned) {
        // Versioned: the latest version first; failing that, the newest one.
        const latest = yield* filter(q, { isLatest: true }).oneOrNone()
        if (latest !== undefined) return latest
        const newest = yield* filter(q).orderBy("-createdAt").first()
        if (newest !== undefined) return newest
        return yield* filter(q).one()
      }
      return yield* filter(q).one()
    })

  /** An integer id, a full uid or uid prefix, or an expression. */
  const get = (idlike: number | string | QueryInput): Effect.Effect<A, GetError, Store> =>
    Effect.gen(function* () {
      if (typeof idlike === "number") {
        if (!Number.isSafeInteger(idlike))
          return yield* new InvalidQuery({ registry, field: "id", value: idlike, expected: "an integer id" })
        const [row] = yield* filter({ id: idlike }).all()
        return row ?? (yield* new DoesNotExist({ registry, query: `id ${idlike}` }))
      }
      if (typeof idlike === "string") return yield* byUid(idlike)
      return yield* byExpression(idlike)
    })

  /** The record matching `lookup`, created from `lookup` and `defaults` if there is none; racing callers get the same one. */
  const getOrCreate = (lookup: Expression, defaults: Input = {}): Effect.Effect<A, GetError | CreateError, Store> =>
    Effect.catchTag(get(lookup), "DoesNotExist", () =>
      Effect.catchTag(create({ ...lookup, ...defaults }, { revise: false }), "UniqueViolation", (e) =>
        Effect.catchTag(get(lookup), "DoesNotExist", () => Effect.fail(e))
      )
    )

  const update = (record: A, patch: Input): Effect.Effect<A, CreateError, Store> =>
    Effect.andThen(References.check(model, [patch]), Store.use((store) => store.update(entity, record, patch)))

  const remove = (record: A, options: Lifecycle.DeleteOptions = {}) => Lifecycle.remove(entity, record, options)
  const restore = (record: A) => Lifecycle.restore(entity, record)
  const reload = (record: A) => Lifecycle.reload(entity, record)

  return { entity, model, create, createMany, filter, get, getOrCreate, update, delete: remove, restore, reload }
}

export type Registry<A extends Base> = ReturnType<typeof make<A>>

// The registries a user works with: each its record class's operations (`Transform.create`, `Run.filter`, …)
// and, under the same name, the record type.
const registry = <S extends Records.RecordClass>(model: Parameters<typeof entity>[0], schema: S) =>
  Object.assign(make(entity(model, schema)), { schema })

/** A transform's hash is its source's, and `getOrCreate` declares a transform by its key and source (see `Transforms`). */
export const Transform = Transforms.guard(registry(Records.TransformModel, Records.Transform))
export type Transform = Records.Transform
export const Run = registry(Records.RunModel, Records.Run)
export type Run = Records.Run
const features = registry(Records.FeatureModel, Records.Feature)

/** A feature's dtype must parse; once created, queries on it are served by an index on every store. */
const createFeature = (input: Input) =>
  Effect.gen(function* () {
    const dtype = input["dtype"]
    if (typeof dtype !== "string" || Dtype.parse(dtype) === undefined)
      return yield* new ValidationError({ registry: "Feature", field: "dtype", value: dtype, expected: Dtype.expectedDtypes })
    const feature = yield* features.create(input).pipe(Effect.catchTag("UniqueViolation", (e) => explainTrashedName(e, input)))
    yield* Store.use((store) => store.indexFeatures([feature.name]))
    return feature
  })

/**
 * A trashed feature keeps its name (unlike a trashed label or project): records keep feature values by
 * feature name, so a second feature of that name would take over the trashed one's values under its own
 * dtype, and the trashed one could never come back. A refusal for that reason says so.
 */
const explainTrashedName = (violation: UniqueViolation, input: Input) =>
  Effect.gen(function* () {
    if (violation.constraint !== "feature_name") return yield* violation
    const trashed = yield* features.filter({ name: input["name"], branchId: trashBranch }).first()
    if (trashed === undefined) return yield* violation
    const { registry, constraint, fields, values } = violation
    return yield* new UniqueViolation({
      registry,
      constraint,
      fields,
      values,
      detail: `Feature ${trashed.uid} in the trash holds it; restore that feature, or delete it permanently to free the name (records keep feature values by name)`
    })
  })

export const Feature = {
  ...features,
  create: createFeature,
  getOrCreate: (lookup: Input, defaults: Input = {}) =>
    Effect.gen(function* () {
      const existing = yield* features.filter({ name: lookup["name"] }).first()
      if (existing === undefined) {
        const created = yield* Effect.result(createFeature({ ...lookup, ...defaults }))
        if (created._tag === "Success") return created.success
        if (created.failure._tag !== "UniqueViolation") return yield* created.failure
        // The winner of a race, unless the name's holder is in the trash: then the refusal says so.
        return yield* Effect.catchTag(features.get({ name: lookup["name"] }), "DoesNotExist", () => Effect.fail(created.failure))
      }
      // lamindb: asking for a feature under another dtype is an error (defaults only apply to a new one).
      const dtype = lookup["dtype"]
      if (dtype !== undefined && dtype !== existing.dtype)
        return yield* new ValidationError({
          registry: "Feature",
          field: "dtype",
          value: dtype,
          expected: `${existing.dtype}: Feature ${existing.name} already exists with dtype ${existing.dtype}, you passed ${String(dtype)}`
        })
      return existing
    })
}
export type Feature = Records.Feature
/** Suffix, key and storage say where bytes live: checked on every write (see `ArtifactPaths`). */
export const Artifact = ArtifactPaths.guard(registry(Records.ArtifactModel, Records.Artifact))
export type Artifact = Records.Artifact
export const Collection = registry(Records.CollectionModel, Records.Collection)
export type Collection = Records.Collection
export const ULabel = registry(Records.ULabelModel, Records.ULabel)
export type ULabel = Records.ULabel
export const Project = registry(Records.ProjectModel, Records.Project)
export type Project = Records.Project
export const User = registry(Records.UserModel, Records.User)
export type User = Records.User
