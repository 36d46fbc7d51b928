/**
 * Terminal tables and text styling. Every cell is made safe to print first: tabs expand to spaces, other
 * control characters (which could move the cursor, retitle the terminal or hide text) become `?`, and a cell is
 * cut to its column's width with `…`. Widths are measured in terminal columns (wide characters count two), and
 * only on a text's first few code units per column (`clip`), so a cell of a megabyte costs what a short one
 * does. Colour is used only when the output is a terminal and `NO_COLOR` is unset or empty, so pipes, files and
 * scripts get plain text.
 */
import { CliOutput } from "effect/cli"

const { displayWidth } = CliOutput

export interface Style {
  /** Write ANSI colours. */
  readonly color: boolean
  /** Terminal columns the table may take; unbounded when undefined (not a terminal). */
  readonly columns?: number | undefined
}

/** How `stream` (stdout, stderr) should be styled: colour on a terminal unless `NO_COLOR` is set and not empty. */
export const styleFor = (stream: { readonly isTTY?: boolean | undefined; readonly columns?: number | undefined }): Style => {
  const tty = stream.isTTY === true
  return { color: tty && (process.env["NO_COLOR"] ?? "") === "", columns: tty ? stream.columns : undefined }
}

export type Colour = "bold" | "dim" | "red" | "green" | "yellow" | "blue" | "magenta" | "cyan"

const codes: { readonly [C in Colour]: readonly [number, number] } = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39]
}

/** `text` in `colour` when the style allows colour; as it is otherwise. */
export const paint = (style: Style, colour: Colour | undefined, text: string): string =>
  style.color && colour !== undefined ? `\u001b[${codes[colour][0]}m${text}\u001b[${codes[colour][1]}m` : text

/** C0 and C1 control characters, DEL, and the bidirectional controls that could reorder what follows. */
const unsafe = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** Columns between tab stops. */
const tabWidth = 8

/** `text` with each tab replaced by the spaces that reach the next tab stop, counted from the text's start. */
const expandTabs = (text: string): string => {
  if (!text.includes("\t")) return text
  let out = ""
  let column = 0
  for (const [i, part] of text.split("\t").entries()) {
    if (i > 0) {
      const gap = tabWidth - (column % tabWidth)
      out += " ".repeat(gap)
      column += gap
    }
    out += part
    column += displayWidth(part)
  }
  return out
}

/** One line of text, safe to print: tabs expanded, other controls as `?` (a line break too, so a cell stays one line). */
export const safe = (text: string): string => expandTabs(text).replace(unsafe, "?")

/** `text` with its unsafe characters as `\uXXXX` escapes, but for `keep` (a line break, say): for messages and JSON. */
export const escapeUnsafe = (text: string, keep: ReadonlySet<string> = new Set()): string =>
  text.replace(unsafe, (c) => (keep.has(c) ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`))

/**
 * Code units of a text worth measuring for `width` columns: a column takes one to a few code units (a wide
 * character, an emoji with its modifiers), so text past this many cannot fit and is cut unmeasured. Measuring
 * costs more than linear time in the text's length, which a cell of a megabyte would make minutes.
 */
const measuredUnits = (width: number): number => width * 8 + 16

/**
 * `text` in at most `measuredUnits(width)` code units, ending in `…` when cut (never between the halves of a
 * surrogate pair): what is worth measuring of it. Clipping twice clips once.
 */
export const clip = (text: string, width: number): string => {
  const units = measuredUnits(width)
  if (text.length <= units) return text
  const end = /[\uD800-\uDBFF]/.test(text[units - 2]!) ? units - 2 : units - 1
  return `${text.slice(0, end)}…`
}

const segmenter = new Intl.Segmenter()

/** `text` cut to at most `width` terminal columns, ending in `…` when cut; never inside a grapheme. */
export const fit = (text: string, width: number): string => {
  if (width <= 0) return ""
  const head = clip(text, width)
  if (displayWidth(head) <= width) return head
  let out = ""
  let used = 0
  for (const { segment } of segmenter.segment(head)) {
    const w = displayWidth(segment)
    if (used + w > width - 1) break
    out += segment
    used += w
  }
  return `${out}…`
}

/** `text` as one line of at most `width` columns: clipped, made safe, cut. */
export const line = (text: string, width: number): string => fit(safe(clip(text, width)), width)

const padTo = (text: string, width: number, align: "left" | "right"): string => {
  const gap = " ".repeat(Math.max(0, width - displayWidth(text)))
  return align === "right" ? gap + text : text + gap
}

export interface Column<Row> {
  readonly header: string
  readonly value: (row: Row) => string
  readonly align?: "left" | "right"
  /** Widest the column may be; 40 unless given. */
  readonly max?: number
  readonly colour?: (row: Row) => Colour | undefined
}

const defaultMax = 40
/** Narrowest a column is squeezed to when the table is wider than the terminal. */
const minWidth = 6
const gutter = "  "

/** The widest of `widths`, 0 for none: a loop, since spreading thousands of arguments overflows the stack. */
const widest = (widths: Iterable<number>): number => {
  let most = 0
  for (const w of widths) if (w > most) most = w
  return most
}

/** Each column's width: its widest cell (up to its max), the header included. */
const naturalWidths = (headers: ReadonlyArray<string>, cells: ReadonlyArray<ReadonlyArray<string>>, maxes: ReadonlyArray<number>) =>
  headers.map((h, i) => Math.min(maxes[i]!, widest([h, ...cells.map((row) => row[i]!)].map(displayWidth))))

/**
 * `widths` narrowed to fit `columns`: the widest capped at one common width (never below `minWidth`), the
 * columns left over shared out one each among the capped ones. A binary search, so a wide table costs little.
 */
const narrowed = (widths: ReadonlyArray<number>, columns: number): ReadonlyArray<number> => {
  const total = (cap: number) => widths.reduce((sum, w) => sum + Math.min(w, cap), 0) + gutter.length * (widths.length - 1)
  if (total(Infinity) <= columns) return widths
  let low = minWidth
  let high = widest(widths)
  while (low < high) {
    const mid = Math.ceil((low + high) / 2)
    if (total(mid) <= columns) low = mid
    else high = mid - 1
  }
  let spare = Math.max(0, columns - total(low))
  return widths.map((w) => (w > low && spare-- > 0 ? low + 1 : Math.min(w, low)))
}

/** A table's headers and cells, clipped and made safe, and each column's natural width. */
const measured = <Row>(columns: ReadonlyArray<Column<Row>>, rows: ReadonlyArray<Row>) => {
  const maxes = columns.map((c) => c.max ?? defaultMax)
  const headers = columns.map((c, i) => safe(clip(c.header, maxes[i]!)))
  const cells = rows.map((row) => columns.map((c, i) => safe(clip(c.value(row), maxes[i]!))))
  return { headers, cells, natural: naturalWidths(headers, cells, maxes) }
}

/** The columns a table of `rows` takes when nothing narrows it: its columns' natural widths and the gutters between. */
export const naturalWidth = <Row>(columns: ReadonlyArray<Column<Row>>, rows: ReadonlyArray<Row>): number =>
  measured(columns, rows).natural.reduce((sum, w) => sum + w, 0) + gutter.length * Math.max(0, columns.length - 1)

/** A table: a header row, then one line per row; cells clipped and made safe, cut to their column and aligned. */
export const render = <Row>(columns: ReadonlyArray<Column<Row>>, rows: ReadonlyArray<Row>, style: Style): string => {
  const { headers, cells, natural } = measured(columns, rows)
  const widths = style.columns === undefined ? natural : narrowed(natural, style.columns)
  const line = (texts: ReadonlyArray<string>, colourOf: (i: number) => Colour | undefined) =>
    texts
      .map((t, i) => paint(style, colourOf(i), padTo(fit(t, widths[i]!), widths[i]!, columns[i]!.align ?? "left")))
      .join(gutter)
      .trimEnd()
  return [line(headers, () => "bold"), ...cells.map((row, r) => line(row, (i) => columns[i]!.colour?.(rows[r]!)))].join("\n")
}

/** Widest a key of `fields` is shown. */
const maxKeyWidth = 40

/** `key: value` lines, keys aligned (cut to 40 columns), values made safe and cut to `max` columns. */
export const fields = (entries: ReadonlyArray<readonly [string, string]>, style: Style, max = 120): string => {
  const keys = entries.map(([k]) => line(k, maxKeyWidth))
  const width = widest(keys.map(displayWidth))
  return entries.map(([, v], i) => `  ${paint(style, "dim", padTo(keys[i]!, width, "left"))}  ${line(v, max)}`).join("\n")
}
