/**
 * The read models the command line prints and the web viewer serves: runs, transforms, artifacts and
 * features as plain JSON (dates as ISO 8601 strings, no class instances), so a script, a terminal table and a
 * browser all read the same thing. Every listing is one bounded page (`maxLimit` rows at most), and every
 * string a record holds (keys, versions, names, units, params, feature values, descriptions, source code) is
 * bounded too, as are the keys of an object shown (`maxKeys`, the rest counted in `more`) and the records a
 * detail lists (`maxListed`, with how many in all), so no record however large makes a view large.
 */
import { constants } from "node:fs"
import { open } from "node:fs/promises"
import {
  Artifact,
  Artifacts,
  type Ast,
  DoesNotExist,
  Feature,
  FilterText,
  InvalidQuery,
  MultipleObjectsReturned,
  Q,
  type QuerySet,
  Records,
  type Registry,
  Run,
  showValue,
  Store,
  type StoreError,
  Tracking,
  Transform,
  Uid,
  Versioning
} from "@lineage/core"
import { Effect } from "effect"

type Json = Ast.Json
type JsonObject = { readonly [key: string]: Json }

// ---------------------------------------------------------------------------------------------------------
// Bounds

/** Rows of one page when no limit is given. */
export const defaultLimit = 50
/** Rows of one page at most. */
export const maxLimit = 1_000
/** Characters of one shown value (a param, a feature value, a field); longer ones end in `…`. */
export const maxValueChars = 200
/** Characters of a transform's source code shown. */
export const maxSourceChars = 20_000
/** Bytes of an environment artifact parsed and shown. */
export const maxEnvironmentBytes = 64 * 1024
/** Runs, versions, inputs and outputs listed in one detail view. */
export const maxListed = 100
/** Keys of one object shown (a run's params, its features); the rest are counted (`more`). */
export const maxKeys = 50
/** Param names, and feature names, a page of runs lists as varying; the rest are counted (`varying.more`). */
export const maxVarying = 50

/** `text` cut at `chars` characters (marked `…`), never between the halves of a surrogate pair. */
export const cut = (text: string, chars: number = maxValueChars): string => {
  if (text.length <= chars) return text
  const end = /[\uD800-\uDBFF]/.test(text[chars - 1]!) ? chars - 1 : chars
  return `${text.slice(0, end)}…`
}

/**
 * A value as a view holds it: scalars as they are (strings cut), dates as ISO strings, and an object or
 * array whose JSON fits `maxValueChars` as it is; a larger one becomes its JSON text, cut. Reading stops once
 * the text is full (`showValue`), so a huge value costs no more than a small one.
 */
export const bounded = (v: unknown): Json => {
  if (v === null || typeof v === "boolean") return v
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v)
  if (typeof v === "string") return cut(v)
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString()
  if (typeof v !== "object") return cut(String(v))
  const shown = showValue(v)
  return shown.length > maxValueChars ? shown : (JSON.parse(shown) as Json)
}

/** An object as a view shows it: its first `maxKeys` entries, keys and values bounded, and how many more it has. */
interface Shown {
  readonly shown: JsonObject
  readonly more: number
}

/**
 * The first `maxKeys` entries of a JSON object, keys cut like values and values bounded, and how many it has
 * beyond them; anything else (null, a list) is an empty object. Only the entries shown are copied.
 */
const boundedObject = (v: unknown): Shown => {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return { shown: {}, more: 0 }
  const keys = Object.keys(v)
  const entries = keys.slice(0, maxKeys).map((k) => [cut(k), bounded((v as { readonly [k: string]: unknown })[k])] as const)
  return { shown: Object.fromEntries(entries), more: keys.length - entries.length }
}

const iso = (d: Date): string => d.toISOString()
const isoOrNull = (d: Date | null): string | null => (d === null ? null : iso(d))

/** A record's own fields as JSON, bounded, but for those a view shows apart (`omit`). */
const fieldsOf = (record: object, model: { readonly fields: object }, omit: ReadonlyArray<string>): JsonObject =>
  Object.fromEntries(
    Object.keys(model.fields)
      .filter((name) => !omit.includes(name))
      .map((name) => [name, bounded((record as { readonly [k: string]: unknown })[name])])
  )

// ---------------------------------------------------------------------------------------------------------
// Shapes

export interface TransformRef {
  readonly uid: string
  readonly key: string
  readonly version: string
}

/** How many params and features an object has beyond the `maxKeys` it shows. */
export interface More {
  readonly params: number
  readonly features: number
}

export interface RunRow {
  readonly uid: string
  readonly transform: TransformRef
  readonly status: Records.RunStatus
  readonly startedAt: string
  readonly finishedAt: string | null
  /** From start to finish; null while the run has not finished. */
  readonly durationMs: number | null
  /** Its first `maxKeys` params (keys and values bounded); `more.params` counts the rest. */
  readonly params: JsonObject
  /** Its first `maxKeys` feature values; `more.features` counts the rest. */
  readonly features: JsonObject
  readonly more: More
}

export interface Varying {
  /** The param names whose shown values differ across a page's rows (missing counts as a value): the first `maxVarying`, sorted. */
  readonly params: ReadonlyArray<string>
  /** The same for feature names. */
  readonly features: ReadonlyArray<string>
  /** How many more names vary than are listed. */
  readonly more: More
}

export interface RunsPage {
  readonly rows: ReadonlyArray<RunRow>
  /** Runs matching the filter, on every page. */
  readonly total: number
  readonly varying: Varying
}

export interface ListOptions {
  /** Filter text in the query language's keyword form (see `FilterText`). */
  readonly filter?: string | ReadonlyArray<string> | undefined
  /** Order keys, comma-separated, `-` for descending (`-startedAt`); undefined for the listing's default, an empty key refused. */
  readonly order?: string | undefined
  readonly limit?: number | undefined
  readonly offset?: number | undefined
}

export interface ArtifactSummary {
  readonly uid: string
  readonly key: string | null
  readonly description: string | null
  readonly version: string
  readonly suffix: string
  readonly size: number | null
  readonly kind: string | null
  readonly createdAt: string
}

export interface Found {
  readonly kind: "run" | "transform" | "artifact"
  readonly uid: string
}

export interface TimelineEvent {
  readonly event: "created" | "started" | "heartbeat" | "finished"
  readonly at: string
  /** The status the run ended with, on `finished`. */
  readonly status?: Records.RunStatus
}

export interface Environment {
  readonly artifact: ArtifactSummary
  /** The parsed JSON, when the artifact is small and readable; else null, and `unavailable` says why. */
  readonly content: Json
  readonly unavailable?: string
}

export interface RunDetail {
  readonly kind: "run"
  readonly uid: string
  readonly row: RunRow
  readonly fields: JsonObject
  readonly transform: TransformRef & { readonly kind: string }
  /** As `row.params`; `row.more` counts what is not shown. */
  readonly params: JsonObject
  readonly features: JsonObject
  /** The first `maxListed` of each, by id; `counts` says how many there are in all. */
  readonly inputs: ReadonlyArray<ArtifactSummary>
  readonly outputs: ReadonlyArray<ArtifactSummary>
  readonly environment: Environment | null
  readonly report: ArtifactSummary | null
  readonly initiatedBy: RunRow | null
  readonly initiatedRuns: ReadonlyArray<RunRow>
  readonly counts: { readonly inputs: number; readonly outputs: number; readonly initiatedRuns: number }
  readonly timeline: ReadonlyArray<TimelineEvent>
}

export interface SourceCode {
  readonly text: string
  readonly truncated: boolean
  readonly chars: number
}

export interface TransformVersion {
  readonly uid: string
  readonly version: string
  readonly isLatest: boolean
  readonly createdAt: string
}

export interface TransformDetail {
  readonly kind: "transform"
  readonly uid: string
  readonly ref: TransformRef
  readonly fields: JsonObject
  readonly sourceCode: SourceCode | null
  /** The newest `maxListed` versions of the same key, oldest of them first. */
  readonly versions: ReadonlyArray<TransformVersion>
  /** Versions of the key in all. */
  readonly versionCount: number
  /** Its most recent runs, newest first. */
  readonly runs: ReadonlyArray<RunRow>
  readonly runCount: number
}

export interface ArtifactDetail {
  readonly kind: "artifact"
  readonly uid: string
  readonly summary: ArtifactSummary
  readonly fields: JsonObject
  /** Its first `maxKeys` feature values; `moreFeatures` counts the rest. */
  readonly features: JsonObject
  readonly moreFeatures: number
  /** The run that produced it, if any. */
  readonly run: RunRow | null
  /** The first `maxListed` runs that read it, by id. */
  readonly readBy: ReadonlyArray<RunRow>
  /** Runs that read it, in all. */
  readonly readByCount: number
}

export interface TransformRow {
  readonly uid: string
  readonly key: string
  readonly version: string
  readonly kind: string
  readonly isLatest: boolean
  readonly createdAt: string
  readonly description: string | null
  readonly runCount: number
  readonly lastRun: { readonly uid: string; readonly status: Records.RunStatus; readonly startedAt: string } | null
}

export interface FeatureRow {
  readonly uid: string
  readonly name: string
  readonly dtype: string
  readonly unit: string | null
  readonly description: string | null
  readonly createdAt: string
}

export interface Page<Row> {
  readonly rows: ReadonlyArray<Row>
  readonly total: number
}

export type ViewError = InvalidQuery | StoreError

// ---------------------------------------------------------------------------------------------------------
// Pages

/** A listing's limit (default `defaultLimit`, at most `maxLimit`) and offset, checked: InvalidQuery names the one refused. */
export const pageBounds = (
  registry: string,
  options: Pick<ListOptions, "limit" | "offset">
): Effect.Effect<{ readonly limit: number; readonly offset: number }, InvalidQuery> => {
  const limit = options.limit ?? defaultLimit
  const offset = options.offset ?? 0
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxLimit)
    return Effect.fail(new InvalidQuery({ registry, field: "limit", value: limit, expected: `an integer from 1 to ${maxLimit}` }))
  if (!Number.isSafeInteger(offset) || offset < 0)
    return Effect.fail(new InvalidQuery({ registry, field: "offset", value: offset, expected: "a non-negative integer" }))
  return Effect.succeed({ limit, offset })
}

const expectedOrder = "order keys, comma-separated, '-' for descending (-startedAt,uid), none of them empty; leave the order out for the default"

/** `-startedAt, uid` → `["-startedAt", "uid"]`; `fallback` when no order is given; an empty key (`""`, `a,,b`) refused. */
const orderOf = (registry: string, order: string | undefined, fallback: string): Effect.Effect<ReadonlyArray<string>, InvalidQuery> => {
  const keys = (order ?? fallback).split(",").map((k) => k.trim())
  return keys.includes("")
    ? Effect.fail(new InvalidQuery({ registry, field: "order", value: order, expected: expectedOrder }))
    : Effect.succeed(keys)
}

/** One page of a registry's records: filtered by text, ordered, bounded; and how many match in all. */
const pageOf = <A extends Registry.Base>(
  qs: QuerySet<A>,
  options: ListOptions,
  defaultOrder: string
): Effect.Effect<{ readonly rows: ReadonlyArray<A>; readonly total: number }, ViewError, Store.Store> =>
  Effect.gen(function* () {
    const model = qs.entity.model
    const { limit, offset } = yield* pageBounds(model.name, options)
    const order = yield* orderOf(model.name, options.order, defaultOrder)
    const filtered = options.filter === undefined ? qs : qs.filter(yield* FilterText.parse(model, options.filter))
    const rows = yield* filtered
      .orderBy(...order)
      .limit(limit)
      .offset(offset)
      .all()
    const total = offset === 0 && rows.length < limit ? rows.length : yield* filtered.count()
    return { rows, total }
  })

// ---------------------------------------------------------------------------------------------------------
// Runs

const transformRef = (t: Records.Transform): TransformRef => ({ uid: t.uid, key: cut(t.key), version: cut(t.version) })

/** The transforms of these runs, read in one go. */
const transformsOf = (runs: ReadonlyArray<Records.Run>) =>
  Effect.map(
    Store.Store.use((store) => store.get(Transform.entity, [...new Set(runs.map((r) => r.transformId))])),
    (ts) => new Map(ts.map((t) => [t.id, t]))
  )

const missingTransform: TransformRef = { uid: "", key: "(missing transform)", version: "" }

const rowOf = (run: Records.Run, transform: Records.Transform | undefined): RunRow => {
  const params = boundedObject(run.params)
  const features = boundedObject(run.featureValues)
  return {
    uid: run.uid,
    transform: transform === undefined ? missingTransform : transformRef(transform),
    status: run.status,
    startedAt: iso(run.startedAt),
    finishedAt: isoOrNull(run.finishedAt),
    durationMs: run.finishedAt === null ? null : run.finishedAt.getTime() - run.startedAt.getTime(),
    params: params.shown,
    features: features.shown,
    more: { params: params.more, features: features.more }
  }
}

/** Runs as rows, their transforms read once for all. */
export const rowsOf = (runs: ReadonlyArray<Records.Run>): Effect.Effect<ReadonlyArray<RunRow>, StoreError, Store.Store> =>
  Effect.map(transformsOf(runs), (byId) => runs.map((r) => rowOf(r, byId.get(r.transformId))))

/**
 * The keys of `pick(row)` whose values are not the same in every row (a key missing from a row differs), sorted,
 * in one pass over the rows: each key's first value and how many rows hold it.
 */
const varyingKeys = (rows: ReadonlyArray<RunRow>, pick: (row: RunRow) => JsonObject): ReadonlyArray<string> => {
  const seen = new Map<string, { readonly first: string; rows: number; differs: boolean }>()
  for (const row of rows) {
    for (const [key, value] of Object.entries(pick(row))) {
      const text = JSON.stringify(value)
      const entry = seen.get(key)
      if (entry === undefined) seen.set(key, { first: text, rows: 1, differs: false })
      else {
        entry.rows++
        entry.differs ||= entry.first !== text
      }
    }
  }
  return [...seen].filter(([, e]) => e.differs || e.rows < rows.length).map(([key]) => key).sort()
}

const varyingOf = (rows: ReadonlyArray<RunRow>): Varying => {
  const params = varyingKeys(rows, (r) => r.params)
  const features = varyingKeys(rows, (r) => r.features)
  return {
    params: params.slice(0, maxVarying),
    features: features.slice(0, maxVarying),
    more: { params: Math.max(0, params.length - maxVarying), features: Math.max(0, features.length - maxVarying) }
  }
}

const runsPage = (rows: ReadonlyArray<RunRow>, total: number): RunsPage => ({ rows, total, varying: varyingOf(rows) })

/** A page of runs, newest first unless ordered otherwise. */
export const runs = (options: ListOptions = {}): Effect.Effect<RunsPage, ViewError, Store.Store> =>
  Effect.gen(function* () {
    const page = yield* pageOf(Run.filter(), options, "-startedAt")
    return runsPage(yield* rowsOf(page.rows), page.total)
  })

/** Started runs whose heartbeat stopped (see `Tracking.stale`): a page of them, oldest heartbeat first. */
export const stale = (
  options: ListOptions & { readonly olderThanMs?: number | undefined } = {}
): Effect.Effect<RunsPage, ViewError, Store.Store> =>
  Effect.gen(function* () {
    const qs = Tracking.stale(options.olderThanMs === undefined ? {} : { olderThanMs: options.olderThanMs })
    const page = yield* pageOf(qs, options, "lastHeartbeatAt")
    return runsPage(yield* rowsOf(page.rows), page.total)
  })

// ---------------------------------------------------------------------------------------------------------
// Finding a record by uid or prefix

/** A registry a uid may name, as a prefix search needs it. */
interface Searchable {
  readonly kind: Found["kind"]
  readonly uidLength: number
  /** The candidates a prefix names: a versioned family's stem names its latest version, as `Registry.get` reads it. */
  readonly candidates: (prefix: string) => Effect.Effect<ReadonlyArray<Found>, ViewError, Store.Store>
  readonly count: (prefix: string) => Effect.Effect<number, ViewError, Store.Store>
}

/** Candidates an ambiguous prefix's error lists. */
const maxCandidates = 5

/**
 * A registry as a prefix search reads it. In a versioned registry a prefix no longer than a stem names
 * families (see `Versioning.namesFamily`): one family is its latest version, as `Registry.get` reads it;
 * two or more are ambiguous, each named by its latest version.
 */
const searchable = <N extends Records.RegistryName>(kind: Found["kind"], registry: Registry.Registry<N>): Searchable => {
  const model = registry.model
  // Untyped (`QuerySet<A>`): the same uid keys serve every registry searched.
  const matching = (prefix: string): QuerySet<Records.RecordOf<N>> => registry.filter(Q.where("uid", "startsWith", prefix))
  const found = (rows: ReadonlyArray<Records.RecordOf<N>>) => rows.map((r) => ({ kind, uid: r.uid }))
  const latestOf = (stem: string) =>
    registry.get(stem).pipe(
      Effect.map((r) => found([r])),
      Effect.catchTags({ DoesNotExist: () => Effect.succeed([]), MultipleObjectsReturned: () => Effect.succeed([]) })
    )
  return {
    kind,
    uidLength: model.uidLength,
    candidates: (prefix) =>
      Effect.gen(function* () {
        if (prefix.length > model.uidLength) return []
        if (!Versioning.namesFamily(model, prefix)) return found(yield* matching(prefix).orderBy("uid").limit(maxCandidates + 1).all())
        const first = yield* matching(prefix).orderBy("uid").first()
        if (first === undefined) return []
        const stem = Versioning.stem(first.uid)
        const other = yield* matching(prefix).filter(Q.not({ uid: { startsWith: stem } })).orderBy("uid").first()
        const families = other === undefined ? [stem] : [stem, Versioning.stem(other.uid)]
        return (yield* Effect.forEach(families, latestOf)).flat()
      }),
    count: (prefix) => (prefix.length > model.uidLength ? Effect.succeed(0) : matching(prefix).count())
  }
}

/** The registries a uid names, in the order a prefix is looked up. */
const named: ReadonlyArray<Searchable> = [
  searchable("run", Run),
  searchable("transform", Transform),
  searchable("artifact", Artifact)
]

const searched = "Run/Transform/Artifact"
const longestUid = Math.max(...named.map((n) => n.uidLength))

const shownPrefix = (prefix: string) => `uid prefix '${prefix}'`

/**
 * The run, transform or artifact a uid or uid prefix names, searched in all three registries (the trash
 * included, as any lookup by uid). A prefix matching several records is `MultipleObjectsReturned` naming
 * the first candidates; a text that cannot be a uid prefix is `InvalidQuery`.
 */
export const find = (
  uidOrPrefix: string
): Effect.Effect<Found, DoesNotExist | MultipleObjectsReturned | InvalidQuery | StoreError, Store.Store> =>
  Effect.gen(function* () {
    const prefix = uidOrPrefix.trim()
    if (prefix.length === 0 || prefix.length > longestUid || !Uid.isBase62(prefix))
      return yield* new InvalidQuery({
        registry: searched,
        field: "uid",
        value: uidOrPrefix,
        expected: `a uid or uid prefix: 1 to ${longestUid} base62 characters (0-9A-Za-z)`
      })
    const found = (yield* Effect.forEach(named, (entry) => entry.candidates(prefix))).flat()
    const [only] = found
    if (only === undefined) return yield* new DoesNotExist({ registry: searched, query: shownPrefix(prefix) })
    if (found.length === 1) return only
    const listed = found.slice(0, maxCandidates).map((c) => `${c.kind} ${c.uid}`)
    const counts = yield* Effect.forEach(named, (entry) => entry.count(prefix))
    const count = Math.max(found.length, counts.reduce((a, b) => a + b, 0))
    return yield* new MultipleObjectsReturned({
      registry: searched,
      query: `${shownPrefix(prefix)} (${listed.join(", ")}${count > listed.length ? ", …" : ""}); give more characters`,
      count
    })
  })

// ---------------------------------------------------------------------------------------------------------
// Details

const cutOrNull = (text: string | null): string | null => (text === null ? null : cut(text))

export const artifactSummary = (a: Records.Artifact): ArtifactSummary => ({
  uid: a.uid,
  key: cutOrNull(a.key),
  description: cutOrNull(a.description),
  version: cut(a.version),
  suffix: cut(a.suffix),
  size: a.size,
  kind: cutOrNull(a.kind),
  createdAt: iso(a.createdAt)
})

const artifactById = (id: number | null) =>
  id === null
    ? Effect.succeed(undefined)
    : Effect.map(Store.Store.use((store) => store.get(Artifact.entity, [id])), (rows) => rows[0])

const tooLarge = `larger than ${maxEnvironmentBytes} bytes`

/**
 * At most `maxEnvironmentBytes + 1` bytes of `file`, opened without following a symlink (as `Artifacts.load`
 * opens it): enough to tell a file too large to show, whatever its size, without reading it whole.
 */
const readHead = (file: string) =>
  Effect.tryPromise({
    try: async () => {
      const handle = await open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0))
      try {
        const buffer = new Uint8Array(maxEnvironmentBytes + 1)
        let length = 0
        for (;;) {
          const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
          length += bytesRead
          if (bytesRead === 0 || length === buffer.length) return buffer.subarray(0, length)
        }
      } finally {
        await handle.close()
      }
    },
    catch: (e) => new Error(`unreadable: ${e instanceof Error ? e.message : String(e)}`)
  })

/** The bytes' JSON, if they are the artifact's (the size and hash recorded) and small enough to show. */
const environmentJson = (artifact: Records.Artifact, bytes: Uint8Array): Effect.Effect<Json, Error> => {
  if (bytes.length > maxEnvironmentBytes) return Effect.fail(new Error(tooLarge))
  if ((artifact.size !== null && bytes.length !== artifact.size) || artifact.hash !== Artifacts.hashBytes(bytes))
    return Effect.fail(new Error("its bytes are not those recorded"))
  return Effect.try({ try: () => JSON.parse(new TextDecoder().decode(bytes)) as Json, catch: () => new Error("not JSON") })
}

/**
 * The environment artifact and, when small and readable, its JSON; a read that fails says why instead. The
 * file is read no further than `maxEnvironmentBytes` (and one byte to tell a larger one), its size unknown or not.
 */
const environmentOf = (artifact: Records.Artifact): Effect.Effect<Environment, never, Store.Store> => {
  const summary = artifactSummary(artifact)
  if (artifact.size !== null && artifact.size > maxEnvironmentBytes) return Effect.succeed({ artifact: summary, content: null, unavailable: tooLarge })
  return Artifacts.localPath(artifact).pipe(
    Effect.flatMap(readHead),
    Effect.flatMap((bytes) => environmentJson(artifact, bytes)),
    Effect.map((content): Environment => ({ artifact: summary, content })),
    Effect.catch((e) => Effect.succeed({ artifact: summary, content: null, unavailable: cut(e.message) }))
  )
}

const timelineOf = (run: Records.Run): ReadonlyArray<TimelineEvent> => [
  { event: "created", at: iso(run.createdAt) },
  { event: "started", at: iso(run.startedAt) },
  ...(run.lastHeartbeatAt === null ? [] : [{ event: "heartbeat" as const, at: iso(run.lastHeartbeatAt) }]),
  ...(run.finishedAt === null ? [] : [{ event: "finished" as const, at: iso(run.finishedAt), status: run.status }])
]

/**
 * The first `maxListed` records a query set selects, by id (trashed ones left out, as in every default query),
 * and how many it selects: counted by the store only when there are more than it listed.
 */
const listed = <A extends Registry.Base>(qs: QuerySet<A>) =>
  Effect.gen(function* () {
    const rows = yield* qs.orderBy("id").limit(maxListed).all()
    return { rows, count: rows.length < maxListed ? rows.length : yield* qs.count() }
  })

/** A run's inputs, outputs (produced or recreated) and the runs it initiated, as `Artifacts` defines them, listed. */
const relatedTo = (record: Records.Run) =>
  Effect.all({
    inputs: listed(Artifact.filter({ inputOfRuns: record.id })),
    outputs: listed(Artifact.filter(Q.or({ run: record.id }, { recreatingRuns: record.id }))),
    initiated: listed(Run.filter({ initiatedByRun: record.id }))
  })

/**
 * A run: its fields, transform, params, features, inputs and outputs, environment, report, the runs around it.
 * The environment's content is read from the storage root in context (`Artifacts.ArtifactStorage`); when it
 * cannot be read there, `environment.unavailable` says why.
 */
export const run = (uid: string): Effect.Effect<RunDetail, Registry.GetError, Store.Store> =>
  Effect.gen(function* () {
    const record = yield* Run.get(uid)
    const transform = (yield* transformsOf([record])).get(record.transformId)
    const initiator = record.initiatedByRunId === null ? undefined : (yield* Run.filter({ id: record.initiatedByRunId }).all())[0]
    const environment = yield* artifactById(record.environmentId)
    const report = yield* artifactById(record.reportId)
    const related = yield* relatedTo(record)
    const [row] = yield* rowsOf([record])
    return {
      kind: "run",
      uid: record.uid,
      row: row!,
      fields: fieldsOf(record, Records.RunModel, ["params", "featureValues"]),
      transform: { ...(transform === undefined ? missingTransform : transformRef(transform)), kind: cut(transform?.kind ?? "") },
      params: row!.params,
      features: row!.features,
      inputs: related.inputs.rows.map(artifactSummary),
      outputs: related.outputs.rows.map(artifactSummary),
      environment: environment === undefined ? null : yield* environmentOf(environment),
      report: report === undefined ? null : artifactSummary(report),
      initiatedBy: initiator === undefined ? null : (yield* rowsOf([initiator]))[0]!,
      initiatedRuns: yield* rowsOf(related.initiated.rows),
      counts: { inputs: related.inputs.count, outputs: related.outputs.count, initiatedRuns: related.initiated.count },
      timeline: timelineOf(record)
    } satisfies RunDetail
  })

const sourceOf = (text: string | null): SourceCode | null =>
  text === null ? null : { text: cut(text, maxSourceChars), truncated: text.length > maxSourceChars, chars: text.length }

/** A transform: its fields, source code (bounded), the newest versions of its key, and its recent runs. */
export const transform = (uid: string): Effect.Effect<TransformDetail, Registry.GetError, Store.Store> =>
  Effect.gen(function* () {
    const record = yield* Transform.get(uid)
    const family = Transform.filter({ uid: { startsWith: Versioning.stem(record.uid) } })
    const newest = yield* family.orderBy("-createdAt", "-id").limit(maxListed).all()
    const own = Run.filter({ transformId: record.id })
    const recent = yield* own.orderBy("-startedAt").limit(20).all()
    return {
      kind: "transform",
      uid: record.uid,
      ref: transformRef(record),
      fields: fieldsOf(record, Records.TransformModel, ["sourceCode"]),
      sourceCode: sourceOf(record.sourceCode),
      versions: [...newest].reverse().map((v) => ({ uid: v.uid, version: cut(v.version), isLatest: v.isLatest, createdAt: iso(v.createdAt) })),
      versionCount: newest.length < maxListed ? newest.length : yield* family.count(),
      runs: yield* rowsOf(recent),
      runCount: yield* own.count()
    } satisfies TransformDetail
  })

/** An artifact: its fields, features, the run that produced it and the runs that read it. */
export const artifact = (uid: string): Effect.Effect<ArtifactDetail, Registry.GetError, Store.Store> =>
  Effect.gen(function* () {
    const record = yield* Artifact.get(uid)
    const producer = yield* Artifacts.producer(record)
    const readers = yield* listed(Run.filter({ inputArtifacts: record.id }))
    const rows = yield* rowsOf(producer === undefined ? readers.rows : [producer, ...readers.rows])
    const features = boundedObject(record.featureValues)
    return {
      kind: "artifact",
      uid: record.uid,
      summary: artifactSummary(record),
      fields: fieldsOf(record, Records.ArtifactModel, ["featureValues"]),
      features: features.shown,
      moreFeatures: features.more,
      run: producer === undefined ? null : rows[0]!,
      readBy: producer === undefined ? rows : rows.slice(1),
      readByCount: readers.count
    } satisfies ArtifactDetail
  })

// ---------------------------------------------------------------------------------------------------------
// Transforms and features

const transformRow = (t: Records.Transform) =>
  Effect.gen(function* () {
    const own = Run.filter({ transformId: t.id })
    const last = yield* own.orderBy("-startedAt").first()
    return {
      uid: t.uid,
      key: cut(t.key),
      version: cut(t.version),
      kind: cut(t.kind),
      isLatest: t.isLatest,
      createdAt: iso(t.createdAt),
      description: cutOrNull(t.description),
      runCount: yield* own.count(),
      lastRun: last === undefined ? null : { uid: last.uid, status: last.status, startedAt: iso(last.startedAt) }
    } satisfies TransformRow
  })

/** A page of transforms, by key then version unless ordered otherwise, each with its run count and last run. */
export const transforms = (options: ListOptions = {}): Effect.Effect<Page<TransformRow>, ViewError, Store.Store> =>
  Effect.gen(function* () {
    const page = yield* pageOf(Transform.filter(), options, "key,createdAt")
    return { rows: yield* Effect.forEach(page.rows, transformRow, { concurrency: 4 }), total: page.total }
  })

/** A page of features, by name unless ordered otherwise. */
export const features = (options: ListOptions = {}): Effect.Effect<Page<FeatureRow>, ViewError, Store.Store> =>
  Effect.gen(function* () {
    const page = yield* pageOf(Feature.filter(), options, "name")
    return {
      rows: page.rows.map((f) => ({
        uid: f.uid,
        name: cut(f.name),
        dtype: cut(f.dtype),
        unit: cutOrNull(f.unit),
        description: cutOrNull(f.description),
        createdAt: iso(f.createdAt)
      })),
      total: page.total
    }
  })
