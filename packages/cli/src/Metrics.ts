/**
 * Runs' metrics as the command line prints them and the web viewer serves them: each run's summary by key
 * (last, min, max, count, step), and the series of the keys asked for, downsampled by core's
 * `Metrics.history` (each bucket's lowest and highest point kept, so a spike survives). Bounded like every
 * view: at most `maxRuns` runs and `maxKeys` keys in one view, `maxPoints` points per series.
 *
 * In a terminal, a series is a sparkline (`▁▂▃▄▅▆▇█`): the steps spread over its columns, each column showing the
 * lowest or highest of the points it covers, whichever stands farther from the column before, so that a spike
 * or a dip that downsampling kept still shows. Compared runs share one scale per key, steps and values alike,
 * so the heights and lengths of their sparklines compare.
 */
import {
  DoesNotExist,
  InvalidQuery,
  MetricBuffer,
  MetricStorage,
  Metrics as CoreMetrics,
  Records,
  type Registry,
  Run,
  type Store,
  type StoreError,
  Uid,
  type ValidationError
} from "@lineage/core"
import { Data, Effect } from "effect"
import * as MetricsChart from "./MetricsChart.js"
import * as Render from "./Render.js"
import * as Table from "./Table.js"
import * as Views from "./Views.js"

// ---------------------------------------------------------------------------------------------------------
// Bounds

/** Runs one view compares. */
export const maxRuns = 10
/** Keys one view shows; a run's other keys are counted (`MetricRun.more`). */
export const maxKeys = 100
/** Points of one series when no bound is given. */
export const defaultMaxPoints = 1_000
/** Points of one series at most; more are downsampled to this many. */
export const maxPoints = 1_000_000
/** The fewest points a series may be downsampled to: the lowest and highest of one bucket, and the last. */
export const minPoints = 3
/** Sparkline columns when standard output is no terminal. */
export const defaultSparkWidth = 60
/** Sparkline columns on a terminal: at least, and at most. */
const sparkWidthBounds = { min: 10, max: 200 } as const

// ---------------------------------------------------------------------------------------------------------
// Shapes

export type KeySummary = CoreMetrics.KeySummary

export interface MetricRun {
  readonly uid: string
  readonly transform: Views.TransformRef
  readonly status: Records.RunStatus
  /** By key, in key order: the first `maxKeys` keys. */
  readonly summary: { readonly [key: string]: KeySummary }
  /** Keys the run has beyond those in `summary`. */
  readonly more: number
}

export interface MetricPoint {
  readonly step: number
  readonly value: number
  /** ISO 8601, UTC. */
  readonly timestamp: string
}

export interface MetricSeries {
  /** The run's uid. */
  readonly run: string
  readonly key: string
  /** In step order. */
  readonly points: ReadonlyArray<MetricPoint>
  /** Whether `points` are a downsample of more. */
  readonly downsampled: boolean
}

export interface MetricsView {
  readonly runs: ReadonlyArray<MetricRun>
  /** The keys shown, in order: those asked for, else every key of the runs' summaries (the first `maxKeys`). */
  readonly keys: ReadonlyArray<string>
  /** One per run and key that has points, runs in the order asked, keys in `keys`' order. */
  readonly series: ReadonlyArray<MetricSeries>
}

export interface ViewOptions {
  /** The keys to show; every key of the runs when none is given. */
  readonly keys?: ReadonlyArray<string> | undefined
  /** Points per series at most, `minPoints` to `maxPoints`; `defaultMaxPoints` unless given. */
  readonly maxPoints?: number | undefined
  /**
   * Stored points the view may read, all series together, as the runs' summaries count them; past it the view
   * fails with `TooManyPoints` before reading any. Unbounded unless given.
   */
  readonly maxStoredPoints?: number | undefined
}

/**
 * The series asked for hold more points than the view may read (`ViewOptions.maxStoredPoints`): every point of a
 * series is read to downsample it, so a view of many long series costs what they hold, not what it shows.
 */
export class TooManyPoints extends Data.TaggedError("TooManyPoints")<{ readonly points: number; readonly max: number }> {
  override get message(): string {
    return `the series asked for hold ${this.points} points in all, more than the ${this.max} one view reads: ask for fewer runs or keys`
  }
}

// ---------------------------------------------------------------------------------------------------------
// Checks

const registry = "Metrics"

const expectedUid = `a run uid or uid prefix: 1 to ${Records.RunModel.uidLength} base62 characters (0-9A-Za-z)`

/** Runs, keys and the point bound, checked before any store is asked: `InvalidQuery` names the one refused. */
export const checked = (uids: ReadonlyArray<string>, options: ViewOptions) =>
  Effect.gen(function* () {
    if (uids.length < 1 || uids.length > maxRuns)
      return yield* new InvalidQuery({ registry, field: "runs", value: uids.length, expected: `1 to ${maxRuns} runs` })
    for (const uid of uids)
      if (uid.length < 1 || uid.length > Records.RunModel.uidLength || !Uid.isBase62(uid))
        return yield* new InvalidQuery({ registry, field: "run", value: uid, expected: expectedUid })
    const keys = options.keys ?? []
    if (keys.length > maxKeys) return yield* new InvalidQuery({ registry, field: "keys", value: keys.length, expected: `at most ${maxKeys} keys` })
    for (const key of keys)
      if (MetricBuffer.checkKey(key) !== undefined) return yield* new InvalidQuery({ registry, field: "key", value: key, expected: MetricBuffer.expectedKey })
    const points = options.maxPoints ?? defaultMaxPoints
    if (!Number.isSafeInteger(points) || points < minPoints || points > maxPoints)
      return yield* new InvalidQuery({ registry, field: "maxPoints", value: points, expected: `an integer from ${minPoints} to ${maxPoints}` })
    return { uids, keys: options.keys === undefined ? undefined : [...new Set(keys)], maxPoints: points }
  })

// ---------------------------------------------------------------------------------------------------------
// The view

/** A run's summary, its first `maxKeys` keys in key order, and how many more it has. */
const runOf = (run: Records.Run, transform: Views.TransformRef): MetricRun => {
  const all = MetricStorage.summaryOf(run.metricSummary)
  const keys = Object.keys(all).sort()
  return {
    uid: run.uid,
    transform,
    status: run.status,
    summary: Object.fromEntries(keys.slice(0, maxKeys).map((k) => [k, all[k]!])),
    more: Math.max(0, keys.length - maxKeys)
  }
}

/** The summary of `key`: an own entry only, so that a key such as `constructor` is no inherited property. */
export const summaryAt = (summary: { readonly [key: string]: KeySummary }, key: string): KeySummary | undefined =>
  Object.hasOwn(summary, key) ? summary[key] : undefined

/** The points `records` hold under `keys`, as their summaries count them. */
const storedPoints = (records: ReadonlyArray<Records.Run>, keys: ReadonlyArray<string>): number =>
  records.reduce((sum, r) => {
    const summary = MetricStorage.summaryOf(r.metricSummary)
    return keys.reduce((n, k) => n + (summaryAt(summary, k)?.count ?? 0), sum)
  }, 0)

/** The keys a view shows: those asked for, else the runs' keys, sorted, the first `maxKeys`. */
const keysOf = (runs: ReadonlyArray<MetricRun>, asked: ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  asked ?? [...new Set(runs.flatMap((r) => Object.keys(r.summary)))].sort().slice(0, maxKeys)

/** `history` runs in the order of `records`, each run's keys in the order of `keys` (core orders keys by code point). */
const inViewOrder = <H extends { readonly run: { readonly uid: string }; readonly key: string }>(
  history: ReadonlyArray<H>,
  records: ReadonlyArray<Records.Run>,
  keys: ReadonlyArray<string>
): ReadonlyArray<H> => {
  const runAt = new Map(records.map((r, i) => [r.uid, i]))
  const keyAt = new Map(keys.map((k, i) => [k, i]))
  const at = (h: H) => [runAt.get(h.run.uid) ?? records.length, keyAt.get(h.key) ?? keys.length] as const
  return [...history].sort((a, b) => {
    const [ra, ka] = at(a)
    const [rb, kb] = at(b)
    return ra - rb || ka - kb
  })
}

/** The run a uid or uid prefix names; none is `DoesNotExist` naming what was looked for, and nothing else. */
const recordOf = (uid: string) =>
  Effect.catchTag(Run.get(uid), "DoesNotExist", () => Effect.fail(new DoesNotExist({ registry: "Run", query: `uid or uid prefix '${uid}'` })))

/** The runs `uids` name (see `recordOf`), each once, in the order first named. */
const recordsOf = (uids: ReadonlyArray<string>) =>
  Effect.map(Effect.forEach(uids, recordOf), (found) => [...new Map(found.map((r) => [r.id, r])).values()])

const metricRuns = (records: ReadonlyArray<Records.Run>) =>
  Effect.map(Views.rowsOf(records), (rows) => records.map((r, i) => runOf(r, rows[i]!.transform)))

/** The summaries of the runs `uids` name (see `view`), without reading a point: what a page lists before it draws. */
export const summaries = (uids: ReadonlyArray<string>): Effect.Effect<{ readonly runs: ReadonlyArray<MetricRun> }, InvalidQuery | Registry.GetError, Store.Store> =>
  Effect.gen(function* () {
    const asked = yield* checked(uids, {})
    return { runs: yield* metricRuns(yield* recordsOf(asked.uids)) }
  })

/**
 * The metrics of the runs `uids` name (uids or uid prefixes, each a `Run.get`; one run named twice is shown
 * once): their summaries and the series of `options.keys` (else every key they have), each at most
 * `options.maxPoints` points.
 */
export const view = (
  uids: ReadonlyArray<string>,
  options: ViewOptions = {}
): Effect.Effect<MetricsView, InvalidQuery | Registry.GetError | ValidationError | DoesNotExist | StoreError | TooManyPoints, Store.Store> =>
  Effect.gen(function* () {
    const asked = yield* checked(uids, options)
    const records = yield* recordsOf(asked.uids)
    const runs = yield* metricRuns(records)
    const keys = keysOf(runs, asked.keys)
    const stored = storedPoints(records, keys)
    if (options.maxStoredPoints !== undefined && stored > options.maxStoredPoints)
      return yield* new TooManyPoints({ points: stored, max: options.maxStoredPoints })
    const history = keys.length === 0 ? [] : yield* CoreMetrics.history({ runs: records, keys, maxPoints: asked.maxPoints })
    const series = inViewOrder(history, records, keys)
      .filter((h) => h.points.length > 0)
      .map((h) => ({
        run: h.run.uid,
        key: h.key,
        points: h.points.map((p) => ({ step: p.step, value: p.value, timestamp: p.timestamp.toISOString() })),
        downsampled: h.downsampled
      }))
    return { runs, keys, series }
  })

// ---------------------------------------------------------------------------------------------------------
// Sparklines

const bars = "▁▂▃▄▅▆▇█"

type Point = MetricsChart.ChartPoint

export interface SparkScale {
  readonly steps: MetricsChart.Range
  readonly values: MetricsChart.Range
}

/** The scale that `series` share: their steps and values, all together; undefined when they hold no point. */
export const scaleOf = (series: ReadonlyArray<ReadonlyArray<Point>>): SparkScale | undefined => {
  const steps = MetricsChart.bounds(series, (p) => p.step)
  const values = MetricsChart.bounds(series, (p) => p.value)
  return steps === undefined || values === undefined ? undefined : { steps, values }
}

/** The points one sparkline column covers: the lowest and highest value, the first and last point. */
interface Bin {
  readonly low: number
  readonly high: number
  readonly first: Point
  readonly last: Point
}

/** `points` (in step order) into `count` bins by `binOf`; a bin no point falls in is undefined. */
const binned = (points: ReadonlyArray<Point>, count: number, binOf: (step: number) => number): ReadonlyArray<Bin | undefined> => {
  const bins = new Array<Bin | undefined>(count).fill(undefined)
  for (const p of points) {
    const c = binOf(p.step)
    const bin = bins[c]
    bins[c] = bin === undefined ? { low: p.value, high: p.value, first: p, last: p } : { ...bin, low: Math.min(bin.low, p.value), high: Math.max(bin.high, p.value), last: p }
  }
  return bins
}

/** The bar of `v` on `values`: `▁` for the lowest, `█` for the highest, the middle bar when they are equal. */
const barOf = (v: number, values: MetricsChart.Range): string =>
  values.lo === values.hi ? bars[3]! : bars[Math.max(0, Math.min(bars.length - 1, Math.round(MetricsChart.fraction(v, values) * (bars.length - 1))))]!

/**
 * `points` (in step order) as a sparkline of `width` columns on `scale`: the scale's steps spread over the
 * columns; each column the bar of the lowest or the highest point it covers, whichever lies farther from the
 * last point before the column (the first column: from the first point), so a spike or a dip is drawn, not
 * averaged away; a column between two points the value on the line between them at its middle step (the
 * series was sampled there, not absent); blanks before the series' first step and past its last. Equal values
 * draw the middle bar. A scale of fewer steps than columns takes one column per step, so five steps are five
 * bars, not sixty.
 */
export const sparkline = (points: ReadonlyArray<Point>, width: number, scale: SparkScale | undefined = scaleOf([points])): string => {
  if (scale === undefined || points.length === 0 || width < 1) return ""
  const span = scale.steps.hi - scale.steps.lo + 1
  const columns = Math.max(1, Math.min(width, Number.isFinite(span) ? span : width))
  const columnOf = (step: number) => Math.min(columns - 1, Math.floor(MetricsChart.fraction(step, { lo: scale.steps.lo, hi: scale.steps.hi + 1 }) * columns))
  const bins = binned(points, columns, columnOf)
  // The first point of the nearest bin after each.
  const nexts = new Array<Point | undefined>(columns).fill(undefined)
  for (let c = columns - 2; c >= 0; c--) nexts[c] = bins[c + 1]?.first ?? nexts[c + 1]
  const [first, last] = [columnOf(points[0]!.step), columnOf(points.at(-1)!.step)]
  let out = " ".repeat(first)
  let before = points[0]!
  let shown = before.value
  for (let c = first; c <= last; c++) {
    const bin = bins[c]
    const after = nexts[c]
    if (bin !== undefined) {
      shown = Math.abs(bin.high - before.value) >= Math.abs(bin.low - before.value) ? bin.high : bin.low
      before = bin.last
    } else if (after !== undefined) {
      // At the column's middle step (the step itself when a column holds one), a weighted mean of the two
      // values: within them, never overflowing.
      const t = (scale.steps.lo + ((c + 0.5) * span) / columns - 0.5 - before.step) / (after.step - before.step)
      shown = before.value * (1 - t) + after.value * t
    }
    out += barOf(shown, scale.values)
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------
// Terminal rendering

type Style = Table.Style

interface Row {
  readonly name: string
  readonly summary: KeySummary
  readonly points: ReadonlyArray<MetricPoint>
}

const summaryColumns = (nameHeader: string): ReadonlyArray<Table.Column<Row>> => [
  { header: nameHeader, value: (r) => r.name, max: 40 },
  { header: "last", value: (r) => MetricsChart.valueLabel(r.summary.last), align: "right" },
  { header: "min", value: (r) => MetricsChart.valueLabel(r.summary.min), align: "right" },
  { header: "max", value: (r) => MetricsChart.valueLabel(r.summary.max), align: "right" },
  { header: "count", value: (r) => String(r.summary.count), align: "right" },
  { header: "step", value: (r) => String(r.summary.step), align: "right" }
]

/**
 * Points per series a sparkline of `width` columns draws from: a bucket of the downsample (its lowest and highest
 * point) per column, and the last point, so that no column between two buckets is drawn from the line between them.
 */
export const sparkPoints = (width: number): number => 2 * width + 1

/** Sparkline columns: what the terminal leaves beside the other columns (within bounds), else `defaultSparkWidth`. */
export const sparkWidth = (style: Style, otherColumns: number): number =>
  style.columns === undefined
    ? defaultSparkWidth
    : Math.max(sparkWidthBounds.min, Math.min(sparkWidthBounds.max, style.columns - otherColumns - 2))

/**
 * A table of `rows` with a sparkline column as wide as the terminal allows: on one scale for all rows when
 * `shared` (one key of several runs), else each row on its own (several keys of one run).
 */
const table = (nameHeader: string, rows: ReadonlyArray<Row>, style: Style, indent: string, shared: boolean): string => {
  const columns = summaryColumns(nameHeader)
  const width = sparkWidth(style, Table.naturalWidth(columns, rows) + indent.length)
  const scale = shared ? scaleOf(rows.map((r) => r.points)) : undefined
  const header = scale === undefined ? "series" : `series (steps ${scale.steps.lo}–${scale.steps.hi})`
  const spark: Table.Column<Row> = { header, value: (r) => sparkline(r.points, width, scale ?? scaleOf([r.points])), max: width, colour: () => "cyan" }
  return Table.render([...columns, spark], rows, style)
    .split("\n")
    .map((l) => indent + l)
    .join("\n")
}

const pointsOf = (view: MetricsView, run: string, key: string): ReadonlyArray<MetricPoint> =>
  view.series.find((s) => s.run === run && s.key === key)?.points ?? []

const runTitle = (run: MetricRun, style: Style): string =>
  [Table.paint(style, "bold", `Run ${run.uid}`), Table.line(`${run.transform.key} ${run.transform.version}`, 80), Table.paint(style, Render.statusColour(run.status), run.status)].join("  ")

const moreKeys = (run: MetricRun, style: Style): ReadonlyArray<string> =>
  run.more > 0 ? [Table.paint(style, "dim", `… ${run.more} more keys of run ${run.uid} (--key to choose)`)] : []

/** One run: a line per key, its summary and its sparkline. */
const oneRun = (view: MetricsView, run: MetricRun, style: Style): string => {
  const rows = view.keys.flatMap((key) => {
    const summary = summaryAt(run.summary, key)
    return summary === undefined ? [] : [{ name: key, summary, points: pointsOf(view, run.uid, key) }]
  })
  const missing = view.keys.filter((key) => summaryAt(run.summary, key) === undefined)
  if (rows.length === 0)
    return [runTitle(run, style), Object.keys(run.summary).length === 0 && run.more === 0 ? "No metrics." : `No metric ${missing.map((k) => JSON.stringify(k)).join(", ")}.`].join("\n")
  return [
    runTitle(run, style),
    table("key", rows, style, "", false),
    ...(missing.length === 0 ? [] : [Table.paint(style, "dim", `No metric ${missing.map((k) => JSON.stringify(k)).join(", ")}.`)]),
    ...moreKeys(run, style)
  ].join("\n")
}

/** Several runs: a block per key, a line per run that has it, on the key's shared scale. */
const compared = (view: MetricsView, style: Style): string => {
  const blocks = view.keys.map((key) => {
    const rows = view.runs.flatMap((run) => {
      const summary = summaryAt(run.summary, key)
      return summary === undefined ? [] : [{ name: run.uid, summary, points: pointsOf(view, run.uid, key) }]
    })
    const without = view.runs.filter((run) => summaryAt(run.summary, key) === undefined).map((run) => run.uid)
    return [
      Table.paint(style, "bold", Table.line(key, 80)),
      table("run", rows, style, "  ", true),
      ...(without.length === 0 ? [] : [Table.paint(style, "dim", `  not logged by ${without.join(", ")}`)])
    ].join("\n")
  })
  const runs = Table.render<MetricRun>(
    [
      { header: "run", value: (r) => r.uid, max: 20 },
      { header: "transform", value: (r) => r.transform.key, max: 32 },
      { header: "version", value: (r) => r.transform.version, max: 12 },
      { header: "status", value: (r) => r.status, colour: (r) => Render.statusColour(r.status) },
      { header: "keys", value: (r) => String(Object.keys(r.summary).length + r.more), align: "right" }
    ],
    view.runs,
    style
  )
  const none = view.keys.length === 0 ? ["No metrics."] : []
  return [runs, ...blocks, ...none, ...view.runs.flatMap((run) => moreKeys(run, style))].join("\n\n")
}

/** The view as a person reads it: one run's keys in a table, or several runs compared key by key. */
export const render = (view: MetricsView, style: Style): string =>
  view.runs.length === 1 ? oneRun(view, view.runs[0]!, style) : compared(view, style)
