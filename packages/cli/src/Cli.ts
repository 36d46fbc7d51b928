/**
 * The `lineage` command tree: `runs`, `show`, `graph`, `stale`, `transforms`, `features`, `metrics`, `export`,
 * `ui` and `types`, built with Effect's CLI module (`effect/cli`), so flags are typed and `--help` is generated for every
 * command. Every command reads the store chosen as `Lineage.connect` chooses it (`--store URL`, else
 * `LINEAGE_STORE`, else the default SQLite file; see `Connection`), prints tables to a person and JSON to a
 * script (`--json`), and ends with a documented exit code (see `Failure`).
 */
import { spawn } from "node:child_process"
import { Artifact, FeatureTypes, LineageGraph, Run } from "@lineage/core"
import { Config, Effect, Option } from "effect"
import { Argument, Command, Flag, GlobalFlag } from "effect/cli"
import * as Connection from "./Connection.js"
import * as Export from "./Export.js"
import { exitCodesHelp, UsageError } from "./Failure.js"
import * as GraphSvg from "./GraphSvg.js"
import * as Metrics from "./Metrics.js"
import { print, printJson, stdout } from "./Output.js"
import * as Render from "./Render.js"
import * as Table from "./Table.js"
import * as Types from "./Types.js"
import * as Viewer from "./Viewer.js"
import * as Views from "./Views.js"

// ---------------------------------------------------------------------------------------------------------
// Output (written through `Output`: backpressure, a reader that goes away, JSON escaped for terminals)

/** How standard output is styled: colour and width only on a terminal, never with `NO_COLOR`. */
const stdoutStyle = () => Table.styleFor(process.stdout)

/** A page of a listing: its table (none when empty) and the line saying what part of how many it is. */
const printPage = <Row>(page: { readonly rows: ReadonlyArray<Row>; readonly total: number }, offset: number, noun: string, table: (rows: ReadonlyArray<Row>, style: Table.Style) => string) => {
  const footer = Render.pageFooter(page.rows.length, page.total, offset, noun)
  return print(page.rows.length === 0 ? footer : `${table(page.rows, stdoutStyle())}
${footer}`)
}

// ---------------------------------------------------------------------------------------------------------
// Flags

/** `--store URL`, on every command: the store to read, as `Lineage.connect(url)` takes it. */
export const StoreUrl = GlobalFlag.Setting("store")({
  flag: Flag.String("store").pipe(
    Flag.optional,
    Flag.withMetavar("URL"),
    Flag.withDescription(
      "The store to read: sqlite:PATH, postgres://…, redis://…, mongodb://…, memory: (default: LINEAGE_STORE, else sqlite:./.lineage/lineage.db)"
    )
  )
})

/** Runs `effect` on the store `--store` (or the environment) names. */
const withStore = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const url = yield* StoreUrl
    return yield* Connection.provide(Option.getOrUndefined(url))(effect)
  })

const json = Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription("Print JSON (for scripts) instead of a table"))

const filter = Flag.String("filter").pipe(
  Flag.atLeast(0),
  Flag.withAlias("f"),
  Flag.withMetavar("KEY=VALUE"),
  Flag.withDescription(
    "A filter term in the query language's keyword form (status=errored, transform__key__startswith=train, learning_rate__gt=0.01); repeat to AND several"
  )
)

const order = (fallback: string) =>
  Flag.String("order").pipe(
    Flag.optional,
    Flag.withMetavar("KEYS"),
    Flag.withDescription(`Order keys, comma-separated, '-' for descending (default ${fallback}; an empty key is refused)`)
  )

const limit = Flag.Int("limit").pipe(Flag.withDefault(Views.defaultLimit), Flag.withAlias("n"), Flag.withDescription(`Rows to show, 1 to ${Views.maxLimit}`))

const offset = Flag.Int("offset").pipe(Flag.withDefault(0), Flag.withDescription("Rows to skip"))

const listing = (defaultOrder: string) => ({ filter, order: order(defaultOrder), limit, offset, json })

/** Listing flags as `Views` takes them, the page bounds checked first: bad usage is told before a store is opened. */
const listOptions = (
  registry: string,
  flags: { readonly filter: ReadonlyArray<string>; readonly order: Option.Option<string>; readonly limit: number; readonly offset: number }
) =>
  Effect.as(Views.pageBounds(registry, flags), {
    filter: flags.filter.length === 0 ? undefined : flags.filter,
    order: Option.getOrUndefined(flags.order),
    limit: flags.limit,
    offset: flags.offset
  })

const describe = (text: string) => Command.withDescription(`${text}\n\n${exitCodesHelp}`)

// ---------------------------------------------------------------------------------------------------------
// Commands

const runs = Command.make("runs", listing("-startedAt"), (flags) =>
  Effect.gen(function* () {
    const page = yield* withStore(Views.runs(yield* listOptions("Run", flags)))
    if (flags.json) return yield* printJson(page)
    yield* printPage(page, flags.offset, "runs", (rows, style) => Render.runsTable(rows, page.varying, style))
  })
).pipe(
  describe(
    "List runs, newest first: uid, transform, status, start, duration, and the params and features whose values differ between the listed runs."
  ),
  Command.withShortDescription("List runs"),
  Command.withExamples([
    { command: "lineage runs --filter status=errored", description: "Runs that failed" },
    { command: "lineage runs -f transform__key__startswith=train -f learning_rate__gt=0.01 --order -startedAt -n 20" },
    { command: "lineage runs --json", description: "The page as JSON: rows, total, varying" }
  ])
)

const show = Command.make("show", { uid: Argument.String("uid").pipe(Argument.withDescription("A run, transform or artifact uid, or a prefix of one")), json }, ({ uid, json }) =>
  withStore(
    Effect.gen(function* () {
      const found = yield* Views.find(uid)
      const style = stdoutStyle()
      switch (found.kind) {
        case "run": {
          const detail = yield* Views.run(found.uid)
          return yield* json ? printJson(detail) : print(Render.runDetail(detail, style))
        }
        case "transform": {
          const detail = yield* Views.transform(found.uid)
          return yield* json ? printJson(detail) : print(Render.transformDetail(detail, style))
        }
        case "artifact": {
          const detail = yield* Views.artifact(found.uid)
          return yield* json ? printJson(detail) : print(Render.artifactDetail(detail, style))
        }
      }
    })
  )
).pipe(
  describe(
    "Show a run (fields, params, features, inputs and outputs, environment, the runs it initiated), a transform (source, versions, recent runs) or an artifact (producer, readers), found by uid or uid prefix."
  ),
  Command.withShortDescription("Show a run, transform or artifact"),
  Command.withExamples([{ command: "lineage show 4hX2" }, { command: "lineage show 4hX2kq9LrT0sB1Ze --json" }])
)

const graphFormats = ["mermaid", "dot", "json", "svg"] as const
/** Hops `graph --depth` accepts. */
const maxDepth = 50

/** `graph`'s flags checked, before any store is opened. */
const graphUsage = (flags: { readonly upstream: boolean; readonly downstream: boolean; readonly depth: number }) => {
  if (flags.upstream && flags.downstream)
    return Effect.fail(new UsageError({ detail: "--upstream and --downstream exclude each other; give neither for both ways" }))
  if (!Number.isSafeInteger(flags.depth) || flags.depth < 0 || flags.depth > maxDepth)
    return Effect.fail(new UsageError({ detail: `--depth: got ${flags.depth}, expected 0 to ${maxDepth}` }))
  return Effect.void
}

/** The lineage graph `graph`'s flags ask for: around the run or artifact `uid` names (a transform refused). */
const graphOf = (flags: { readonly uid: string; readonly upstream: boolean; readonly downstream: boolean; readonly depth: number }) =>
  Effect.gen(function* () {
    const found = yield* Views.find(flags.uid)
    if (found.kind === "transform")
      return yield* new UsageError({
        detail: `${found.uid} is a transform; a lineage graph starts at a run or an artifact (lineage show ${found.uid} lists its runs)`
      })
    const record = found.kind === "run" ? yield* Run.get(found.uid) : yield* Artifact.get(found.uid)
    const direction = flags.upstream ? "upstream" : flags.downstream ? "downstream" : "both"
    return yield* LineageGraph.lineage(record, { depth: flags.depth, direction })
  })

const graph = Command.make(
  "graph",
  {
    uid: Argument.String("uid").pipe(Argument.withDescription("A run or artifact uid, or a prefix of one")),
    upstream: Flag.Boolean("upstream").pipe(Flag.withDefault(false), Flag.withDescription("Only what led to it")),
    downstream: Flag.Boolean("downstream").pipe(Flag.withDefault(false), Flag.withDescription("Only what came of it")),
    depth: Flag.Int("depth").pipe(Flag.withDefault(5), Flag.withDescription(`Hops from the record, 0 to ${maxDepth}`)),
    format: Flag.Literals("format", graphFormats).pipe(Flag.withDefault("mermaid" as const), Flag.withDescription("mermaid, dot (Graphviz), json or svg"))
  },
  (flags) =>
    Effect.gen(function* () {
      yield* graphUsage(flags)
      const drawn = yield* withStore(graphOf(flags))
      switch (flags.format) {
        case "mermaid":
          return yield* print(LineageGraph.toMermaid(drawn))
        case "dot":
          return yield* print(LineageGraph.toDot(drawn))
        case "json":
          return yield* printJson(drawn)
        case "svg":
          return yield* print(yield* GraphSvg.draw(drawn))
      }
    })
).pipe(
  describe("Draw the lineage graph around a run or an artifact: the runs and artifacts it came from and what came of it."),
  Command.withShortDescription("Draw the lineage graph around a run or artifact"),
  Command.withExamples([
    { command: "lineage graph 4hX2 --upstream --depth 3" },
    { command: "lineage graph 4hX2 --format dot | dot -Tpng > lineage.png" },
    { command: "lineage graph 4hX2 --format svg > lineage.svg" }
  ])
)

const stale = Command.make(
  "stale",
  {
    olderThan: Flag.Int("older-than").pipe(
      Flag.optional,
      Flag.withMetavar("MS"),
      Flag.withDescription("Heartbeat silence, in milliseconds, that makes a run stale (default three heartbeats)")
    ),
    limit,
    offset,
    json
  },
  (flags) =>
    Effect.gen(function* () {
      const olderThanMs = Option.getOrUndefined(flags.olderThan)
      if (olderThanMs !== undefined && (!Number.isSafeInteger(olderThanMs) || olderThanMs < 0))
        return yield* new UsageError({ detail: `--older-than: got ${olderThanMs}, expected a non-negative number of milliseconds` })
      yield* Views.pageBounds("Run", flags)
      const page = yield* withStore(Views.stale({ olderThanMs, limit: flags.limit, offset: flags.offset }))
      if (flags.json) return yield* printJson(page)
      yield* printPage(page, flags.offset, "stale runs", (rows, style) => Render.runsTable(rows, page.varying, style))
    })
).pipe(
  describe("List started runs whose heartbeat stopped: their process died without finishing them."),
  Command.withShortDescription("List runs whose process died")
)

const transforms = Command.make("transforms", listing("key,createdAt"), (flags) =>
  Effect.gen(function* () {
    const page = yield* withStore(Views.transforms(yield* listOptions("Transform", flags)))
    if (flags.json) return yield* printJson(page)
    yield* printPage(page, flags.offset, "transforms", Render.transformsTable)
  })
).pipe(
  describe("List transforms (scripts, notebooks, pipelines, functions) with their versions, run counts and last runs."),
  Command.withShortDescription("List transforms"),
  Command.withExamples([{ command: "lineage transforms --filter key__startswith=train --filter isLatest=true" }])
)

const features = Command.make("features", listing("name"), (flags) =>
  Effect.gen(function* () {
    const page = yield* withStore(Views.features(yield* listOptions("Feature", flags)))
    if (flags.json) return yield* printJson(page)
    yield* printPage(page, flags.offset, "features", Render.featuresTable)
  })
).pipe(describe("List features: the typed values runs and artifacts are annotated with."), Command.withShortDescription("List features"))

const metrics = Command.make(
  "metrics",
  {
    runs: Argument.String("run").pipe(
      Argument.variadic({ min: 1 }),
      Argument.withDescription(`A run uid or uid prefix; give up to ${Metrics.maxRuns} to compare them`)
    ),
    key: Flag.String("key").pipe(
      Flag.atLeast(0),
      Flag.withAlias("k"),
      Flag.withMetavar("KEY"),
      Flag.withDescription(`A metric key to show; repeat for several (default: every key, the first ${Metrics.maxKeys})`)
    ),
    maxPoints: Flag.Int("max-points").pipe(
      Flag.optional,
      Flag.withMetavar("N"),
      Flag.withDescription(
        `Points per series, ${Metrics.minPoints} to ${Metrics.maxPoints}: a longer series is downsampled, keeping each stretch's lowest and highest point and the last (default: twice the sparkline's width and one, ${Metrics.defaultMaxPoints} with --json)`
      )
    ),
    json
  },
  (flags) =>
    Effect.gen(function* () {
      const style = stdoutStyle()
      const maxPoints = Option.getOrElse(flags.maxPoints, () => (flags.json ? Metrics.defaultMaxPoints : Metrics.sparkPoints(Metrics.sparkWidth(style, 0))))
      const options = { keys: flags.key.length === 0 ? undefined : flags.key, maxPoints }
      yield* Metrics.checked(flags.runs, options)
      const view = yield* withStore(Metrics.view(flags.runs, options))
      return yield* flags.json ? printJson(view) : print(Metrics.render(view, style))
    })
).pipe(
  describe(
    "Show runs' metrics: per key the last value, minimum, maximum, point count and last step, and a sparkline of the series as wide as the terminal (60 columns when not a terminal). Several runs are compared key by key, their sparklines on one scale. --json prints the summaries and the series."
  ),
  Command.withShortDescription("Show runs' metrics with sparklines"),
  Command.withExamples([
    { command: "lineage metrics 4hX2" },
    { command: "lineage metrics 4hX2 8aB3 --key loss --key acc", description: "Two runs compared" },
    { command: "lineage metrics 4hX2 --key loss --json --max-points 500", description: "The loss series, downsampled to at most 500 points" }
  ])
)

const exportCommand = Command.make(
  "export",
  {
    format: Flag.Literals("format", Export.formats).pipe(
      Flag.withDefault("json" as const),
      Flag.withDescription("json (one document), ndjson (one record per line) or openlineage (OpenLineage run events, one per line)")
    ),
    filter,
    namespace: Flag.String("namespace").pipe(Flag.optional, Flag.withDescription("The OpenLineage job namespace (openlineage only)"))
  },
  (flags) =>
    withStore(
      Export.write({
        format: flags.format,
        filter: flags.filter.length === 0 ? undefined : flags.filter,
        namespace: Option.getOrUndefined(flags.namespace),
        write: stdout().write,
        progress: process.stderr
      })
    )
).pipe(
  describe(
    "Write the runs a filter selects (all without one), oldest first, with their transforms and artifacts, to standard output. Progress shows on standard error when it is a terminal. A failure part way leaves what was written so far: trust the output only when the exit code is 0."
  ),
  Command.withShortDescription("Export runs as JSON, NDJSON or OpenLineage events"),
  Command.withExamples([
    { command: "lineage export --format ndjson --filter status=completed > runs.ndjson" },
    { command: "lineage export --format openlineage --namespace my-team > events.ndjson" }
  ])
)

/**
 * Opens `url` in the desktop's browser; a failure is told, not fatal (the URL is printed anyway). A browser
 * can only be handed the token in the URL, on the opener's command line, where other local users can read it
 * (`ps`): said on standard error when `withToken`.
 */
const openBrowser = (url: string, withToken: boolean) =>
  Effect.sync(() => {
    if (withToken) process.stderr.write("lineage: --open passes the token on the browser's command line, which other local users can see\n")
    const [command, args]: readonly [string, ReadonlyArray<string>] =
      process.platform === "darwin" ? ["open", [url]] : process.platform === "win32" ? ["cmd", ["/c", "start", "", url]] : ["xdg-open", [url]]
    const child = spawn(command, args, { detached: true, stdio: "ignore" })
    child.on("error", () => void process.stderr.write(`lineage: could not open a browser (${command}); open the URL above\n`))
    child.unref()
  })

const ui = Command.make(
  "ui",
  {
    port: Flag.Int("port").pipe(Flag.optional, Flag.withDescription("Port to listen on (default: a free one)")),
    host: Flag.String("host").pipe(Flag.optional, Flag.withDescription("Address to listen on (default 127.0.0.1; another needs --token)")),
    token: Flag.String("token").pipe(
      Flag.withFallbackConfig(Config.String("LINEAGE_UI_TOKEN")),
      Flag.optional,
      Flag.withDescription("A secret every request must carry (?token= or Authorization: Bearer); default LINEAGE_UI_TOKEN")
    ),
    open: Flag.Boolean("open").pipe(Flag.withDefault(false), Flag.withDescription("Open the viewer in the browser"))
  },
  (flags) =>
    withStore(
      Effect.scoped(
        Effect.gen(function* () {
          const token = Option.getOrUndefined(flags.token)
          const serving = yield* Viewer.serve({ port: Option.getOrUndefined(flags.port), host: Option.getOrUndefined(flags.host), token })
          yield* print(`Lineage viewer at ${serving.url}${token === undefined ? "" : " (requests must carry the token)"}\nPress Ctrl-C to stop.`)
          if (flags.open) yield* openBrowser(token === undefined ? serving.url : `${serving.url}?token=${encodeURIComponent(token)}`, token !== undefined)
          return yield* Effect.never
        })
      )
    )
).pipe(
  describe("Serve the local web viewer: runs, details and lineage graphs in a browser, read-only. It serves until SIGINT or SIGTERM."),
  Command.withShortDescription("Browse runs in a local web viewer"),
  Command.withExamples([{ command: "lineage ui --open" }, { command: "LINEAGE_UI_TOKEN=… lineage ui --host 0.0.0.0 --port 8080" }])
)

const types = Command.make(
  "types",
  {
    out: Flag.String("out").pipe(
      Flag.withDefault(Types.defaultOut),
      Flag.withMetavar("FILE"),
      Flag.withDescription(`The file to write (default ${Types.defaultOut} in the working directory); ${Types.stdoutOut} for standard output`)
    ),
    check: Flag.Boolean("check").pipe(
      Flag.withDefault(false),
      Flag.withDescription("Write nothing; exit 1 when the file is missing or does not declare the store's features (for CI)")
    ),
    filter: filter.pipe(
      Flag.withDescription(
        `Declare only the features this filter term selects, as \`lineage features\` takes it (name__startswith=qc_, dtype=float); repeat to AND several. Above ${FeatureTypes.advisedMax.features} features (${FeatureTypes.advisedMax.json} of dtype dict or object) typed filters compile slowly`
      )
    )
  },
  (flags) =>
    Effect.gen(function* () {
      yield* Types.usage(flags)
      const source = Types.sourceOf(Option.getOrUndefined(yield* StoreUrl))
      yield* Types.deliver(flags, yield* withStore(FeatureTypes.declaration({ source, filter: flags.filter })))
    })
).pipe(
  describe(
    "Write the store's features as TypeScript declarations (names and the types of their values), so the compiler checks feature keys and values in features.add and filters. The file is replaced whole, never left half written; it names the store (password redacted) and holds no timestamp, so it changes only when the features do. Include it in your tsconfig, and keep code formatters off it."
  ),
  Command.withShortDescription("Write TypeScript declarations of the features"),
  Command.withExamples([
    { command: "lineage types", description: `Writes ${Types.defaultOut}` },
    { command: "lineage types -f name__startswith=qc_ -f dtype=float", description: "Declares only the float features whose names start with qc_" },
    { command: "lineage types --out src/lineage-features.d.ts --check", description: "In CI: fails when the file is out of date" },
    { command: "lineage types --out -", description: "Prints the declarations" }
  ])
)

/** The `lineage` command and its subcommands. */
export const lineage = Command.make("lineage").pipe(
  describe(
    "Runs, transforms, artifacts and their lineage, read from a lineage store: the one --store names, else LINEAGE_STORE, else sqlite:./.lineage/lineage.db."
  ),
  Command.withSubcommands([runs, show, graph, stale, transforms, features, metrics, exportCommand, ui, types]),
  Command.withGlobalFlags([StoreUrl])
)
