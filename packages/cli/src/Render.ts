/**
 * The views as a person reads them in a terminal: tables of runs, transforms and features, and the detail of
 * one run, transform or artifact as titled sections of `key: value` lines. Everything printed passes through
 * `Table`, which makes each value safe to print and cuts it to fit.
 */
import type { Ast } from "@lineage/core"
import * as Table from "./Table.js"
import type * as Views from "./Views.js"

type Style = Table.Style

/** A JSON value on one line: strings bare, the rest as JSON. */
export const shown = (v: Ast.Json | undefined): string => (v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v))

/** An ISO time as `2024-05-01 12:00:00` (UTC). */
export const time = (iso: string | null): string => (iso === null ? "" : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`)

/** `950ms`, `12.3s`, `4m 05s`, `2h 03m`. */
export const duration = (ms: number | null): string => {
  if (ms === null) return ""
  if (ms < 1_000) return `${ms}ms`
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`
  const s = Math.floor(ms / 1_000)
  if (s < 3_600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`
  return `${Math.floor(s / 3_600)}h ${String(Math.floor((s % 3_600) / 60)).padStart(2, "0")}m`
}

const statusColours: { readonly [status: string]: Table.Colour } = {
  completed: "green",
  errored: "red",
  aborted: "magenta",
  started: "yellow",
  restarted: "yellow",
  scheduled: "blue"
}

export const statusColour = (status: string): Table.Colour | undefined => statusColours[status]

const section = (style: Style, title: string, body: string): string => `${Table.paint(style, "bold", title)}\n${body}`

const none = "  (none)"

/** A detail's first line: what it is, then what it is called (made safe and cut), then its status if any. */
const title = (style: Style, what: string, name: string, status?: string): string =>
  [Table.paint(style, "bold", what), Table.line(name, 80), ...(status === undefined ? [] : [Table.paint(style, statusColour(status), status)])].join("  ")

/** A section's title with what part of how many it lists (`Inputs (100 of 250)`), when it lists only part. */
const partOf = (title: string, shownCount: number, total: number, which = ""): string =>
  shownCount < total ? `${title} (${shownCount}${which} of ${total})` : title

/** `+3 more params`: what a listing leaves out. */
const moreText = (count: number, noun: string): string => `${count} more ${noun}`

// ---------------------------------------------------------------------------------------------------------
// Listings

/** An empty column headed by how many varying names `varying` leaves out, if any. */
const moreColumns = (more: Views.More): ReadonlyArray<Table.Column<Views.RunRow>> =>
  (["params", "features"] as const)
    .filter((noun) => more[noun] > 0)
    .map((noun) => ({ header: `+${moreText(more[noun], noun)}`, value: () => "" }))

/** Runs, with a column per param and feature whose value varies across the rows (the first `Views.maxVarying` of each). */
export const runsTable = (rows: ReadonlyArray<Views.RunRow>, varying: Views.Varying, style: Style): string => {
  const columns: Array<Table.Column<Views.RunRow>> = [
    { header: "uid", value: (r) => r.uid, max: 20 },
    { header: "transform", value: (r) => r.transform.key, max: 32 },
    { header: "version", value: (r) => r.transform.version, max: 12 },
    { header: "status", value: (r) => r.status, colour: (r) => statusColour(r.status) },
    { header: "started", value: (r) => time(r.startedAt) },
    { header: "duration", value: (r) => duration(r.durationMs), align: "right" },
    ...varying.params.map((k): Table.Column<Views.RunRow> => ({ header: `params.${k}`, value: (r) => shown(r.params[k]), max: 24 })),
    ...varying.features.map((k): Table.Column<Views.RunRow> => ({ header: `features.${k}`, value: (r) => shown(r.features[k]), max: 24 })),
    ...moreColumns(varying.more)
  ]
  return Table.render(columns, rows, style)
}

/** The line under a listing: what part of how many. */
export const pageFooter = (shownRows: number, total: number, offset: number, noun: string): string =>
  total === 0
    ? `No ${noun}.`
    : shownRows === total
      ? `${total} ${noun}.`
      : `${offset + 1}-${offset + shownRows} of ${total} ${noun} (--limit and --offset for others).`

export const transformsTable = (rows: ReadonlyArray<Views.TransformRow>, style: Style): string =>
  Table.render<Views.TransformRow>(
    [
      { header: "uid", value: (t) => t.uid, max: 20 },
      { header: "key", value: (t) => t.key, max: 40 },
      { header: "version", value: (t) => `${t.version}${t.isLatest ? "" : " (old)"}`, max: 16 },
      { header: "kind", value: (t) => t.kind },
      { header: "runs", value: (t) => String(t.runCount), align: "right" },
      { header: "last run", value: (t) => (t.lastRun === null ? "" : `${time(t.lastRun.startedAt)} ${t.lastRun.status}`), colour: (t) => statusColour(t.lastRun?.status ?? "") },
      { header: "description", value: (t) => t.description ?? "", max: 40 }
    ],
    rows,
    style
  )

export const featuresTable = (rows: ReadonlyArray<Views.FeatureRow>, style: Style): string =>
  Table.render<Views.FeatureRow>(
    [
      { header: "uid", value: (f) => f.uid, max: 14 },
      { header: "name", value: (f) => f.name, max: 40 },
      { header: "dtype", value: (f) => f.dtype, max: 30 },
      { header: "unit", value: (f) => f.unit ?? "", max: 12 },
      { header: "description", value: (f) => f.description ?? "", max: 50 }
    ],
    rows,
    style
  )

// ---------------------------------------------------------------------------------------------------------
// Details

/** An object's entries as `key: value` lines, and a last line counting the `more` it has than it shows. */
const objectLines = (o: { readonly [k: string]: Ast.Json }, style: Style, more = 0, noun = "entries"): string => {
  const entries = Object.entries(o)
  if (entries.length === 0) return none
  const lines = Table.fields(entries.map(([k, v]) => [k, shown(v)] as const), style)
  return more === 0 ? lines : `${lines}\n${Table.paint(style, "dim", `  … ${moreText(more, noun)}`)}`
}

const artifactLines = (artifacts: ReadonlyArray<Views.ArtifactSummary>, style: Style): string =>
  artifacts.length === 0
    ? none
    : Table.render<Views.ArtifactSummary>(
        [
          { header: "uid", value: (a) => a.uid, max: 22 },
          { header: "key", value: (a) => a.key ?? a.description ?? "", max: 48 },
          { header: "version", value: (a) => a.version, max: 12 },
          { header: "size", value: (a) => (a.size === null ? "" : String(a.size)), align: "right" }
        ],
        artifacts,
        style
      )
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n")

const noneVarying: Views.Varying = { params: [], features: [], more: { params: 0, features: 0 } }

const runLines = (rows: ReadonlyArray<Views.RunRow>, style: Style): string =>
  rows.length === 0
    ? none
    : runsTable(rows, noneVarying, style)
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n")

/** A JSON object, or undefined for anything else. */
const objectOf = (v: Ast.Json | undefined): { readonly [k: string]: Ast.Json } | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as { readonly [k: string]: Ast.Json }) : undefined

/** What the environment says, in a few lines: Node, platform, package, git commit, dependency count. */
const environmentLines = (env: Views.Environment | null, style: Style): string => {
  if (env === null) return none
  const lines: Array<readonly [string, string]> = [["artifact", env.artifact.uid]]
  const c = objectOf(env.content)
  if (c !== undefined) {
    for (const key of ["node", "platform", "arch"]) if (c[key] !== undefined) lines.push([key, shown(c[key])])
    const pkg = objectOf(c["package"])
    if (pkg !== undefined) lines.push(["package", `${shown(pkg["name"])}@${shown(pkg["version"])}`])
    const git = objectOf(c["git"])
    if (git !== undefined) lines.push(["git", `${shown(git["commit"])}${git["dirty"] === true ? " (dirty)" : ""}`])
    const deps = objectOf(c["dependencies"])
    if (deps !== undefined) lines.push(["dependencies", String(Object.keys(deps).length)])
  } else if (env.unavailable !== undefined) lines.push(["content", `unavailable: ${env.unavailable}`])
  return Table.fields(lines, style)
}

export const runDetail = (d: Views.RunDetail, style: Style): string =>
  [
    title(style, `Run ${d.uid}`, `${d.transform.key} ${d.transform.version}`, d.row.status),
    section(style, "Fields", objectLines(d.fields, style)),
    section(style, "Params", objectLines(d.params, style, d.row.more.params, "params")),
    section(style, "Features", objectLines(d.features, style, d.row.more.features, "features")),
    section(style, partOf("Inputs", d.inputs.length, d.counts.inputs), artifactLines(d.inputs, style)),
    section(style, partOf("Outputs", d.outputs.length, d.counts.outputs), artifactLines(d.outputs, style)),
    section(style, "Environment", environmentLines(d.environment, style)),
    section(style, "Report", d.report === null ? none : artifactLines([d.report], style)),
    section(style, "Initiated by", runLines(d.initiatedBy === null ? [] : [d.initiatedBy], style)),
    section(style, partOf("Initiated runs", d.initiatedRuns.length, d.counts.initiatedRuns), runLines(d.initiatedRuns, style)),
    section(
      style,
      "Timeline",
      Table.fields(
        d.timeline.map((e) => [e.event, `${time(e.at)}${e.status === undefined ? "" : ` ${e.status}`}`] as const),
        style
      )
    )
  ].join("\n\n")

/** Lines of source code shown in a transform's detail; `--json` has all of what the view keeps. */
const maxSourceLines = 40

const sourceLines = (source: Views.SourceCode | null, style: Style): string => {
  if (source === null) return none
  const lines = source.text.split(/\r\n|\r|\n/)
  const shownLines = lines.slice(0, maxSourceLines).map((l) => `  ${Table.line(l, 160)}`)
  const more = lines.length - shownLines.length
  const note = more > 0 || source.truncated ? [Table.paint(style, "dim", `  … ${source.chars} characters in all (--json for more)`)] : []
  return [...shownLines, ...note].join("\n")
}

export const transformDetail = (d: Views.TransformDetail, style: Style): string =>
  [
    title(style, `Transform ${d.uid}`, `${d.ref.key} ${d.ref.version}`),
    section(style, "Fields", objectLines(d.fields, style)),
    section(style, "Source code", sourceLines(d.sourceCode, style)),
    section(
      style,
      partOf("Versions", d.versions.length, d.versionCount, " newest"),
      Table.fields(
        d.versions.map((v) => [v.version, `${v.uid}  ${time(v.createdAt)}${v.isLatest ? "  latest" : ""}`] as const),
        style
      )
    ),
    section(style, `Runs (${d.runs.length} most recent of ${d.runCount})`, runLines(d.runs, style))
  ].join("\n\n")

export const artifactDetail = (d: Views.ArtifactDetail, style: Style): string =>
  [
    title(style, `Artifact ${d.uid}`, `${d.summary.key ?? d.summary.description ?? ""} ${d.summary.version}`),
    section(style, "Fields", objectLines(d.fields, style)),
    section(style, "Features", objectLines(d.features, style, d.moreFeatures, "features")),
    section(style, "Produced by", runLines(d.run === null ? [] : [d.run], style)),
    section(style, partOf("Read by", d.readBy.length, d.readByCount), runLines(d.readBy, style))
  ].join("\n\n")
