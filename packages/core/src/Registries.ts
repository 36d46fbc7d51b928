/**
 * The registries a user works with, each its record class's operations (`Transform.create`, `Run.filter`,
 * …) and, under the same name, the record type.
 */
import { Effect } from "effect"
import * as ArtifactPaths from "./ArtifactPaths.js"
import * as Domain from "./Domain.js"
import * as Dtype from "./Dtype.js"
import { ValidationError } from "./Errors.js"
import * as Registry from "./Registry.js"
import { entity, Store } from "./Store.js"

const registry = <S extends Domain.RecordClass>(model: Parameters<typeof entity>[0], schema: S) =>
  Object.assign(Registry.make(entity(model, schema)), { schema })

export const Transform = registry(Domain.TransformModel, Domain.Transform)
export type Transform = Domain.Transform
export const Run = registry(Domain.RunModel, Domain.Run)
export type Run = Domain.Run
const features = registry(Domain.FeatureModel, Domain.Feature)

/** A feature's dtype must parse; once created, queries on it are served by an index on every store. */
const createFeature = (input: Registry.Input) =>
  Effect.gen(function* () {
    const dtype = input["dtype"]
    if (typeof dtype !== "string" || Dtype.parse(dtype) === undefined)
      return yield* new ValidationError({ registry: "Feature", field: "dtype", value: dtype, expected: Dtype.expectedDtypes })
    const feature = yield* features.create(input)
    yield* Store.use((store) => store.indexFeatures([feature.name]))
    return feature
  })

export const Feature = {
  ...features,
  create: createFeature,
  getOrCreate: (lookup: Registry.Input, defaults: Registry.Input = {}) =>
    Effect.gen(function* () {
      const existing = yield* features.filter({ name: lookup["name"] }).first()
      if (existing === undefined) {
        const created = yield* Effect.result(createFeature({ ...lookup, ...defaults }))
        if (created._tag === "Success") return created.success
        if (created.failure._tag !== "UniqueViolation") return yield* created.failure
        return yield* features.get({ name: lookup["name"] })
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
export type Feature = Domain.Feature
/** Suffix, key and storage say where bytes live: checked on every write (see `ArtifactPaths`). */
export const Artifact = ArtifactPaths.guard(registry(Domain.ArtifactModel, Domain.Artifact))
export type Artifact = Domain.Artifact
export const Collection = registry(Domain.CollectionModel, Domain.Collection)
export type Collection = Domain.Collection
export const ULabel = registry(Domain.ULabelModel, Domain.ULabel)
export type ULabel = Domain.ULabel
export const Project = registry(Domain.ProjectModel, Domain.Project)
export type Project = Domain.Project
export const User = registry(Domain.UserModel, Domain.User)
export type User = Domain.User
