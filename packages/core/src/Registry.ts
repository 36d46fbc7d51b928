/**
 * Registry operations written once over `Store`: create (versioned where the registry is), get by id, uid,
 * uid prefix or expression, getOrCreate, filter, update, trash, restore and permanent delete with lamindb's
 * cascade and protect rules. Creates and updates refuse references to records that do not exist. Below them,
 * the registries a user works with (`Transform`, `Run`, `Feature`, `Artifact`, …), each made by `make`.
 */
import { Effect } from "effect"
import * as ArtifactPaths from "./ArtifactPaths.js"
import * as Records from "./Records.js"
import type { RecordOf, RegistryName } from "./Records.js"
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
import type { CreateInput, DefaultsArgument, Lookup, NoExtra, UpdateInput } from "./Inputs.js"
import type { Model } from "./Model.js"
import type { Expression, QueryInput } from "./Query.js"
import { QuerySet } from "./QuerySet.js"
import { pointingToGetOrCreate } from "./Suggestions.js"
import * as References from "./References.js"
import { type Entity, entity, Store } from "./Store.js"
import * as Transforms from "./Transforms.js"
import * as Uid from "./Uid.js"
import * as Versioning from "./Versioning.js"

export type { Base } from "./Lifecycle.js"
type Base = Lifecycle.Base
/** Any registry's input, unchecked until the store reads it: what the typed inputs (`Inputs`) narrow. */
export type Input = { readonly [field: string]: unknown }

export type CreateError = ValidationError | UniqueViolation | StoreError
export type GetError = InvalidQuery | DoesNotExist | MultipleObjectsReturned | StoreError

/** A registry's operations over `entity`, untyped (any input, any filter): `Registry<N>` types them per registry. */
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

  /** Every record (on the main branch): a terminal, as on a query set, so it runs. */
  const all = () => filter().all()

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

  return { entity, model, create: pointingToGetOrCreate(create), createMany: pointingToGetOrCreate(createMany), filter, all, get, getOrCreate, update, delete: remove, restore, reload }
}

/** The untyped operations `make` returns, which the registries' guards (`Transforms`, `ArtifactPaths`) wrap. */
export type Untyped<A extends Base> = ReturnType<typeof make<A>>

export interface CreateOptions {
  /** In a versioned registry, `false` refuses a key that already has a family instead of making its next version. */
  readonly revise?: boolean
}

/**
 * The operations of registry `N` on its records `A`, typed from its model (see `Inputs` and `Filter`): a
 * misspelt field, a value of the wrong type or a missing required field is a compile error. `filter` builds
 * a query set; `all`, like a query set's terminals, runs.
 */
export interface Registry<N extends RegistryName, A extends Base = RecordOf<N>> {
  readonly entity: Entity<A>
  readonly model: Model
  /**
   * Creates a record. In a versioned registry, a key that already has a family makes the family's next
   * version (lamindb's inferred `revises`), unless `revise: false`, which refuses it with `UniqueViolation`.
   */
  create(input: CreateInput<N>, options?: CreateOptions): Effect.Effect<A, CreateError | InvalidQuery, Store>
  /** Creates records in one all-or-none insert (no versioning): the fast path for bulk loads. */
  createMany(inputs: ReadonlyArray<CreateInput<N>>): Effect.Effect<ReadonlyArray<A>, CreateError, Store>
  filter(...inputs: ReadonlyArray<QueryInput<N>>): QuerySet<A, N>
  /** Every record on the main branch (`filter().all()`). */
  all(): Effect.Effect<ReadonlyArray<A>, InvalidQuery | StoreError, Store>
  /** An integer id, a full uid or uid prefix, or a filter. */
  get(idlike: number | string | QueryInput<N>): Effect.Effect<A, GetError, Store>
  /**
   * The record matching `lookup`, created from `lookup` and `defaults` if there is none; racing callers get
   * the same one. The lookup holds plain values of fields (it is created from); `defaults` must give the
   * required fields it leaves out.
   */
  getOrCreate<const L extends Lookup<N>>(lookup: L & NoExtra<L, Lookup<N>>, ...defaults: DefaultsArgument<N, L>): Effect.Effect<A, GetError | CreateError, Store>
  update(record: A, patch: UpdateInput<N>): Effect.Effect<A, CreateError, Store>
  delete(record: A, options?: Lifecycle.DeleteOptions): ReturnType<typeof Lifecycle.remove<A>>
  restore(record: A): ReturnType<typeof Lifecycle.restore<A>>
  reload(record: A): ReturnType<typeof Lifecycle.reload<A>>
}

/** A registry a user works with: its operations, typed, and its record class (`schema`). */
export type Of<N extends RegistryName, S> = Registry<N> & { readonly schema: S }

// The registries a user works with: each its record class's operations (`Transform.create`, `Run.filter`, …)
// and, under the same name, the record type.
const registry = <S extends Records.RecordClass>(model: Parameters<typeof entity>[0], schema: S) =>
  Object.assign(make(entity(model, schema)), { schema })

/**
 * Untyped operations as the typed registry `R`. They take any input and filter (the store checks each when it
 * runs), so they serve every narrower type: only their names are checked here. Comparing them member by
 * member would build every registry's filter and input types (some 6,000 filter keys for `Run`), costing about
 * a second in every program that compiles this module.
 */
const typed = <R>(operations: { readonly [K in keyof R]: unknown }): R => operations as R

/** A transform's hash is its source's, and `getOrCreate` declares a transform by its key and source (see `Transforms`). */
export const Transform = typed<Transforms.TransformRegistry>(Transforms.guard(registry(Records.TransformModel, Records.Transform)))
export type Transform = Records.Transform
export const Run = typed<Of<"Run", typeof Records.Run>>(registry(Records.RunModel, Records.Run))
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

/**
 * The Feature registry: `getOrCreate` finds a feature by the name its lookup gives (a `dtype` given there too
 * must be the feature's).
 */
export interface FeatureRegistry extends Omit<Of<"Feature", typeof Records.Feature>, "getOrCreate"> {
  getOrCreate<const L extends Lookup<"Feature"> & { readonly name: string }>(
    lookup: L & NoExtra<L, Lookup<"Feature">>,
    ...defaults: DefaultsArgument<"Feature", L>
  ): Effect.Effect<Records.Feature, GetError | CreateError, Store>
}

export const Feature = typed<FeatureRegistry>({
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
})
export type Feature = Records.Feature
/** Suffix, key and storage say where bytes live: checked on every write (see `ArtifactPaths`). */
export const Artifact = typed<Of<"Artifact", typeof Records.Artifact>>(ArtifactPaths.guard(registry(Records.ArtifactModel, Records.Artifact)))
export type Artifact = Records.Artifact
export const Collection = typed<Of<"Collection", typeof Records.Collection>>(registry(Records.CollectionModel, Records.Collection))
export type Collection = Records.Collection
export const ULabel = typed<Of<"ULabel", typeof Records.ULabel>>(registry(Records.ULabelModel, Records.ULabel))
export type ULabel = Records.ULabel
export const Project = typed<Of<"Project", typeof Records.Project>>(registry(Records.ProjectModel, Records.Project))
export type Project = Records.Project
export const User = typed<Of<"User", typeof Records.User>>(registry(Records.UserModel, Records.User))
export type User = Records.User
