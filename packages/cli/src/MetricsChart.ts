/**
 * Metric series drawn as a standalone SVG line chart: one key, one or several runs' series (`maxSeries`
 * at most, each in a colour of its own), steps along the bottom and values up the side, both with ticks at
 * round numbers, each series' lowest and highest point marked (and labelled, for one series), and a legend when
 * there are several. The same input gives the same bytes: coordinates are rounded, nothing is random.
 *
 * Like `GraphSvg`'s drawings, the chart carries no script and no `<style>`: colours are presentation
 * attributes, every text (a key, a run's label) is XML-escaped and cut, so a page may insert it as it is.
 * Points are drawn as given: the caller downsamples (`Metrics.history`'s `maxPoints`) before drawing.
 */
import { escapeXml } from "./GraphSvg.js"
import { cut } from "./Views.js"

export interface ChartPoint {
  readonly step: number
  readonly value: number
}

export interface ChartSeries {
  /** What the legend and the line's tooltip call it (a run's uid, say). */
  readonly label: string
  readonly points: ReadonlyArray<ChartPoint>
}

export interface ChartOptions {
  /** Written above the plot (the key). */
  readonly title?: string | undefined
}

/** Series one chart draws: each keeps a colour no other has. */
export const maxSeries = 10

/** Distinct colours, one per series, in order (Tableau's ten). */
export const palette: ReadonlyArray<string> = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac"
]

/** Characters of a title or a legend label drawn; the rest is cut. */
const maxLabelChars = 60

const width = 640
const plotHeight = 200
const margin = { left: 64, right: 20, top: 30, bottom: 40 }
const legendRowHeight = 18
const fontSize = 11
const colours = { axis: "#6b7280", grid: "#e5e7eb", text: "#1f2937" } as const

const r = (n: number): string => String(Math.round(n * 10) / 10)

// ---------------------------------------------------------------------------------------------------------
// Scales and ticks

/** The smallest and largest of some numbers. */
export interface Range {
  readonly lo: number
  readonly hi: number
}

/**
 * `v`'s place in `range`, 0 to 1. Differences are taken whole when the span is finite (two distinct doubles
 * never differ by zero, where halves of the smallest would), else by halves, which cannot overflow.
 */
export const fraction = (v: number, { lo, hi }: Range): number => {
  if (hi === lo) return 0.5
  const span = hi - lo
  return Number.isFinite(span) ? (v - lo) / span : (v / 2 - lo / 2) / (hi / 2 - lo / 2)
}

/** A round distance between ticks (1, 2 or 5 times a power of ten) that gives about `count` ticks over `span`. */
const tickSpacing = (span: number, count: number): number => {
  const raw = span / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const n = raw / magnitude
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * magnitude
}

interface Axis {
  readonly range: Range
  readonly ticks: ReadonlyArray<number>
  /** A tick's text. */
  readonly label: (tick: number) => string
}

/**
 * The axis over `lo`..`hi`: `round` widens the range to the ticks around it (values), else it keeps it as it
 * is (steps); `integers` keeps ticks on whole numbers. A single value is drawn in the middle of a range around
 * it, its one tick; a span too large for a double gets its two ends as ticks.
 */
const axisOf = (lo: number, hi: number, options: { readonly round: boolean; readonly integers: boolean; readonly count: number }): Axis => {
  if (lo === hi) {
    const pad = lo === 0 || options.integers ? 1 : Math.abs(lo) * 0.1
    // Steps are whole numbers, shown whole; a value shows as every label of a value does.
    return { range: { lo: lo - pad, hi: hi + pad }, ticks: [lo], label: options.integers ? String : valueLabel }
  }
  const ends: Axis = { range: { lo, hi }, ticks: [lo, hi], label: shortest }
  const span = hi - lo
  if (!Number.isFinite(span)) return ends
  const spacing = options.integers ? Math.max(1, tickSpacing(span, options.count)) : tickSpacing(span, options.count)
  // Rounded outwards, the ticks enclose the values; else they lie within them.
  const from = options.round ? Math.floor(lo / spacing) : Math.ceil(lo / spacing)
  const to = options.round ? Math.ceil(hi / spacing) : Math.floor(hi / spacing)
  // A span near the smallest doubles has no spacing that a double holds.
  if (!(spacing > 0) || !Number.isFinite(from) || !Number.isFinite(to) || to - from > 4 * options.count) return ends
  // A tick rounded outwards past the largest double is left out: the values' own end bounds the range there.
  const ticks: Array<number> = []
  for (let k = from; k <= to; k++) if (Number.isFinite(k * spacing)) ticks.push(k * spacing)
  if (ticks.length < 2) return ends
  const range = options.round ? { lo: Math.min(lo, ticks[0]!), hi: Math.max(hi, ticks.at(-1)!) } : { lo, hi }
  return { range, ticks, label: (t) => tickLabel(t, spacing) }
}

/** The power of ten of `v`'s leading digit. */
const exponentOf = (v: number): number => Math.floor(Math.log10(Math.abs(v)) + 1e-9)

/**
 * A tick's label: as many decimals as the spacing needs, exponent notation for very large or small numbers,
 * its mantissa carrying as many digits as the spacing needs (so ticks a spacing apart never read alike).
 */
export const tickLabel = (v: number, spacing: number): string => {
  if (v === 0) return "0"
  if (!Number.isFinite(spacing)) return shortest(v)
  if (Math.abs(v) >= 1e7 || spacing < 1e-4) {
    const digits = Math.max(0, Math.min(20, exponentOf(v) - exponentOf(spacing)))
    return v.toExponential(digits).replace(/\.?0+e/, "e")
  }
  const decimals = Math.max(0, -Math.floor(Math.log10(spacing) + 1e-9))
  return v.toFixed(decimals)
}

/** The shortest label that names `v` and no other double: for ticks with no round spacing between them. */
const shortest = (v: number): string => (v === 0 ? "0" : Math.abs(v) >= 1e7 || Math.abs(v) < 1e-4 ? v.toExponential() : String(v))

/** A value as a label shows it: six significant digits at most. */
export const valueLabel = (v: number): string => String(Number(v.toPrecision(6)))

// ---------------------------------------------------------------------------------------------------------
// Drawing

/** The lowest and highest point of a series (the first of each, when several tie). */
const extremes = (points: ReadonlyArray<ChartPoint>): { readonly min: ChartPoint; readonly max: ChartPoint } | undefined => {
  const [first] = points
  if (first === undefined) return undefined
  let min = first
  let max = first
  for (const p of points) {
    if (p.value < min.value) min = p
    if (p.value > max.value) max = p
  }
  return { min, max }
}

const finitePoints = (points: ReadonlyArray<ChartPoint>) => points.filter((p) => Number.isFinite(p.step) && Number.isFinite(p.value))

/** The smallest and largest of `pick` over every point; undefined when there is none. */
export const bounds = (series: ReadonlyArray<ReadonlyArray<ChartPoint>>, pick: (p: ChartPoint) => number): Range | undefined => {
  let lo = Number.POSITIVE_INFINITY
  let hi = Number.NEGATIVE_INFINITY
  for (const points of series)
    for (const p of points) {
      const v = pick(p)
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
  return lo <= hi ? { lo, hi } : undefined
}

const text = (x: number, y: number, content: string, attributes = "") =>
  `<text x="${r(x)}" y="${r(y)}"${attributes} fill="${colours.text}">${escapeXml(content)}</text>`

interface Plot {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

/** Pixels from the plot's side within which a label is anchored at its end or start, so it stays inside. */
const labelRoom = 60

/**
 * The labels of a series' lowest and highest point (one label when they are equal): the highest above its
 * point and the lowest below, each on the other side when that would leave the plot; anchored so the text
 * stays within it sideways.
 */
const extremeLabels = (
  found: { readonly min: ChartPoint; readonly max: ChartPoint },
  x: (step: number) => number,
  y: (value: number) => number,
  plot: Plot
): string => {
  const label = (p: ChartPoint, content: string, which: "min" | "max") => {
    const px = x(p.step)
    const py = y(p.value)
    const above = which === "max" ? py - 7 >= plot.y + 4 : py + 15 > plot.y + plot.height - 2
    const anchor = px > plot.x + plot.width - labelRoom ? "end" : px < plot.x + labelRoom ? "start" : "middle"
    return text(px, above ? py - 7 : py + 15, content, ` text-anchor="${anchor}" class="extreme ${which}"`)
  }
  if (found.min.value === found.max.value) return label(found.max, `min = max ${valueLabel(found.max.value)}`, "max")
  return label(found.max, `max ${valueLabel(found.max.value)}`, "max") + label(found.min, `min ${valueLabel(found.min.value)}`, "min")
}

/**
 * The chart as an SVG document (`<svg>` in the SVG namespace, no XML declaration): `g.axis.x` and `g.axis.y`
 * with a `text.tick` per tick, one `path.series` per series with at least one point (`data-points` counts its
 * points; a single point is drawn as a dot as well), a `circle.min` and `circle.max` on each, and a `g.legend`
 * with a `g.entry` per series when there are several. Series past `maxSeries` are left out (the caller refuses
 * them before drawing).
 */
export const toSvg = (series: ReadonlyArray<ChartSeries>, options: ChartOptions = {}): string => {
  const drawn = series.slice(0, maxSeries).map((s) => ({ label: cut(s.label, maxLabelChars), points: finitePoints(s.points) }))
  const legendRows = drawn.length > 1 ? Math.ceil(drawn.length / 2) : 0
  const height = margin.top + plotHeight + margin.bottom + legendRows * legendRowHeight
  const plot: Plot = { x: margin.left, y: margin.top, width: width - margin.left - margin.right, height: plotHeight }
  const title = options.title === undefined ? "" : text(margin.left, 18, cut(options.title, maxLabelChars), ` font-weight="bold" class="title"`)
  const head =
    `<svg xmlns="http://www.w3.org/2000/svg" class="metrics-chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"` +
    ` font-family="system-ui, sans-serif" font-size="${fontSize}" role="img" aria-label="${escapeXml(`metric chart${options.title === undefined ? "" : `: ${cut(options.title, maxLabelChars)}`}`)}">`
  const steps = bounds(
    drawn.map((s) => s.points),
    (p) => p.step
  )
  const values = bounds(
    drawn.map((s) => s.points),
    (p) => p.value
  )
  if (steps === undefined || values === undefined)
    return [head, title, text(plot.x + plot.width / 2, plot.y + plot.height / 2, "no points", ` text-anchor="middle" class="empty"`), "</svg>"].join("")
  const xAxis = axisOf(steps.lo, steps.hi, { round: false, integers: true, count: 6 })
  const yAxis = axisOf(values.lo, values.hi, { round: true, integers: false, count: 5 })
  const x = (step: number) => plot.x + fraction(step, xAxis.range) * plot.width
  const y = (value: number) => plot.y + plot.height - fraction(value, yAxis.range) * plot.height
  const bottom = plot.y + plot.height

  const xTicks = xAxis.ticks.map(
    (t) =>
      `<line x1="${r(x(t))}" y1="${r(bottom)}" x2="${r(x(t))}" y2="${r(bottom + 4)}" stroke="${colours.axis}"/>` +
      text(x(t), bottom + 16, xAxis.label(t), ` text-anchor="middle" class="tick"`)
  )
  const yTicks = yAxis.ticks.map(
    (t) =>
      `<line x1="${r(plot.x)}" y1="${r(y(t))}" x2="${r(plot.x + plot.width)}" y2="${r(y(t))}" stroke="${colours.grid}"/>` +
      text(plot.x - 6, y(t) + 4, yAxis.label(t), ` text-anchor="end" class="tick"`)
  )
  const axes = [
    `<g class="axis y">${yTicks.join("")}</g>`,
    `<g class="axis x">`,
    `<line x1="${r(plot.x)}" y1="${r(bottom)}" x2="${r(plot.x + plot.width)}" y2="${r(bottom)}" stroke="${colours.axis}"/>`,
    ...xTicks,
    text(plot.x + plot.width, bottom + 32, "step", ` text-anchor="end" class="label"`),
    `</g>`
  ].join("")

  const lines = drawn.map((s, i) => {
    const colour = palette[i]!
    const found = extremes(s.points)
    if (found === undefined) return ""
    const d = s.points.map((p, j) => `${j === 0 ? "M" : "L"}${r(x(p.step))} ${r(y(p.value))}`).join(" ")
    const mark = (which: "min" | "max", p: ChartPoint) =>
      `<circle class="${which}" cx="${r(x(p.step))}" cy="${r(y(p.value))}" r="3.5" fill="${colour}" stroke="#fff">` +
      `<title>${escapeXml(`${s.label}: ${which} ${valueLabel(p.value)} at step ${p.step}`)}</title></circle>`
    const labels = drawn.length === 1 ? extremeLabels(found, x, y, plot) : ""
    const dot = s.points.length === 1 ? `<circle cx="${r(x(s.points[0]!.step))}" cy="${r(y(s.points[0]!.value))}" r="2.5" fill="${colour}"/>` : ""
    return (
      `<g class="series" data-series="${i}">` +
      `<path class="series" d="${d}" data-points="${s.points.length}" fill="none" stroke="${colour}" stroke-width="1.6" stroke-linejoin="round">` +
      `<title>${escapeXml(s.label)}</title></path>${dot}${mark("min", found.min)}${mark("max", found.max)}${labels}</g>`
    )
  })

  const legend =
    legendRows === 0
      ? ""
      : `<g class="legend">${drawn
          .map((s, i) => {
            const lx = plot.x + (i % 2) * (plot.width / 2)
            const ly = bottom + margin.bottom + Math.floor(i / 2) * legendRowHeight
            return (
              `<g class="entry" data-series="${i}"><rect x="${r(lx)}" y="${r(ly - 9)}" width="14" height="4" fill="${palette[i]!}"/>` +
              text(lx + 20, ly - 3, s.label, ` class="label"`) +
              `</g>`
            )
          })
          .join("")}</g>`

  return [head, title, axes, ...lines, legend, "</svg>"].join("")
}
