/**
 * The registries a user works with, each its record class's operations (`Transform.create`, `Run.filter`,
 * …) and, under the same name, the record type.
 */
import * as Domain from "./Domain.js"
import * as Registry from "./Registry.js"
import { entity } from "./Store.js"

const registry = <S extends Domain.RecordClass>(model: Parameters<typeof entity>[0], schema: S) =>
  Object.assign(Registry.make(entity(model, schema)), { schema })

export const Transform = registry(Domain.TransformModel, Domain.Transform)
export type Transform = Domain.Transform
export const Run = registry(Domain.RunModel, Domain.Run)
export type Run = Domain.Run
export const Feature = registry(Domain.FeatureModel, Domain.Feature)
export type Feature = Domain.Feature
export const Artifact = registry(Domain.ArtifactModel, Domain.Artifact)
export type Artifact = Domain.Artifact
export const Collection = registry(Domain.CollectionModel, Domain.Collection)
export type Collection = Domain.Collection
export const ULabel = registry(Domain.ULabelModel, Domain.ULabel)
export type ULabel = Domain.ULabel
export const Project = registry(Domain.ProjectModel, Domain.Project)
export type Project = Domain.Project
export const User = registry(Domain.UserModel, Domain.User)
export type User = Domain.User
