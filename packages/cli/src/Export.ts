/**
 * `lineage export`: the runs a filter selects, streamed page by page, with what they reference, as records
 * another tool (or another store) can read back:
 *
 * - `ndjson`: one entry per line, `{"registry": "Transform" | "Artifact" | "Run", "record": {...}}`, every field
 *   of the record as stored (dates as ISO 8601 strings); a run's entry also lists the uids of the artifacts it
 *   read (`inputArtifacts`). Each transform and artifact comes once, before the first run that references
 *   it (its transform, environment, report and inputs); a run's outputs come right after it. Runs come
 *   oldest first.
 * - `json`: the same entries in one document, `{"format": "lineage-export", "version": 1, "records": [...]}`.
 * - `openlineage`: the OpenLineage run events of each run (`OpenLineage.events`), one per line.
 *
 * Memory stays bounded by one page of runs, one entry being written and the set of ids already written,
 * whatever the export's size: `write` waits while its reader is behind (see `Output`), and a `write` that fails
 * (the reader went away) stops the export there. JSON text goes through `Output.jsonText`, so no control
 * character reaches the output raw. On a terminal, standard error shows how many runs are done (core's
 * `Progress` meter).
 *
 * A failure part way (the store, a closed reader) leaves what was written before it: the output is whole only
 * when the export succeeds.
 */
import {
  Artifact,
  Artifacts,
  type Ast,
  FilterText,
  type InvalidQuery,
  OpenLineage,
  Progress,
  type QuerySet,
  type Records,
  Run,
  Store,
  type StoreError,
  Transform
} from "@lineage/core"
import { Effect, Stream } from "effect"
import { jsonText } from "./Output.js"

export const formats = ["json", "ndjson", "openlineage"] as const
export type Format = (typeof formats)[number]

export interface ExportOptions<E = never> {
  readonly format: Format
  readonly filter?: string | ReadonlyArray<string> | undefined
  /** The OpenLineage job namespace (`openlineage` only). */
  readonly namespace?: string | undefined
  /** Writes one chunk of output, waiting while the reader is behind; a failure stops the export. */
  readonly write: (text: string) => Effect.Effect<void, E>
  /** Where progress goes: drawn only when it is a terminal. */
  readonly progress: Progress.ProgressOutput
}

/** Runs read from the store at a time. */
const pageSize = 200

type Entry = { readonly registry: "Transform" | "Artifact" | "Run"; readonly record: { readonly [k: string]: Ast.Json }; readonly inputArtifacts?: ReadonlyArray<string> }

/** A record's own fields as stored: the encoded document without the fields stores derive from it. */
const stored = <A>(entity: Store.Entity<A>, record: A): { readonly [k: string]: Ast.Json } => {
  const doc = entity.encode(record)
  return Object.fromEntries(Object.keys(entity.model.fields).map((name) => [name, (doc[name] ?? null) as Ast.Json]))
}

/** Runs, as the progress meter counts them: any number of them is worth a meter. */
const runsUnit: Progress.Unit = { minTotal: 1, show: (total) => `${total} runs` }

/** The entries of one run, each transform and artifact once across the export (`written` holds what was). */
const entriesOf = (run: Records.Run, written: Set<string>) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const entries: Array<Entry> = []
    const once = (key: string) => !written.has(key) && Boolean(written.add(key))
    if (once(`transform:${run.transformId}`)) {
      const [transform] = yield* store.get(Transform.entity, [run.transformId])
      if (transform !== undefined) entries.push({ registry: "Transform", record: stored(Transform.entity, transform) })
    }
    const artifact = (a: Records.Artifact): ReadonlyArray<Entry> =>
      once(`artifact:${a.id}`) ? [{ registry: "Artifact", record: stored(Artifact.entity, a) }] : []
    const inputs = yield* Artifacts.inputs(run)
    const recorded = run.environmentId === null && run.reportId === null ? [] : yield* store.get(Artifact.entity, [run.environmentId, run.reportId].filter((id) => id !== null))
    entries.push(...recorded.flatMap(artifact), ...inputs.flatMap(artifact))
    entries.push({ registry: "Run", record: stored(Run.entity, run), inputArtifacts: inputs.map((a) => a.uid) })
    entries.push(...(yield* Artifacts.outputs(run)).flatMap(artifact))
    return entries
  })

/** Writes the export of the runs `options.filter` selects, and returns how many runs it wrote. */
export const write = <E>(options: ExportOptions<E>): Effect.Effect<number, E | InvalidQuery | StoreError, Store.Store> =>
  Effect.gen(function* () {
    // Untyped: a filter parsed from text is only checked when it runs.
    const unfiltered: QuerySet<Records.Run> = Run.filter()
    const selected = options.filter === undefined ? unfiltered : unfiltered.filter(yield* FilterText.parse(Run.model, options.filter))
    const runs = selected.orderBy("startedAt")
    const progress = Progress.meter(options.progress, "exporting runs", yield* runs.count(), runsUnit)
    const written = new Set<string>()
    let first = true
    const emit = (entry: unknown) =>
      Effect.suspend(() => {
        const json = jsonText(entry)
        if (options.format !== "json") return options.write(`${json}\n`)
        const text = `${first ? "" : ",\n"}${json}`
        first = false
        return options.write(text)
      })
    if (options.format === "json") yield* options.write('{"format":"lineage-export","version":1,"records":[\n')
    let count = 0
    yield* Stream.runForEach(runs.stream(pageSize), (run) =>
      Effect.gen(function* () {
        const entries =
          options.format === "openlineage"
            ? yield* OpenLineage.events(run, options.namespace === undefined ? {} : { namespace: options.namespace })
            : yield* entriesOf(run, written)
        for (const entry of entries) yield* emit(entry)
        count++
        progress.advance(1)
      })
    ).pipe(Effect.ensuring(Effect.sync(progress.finish)))
    if (options.format === "json") yield* options.write("\n]}\n")
    return count
  })
