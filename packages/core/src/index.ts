/**
 * `@lineage/core`: run tracking and lineage for TypeScript.
 *
 * Effect face: the registries (`Transform`, `Run`, `Feature`, `Artifact`, …), `Tracking`, `Features`,
 * `Artifacts`, `LineageGraph`, every operation an `Effect` needing `Store`. Promise face: `Lineage.connect(url?)`.
 */
export * as Ast from "./Ast.js"
export * as Evaluator from "./Evaluator.js"
export * as Driver from "./Driver.js"
export * as IndexPlanner from "./IndexPlanner.js"
export * as Records from "./Records.js"
export * as Model from "./Model.js"
export * as Uid from "./Uid.js"
export * as Versioning from "./Versioning.js"
export * as Dtype from "./Dtype.js"
export * as Store from "./Store.js"
export * as StorageFormat from "./StorageFormat.js"
export * as Registry from "./Registry.js"
export * as Features from "./Features.js"
export * as Artifacts from "./Artifacts.js"
export * as Params from "./Params.js"
export * as Limits from "./Limits.js"
export * as Regex from "./Regex.js"
export * as Redaction from "./Redaction.js"
export * as Tracking from "./Tracking.js"
export * as Transforms from "./Transforms.js"
export * as Current from "./Current.js"
export * as LineageGraph from "./LineageGraph.js"
export * as Lineage from "./Lineage.js"
export { Q, type Expression, type QueryInput } from "./Query.js"
export { QuerySet, type Page } from "./QuerySet.js"
export * from "./Errors.js"
export { ArtifactStorageError } from "./Artifacts.js"
export { Artifact, Collection, Feature, Project, Run, Transform, ULabel, User } from "./Registry.js"
