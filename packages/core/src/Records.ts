/**
 * The registries: lamindb's models in TypeScript's words (camelCase of lamindb's snake_case columns). Each is
 * a `Model` (data) and a `Schema.Class` built from the same fields. References hold the other record's
 * integer id in a field named `<relation>Id` (`Run.transformId`, as lamindb's `transform_id` column); the
 * query language reaches the record itself through the relation name (`transform__key`).
 */
import { Schema } from "effect"
import { type AliasMap, F, type Fields, type Model, type RelationMap, schemaFields } from "./Model.js"
import * as Versioning from "./Versioning.js"

/** Fields every registry has: ids, the trash branch, timestamps and who created it. */
const base = {
  id: F.int(),
  uid: F.string(),
  branchId: F.int({ index: "hash", default: () => 1 }),
  createdAt: F.datetime({ index: "sorted" }),
  updatedAt: F.datetime(),
  createdById: F.ref.nullable("User", "protect")
} satisfies Fields

/** Link rows have no trash: they exist or not. */
const linkBase = { id: F.int(), uid: F.string(), createdAt: F.datetime() } satisfies Fields

/** A model as declared: `const`, so its fields, relations, name and aliases keep the literal types `Filter` and `Inputs` read. */
const model = <const Fs extends Fields, const Rs extends RelationMap, const Name extends string, const As extends AliasMap = {}>(
  m: Model<Fs, Rs, Name, As>
): Model<Fs, Rs, Name, As> => m

/**
 * Versioned registries store a version's tag as `versionTag` (lamindb 2's `version_tag`) and keep `version`
 * as its alias in inputs and queries; their records' `version` getter reads the tag, else the uid's suffix.
 */
const versionAlias = { version: "versionTag" } as const

// ---------------------------------------------------------------------------------------------------------

export const transformKinds = ["pipeline", "notebook", "script", "function"] as const
export type TransformKind = (typeof transformKinds)[number]

export const TransformModel = model({
  name: "Transform",
  table: "transform",
  aliases: versionAlias,
  uidLength: 16,
  versioned: true,
  derived: Versioning.claims,
  trash: true,
  nameField: "key",
  fields: {
    ...base,
    key: F.string({ index: "sorted" }),
    versionTag: F.string.nullable({ index: "hash" }),
    kind: F.enum(transformKinds, { index: "hash", default: () => "pipeline" }),
    description: F.string.nullable(),
    reference: F.string.nullable(),
    referenceType: F.string.nullable(),
    sourceCode: F.string.nullable(),
    hash: F.string.nullable({ index: "hash" }),
    isLatest: F.bool({ index: "hash", default: () => true })
  },
  unique: [
    { name: "transform_key_version", fields: ["key", "versionTag"] },
    // lamindb's unique (key, hash), across the trash: one transform per source of a key, so racing trackers
    // share it, and tracking a trashed transform's source again brings it back.
    { name: "transform_key_hash", fields: ["key", "hash"] },
    ...Versioning.claimConstraints("transform")
  ],
  relations: {
    runs: { kind: "reverse", to: "Run", field: "transformId" },
    createdBy: { kind: "forward", to: "User", field: "createdById" }
  }
})

export class Transform extends Schema.Class<Transform>("Transform")(schemaFields(TransformModel.fields)) {
  /** lamindb's `version`: the version tag, else the uid's 4-character version suffix. */
  get version(): string {
    return this.versionTag ?? Versioning.suffix(this.uid)
  }
}

// ---------------------------------------------------------------------------------------------------------

/** lamindb's run statuses and their codes (`_status_code`). */
export const runStatusCodes = {
  scheduled: -3,
  restarted: -2,
  started: -1,
  completed: 0,
  errored: 1,
  aborted: 2
} as const
export type RunStatus = keyof typeof runStatusCodes
export const runStatuses = Object.keys(runStatusCodes) as ReadonlyArray<RunStatus>

export const RunModel = model({
  name: "Run",
  table: "run",
  aliases: { metrics: "metricSummary" },
  uidLength: 16,
  versioned: false,
  trash: true,
  nameField: "startedAt",
  fields: {
    ...base,
    transformId: F.ref("Transform", "cascade"),
    name: F.string.nullable(),
    description: F.string.nullable(),
    entrypoint: F.string.nullable(),
    params: F.json(),
    reference: F.string.nullable(),
    referenceType: F.string.nullable(),
    startedAt: F.datetime({ index: "sorted", default: () => new Date() }),
    finishedAt: F.datetime.nullable({ index: "sorted" }),
    status: F.enum(runStatuses, { index: "hash", default: () => "scheduled" }),
    initiatedByRunId: F.ref.nullable("Run", "cascade"),
    environmentId: F.ref.nullable("Artifact", "protect"),
    reportId: F.ref.nullable("Artifact", "protect"),
    cliArgs: F.string.nullable(),
    /** Feature values, by feature name, validated against each feature's dtype (see `Features`). */
    featureValues: F.json({ default: () => ({}) }),
    /** Refreshed while the tracking process lives: a started run whose heartbeat stops is stale. */
    lastHeartbeatAt: F.datetime.nullable({ index: "sorted" }),
    /**
     * The run's metrics, by key: `{ last, min, max, count, step }` of the points logged (see `Metrics`), kept in
     * step with its `MetricPoints` chunks. Queried and ordered by JSON path through the alias `metrics`
     * (`metrics__loss__min__lt`). Runs stored before the field existed read as `{}`.
     */
    metricSummary: F.json({ default: () => ({}), absent: () => ({}) })
  },
  unique: [],
  relations: {
    transform: { kind: "forward", to: "Transform", field: "transformId" },
    initiatedByRun: { kind: "forward", to: "Run", field: "initiatedByRunId" },
    initiatedRuns: { kind: "reverse", to: "Run", field: "initiatedByRunId" },
    environment: { kind: "forward", to: "Artifact", field: "environmentId" },
    report: { kind: "forward", to: "Artifact", field: "reportId" },
    outputArtifacts: { kind: "reverse", to: "Artifact", field: "runId" },
    inputArtifacts: { kind: "link", to: "Artifact", link: "RunInputArtifact", self: "runId", other: "artifactId" },
    recreatedArtifacts: {
      kind: "link",
      to: "Artifact",
      link: "RunRecreatedArtifact",
      self: "runId",
      other: "artifactId"
    },
    outputCollections: { kind: "reverse", to: "Collection", field: "runId" },
    inputCollections: {
      kind: "link",
      to: "Collection",
      link: "RunInputCollection",
      self: "runId",
      other: "collectionId"
    },
    ulabels: { kind: "link", to: "ULabel", link: "RunULabel", self: "runId", other: "ulabelId" },
    projects: { kind: "link", to: "Project", link: "RunProject", self: "runId", other: "projectId" },
    createdBy: { kind: "forward", to: "User", field: "createdById" }
  }
})

export class Run extends Schema.Class<Run>("Run")(schemaFields(RunModel.fields)) {}

// ---------------------------------------------------------------------------------------------------------

export const FeatureModel = model({
  name: "Feature",
  table: "feature",
  uidLength: 12,
  versioned: false,
  trash: true,
  nameField: "name",
  fields: {
    ...base,
    name: F.string({ index: "sorted" }),
    dtype: F.string({ index: "hash" }),
    description: F.string.nullable(),
    unit: F.string.nullable()
  },
  // Across the trash: records keep feature values by feature name, so a second feature of a trashed
  // feature's name would take over its values under another dtype (see `Feature.create`).
  unique: [{ name: "feature_name", fields: ["name"] }],
  relations: { createdBy: { kind: "forward", to: "User", field: "createdById" } }
})

export class Feature extends Schema.Class<Feature>("Feature")(schemaFields(FeatureModel.fields)) {}

// ---------------------------------------------------------------------------------------------------------

export const ArtifactModel = model({
  name: "Artifact",
  table: "artifact",
  aliases: versionAlias,
  uidLength: 20,
  versioned: true,
  derived: Versioning.claims,
  trash: true,
  nameField: "key",
  fields: {
    ...base,
    key: F.string.nullable({ index: "sorted" }),
    description: F.string.nullable(),
    suffix: F.string({ default: () => "" }),
    /** Bytes. */
    size: F.natural.nullable({ index: "sorted" }),
    hash: F.string.nullable({ index: "hash" }),
    versionTag: F.string.nullable(),
    isLatest: F.bool({ index: "hash", default: () => true }),
    runId: F.ref.nullable("Run", "protect"),
    storage: F.string.nullable(),
    /** `dataset`, `model`, … or `__lineage_run__` for what tracking records about a run (its environment). */
    kind: F.string.nullable({ index: "hash" }),
    featureValues: F.json({ default: () => ({}) })
  },
  unique: [
    { name: "artifact_key_version", fields: ["key", "versionTag"] },
    ...Versioning.claimConstraints("artifact"),
    // The same bytes are one live artifact: registering them again returns it. Trashed bytes stay with their
    // trashed artifact, and registering them makes a new one (lamindb: no implicit restore from the trash).
    { name: "artifact_hash", fields: ["hash"], scope: "live" }
  ],
  relations: {
    run: { kind: "forward", to: "Run", field: "runId" },
    inputOfRuns: { kind: "link", to: "Run", link: "RunInputArtifact", self: "artifactId", other: "runId" },
    recreatingRuns: { kind: "link", to: "Run", link: "RunRecreatedArtifact", self: "artifactId", other: "runId" },
    collections: {
      kind: "link",
      to: "Collection",
      link: "CollectionArtifact",
      self: "artifactId",
      other: "collectionId"
    },
    createdBy: { kind: "forward", to: "User", field: "createdById" }
  }
})

export class Artifact extends Schema.Class<Artifact>("Artifact")(schemaFields(ArtifactModel.fields)) {
  /** lamindb's `version`: the version tag, else the uid's 4-character version suffix. */
  get version(): string {
    return this.versionTag ?? Versioning.suffix(this.uid)
  }
}

// ---------------------------------------------------------------------------------------------------------

export const CollectionModel = model({
  name: "Collection",
  table: "collection",
  aliases: versionAlias,
  uidLength: 20,
  versioned: true,
  derived: Versioning.claims,
  trash: true,
  nameField: "key",
  fields: {
    ...base,
    key: F.string({ index: "sorted" }),
    description: F.string.nullable(),
    hash: F.string.nullable({ index: "hash" }),
    reference: F.string.nullable(),
    referenceType: F.string.nullable(),
    versionTag: F.string.nullable(),
    isLatest: F.bool({ index: "hash", default: () => true }),
    runId: F.ref.nullable("Run", "protect")
  },
  unique: [
    { name: "collection_key_version", fields: ["key", "versionTag"] },
    ...Versioning.claimConstraints("collection")
  ],
  relations: {
    run: { kind: "forward", to: "Run", field: "runId" },
    artifacts: { kind: "link", to: "Artifact", link: "CollectionArtifact", self: "collectionId", other: "artifactId" },
    inputOfRuns: { kind: "link", to: "Run", link: "RunInputCollection", self: "collectionId", other: "runId" },
    createdBy: { kind: "forward", to: "User", field: "createdById" }
  }
})

export class Collection extends Schema.Class<Collection>("Collection")(schemaFields(CollectionModel.fields)) {
  /** lamindb's `version`: the version tag, else the uid's 4-character version suffix. */
  get version(): string {
    return this.versionTag ?? Versioning.suffix(this.uid)
  }
}

// ---------------------------------------------------------------------------------------------------------

export const ULabelModel = model({
  name: "ULabel",
  table: "ulabel",
  uidLength: 8,
  versioned: false,
  trash: true,
  nameField: "name",
  fields: {
    ...base,
    name: F.string({ index: "sorted" }),
    description: F.string.nullable(),
    reference: F.string.nullable(),
    referenceType: F.string.nullable()
  },
  // lamindb's name constraints leave the trash out: a new label may take a trashed label's name.
  unique: [{ name: "ulabel_name", fields: ["name"], scope: "live" }],
  relations: {
    runs: { kind: "link", to: "Run", link: "RunULabel", self: "ulabelId", other: "runId" },
    createdBy: { kind: "forward", to: "User", field: "createdById" }
  }
})

export class ULabel extends Schema.Class<ULabel>("ULabel")(schemaFields(ULabelModel.fields)) {}

// ---------------------------------------------------------------------------------------------------------

export const ProjectModel = model({
  name: "Project",
  table: "project",
  uidLength: 12,
  versioned: false,
  trash: true,
  nameField: "name",
  fields: {
    ...base,
    name: F.string({ index: "sorted" }),
    abbr: F.string.nullable(),
    url: F.string.nullable(),
    description: F.string.nullable(),
    startDate: F.datetime.nullable(),
    endDate: F.datetime.nullable()
  },
  unique: [{ name: "project_name", fields: ["name"], scope: "live" }],
  relations: {
    runs: { kind: "link", to: "Run", link: "RunProject", self: "projectId", other: "runId" },
    createdBy: { kind: "forward", to: "User", field: "createdById" }
  }
})

export class Project extends Schema.Class<Project>("Project")(schemaFields(ProjectModel.fields)) {}

// ---------------------------------------------------------------------------------------------------------

export const UserModel = model({
  name: "User",
  table: "user",
  uidLength: 8,
  versioned: false,
  trash: false,
  nameField: "handle",
  fields: {
    id: F.int(),
    uid: F.string(),
    handle: F.string({ index: "hash" }),
    name: F.string.nullable(),
    createdAt: F.datetime(),
    updatedAt: F.datetime()
  },
  unique: [{ name: "user_handle", fields: ["handle"] }],
  relations: {}
})

export class User extends Schema.Class<User>("User")(schemaFields(UserModel.fields)) {}

// ---------------------------------------------------------------------------------------------------------
// Link registries: one row per linked pair, unique on the pair, deleted with either side.

const link = <const A extends string, const B extends string>(
  name: string,
  table: string,
  a: { readonly field: A; readonly registry: string },
  b: { readonly field: B; readonly registry: string }
) =>
  model({
    name,
    table,
    uidLength: 16,
    versioned: false,
    trash: false,
    nameField: "id",
    fields: {
      ...linkBase,
      ...({ [a.field]: F.ref(a.registry, "cascade") } as { [K in A]: ReturnType<typeof F.ref> }),
      ...({ [b.field]: F.ref(b.registry, "cascade") } as { [K in B]: ReturnType<typeof F.ref> })
    },
    unique: [{ name: `${table}_pair`, fields: [a.field, b.field] }],
    relations: {}
  })

export const RunInputArtifactModel = link(
  "RunInputArtifact",
  "run_input_artifact",
  { field: "runId", registry: "Run" },
  { field: "artifactId", registry: "Artifact" }
)
export class RunInputArtifact extends Schema.Class<RunInputArtifact>("RunInputArtifact")(
  schemaFields(RunInputArtifactModel.fields)
) {}

export const RunRecreatedArtifactModel = link(
  "RunRecreatedArtifact",
  "run_recreated_artifact",
  { field: "runId", registry: "Run" },
  { field: "artifactId", registry: "Artifact" }
)
export class RunRecreatedArtifact extends Schema.Class<RunRecreatedArtifact>("RunRecreatedArtifact")(
  schemaFields(RunRecreatedArtifactModel.fields)
) {}

export const RunInputCollectionModel = link(
  "RunInputCollection",
  "run_input_collection",
  { field: "runId", registry: "Run" },
  { field: "collectionId", registry: "Collection" }
)
export class RunInputCollection extends Schema.Class<RunInputCollection>("RunInputCollection")(
  schemaFields(RunInputCollectionModel.fields)
) {}

export const RunULabelModel = link(
  "RunULabel",
  "run_ulabel",
  { field: "runId", registry: "Run" },
  { field: "ulabelId", registry: "ULabel" }
)
export class RunULabel extends Schema.Class<RunULabel>("RunULabel")(schemaFields(RunULabelModel.fields)) {}

export const RunProjectModel = link(
  "RunProject",
  "run_project",
  { field: "runId", registry: "Run" },
  { field: "projectId", registry: "Project" }
)
export class RunProject extends Schema.Class<RunProject>("RunProject")(schemaFields(RunProjectModel.fields)) {}

export const CollectionArtifactModel = link(
  "CollectionArtifact",
  "collection_artifact",
  { field: "collectionId", registry: "Collection" },
  { field: "artifactId", registry: "Artifact" }
)
export class CollectionArtifact extends Schema.Class<CollectionArtifact>("CollectionArtifact")(
  schemaFields(CollectionArtifactModel.fields)
) {}

// ---------------------------------------------------------------------------------------------------------

/**
 * A run's metric points, stored as chunks: one record holds up to `MetricBuffer.maxChunkPoints` consecutive points
 * of one (run, key), in step order, as parallel arrays (`steps`, `values`, `timestamps` in epoch milliseconds),
 * with their first and last step, count, minimum and maximum. Keyed by run, key and first step. Written by
 * `Metrics` only; deleted with their run.
 */
export const MetricPointsModel = model({
  name: "MetricPoints",
  table: "metric_points",
  uidLength: 16,
  versioned: false,
  trash: false,
  nameField: "key",
  fields: {
    ...linkBase,
    runId: F.ref("Run", "cascade"),
    key: F.string({ index: "hash" }),
    firstStep: F.natural(),
    lastStep: F.natural(),
    count: F.natural(),
    steps: F.json(),
    values: F.json(),
    timestamps: F.json(),
    min: F.float(),
    max: F.float()
  },
  unique: [{ name: "metric_points_run_key_step", fields: ["runId", "key", "firstStep"] }],
  relations: { run: { kind: "forward", to: "Run", field: "runId" } }
})
export class MetricPoints extends Schema.Class<MetricPoints>("MetricPoints")(schemaFields(MetricPointsModel.fields)) {}

// ---------------------------------------------------------------------------------------------------------

/**
 * The registries a user queries and writes, by name, as types: each one's model (with its literal field kinds
 * and relation targets) and record. `Filter`, `Inputs` and the typed registries read them; relations name their
 * targets by these keys.
 */
export interface Registries {
  readonly Transform: { readonly model: typeof TransformModel; readonly record: Transform }
  readonly Run: { readonly model: typeof RunModel; readonly record: Run }
  readonly Feature: { readonly model: typeof FeatureModel; readonly record: Feature }
  readonly Artifact: { readonly model: typeof ArtifactModel; readonly record: Artifact }
  readonly Collection: { readonly model: typeof CollectionModel; readonly record: Collection }
  readonly ULabel: { readonly model: typeof ULabelModel; readonly record: ULabel }
  readonly Project: { readonly model: typeof ProjectModel; readonly record: Project }
  readonly User: { readonly model: typeof UserModel; readonly record: User }
}

export type RegistryName = keyof Registries
export type ModelOf<N extends RegistryName> = Registries[N]["model"]
export type RecordOf<N extends RegistryName> = Registries[N]["record"]
/** A record as a relation's value names it, in queries and inputs: the record, or its id. */
export type RecordOrId<N extends RegistryName> = RecordOf<N> | number

/** Every registry, by name: the graph the query planner and cascading deletes walk. */
export const models: { readonly [name: string]: Model } = {
  Transform: TransformModel,
  Run: RunModel,
  Feature: FeatureModel,
  Artifact: ArtifactModel,
  Collection: CollectionModel,
  ULabel: ULabelModel,
  Project: ProjectModel,
  User: UserModel,
  RunInputArtifact: RunInputArtifactModel,
  RunRecreatedArtifact: RunRecreatedArtifactModel,
  RunInputCollection: RunInputCollectionModel,
  RunULabel: RunULabelModel,
  RunProject: RunProjectModel,
  CollectionArtifact: CollectionArtifactModel,
  MetricPoints: MetricPointsModel
}

export const modelOf = (name: string): Model => {
  const m = models[name]
  if (m === undefined) throw new Error(`unknown registry ${name}`)
  return m
}

/** Any registry's record class. */
export type RecordClass = Schema.Top & Schema.Codec<{ readonly id: number; readonly uid: string }, unknown>
