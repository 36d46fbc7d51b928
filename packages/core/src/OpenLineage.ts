/**
 * lineage's records as OpenLineage run events (spec 2-0-2, `schemaURL`), the same for an export and for live
 * emission (`OpenLineageEmitter`):
 * - a transform is a job: `namespace` (see `namespace`), `name` = its key; facets `jobType` (processingType
 *   BATCH, integration LINEAGE, jobType = its kind), `sourceCode` (the source as stored, secrets redacted
 *   already, left out past `maxSourceChars`), `documentation` (its description), `lineage_transform`;
 * - a run is a run: `runId` = `runId(run.uid)`, a name-based UUID, so a run has one id wherever it is
 *   emitted; a restart (`track({ newRun: false })`) is a run of its own (`attemptRunId`), linked to the first
 *   by `lineage_run.restartOf`; facets `parent` (the run that initiated it), `lineage_run`, `lineage_params`,
 *   `lineage_features`, `lineage_metrics` (the summary of its metrics, on its terminal event), and
 *   `errorMessage` when a live failure is known (a stored run keeps no error);
 * - a status is a sequence of events (`lifecycle`);
 * - a run's input artifacts are its inputs, the artifacts it produced or recreated its outputs (`datasetOf`),
 *   listed on its terminal event only: a run that starts has none yet.
 *
 * No `nominalTime`: lineage records when a run started, never when it was scheduled to. Custom facets are named
 * `lineage_*` and described by `lineageFacetsSchema`. Everything read back from a store is taken as hostile:
 * texts are cut at `maxTextChars`, params and feature values past `maxFacetValues` are left out, at most
 * `maxDatasets` datasets per side are read (a bounded query), an odd date or storage falls back to a documented
 * default, and nothing here throws.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { Effect } from "effect"
import * as ArtifactPaths from "./ArtifactPaths.js"
import type { StoreError } from "./Errors.js"
import * as Limits from "./Limits.js"
import * as MetricBuffer from "./MetricBuffer.js"
import * as MetricStorage from "./MetricStorage.js"
import { Q } from "./Query.js"
import type { QuerySet } from "./QuerySet.js"
import * as Records from "./Records.js"
import * as Redaction from "./Redaction.js"
import { Artifact } from "./Registry.js"
import { type Entity, entity, Store } from "./Store.js"
import * as Versioning from "./Versioning.js"

// ---------------------------------------------------------------------------------------------------------
// Events as the spec defines them

export type EventType = "START" | "RUNNING" | "COMPLETE" | "ABORT" | "FAIL" | "OTHER"

/** What every facet carries: who wrote it and the schema it follows. No other field of a facet starts with `_`. */
export interface Facet {
  readonly _producer: string
  readonly _schemaURL: string
}

export interface JobRef {
  readonly namespace: string
  readonly name: string
}

export interface ParentRunFacet extends Facet {
  readonly run: { readonly runId: string }
  readonly job: JobRef
}

export interface ErrorMessageRunFacet extends Facet {
  readonly message: string
  readonly programmingLanguage: string
  readonly stackTrace?: string
}

export interface LineageRunFacet extends Facet {
  readonly uid: string
  readonly name?: string
  /** On the events of a restart: the `runId` of the run's first attempt. */
  readonly restartOf?: string
  /** Datasets left out of the event past `maxDatasets`. */
  readonly omittedInputs?: number
  readonly omittedOutputs?: number
}

export interface LineageParamsRunFacet extends Facet {
  readonly params: { readonly [key: string]: unknown }
}

export interface LineageFeaturesRunFacet extends Facet {
  readonly values: { readonly [name: string]: unknown }
}

export interface LineageMetricsRunFacet extends Facet {
  /** By key, in key order. */
  readonly metrics: MetricStorage.Summary
  /** Keys left out: past `maxFacetMetrics`, or whose summary is not one a client writes. */
  readonly omittedKeys?: number
}

export interface RunFacets {
  readonly parent?: ParentRunFacet
  readonly errorMessage?: ErrorMessageRunFacet
  readonly lineage_run: LineageRunFacet
  readonly lineage_params?: LineageParamsRunFacet
  readonly lineage_features?: LineageFeaturesRunFacet
  readonly lineage_metrics?: LineageMetricsRunFacet
}

export interface JobTypeJobFacet extends Facet {
  readonly processingType: "BATCH"
  readonly integration: "LINEAGE"
  readonly jobType: string
}

export interface SourceCodeJobFacet extends Facet {
  readonly language: string
  readonly sourceCode: string
}

export interface DocumentationFacet extends Facet {
  readonly description: string
}

export interface LineageTransformJobFacet extends Facet {
  readonly uid: string
  readonly version: string
  readonly kind: string
  readonly hash?: string
}

/** Empty when the run's transform is gone from the store. */
export interface JobFacets {
  readonly jobType?: JobTypeJobFacet
  readonly sourceCode?: SourceCodeJobFacet
  readonly documentation?: DocumentationFacet
  readonly lineage_transform?: LineageTransformJobFacet
}

export interface Job extends JobRef {
  readonly facets: JobFacets
}

export interface DatasetVersionDatasetFacet extends Facet {
  readonly datasetVersion: string
}

export interface LineageArtifactDatasetFacet extends Facet {
  readonly uid: string
  readonly version: string
  readonly key?: string
  readonly hash?: string
  readonly size?: number
  readonly suffix?: string
  readonly kind?: string
}

export interface DatasetFacets {
  readonly version: DatasetVersionDatasetFacet
  readonly documentation?: DocumentationFacet
  readonly lineage_artifact: LineageArtifactDatasetFacet
}

export interface Dataset {
  readonly namespace: string
  readonly name: string
  readonly facets: DatasetFacets
}

export interface RunEvent {
  readonly eventType: EventType
  readonly eventTime: string
  readonly producer: string
  readonly schemaURL: string
  readonly run: { readonly runId: string; readonly facets: RunFacets }
  readonly job: Job
  readonly inputs: ReadonlyArray<Dataset>
  readonly outputs: ReadonlyArray<Dataset>
}

// ---------------------------------------------------------------------------------------------------------
// Bounds on what a store may hand us

/** Characters of a name, key, description or message; a longer one is cut and ends in `…`. */
export const maxTextChars = 4_096
/** Characters of a stack trace in an `errorMessage` facet. */
export const maxStackChars = 16_384
/** Characters of a source sent in a `sourceCode` facet: a longer source is left out, since cut code misleads. */
export const maxSourceChars = 100_000
/** Values (counted as `Limits.maxValues` counts them) of the params or feature values sent in one facet. */
export const maxFacetValues = 10_000
/** Characters of the params or feature values, as JSON, sent in one facet. */
export const maxFacetChars = 262_144
/** Datasets listed per side of an event; the rest are counted in `lineage_run`. */
export const maxDatasets = 1_000
/** Metric keys summarized in one `lineage_metrics` facet (the first in key order); the rest are counted. */
export const maxFacetMetrics = 1_000

/** `text` cut at `max` characters (then `…`), never between the halves of a surrogate pair. */
const cut = (text: string, max = maxTextChars): string => {
  if (text.length <= max) return text
  const end = /[\uD800-\uDBFF]/.test(text[max - 1]!) ? max - 1 : max
  return `${text.slice(0, end)}…`
}

/** `text` redacted, then cut: redacting a prefix twice as long first keeps a secret at the cut from showing half. */
const redactedText = (text: string, max: number): string => cut(Redaction.text(text.slice(0, 2 * max)), max)

// ---------------------------------------------------------------------------------------------------------
// Ids, producer, schemas

/**
 * The RFC 9562 name-based UUID (version 5, SHA-1) of `name` (as UTF-8) in `namespace`, a UUID in its text form.
 * A namespace that is no UUID is a programming error: it throws a `RangeError`.
 */
export const uuid5 = (namespace: string, name: string): string => {
  if (!uuidPattern.test(namespace)) throw new RangeError(`uuid5: namespace ${JSON.stringify(cut(namespace, 64))} is not a UUID`)
  const hash = createHash("sha1").update(Buffer.from(namespace.replaceAll("-", ""), "hex")).update(name, "utf8").digest()
  hash[6] = (hash[6]! & 0x0f) | 0x50
  hash[8] = (hash[8]! & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The namespace of every `runId`: `uuid5` of the URL `https://github.com/lineage-dev/lineage#run` in RFC 9562's
 * URL namespace (`6ba7b811-9dad-11d1-80b4-00c04fd430c8`). Fixed forever: changing it renames every run.
 */
export const runIdNamespace = "53333f45-ff81-54bf-9e28-0548170b1128"

/** A run's OpenLineage `runId`: `uuid5(runIdNamespace, uid)`, the same in every export and live emission. */
export const runId = (uid: string): string => uuid5(runIdNamespace, uid)

/** The schema every event follows. */
export const schemaURL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"

/**
 * The schema of lineage's custom facets, one `$defs` entry per facet (`LineageRunFacet`, …): the repository's
 * `docs/openlineage/LineageFacets.json`, at a URL no release tag is part of, so that events of every release
 * name one schema. That file only ever grows compatibly (see `docs/openlineage/README.md`).
 */
export const lineageFacetsSchema = "https://raw.githubusercontent.com/lineage-dev/lineage/main/docs/openlineage/LineageFacets.json"

const repository = "https://github.com/lineage-dev/lineage"

let version: string | undefined

/**
 * core's version, read once from its package.json: `../package.json` from this module in `src/` and from the
 * bundle in `dist/` alike. No network, and an unreadable manifest gives `unknown`, never an error.
 */
export const coreVersion = (): string => {
  if (version !== undefined) return version
  try {
    const manifest: unknown = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
    const found = Limits.isPlainObject(manifest) ? manifest["version"] : undefined
    version = typeof found === "string" && /^[0-9A-Za-z.+-]{1,64}$/.test(found) ? found : "unknown"
  } catch {
    version = "unknown"
  }
  return version
}

/** The `producer` of every event and facet: this package at its release tag in lineage's repository. */
export const producer = (): string => `${repository}/tree/@lineage/core@${coreVersion()}/packages/core`

const facet = <F extends object>(schema: string, fields: F): F & Facet => ({ _producer: producer(), _schemaURL: schema, ...fields })

const specFacet = (version: string, name: string) => `https://openlineage.io/spec/facets/${version}/${name}.json#/$defs/${name}`

const lineageFacet = (name: string) => `${lineageFacetsSchema}#/$defs/${name}`

// ---------------------------------------------------------------------------------------------------------
// Jobs

export const namespaceVariables = ["LINEAGE_OPENLINEAGE_NAMESPACE", "OPENLINEAGE_NAMESPACE"] as const
export const defaultNamespace = "default"

/**
 * The job namespace: `given` if it is a non-blank string, else `LINEAGE_OPENLINEAGE_NAMESPACE`, else
 * `OPENLINEAGE_NAMESPACE` (the reference client's), else `default`. A run's parent is named in the same one.
 */
export const namespace = (given?: string): string => {
  for (const candidate of [given, ...namespaceVariables.map((name) => process.env[name])])
    if (typeof candidate === "string" && candidate.trim() !== "") return cut(candidate)
  return defaultNamespace
}

/** What the key of a transform's entry script says it is written in; a function's source is JavaScript as it runs. */
const languages: ReadonlyArray<readonly [RegExp, string]> = [
  [/\.[cm]?tsx?$/i, "TypeScript"],
  [/\.[cm]?jsx?$/i, "JavaScript"],
  [/\.(?:py|ipynb)$/i, "Python"],
  [/\.r$/i, "R"],
  [/\.sql$/i, "SQL"],
  [/\.(?:sh|bash)$/i, "Shell"]
]

const languageOf = (transform: Records.Transform): string =>
  transform.kind === "function" ? "JavaScript" : (languages.find(([suffix]) => suffix.test(transform.key))?.[1] ?? "unknown")

/** A transform's job name: its key; a transform gone from the store is named by its id. */
const jobName = (transform: Records.Transform | undefined, id: number): string =>
  transform === undefined ? `transform/${id}` : cut(transform.key)

const jobFacetsOf = (transform: Records.Transform): JobFacets => ({
  jobType: facet(specFacet("2-0-2", "JobTypeJobFacet"), {
    processingType: "BATCH" as const,
    integration: "LINEAGE" as const,
    jobType: transform.kind.toUpperCase()
  }),
  ...(transform.sourceCode !== null && transform.sourceCode.length <= maxSourceChars
    ? { sourceCode: facet(specFacet("1-0-0", "SourceCodeJobFacet"), { language: languageOf(transform), sourceCode: transform.sourceCode }) }
    : {}),
  ...(transform.description !== null
    ? { documentation: facet(specFacet("1-0-1", "DocumentationJobFacet"), { description: cut(transform.description) }) }
    : {}),
  lineage_transform: facet(lineageFacet("LineageTransformJobFacet"), {
    uid: cut(transform.uid),
    version: cut(transform.versionTag ?? Versioning.suffix(transform.uid)),
    kind: transform.kind,
    ...(transform.hash !== null ? { hash: cut(transform.hash) } : {})
  })
})

const jobOf = (transform: Records.Transform | undefined, id: number, ns: string): Job => ({
  namespace: ns,
  name: jobName(transform, id),
  facets: transform === undefined ? {} : jobFacetsOf(transform)
})

// ---------------------------------------------------------------------------------------------------------
// Runs

/**
 * The events a status stands for, in order, of the run's latest attempt (see `isRestart`). Every attempt that
 * started has one `START` first (at `startedAt`); an ended one then its `COMPLETE`, `FAIL` or `ABORT` (at
 * `finishedAt`). A `scheduled` run has not started, and the spec has no event for that: none.
 */
export const lifecycle = (status: Records.RunStatus): ReadonlyArray<EventType> => {
  switch (status) {
    case "scheduled":
      return []
    case "started":
    case "restarted":
      return ["START"]
    case "completed":
      return ["START", "COMPLETE"]
    case "errored":
      return ["START", "FAIL"]
    case "aborted":
      return ["START", "ABORT"]
  }
}

/** The event a run's status has just become: the last of its `lifecycle`; none for `scheduled`. */
export const currentEventType = (status: Records.RunStatus): EventType | undefined => lifecycle(status).at(-1)

/**
 * How much later than its `createdAt` a run's `startedAt` may be on its first start: a run is written just
 * after it starts (`track()`, a `step`/`flow` call) or takes its start from the moment it is written.
 */
export const restartMarginMs = 1_000

/**
 * Whether `run`'s latest start is a restart (`track({ newRun: false })`), as far as the record tells: its
 * status is `restarted`, or it started more than `restartMarginMs` after it was created. A store keeps no other
 * trace of a restart once the run ends, so a restart within that margin of the run's creation reads as its
 * first start, and a run created `scheduled` and started later reads as a restart.
 */
export const isRestart = (run: Records.Run): boolean =>
  run.status === "restarted" || run.startedAt.getTime() - run.createdAt.getTime() > restartMarginMs

/** A date as RFC 3339 text, or undefined for an invalid date or one whose year takes more than four digits. */
const rfc3339 = (date: Date | null): string | undefined => {
  if (date === null) return undefined
  const year = date.getUTCFullYear()
  return Number.isNaN(year) || year < 0 || year > 9999 ? undefined : date.toISOString()
}

/** When a run's latest attempt started: its `startedAt`, else its `createdAt`, else the epoch. */
const startTime = (run: Records.Run): string => rfc3339(run.startedAt) ?? rfc3339(run.createdAt) ?? new Date(0).toISOString()

/** When a run's event happened: its start for `START`, else its end, never before its start. */
const eventTime = (run: Records.Run, type: EventType): string => {
  const started = startTime(run)
  if (type === "START") return started
  const finished = rfc3339(run.finishedAt) ?? rfc3339(run.updatedAt) ?? started
  return finished < started ? started : finished
}

/**
 * The `runId` of `run`'s latest attempt: `runId(uid)` for its first; a restart is an OpenLineage run of its own,
 * `uuid5(runIdNamespace, "<uid>@<start>")`, its start in RFC 3339 (`Date.toISOString`), so that each run has one
 * `START` and one terminal event as the spec asks.
 */
export const attemptRunId = (run: Records.Run, restart: boolean): string =>
  restart ? uuid5(runIdNamespace, `${run.uid}@${startTime(run)}`) : runId(run.uid)

/** A JSON object small enough to send in a facet, or undefined (nothing to send, or too much). */
const sendable = (value: unknown): { readonly [key: string]: unknown } | undefined => {
  if (!Limits.isPlainObject(value) || Object.keys(value).length === 0) return undefined
  const values = Limits.valuesOf(value)
  if (typeof values !== "number" || values > maxFacetValues) return undefined
  try {
    return JSON.stringify(value).length <= maxFacetChars ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * The `lineage_metrics` facet of a run's metric summary (`Run.metricSummary`): the first `maxFacetMetrics` keys in
 * key order whose entry is a summary (`MetricStorage.summaryOf`) and that `Metrics.log` takes as a key; the
 * others are left out and counted. Undefined when no key is sent.
 */
const metricsFacetOf = (metricSummary: unknown): LineageMetricsRunFacet | undefined => {
  const total = Limits.isPlainObject(metricSummary) ? Object.keys(metricSummary).length : 0
  const summary = MetricStorage.summaryOf(metricSummary)
  const keys = Object.keys(summary)
    .filter((key) => MetricBuffer.checkKey(key) === undefined)
    .sort()
    .slice(0, maxFacetMetrics)
  if (keys.length === 0) return undefined
  const omittedKeys = total - keys.length
  return facet(lineageFacet("LineageMetricsRunFacet"), {
    metrics: Object.fromEntries(keys.map((key) => [key, summary[key]!])),
    ...(omittedKeys > 0 ? { omittedKeys } : {})
  })
}

/** An `errorMessage` facet for what a failed run threw, redacted and cut; undefined if nothing can be read of it. */
const errorFacetOf = (error: unknown): ErrorMessageRunFacet | undefined => {
  try {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    const stack = error instanceof Error && typeof error.stack === "string" ? error.stack : undefined
    return facet(specFacet("1-0-0", "ErrorMessageRunFacet"), {
      message: redactedText(message, maxTextChars),
      programmingLanguage: "JavaScript",
      ...(stack !== undefined ? { stackTrace: redactedText(stack, maxStackChars) } : {})
    })
  } catch {
    // A getter or `toString` that throws: the failure is still told by the event type.
    return undefined
  }
}

const transformEntity = entity(Records.TransformModel, Records.Transform)
const runEntity = entity(Records.RunModel, Records.Run)

/** What a caller already holds of a run's surroundings: what it gives is not read from the store again. */
export interface Known {
  /** The run's transform. */
  readonly transform?: Records.Transform | undefined
  /** The run that initiated it. */
  readonly parent?: Records.Run | undefined
  /** The transform of the run that initiated it. */
  readonly parentTransform?: Records.Transform | undefined
}

/** The record `id` of `read`'s registry: `known` when it is that record, else as the store has it (undefined if gone). */
const recordOf = <A extends { readonly id: number }>(known: A | undefined, id: number, read: Entity<A>) =>
  known?.id === id ? Effect.succeed<A | undefined>(known) : Effect.flatMap(Store, (store) => Effect.map(store.get(read, [id]), ([found]) => found))

/** The `parent` facet of a run initiated by another, named in the same job namespace; none if that run is gone. */
const parentOf = (run: Records.Run, ns: string, known: Known) =>
  Effect.gen(function* () {
    if (run.initiatedByRunId === null) return undefined
    const parent = yield* recordOf(known.parent, run.initiatedByRunId, runEntity)
    if (parent === undefined) return undefined
    const transform = yield* recordOf(known.parentTransform, parent.transformId, transformEntity)
    return facet(specFacet("1-2-0", "ParentRunFacet"), {
      run: { runId: runId(parent.uid) },
      job: { namespace: ns, name: jobName(transform, parent.transformId) }
    })
  })

// ---------------------------------------------------------------------------------------------------------
// Datasets

/**
 * Where an artifact's bytes are, named as the spec's Naming.md names files: the local file
 * `file:///root/<uid><suffix>` is namespace `file`, name `/root/<uid><suffix>`; the object
 * `s3://bucket/prefix/<uid><suffix>` is namespace `s3://bucket`, name `prefix/<uid><suffix>` (gs:, hf:,
 * http(s): alike, the namespace being the scheme and authority). Each version of an artifact is its own file,
 * hence its own dataset; `lineage_artifact` holds its key. A record whose storage or file name no client of
 * this library could have written (see `ArtifactPaths`) is named by its uid: namespace `lineage`, name
 * `artifact/<uid>`.
 */
const locationOf = (artifact: Records.Artifact): { readonly namespace: string; readonly name: string } => {
  const byUid = { namespace: "lineage", name: `artifact/${cut(artifact.uid)}` }
  const file = ArtifactPaths.fileName(artifact, Records.ArtifactModel.uidLength)
  if (artifact.storage === null || file === undefined || ArtifactPaths.checkStorage(artifact.storage) !== undefined) return byUid
  try {
    const root = new URL(artifact.storage)
    const path = decodeURIComponent(root.pathname).replace(/\/+$/, "")
    if (root.protocol === "file:") return { namespace: "file", name: `${path}/${file}` }
    const prefix = path.replace(/^\/+/, "")
    return { namespace: `${root.protocol}//${root.host}`, name: prefix === "" ? file : `${prefix}/${file}` }
  } catch {
    // A percent sign that starts no escape.
    return byUid
  }
}

/** An artifact as a dataset (see `locationOf`), its version (tag, else uid suffix) in the `version` facet. */
export const datasetOf = (artifact: Records.Artifact): Dataset => {
  const datasetVersion = cut(artifact.versionTag ?? Versioning.suffix(artifact.uid))
  return {
    ...locationOf(artifact),
    facets: {
      version: facet(specFacet("1-0-0", "DatasetVersionDatasetFacet"), { datasetVersion }),
      ...(artifact.description !== null
        ? { documentation: facet(specFacet("1-0-0", "DocumentationDatasetFacet"), { description: cut(artifact.description) }) }
        : {}),
      lineage_artifact: facet(lineageFacet("LineageArtifactDatasetFacet"), {
        uid: cut(artifact.uid),
        version: datasetVersion,
        ...(artifact.key !== null ? { key: cut(artifact.key) } : {}),
        ...(artifact.hash !== null ? { hash: cut(artifact.hash) } : {}),
        ...(artifact.size !== null ? { size: artifact.size } : {}),
        ...(artifact.suffix !== "" ? { suffix: cut(artifact.suffix) } : {}),
        ...(artifact.kind !== null ? { kind: cut(artifact.kind) } : {})
      })
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Events of a run

export interface EventOptions {
  /** The job namespace; default `namespace()`. A blank one is taken as not given. */
  readonly namespace?: string | undefined
}

/** Datasets of one side of a run: at most `maxDatasets`, and how many more there are. */
interface Side {
  readonly datasets: ReadonlyArray<Dataset>
  readonly omitted: number
}

/**
 * At most `maxDatasets` of the artifacts `query` selects, by id, as datasets: one bounded query, and a count
 * only when it comes back full.
 */
const sideOf = (query: QuerySet<Records.Artifact>): Effect.Effect<Side, StoreError, Store> =>
  Effect.gen(function* () {
    const listed = yield* query.orderBy("id").limit(maxDatasets).all()
    const total = listed.length < maxDatasets ? listed.length : yield* query.count()
    return { datasets: listed.map(datasetOf), omitted: Math.max(0, total - listed.length) }
  }).pipe(
    // The queries are constants of this module: one that is invalid is a bug here, not a failure of the store.
    Effect.catchTag("InvalidQuery", (e) => Effect.die(e))
  )

/** What `run` read, and what it produced or recreated (as `Artifacts.inputs` and `Artifacts.outputs`, bounded). */
const datasetsOf = (run: Records.Run) =>
  Effect.all({
    inputs: sideOf(Artifact.filter({ inputOfRuns: run.id })),
    outputs: sideOf(Artifact.filter(Q.or({ run: run.id }, { recreatingRuns: run.id })))
  })

/** What every event of one attempt of a run shares, read once. */
interface Parts {
  readonly job: Job
  readonly runId: string
  readonly facets: Omit<RunFacets, "lineage_run" | "errorMessage">
  readonly lineageRun: LineageRunFacet
  /** The run's metric summary, sent on a terminal event only: a run that starts has logged nothing yet. */
  readonly metrics: LineageMetricsRunFacet | undefined
  /** The run's datasets, read for a terminal event only. */
  readonly sides: { readonly inputs: Side; readonly outputs: Side } | undefined
}

interface PartsOptions extends EventOptions, Known {
  readonly restart: boolean
  readonly withDatasets: boolean
}

const partsOf = (run: Records.Run, options: PartsOptions): Effect.Effect<Parts, StoreError, Store> =>
  Effect.gen(function* () {
    const ns = namespace(options.namespace)
    const transform = yield* recordOf(options.transform, run.transformId, transformEntity)
    const parent = yield* parentOf(run, ns, options)
    const params = sendable(run.params)
    const features = sendable(run.featureValues)
    return {
      job: jobOf(transform, run.transformId, ns),
      runId: attemptRunId(run, options.restart),
      facets: {
        ...(parent !== undefined ? { parent } : {}),
        ...(params !== undefined ? { lineage_params: facet(lineageFacet("LineageParamsRunFacet"), { params }) } : {}),
        ...(features !== undefined ? { lineage_features: facet(lineageFacet("LineageFeaturesRunFacet"), { values: features }) } : {})
      },
      lineageRun: facet(lineageFacet("LineageRunFacet"), {
        uid: cut(run.uid),
        ...(run.name !== null ? { name: cut(run.name) } : {}),
        ...(options.restart ? { restartOf: runId(run.uid) } : {})
      }),
      metrics: metricsFacetOf(run.metricSummary),
      sides: options.withDatasets ? yield* datasetsOf(run) : undefined
    }
  })

/**
 * One event; a terminal one lists the run's datasets and carries its metric summary, a `START` neither (a run
 * that starts has read and logged nothing yet).
 */
const assemble = (run: Records.Run, type: EventType, parts: Parts, error?: ErrorMessageRunFacet): RunEvent => {
  const sides = type === "START" ? undefined : parts.sides
  const metrics = type === "START" ? undefined : parts.metrics
  const lineageRun: LineageRunFacet = {
    ...parts.lineageRun,
    ...(sides !== undefined && sides.inputs.omitted > 0 ? { omittedInputs: sides.inputs.omitted } : {}),
    ...(sides !== undefined && sides.outputs.omitted > 0 ? { omittedOutputs: sides.outputs.omitted } : {})
  }
  return {
    eventType: type,
    eventTime: eventTime(run, type),
    producer: producer(),
    schemaURL,
    run: {
      runId: parts.runId,
      facets: {
        ...parts.facets,
        ...(metrics !== undefined ? { lineage_metrics: metrics } : {}),
        ...(error !== undefined ? { errorMessage: error } : {}),
        lineage_run: lineageRun
      }
    },
    job: parts.job,
    inputs: sides?.inputs.datasets ?? [],
    outputs: sides?.outputs.datasets ?? []
  }
}

/**
 * The events of a recorded run's latest attempt, in order (`lifecycle` of its status, `isRestart` telling
 * which attempt it is; none for a `scheduled` run): what a live emitter sent for that attempt. Its terminal
 * event carries the run's inputs and outputs as the store has them now.
 */
export const events = (run: Records.Run, options: EventOptions = {}): Effect.Effect<ReadonlyArray<RunEvent>, StoreError, Store> =>
  Effect.gen(function* () {
    const types = lifecycle(run.status)
    if (types.length === 0) return []
    const parts = yield* partsOf(run, { ...options, restart: isRestart(run), withDatasets: types.length > 1 })
    return types.map((type) => assemble(run, type, parts))
  })

export interface LiveEventOptions extends EventOptions, Known {
  /** What a failed run threw: the `errorMessage` facet of a `FAIL` event, redacted and cut. */
  readonly error?: unknown
  /** Whether the run's latest start was a restart; default `isRestart(run)`. A caller that restarted it knows. */
  readonly restart?: boolean | undefined
}

/**
 * The event `type` of `run` as it is now, a terminal one with the datasets it has now: what a live emitter sends
 * as the run changes. What `options` gives of the run's surroundings is not read again.
 */
export const event = (run: Records.Run, type: EventType, options: LiveEventOptions = {}): Effect.Effect<RunEvent, StoreError, Store> =>
  Effect.map(partsOf(run, { ...options, restart: options.restart ?? isRestart(run), withDatasets: type !== "START" }), (parts) =>
    assemble(run, type, parts, type === "FAIL" && options.error !== undefined ? errorFacetOf(options.error) : undefined)
  )
