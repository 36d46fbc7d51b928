/**
 * The viewer's JSON API (documented in `API.md`): a plain table of GET routes, each a path of literal
 * segments and `:uid` parameters, the query parameters it takes, and a handler over the read models
 * (`Views`, `Metrics`). Everything a request names is checked before the store is asked: a `:uid` must be a uid
 * or uid prefix (base62), a query parameter must be one the route takes, given once (but for those a route
 * takes repeated, such as metric keys), and of its form.
 */
import { stat } from "node:fs/promises"
import { ArtifactStorageError, Artifacts, InvalidQuery, LineageGraph, Registry, type Store } from "@lineage/core"
import { Effect, Semaphore } from "effect"
import * as GraphSvg from "../GraphSvg.js"
import * as Metrics from "../Metrics.js"
import * as MetricsChart from "../MetricsChart.js"
import * as Views from "../Views.js"
import { json, Refusal, type Reply, type RouteError, storageRefusal } from "./Http.js"

/** Hops a graph request may ask for. */
export const maxDepth = 20
/** Points per series a metrics request may ask for; `defaultChartPoints` unless it asks. */
export const maxChartPoints = 10_000
export const defaultChartPoints = 500
/**
 * Stored points one metrics request may read, all its series together: each is read whole to be downsampled,
 * holding memory and the event loop meanwhile, so the bound keeps a request to about a second.
 */
export const maxStoredPoints = 500_000
/**
 * Metrics requests reading series at once in this process, whatever the number of callers: each holds up to
 * `maxStoredPoints` points in memory, and the rest wait their turn rather than add to it.
 */
export const metricReads = Semaphore.makeUnsafe(2)
/** Bytes of an artifact the viewer hands out: the bytes are read and checked whole before they are sent. */
export const maxDownloadBytes = 256 * 1024 * 1024
/** The longest uid of any registry (artifacts'). */
const maxUidLength = 20

type Params = { readonly [name: string]: string }

/** What a handler is given: the checked `:uid` parameters and query, and whether only the headers are asked for. */
interface Request {
  readonly params: Params
  readonly query: Query
  readonly head: boolean
}

type Handler = (request: Request) => Effect.Effect<Reply, RouteError, Store.Store>

interface Route {
  /** Literal segments, and `:name` for a uid parameter. */
  readonly path: ReadonlyArray<string>
  /** The query parameters the route takes. */
  readonly query: ReadonlyArray<string>
  /** Those of them that may be given more than once. */
  readonly repeated?: ReadonlyArray<string>
  readonly handle: Handler
}

// ---------------------------------------------------------------------------------------------------------
// Checked request parts

const request = "(request)"

/**
 * The query parameters of one request: only those the route takes (`token` aside), each at most once but for
 * those it takes `repeated`.
 */
class Query {
  private constructor(private readonly values: ReadonlyMap<string, ReadonlyArray<string>>) {}

  static of(search: URLSearchParams, allowed: ReadonlyArray<string>, repeated: ReadonlyArray<string> = []): Query | InvalidQuery {
    const values = new Map<string, Array<string>>()
    for (const [name, value] of search) {
      if (name === "token") continue
      if (!allowed.includes(name))
        return new InvalidQuery({
          registry: request,
          field: name,
          expected: allowed.length === 0 ? "no query parameters" : `one of the parameters ${allowed.join(", ")}`
        })
      const given = values.get(name)
      if (given === undefined) values.set(name, [value])
      else if (repeated.includes(name)) given.push(value)
      else return new InvalidQuery({ registry: request, field: name, value, expected: "the parameter given once" })
    }
    return new Query(values)
  }

  /** The text given; an empty value counts as none. */
  text(name: string): string | undefined {
    const value = this.values.get(name)?.[0]
    return value === "" ? undefined : value
  }

  /** Every value of a repeated parameter, in order, empty ones left out. */
  all(name: string): ReadonlyArray<string> {
    return (this.values.get(name) ?? []).filter((v) => v !== "")
  }

  /** An integer from `min` to `max` (a safe integer), in decimal digits; leading zeros are read past. */
  integer(name: string, min: number, max: number): Effect.Effect<number | undefined, InvalidQuery> {
    const value = this.text(name)
    if (value === undefined) return Effect.succeed(undefined)
    const digits = value.replace(/^0+(?=\d)/, "")
    const n = digits.length <= String(max).length && /^\d+$/.test(digits) ? Number(digits) : Number.NaN
    return n >= min && n <= max
      ? Effect.succeed(n)
      : Effect.fail(new InvalidQuery({ registry: request, field: name, value, expected: `an integer from ${min} to ${max}` }))
  }

  oneOf<const A extends string>(name: string, choices: ReadonlyArray<A>, fallback: A): Effect.Effect<A, InvalidQuery> {
    const value = this.text(name)
    if (value === undefined) return Effect.succeed(fallback)
    const choice = choices.find((c) => c === value)
    return choice !== undefined
      ? Effect.succeed(choice)
      : Effect.fail(new InvalidQuery({ registry: request, field: name, value, expected: `one of ${choices.join(", ")}` }))
  }
}

/** A path segment that must be a uid or uid prefix, decoded and checked. */
const uidOf = (segment: string): string | InvalidQuery => {
  let value: string
  try {
    value = decodeURIComponent(segment)
  } catch {
    value = segment
  }
  return value.length >= 1 && value.length <= maxUidLength && /^[0-9A-Za-z]+$/.test(value)
    ? value
    : new InvalidQuery({ registry: request, field: "uid", value, expected: `a uid or uid prefix: 1 to ${maxUidLength} base62 characters (0-9A-Za-z)` })
}

/** Options of a listing: the keyword filter text, the order, the page. */
const listOptions = (query: Query) =>
  Effect.gen(function* () {
    return {
      filter: query.text("filter"),
      order: query.text("order"),
      limit: yield* query.integer("limit", 1, Views.maxLimit),
      offset: yield* query.integer("offset", 0, Number.MAX_SAFE_INTEGER)
    }
  })

const listQuery = ["filter", "order", "limit", "offset"]

// ---------------------------------------------------------------------------------------------------------
// Downloads

/** A file name as a download may carry it: the key's last segment (else uid and suffix), nothing path-like. */
const downloadName = (artifact: Registry.Artifact): string => {
  const fromKey = (artifact.key ?? "").split("/").at(-1) ?? ""
  const clean = (s: string) =>
    Array.from(s.replace(/[\u0000-\u001f\u007f"\\/:*?<>|]/g, "_").trim())
      .slice(0, 150)
      .join("")
  const name = clean(fromKey).replace(/^\.+/, "")
  return name === "" ? clean(`${artifact.uid}${artifact.suffix}`) || "artifact" : name
}

/** RFC 6266 with an ASCII fallback and the UTF-8 name (RFC 8187): no character can end the header value. */
const attachment = (name: string): string => {
  const ascii = name.replace(/[^\x20-\x7e]|[%;]/g, "_")
  const encoded = encodeURIComponent(name).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`
}

/**
 * The size of the artifact's file on disk, found as core finds it to read it (in the storage root, no symlink
 * out of it): known before any byte is read, whether or not the record has a size.
 */
const sizeOnDisk = (artifact: Registry.Artifact): Effect.Effect<number, ArtifactStorageError> =>
  Effect.flatMap(Artifacts.localPath(artifact), (file) =>
    Effect.tryPromise({
      try: async () => (await stat(file)).size,
      catch: (cause) => new ArtifactStorageError({ reason: "Io", path: file, operation: "find the size of", cause })
    })
  )

/** Checks what can be known without reading the bytes: their size on disk, against the bound and the record. */
const checkedSize = (artifact: Registry.Artifact): Effect.Effect<number, ArtifactStorageError | Refusal> =>
  Effect.flatMap(sizeOnDisk(artifact), (size): Effect.Effect<number, ArtifactStorageError | Refusal> => {
    if (size > maxDownloadBytes)
      return Effect.fail(
        new Refusal({
          status: 413,
          tag: "TooLarge",
          detail: `artifact ${artifact.uid} holds ${size} bytes; the viewer hands out at most ${maxDownloadBytes} (read it with Artifact.cache)`
        })
      )
    if (artifact.size !== null && size !== artifact.size)
      return Effect.fail(new ArtifactStorageError({ reason: "HashMismatch", path: artifact.uid, operation: "verify the size of" }))
    return Effect.succeed(size)
  })

/**
 * The artifact's bytes, checked against its recorded hash before any is sent. A HEAD request is answered
 * from the size on disk alone: nothing is read or hashed.
 */
const download: Handler = ({ params: { uid }, head }) =>
  Effect.gen(function* () {
    const artifact = yield* Registry.Artifact.get(uid!)
    const size = yield* checkedSize(artifact)
    const headers = {
      "Content-Type": "application/octet-stream",
      "Content-Disposition": attachment(downloadName(artifact)),
      // Opened directly, the bytes still run nothing.
      "Content-Security-Policy": "default-src 'none'; sandbox"
    }
    const body = head ? { length: size } : yield* Artifacts.load(artifact, { isRunInput: false })
    return { status: 200, headers, body }
  }).pipe(Effect.mapError((e) => (e instanceof ArtifactStorageError ? storageRefusal(e, uid) : e)))

// ---------------------------------------------------------------------------------------------------------
// Graphs

/** A node's page in the viewer: its hash route. */
const pageOf = (node: LineageGraph.LineageNode) => `#/${node.kind}/${encodeURIComponent(node.uid)}`

/** A graph `draw` refused or gave up on: too large to draw (413, saying what to ask for instead), or a bug. */
const undrawn = (e: GraphSvg.DrawingError): Effect.Effect<never, Refusal> =>
  e.reason === "WorkerFailed"
    ? Effect.die(e)
    : Effect.fail(new Refusal({ status: 413, tag: "TooLarge", detail: `${e.message} (ask for less depth, or for format=json)` }))

const graph: Handler = ({ params: { uid }, query }) =>
  Effect.gen(function* () {
    const direction = yield* query.oneOf("direction", ["both", "upstream", "downstream"], "both")
    const depth = (yield* query.integer("depth", 0, maxDepth)) ?? 5
    const format = yield* query.oneOf("format", ["json", "svg"], "json")
    const found = yield* Views.find(uid!)
    const record =
      found.kind === "run"
        ? yield* Registry.Run.get(found.uid)
        : found.kind === "artifact"
          ? yield* Registry.Artifact.get(found.uid)
          : yield* new InvalidQuery({ registry: request, field: "uid", value: uid, expected: "the uid of a run or an artifact (this is a transform's)" })
    const walked = yield* LineageGraph.lineage(record, { direction, depth })
    const lineage = { ...walked, nodes: walked.nodes.map((n) => ({ ...n, label: Views.cut(n.label) })) }
    if (format === "json") return json(lineage)
    const svg = yield* GraphSvg.draw(lineage, { href: pageOf }).pipe(Effect.catch(undrawn))
    return { status: 200, headers: { "Content-Type": "image/svg+xml; charset=utf-8" }, body: svg }
  })

// ---------------------------------------------------------------------------------------------------------
// Metrics

/** `runs`: run uids or uid prefixes, comma-separated (base62 holds no comma); each is checked by `Metrics`. */
const runsOf = (query: Query): Effect.Effect<ReadonlyArray<string>, InvalidQuery> => {
  const text = query.text("runs")
  return text === undefined
    ? Effect.fail(new InvalidQuery({ registry: request, field: "runs", expected: `1 to ${Metrics.maxRuns} run uids or uid prefixes, comma-separated` }))
    : Effect.succeed(text.split(","))
}

const metricSummaries: Handler = ({ query }) => Effect.map(Effect.flatMap(runsOf(query), Metrics.summaries), (value) => json(value))

/** A series' label in a chart: its run's uid, transform and version. */
const seriesLabel = (view: Metrics.MetricsView, series: Metrics.MetricSeries): string => {
  const run = view.runs.find((r) => r.uid === series.run)
  return run === undefined ? series.run : `${run.uid} ${run.transform.key} ${run.transform.version}`
}

const metricHistory: Handler = ({ query }) =>
  Effect.gen(function* () {
    const uids = yield* runsOf(query)
    const keys = [...new Set(query.all("key"))]
    const maxPoints = (yield* query.integer("maxPoints", Metrics.minPoints, maxChartPoints)) ?? defaultChartPoints
    const format = yield* query.oneOf("format", ["json", "svg"], "json")
    if (format === "svg" && keys.length !== 1)
      return yield* new InvalidQuery({ registry: request, field: "key", value: keys.length, expected: "exactly one key for format=svg: a chart draws one key" })
    const view = yield* Metrics.view(uids, { keys: keys.length === 0 ? undefined : keys, maxPoints, maxStoredPoints }).pipe(
      Semaphore.withPermit(metricReads),
      Effect.catchTag("TooManyPoints", (e) => Effect.fail(new Refusal({ status: 413, tag: "TooLarge", detail: e.message })))
    )
    if (format === "json") return json(view)
    const svg = MetricsChart.toSvg(
      view.series.map((s) => ({ label: seriesLabel(view, s), points: s.points })),
      { title: keys[0] }
    )
    return { status: 200, headers: { "Content-Type": "image/svg+xml; charset=utf-8" }, body: svg }
  })

// ---------------------------------------------------------------------------------------------------------
// The table

const viewOf =
  <A>(view: (uid: string) => Effect.Effect<A, RouteError, Store.Store>): Handler =>
  ({ params: { uid } }) =>
    Effect.map(view(uid!), (value) => json(value))

const listOf =
  <A>(view: (options: Views.ListOptions) => Effect.Effect<A, RouteError, Store.Store>): Handler =>
  ({ query }) =>
    Effect.flatMap(listOptions(query), (options) => Effect.map(view(options), (value) => json(value)))

export const routes: ReadonlyArray<Route> = [
  { path: ["api", "runs"], query: listQuery, handle: listOf(Views.runs) },
  { path: ["api", "runs", ":uid"], query: [], handle: viewOf(Views.run) },
  { path: ["api", "find", ":uid"], query: [], handle: viewOf(Views.find) },
  { path: ["api", "transforms"], query: listQuery, handle: listOf(Views.transforms) },
  { path: ["api", "transforms", ":uid"], query: [], handle: viewOf(Views.transform) },
  { path: ["api", "artifacts", ":uid"], query: [], handle: viewOf(Views.artifact) },
  { path: ["api", "artifacts", ":uid", "download"], query: [], handle: download },
  { path: ["api", "features"], query: listQuery, handle: listOf(Views.features) },
  { path: ["api", "graph", ":uid"], query: ["direction", "depth", "format"], handle: graph },
  { path: ["api", "metrics"], query: ["runs"], handle: metricSummaries },
  { path: ["api", "metrics", "history"], query: ["runs", "key", "maxPoints", "format"], repeated: ["key"], handle: metricHistory }
]

/** The route a path names, with its checked parameters; undefined when none does. */
const match = (segments: ReadonlyArray<string>): { readonly route: Route; readonly params: Params | InvalidQuery } | undefined => {
  for (const route of routes) {
    if (route.path.length !== segments.length) continue
    if (!route.path.every((p, i) => p.startsWith(":") || p === segments[i])) continue
    const params: Record<string, string> = {}
    for (const [i, p] of route.path.entries()) {
      if (!p.startsWith(":")) continue
      const uid = uidOf(segments[i]!)
      if (uid instanceof InvalidQuery) return { route, params: uid }
      params[p.slice(1)] = uid
    }
    return { route, params }
  }
  return undefined
}

/** Answers an `/api/…` path (only its headers, for HEAD); a path no route takes is `RouteNotFound`. */
export const answer = (pathname: string, search: URLSearchParams, head: boolean): Effect.Effect<Reply, RouteError, Store.Store> =>
  Effect.gen(function* () {
    const found = match(pathname.split("/").slice(1))
    if (found === undefined)
      return yield* new Refusal({
        status: 404,
        tag: "RouteNotFound",
        detail: `no API route ${JSON.stringify(pathname.slice(0, 200))}; see API.md for the routes`
      })
    if (found.params instanceof InvalidQuery) return yield* found.params
    const query = Query.of(search, found.route.query, found.route.repeated)
    if (query instanceof InvalidQuery) return yield* query
    return yield* found.route.handle({ params: found.params, query, head })
  })
