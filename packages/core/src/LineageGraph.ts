/**
 * The lineage graph around an artifact or a run: lamindb's `view_lineage`, as data and as Mermaid.
 *
 * A breadth-first walk, one level per hop: upstream from an artifact to the run that made it, to that run's
 * inputs, to their producers…; downstream from an artifact to the runs that read it, to their outputs….
 * Unlike lamindb's, it terminates on cycles (each node is expanded at most once per direction) and reads
 * the store once per relation per level, whatever the level's width.
 */
import { Effect } from "effect"
import * as Ast from "./Ast.js"
import * as Records from "./Records.js"
import type { StoreError } from "./Errors.js"
import { trashBranch } from "./Model.js"
import { type Entity, entity, Store } from "./Store.js"

type Artifact = Records.Artifact
type Run = Records.Run

export type Direction = "upstream" | "downstream" | "both"

export interface LineageOptions {
  /** Hops from the record; 5 unless given. */
  readonly depth?: number | undefined
  readonly direction?: Direction | undefined
}

export interface LineageNode {
  /** `artifact_<uid>` or `run_<uid>`, as in lamindb's graphs. */
  readonly id: string
  readonly kind: "artifact" | "run"
  readonly uid: string
  /** An artifact's key, else its description, else its uid; a run's transform key and start time. */
  readonly label: string
}

export interface LineageEdge {
  readonly from: string
  readonly to: string
  /** `input`: artifact → run that read it; `output`: run → artifact it made; `initiated`: run → run it started. */
  readonly kind: "input" | "output" | "initiated"
}

export interface LineageGraph {
  /** The node the walk started from. */
  readonly root: string
  /** Sorted by id. */
  readonly nodes: ReadonlyArray<LineageNode>
  /** Sorted by `from`, then `to`. */
  readonly edges: ReadonlyArray<LineageEdge>
}

const artifactEntity = entity(Records.ArtifactModel, Records.Artifact)
const runEntity = entity(Records.RunModel, Records.Run)
const transformEntity = entity(Records.TransformModel, Records.Transform)
const inputLinkEntity = entity(Records.RunInputArtifactModel, Records.RunInputArtifact)
const recreatedLinkEntity = entity(Records.RunRecreatedArtifactModel, Records.RunRecreatedArtifact)

const artifactId = (a: { readonly uid: string }) => `artifact_${a.uid}`
const runId = (r: { readonly uid: string }) => `run_${r.uid}`

/** Where a walk goes from a node: toward what made it, or toward what it made. */
type Way = "up" | "down"

/** One level's nodes to expand, per kind and way. */
interface Frontier {
  readonly artifacts: { readonly up: ReadonlyArray<Artifact>; readonly down: ReadonlyArray<Artifact> }
  readonly runs: { readonly up: ReadonlyArray<Run>; readonly down: ReadonlyArray<Run> }
}

/** An edge found this level, by store ids; kept once both ends are known to be live. */
interface Found {
  readonly artifactId: number
  readonly runId: number
  readonly kind: "input" | "output"
  readonly way: Way
}

/** `from` started `to`; the walk goes on from `reached` (one of the two) in `way`. */
interface Initiation {
  readonly from: number
  readonly to: number
  readonly way: Way
  readonly reached: number
}

const findIn = <A>(ent: Entity<A>, field: string, ids: ReadonlyArray<number>) =>
  ids.length === 0
    ? Effect.succeed<ReadonlyArray<A>>([])
    : Store.use((store) => store.find(ent, Ast.field([field], "in", [...new Set(ids)])))

/** Every edge one hop from the frontier, with one `in` query per relation. */
const expand = (frontier: Frontier) =>
  Effect.gen(function* () {
    const { artifacts, runs } = frontier
    const found: Array<Found> = []
    const initiations: Array<Initiation> = []
    // Upstream from an artifact: the run that produced it and the runs that recreated it.
    for (const a of artifacts.up) if (a.runId !== null) found.push({ artifactId: a.id, runId: a.runId, kind: "output", way: "up" })
    for (const l of yield* findIn(recreatedLinkEntity, "artifactId", artifacts.up.map((a) => a.id)))
      found.push({ artifactId: l.artifactId, runId: l.runId, kind: "output", way: "up" })
    // Downstream from an artifact: the runs that read it.
    for (const l of yield* findIn(inputLinkEntity, "artifactId", artifacts.down.map((a) => a.id)))
      found.push({ artifactId: l.artifactId, runId: l.runId, kind: "input", way: "down" })
    // Upstream from a run: what it read, the run that started it, and the runs it started (a flow's data
    // comes in through its steps).
    const upIds = runs.up.map((r) => r.id)
    for (const l of yield* findIn(inputLinkEntity, "runId", upIds))
      found.push({ artifactId: l.artifactId, runId: l.runId, kind: "input", way: "up" })
    for (const r of runs.up)
      if (r.initiatedByRunId !== null) initiations.push({ from: r.initiatedByRunId, to: r.id, way: "up", reached: r.initiatedByRunId })
    for (const r of yield* findIn(runEntity, "initiatedByRunId", upIds))
      initiations.push({ from: r.initiatedByRunId!, to: r.id, way: "up", reached: r.id })
    // Downstream from a run: what it produced or recreated, and the runs it started.
    const downIds = runs.down.map((r) => r.id)
    for (const a of yield* findIn(artifactEntity, "runId", downIds)) found.push({ artifactId: a.id, runId: a.runId!, kind: "output", way: "down" })
    for (const l of yield* findIn(recreatedLinkEntity, "runId", downIds))
      found.push({ artifactId: l.artifactId, runId: l.runId, kind: "output", way: "down" })
    for (const r of yield* findIn(runEntity, "initiatedByRunId", downIds))
      initiations.push({ from: r.initiatedByRunId!, to: r.id, way: "down", reached: r.id })
    return { found, initiations }
  })

/** The walk's state: every node drawn so far, by store id, and which were expanded in which way. */
class Walk {
  readonly artifacts = new Map<number, Artifact>()
  readonly runs = new Map<number, Run>()
  readonly expanded = new Set<string>()
  readonly edges = new Map<string, LineageEdge>()

  /** Marks a node for expansion in `way`; false if it already was (this is what ends cycles). */
  claim(kind: "artifact" | "run", id: number, way: Way): boolean {
    const key = `${kind}:${id}:${way}`
    if (this.expanded.has(key)) return false
    this.expanded.add(key)
    return true
  }

  addEdge(from: string, to: string, kind: LineageEdge["kind"]): void {
    this.edges.set(`${from}\u0000${to}`, { from, to, kind })
  }
}

/** Loads the records of nodes not drawn yet, one read per registry; trashed ones stay out of the graph. */
const loadMissing = (walk: Walk, artifactIds: ReadonlyArray<number>, runIds: ReadonlyArray<number>) =>
  Effect.gen(function* () {
    const store = yield* Store
    const newArtifacts = [...new Set(artifactIds)].filter((id) => !walk.artifacts.has(id))
    const newRuns = [...new Set(runIds)].filter((id) => !walk.runs.has(id))
    const live = <R extends { readonly branchId: number }>(rows: ReadonlyArray<R>) => rows.filter((r) => r.branchId !== trashBranch)
    for (const a of live(newArtifacts.length === 0 ? [] : yield* store.get(artifactEntity, newArtifacts))) walk.artifacts.set(a.id, a)
    for (const r of live(newRuns.length === 0 ? [] : yield* store.get(runEntity, newRuns))) walk.runs.set(r.id, r)
  })

/** Draws one level's edges and returns the next frontier: the nodes reached in each way not expanded before. */
const step = (walk: Walk, frontier: Frontier) =>
  Effect.gen(function* () {
    const { found, initiations } = yield* expand(frontier)
    yield* loadMissing(
      walk,
      found.map((f) => f.artifactId),
      [...found.map((f) => f.runId), ...initiations.flatMap((i) => [i.from, i.to])]
    )
    const next = { artifacts: { up: [] as Array<Artifact>, down: [] as Array<Artifact> }, runs: { up: [] as Array<Run>, down: [] as Array<Run> } }
    for (const f of found) {
      const artifact = walk.artifacts.get(f.artifactId)
      const run = walk.runs.get(f.runId)
      if (artifact === undefined || run === undefined) continue
      if (f.kind === "input") walk.addEdge(artifactId(artifact), runId(run), "input")
      else walk.addEdge(runId(run), artifactId(artifact), "output")
      // Reached from an artifact, the new node is the run; reached from a run, it is the artifact.
      const fromArtifact = (f.way === "up") === (f.kind === "output")
      if (fromArtifact) {
        if (walk.claim("run", run.id, f.way)) next.runs[f.way].push(run)
      } else if (walk.claim("artifact", artifact.id, f.way)) next.artifacts[f.way].push(artifact)
    }
    for (const i of initiations) {
      const from = walk.runs.get(i.from)
      const to = walk.runs.get(i.to)
      if (from === undefined || to === undefined) continue
      walk.addEdge(runId(from), runId(to), "initiated")
      const reached = i.reached === from.id ? from : to
      if (walk.claim("run", reached.id, i.way)) next.runs[i.way].push(reached)
    }
    return next satisfies Frontier
  })

const isEmpty = (f: Frontier) => f.artifacts.up.length + f.artifacts.down.length + f.runs.up.length + f.runs.down.length === 0

/** The record as the store has it now (the one in hand may predate its producer being set, say). */
const fresh = (record: Artifact | Run) =>
  Effect.gen(function* () {
    const store = yield* Store
    if (record instanceof Records.Artifact) return (yield* store.get(artifactEntity, [record.id]))[0] ?? record
    return (yield* store.get(runEntity, [record.id]))[0] ?? record
  })

const startFrontier = (walk: Walk, record: Artifact | Run, direction: Direction): Frontier => {
  const ways: ReadonlyArray<Way> = direction === "both" ? ["up", "down"] : direction === "upstream" ? ["up"] : ["down"]
  const has = (w: Way) => ways.includes(w)
  const kind = record instanceof Records.Artifact ? "artifact" : "run"
  for (const w of ways) walk.claim(kind, record.id, w)
  if (record instanceof Records.Artifact) {
    walk.artifacts.set(record.id, record)
    return { artifacts: { up: has("up") ? [record] : [], down: has("down") ? [record] : [] }, runs: { up: [], down: [] } }
  }
  walk.runs.set(record.id, record)
  return { artifacts: { up: [], down: [] }, runs: { up: has("up") ? [record] : [], down: has("down") ? [record] : [] } }
}

const artifactLabel = (a: Artifact) => a.key ?? a.description ?? a.uid

/** Nodes with labels: runs are named by their transform's key, read for all runs in one go. */
const nodesOf = (walk: Walk) =>
  Effect.gen(function* () {
    const store = yield* Store
    const transformIds = [...new Set([...walk.runs.values()].map((r) => r.transformId))]
    const transforms = new Map((yield* store.get(transformEntity, transformIds)).map((t) => [t.id, t]))
    const nodes: Array<LineageNode> = [
      ...[...walk.artifacts.values()].map((a) => ({ id: artifactId(a), kind: "artifact" as const, uid: a.uid, label: artifactLabel(a) })),
      ...[...walk.runs.values()].map((r) => ({
        id: runId(r),
        kind: "run" as const,
        uid: r.uid,
        label: `${transforms.get(r.transformId)?.key ?? "run"} · ${r.startedAt.toISOString()}`
      }))
    ]
    return nodes.sort((a, b) => compare(a.id, b.id))
  })

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** lamindb draws an item that is both input and output of one run only as its output. */
const edgesOf = (walk: Walk): ReadonlyArray<LineageEdge> => {
  const edges = [...walk.edges.values()]
  const outputs = new Set(edges.filter((e) => e.kind === "output").map((e) => `${e.to}\u0000${e.from}`))
  return edges
    .filter((e) => e.kind !== "input" || !outputs.has(`${e.from}\u0000${e.to}`))
    .sort((a, b) => compare(a.from, b.from) || compare(a.to, b.to))
}

/** The lineage graph around `record`, `depth` hops deep (5 unless given), upstream, downstream or both. */
export const lineage = (record: Artifact | Run, options: LineageOptions = {}): Effect.Effect<LineageGraph, StoreError, Store> =>
  Effect.gen(function* () {
    const depth = Math.max(0, Math.floor(options.depth ?? 5))
    const walk = new Walk()
    const root = yield* fresh(record)
    let frontier = startFrontier(walk, root, options.direction ?? "both")
    for (let level = 0; level < depth && !isEmpty(frontier); level++) frontier = yield* step(walk, frontier)
    return {
      root: root instanceof Records.Artifact ? artifactId(root) : runId(root),
      nodes: yield* nodesOf(walk),
      edges: edgesOf(walk)
    }
  })

// ---------------------------------------------------------------------------------------------------------
// Mermaid

/**
 * Mermaid entity codes for everything that could end a quoted label or start markup, so any key renders as
 * written; `#` first, since the codes themselves contain it.
 */
const entities: ReadonlyArray<readonly [RegExp, string]> = [
  [/#/g, "#35;"],
  [/&/g, "#38;"],
  [/"/g, "#quot;"],
  [/</g, "#lt;"],
  [/>/g, "#gt;"],
  [/\[/g, "#91;"],
  [/\]/g, "#93;"],
  [/\(/g, "#40;"],
  [/\)/g, "#41;"],
  [/\{/g, "#123;"],
  [/\}/g, "#125;"],
  [/\|/g, "#124;"],
  [/`/g, "#96;"]
]

/**
 * Bidirectional controls: legitimate in right-to-left text, but raw in the output they reorder what a terminal
 * or an editor shows of the lines around them. Written as numeric character references, which the renderer
 * reads back as the same characters.
 */
const bidiControls = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** C0 and C1 control characters and DEL: they would break a line-based syntax, and show as nothing anyway. */
const controls = /[\u0000-\u001f\u007f-\u009f]/g

export const escapeLabel = (label: string): string =>
  entities
    .reduce((s, [pattern, code]) => s.replace(pattern, code), label)
    .replace(/\r\n|\r|\n/g, "<br/>")
    .replace(controls, " ")
    .replace(bidiControls, (c) => `#${c.charCodeAt(0)};`)

const shape = (node: LineageNode) => {
  const label = `"${escapeLabel(node.label)}"`
  return node.kind === "artifact" ? `${node.id}([${label}])` : `${node.id}[${label}]`
}

/** A `flowchart LR`: artifacts rounded, runs rectangular, runs started by runs linked dashed; sorted, so stable. */
export const toMermaid = (graph: LineageGraph): string =>
  [
    "flowchart LR",
    ...[...graph.nodes].sort((a, b) => compare(a.id, b.id)).map((n) => `  ${shape(n)}`),
    ...[...graph.edges]
      .sort((a, b) => compare(a.from, b.from) || compare(a.to, b.to))
      .map((e) => `  ${e.from} ${e.kind === "initiated" ? "-.->" : "-->"} ${e.to}`),
    `  style ${graph.root} stroke-width:3px`
  ].join("\n")

// ---------------------------------------------------------------------------------------------------------
// Graphviz DOT

/**
 * A DOT double-quoted string that reads back as `text`: `\` and `"` are escaped, so no text ends the string
 * or escapes its closing quote, and no label escape such as `\N` survives (Graphviz reads `\\` as one
 * backslash); line breaks become Graphviz's `\n`, other control characters (C0, C1, DEL) spaces, and a lone
 * surrogate (which has no UTF-8 form) U+FFFD.
 */
export const quoteDot = (text: string): string =>
  `"${text
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/\r\n|\r|\n/g, "\\n")
    .replace(controls, " ")
    .replace(/\p{Cs}/gu, "\uFFFD")}"`

/**
 * A label as Graphviz shows it: it decodes HTML entities in plain labels too, so `&` is written `&amp;` and a
 * bidirectional control as its numeric reference (`&#8238;`), shown as that character but never raw in the file.
 */
const dotLabel = (label: string) => quoteDot(label.replace(/&/g, "&amp;").replace(bidiControls, (c) => `&#${c.charCodeAt(0)};`))

const dotNode = (node: LineageNode, root: string) =>
  [
    `label=${dotLabel(node.label)}`,
    "shape=box",
    ...(node.kind === "artifact" ? ['style="rounded"'] : []),
    ...(node.id === root ? ["penwidth=3"] : [])
  ].join(", ")

/**
 * A left-to-right `digraph` shaped as `toMermaid` draws it: artifacts rounded, runs rectangular, runs started
 * by runs linked dashed, the root drawn thick. Every id and label is quoted; sorted, so stable.
 */
export const toDot = (graph: LineageGraph): string =>
  [
    "digraph lineage {",
    "  rankdir=LR;",
    ...[...graph.nodes].sort((a, b) => compare(a.id, b.id)).map((n) => `  ${quoteDot(n.id)} [${dotNode(n, graph.root)}];`),
    ...[...graph.edges]
      .sort((a, b) => compare(a.from, b.from) || compare(a.to, b.to))
      .map((e) => `  ${quoteDot(e.from)} -> ${quoteDot(e.to)}${e.kind === "initiated" ? " [style=dashed]" : ""};`),
    "}"
  ].join("\n")
