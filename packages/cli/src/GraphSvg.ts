/**
 * A lineage graph drawn as a standalone SVG document: laid out left to right by dagre, artifacts as rounded
 * boxes and runs as square ones, the root drawn thick, edges with arrowheads. The same input gives the same
 * bytes: nodes and edges are laid out in sorted order and coordinates are rounded.
 *
 * Labels are hostile text (a key, a transform's key from a shared store): every text and attribute is
 * XML-escaped, characters XML cannot hold are replaced, and the drawing carries no script and no `<style>`
 * (colours are presentation attributes, which a page's Content-Security-Policy lets through), so it can be
 * placed into a page as it is.
 *
 * Dagre's time grows with how far edges reach, not with the counts alone: an edge across k columns becomes k
 * dummy nodes, so 100 nodes and 200 edges can take seconds and a few hundred such edges minutes and gigabytes.
 * `toSvg` lays out on the calling thread, for graphs the caller trusts; `draw` lays out in a worker thread
 * with a time and memory budget, ended when either runs out or the caller is interrupted, for graphs from a
 * store that anyone can write to.
 */
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"
import * as dagre from "@dagrejs/dagre"
import { Evaluator, type LineageGraph } from "@lineage/core"
import { Data, Duration, Effect, Semaphore } from "effect"
import { cut } from "./Views.js"

type LineageNode = LineageGraph.LineageNode
type LineageEdge = LineageGraph.LineageEdge

export interface SvgOptions {
  /** The link a node's box leads to; none when undefined. */
  readonly href?: ((node: LineageNode) => string | undefined) | undefined
}

/** Columns of a label drawn in a box; longer ones end in `…` (the `<title>` holds them whole). */
export const maxLabelColumns = 36
/** UTF-16 units of a `<title>`: a label longer than this is cut there too, so no label can swell the drawing. */
export const maxTitleLength = 2000
/** Nodes `draw` lays out: a random graph of this many nodes and `maxEdges` edges takes about a second. */
export const maxNodes = 200
/** Edges `draw` lays out. */
export const maxEdges = 300
/**
 * How long `draw` lets a layout run, the worker's start included, before giving up: a random graph at the
 * bounds takes about a second; only one whose edges reach across many columns takes longer. Generous, since
 * the event loop stays free meanwhile and a machine under load is slower.
 */
export const layoutBudget = Duration.seconds(5)
/** The heap of one layout's worker: a graph that needs more is given up on, not left to exhaust the process. */
export const layoutHeapMb = 256

const fontSize = 12
/** The width of one column of the monospace font the labels are drawn in (0.6em). */
const columnWidth = fontSize * 0.6
const paddingX = 12
const nodeHeight = 30
/** Around the drawing. */
const margin = 14

const colours = {
  artifact: { fill: "#eef4ff", stroke: "#3569c9" },
  run: { fill: "#fff6ea", stroke: "#c46a12" },
  edge: "#6b7280",
  text: "#1f2937"
} as const

// ---------------------------------------------------------------------------------------------------------
// Text

/** Characters XML 1.0 cannot hold: control characters other than tab and line breaks, U+FFFE/U+FFFF, lone surrogates. */
const notXml = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|\p{Cs}/gu

const entities: { readonly [c: string]: string } = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }

/** `text` as XML character data or an attribute value (either quote), with what XML cannot hold as U+FFFD. */
export const escapeXml = (text: string): string => text.replace(notXml, "\uFFFD").replace(/[&<>"']/g, (c) => entities[c]!)

/** Wide characters (CJK, emoji, …) take two columns of a monospace font. */
const columns = (text: string): number => {
  let n = 0
  for (const c of text) n += c.codePointAt(0)! >= 0x1100 ? 2 : 1
  return n
}

/** A label on one line: whitespace and control characters as single spaces, cut to `maxLabelColumns`. */
const shown = (label: string): string => {
  const line = label.slice(0, 4 * maxLabelColumns).replace(/[\s\u0000-\u001f\u007f]+/g, " ").trim()
  if (columns(line) <= maxLabelColumns) return line
  let out = ""
  for (const c of line) {
    if (columns(out + c) > maxLabelColumns - 1) break
    out += c
  }
  return `${out}…`
}

// ---------------------------------------------------------------------------------------------------------
// Layout

/** What dagre is given: each node's box, and the edges between them, in the order they are laid out. */
interface LayoutInput {
  readonly graph: dagre.GraphLabel
  readonly nodes: ReadonlyArray<{ readonly id: string; readonly width: number; readonly height: number }>
  readonly edges: ReadonlyArray<readonly [string, string]>
}

type Point = { readonly x: number; readonly y: number }

/** Where dagre put each node's centre and routed each edge, in the input's order, and the drawing's size. */
interface LayoutOutput {
  readonly nodes: ReadonlyArray<Point>
  readonly edges: ReadonlyArray<ReadonlyArray<Point>>
  readonly width: number
  readonly height: number
}

/**
 * Dagre's layout of `input`. It uses nothing but its arguments, because a worker runs it from its source text
 * (`layoutWorker`): no import, no module-level name.
 */
function layoutWith(lib: Pick<typeof dagre, "Graph" | "layout">, input: LayoutInput): LayoutOutput {
  const g = new lib.Graph<dagre.GraphLabel, dagre.NodeLabel, dagre.EdgeLabel>()
  g.setGraph({ ...input.graph })
  g.setDefaultEdgeLabel(() => ({}))
  for (const n of input.nodes) g.setNode(n.id, { width: n.width, height: n.height })
  for (const [from, to] of input.edges) g.setEdge(from, to)
  if (input.nodes.length > 0) lib.layout(g)
  const { width = 0, height = 0 } = g.graph()
  return {
    nodes: input.nodes.map((n) => ({ x: g.node(n.id).x ?? 0, y: g.node(n.id).y ?? 0 })),
    edges: input.edges.map(([from, to]) => g.edge(from, to).points ?? []),
    width,
    height
  }
}

/** A node as it is drawn: its label on one line, and the width of its box. */
interface Shown {
  readonly node: LineageNode
  readonly text: string
  readonly width: number
}

/** The graph as it is drawn: nodes once per id, edges once per pair and only between nodes, both sorted. */
interface Prepared {
  readonly nodes: ReadonlyArray<Shown>
  readonly edges: ReadonlyArray<LineageEdge>
}

/** Coordinates to one decimal, so that the output is the same bytes wherever it is computed. */
const r = (n: number) => String(Math.round(n * 10) / 10)

/**
 * Nodes are taken once per id; edges whose ends are not nodes are left out (dagre would invent the missing
 * node), as are repeated ones. Cycles are dagre's to break.
 */
const prepare = (graph: LineageGraph.LineageGraph): Prepared => {
  const nodes = new Map<string, Shown>()
  for (const node of [...graph.nodes].sort((a, b) => Evaluator.compareStrings(a.id, b.id))) {
    if (nodes.has(node.id)) continue
    const text = shown(node.label)
    nodes.set(node.id, { node, text, width: columns(text) * columnWidth + 2 * paddingX })
  }
  const edges = new Map<string, LineageEdge>()
  const byEnds = (a: LineageEdge, b: LineageEdge) => Evaluator.compareStrings(a.from, b.from) || Evaluator.compareStrings(a.to, b.to)
  for (const edge of [...graph.edges].sort(byEnds)) {
    const key = `${edge.from}\u0000${edge.to}`
    if (nodes.has(edge.from) && nodes.has(edge.to) && !edges.has(key)) edges.set(key, edge)
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] }
}

const inputOf = ({ nodes, edges }: Prepared): LayoutInput => ({
  graph: { rankdir: "LR", nodesep: 22, ranksep: 54, marginx: margin, marginy: margin },
  nodes: nodes.map((n) => ({ id: n.node.id, width: n.width, height: nodeHeight })),
  edges: edges.map((e) => [e.from, e.to] as const)
})

// ---------------------------------------------------------------------------------------------------------
// Drawing

/** A smooth path through dagre's points: straight to the first midpoint, curves through the rest. */
const pathOf = (points: ReadonlyArray<Point>): string => {
  const [first, ...rest] = points
  if (first === undefined) return ""
  const last = rest.at(-1)
  if (last === undefined) return `M${r(first.x)},${r(first.y)}`
  const parts = [`M${r(first.x)},${r(first.y)}`]
  for (let i = 0; i < rest.length - 1; i++) {
    const p = rest[i]!
    const q = rest[i + 1]!
    parts.push(`Q${r(p.x)},${r(p.y)} ${r((p.x + q.x) / 2)},${r((p.y + q.y) / 2)}`)
  }
  parts.push(`L${r(last.x)},${r(last.y)}`)
  return parts.join(" ")
}

const drawEdge = (edge: LineageEdge, points: ReadonlyArray<Point>): string =>
  `<path class="edge ${edge.kind}" d="${pathOf(points)}" fill="none" stroke="${colours.edge}" stroke-width="1.4"` +
  `${edge.kind === "initiated" ? ' stroke-dasharray="5 4"' : ""} marker-end="url(#lineage-arrow)"/>`

const drawNode = (p: Shown, { x, y }: Point, root: string, href: SvgOptions["href"]): string => {
  const { node } = p
  const isRoot = node.id === root
  const colour = colours[node.kind]
  const box =
    `<g class="node ${node.kind}${isRoot ? " root" : ""}" data-id="${escapeXml(node.id)}">` +
    `<title>${escapeXml(cut(node.label, maxTitleLength))}</title>` +
    `<rect x="${r(x - p.width / 2)}" y="${r(y - nodeHeight / 2)}" width="${r(p.width)}" height="${nodeHeight}"` +
    ` rx="${node.kind === "artifact" ? nodeHeight / 2 : 3}" fill="${colour.fill}" stroke="${colour.stroke}"` +
    ` stroke-width="${isRoot ? 3 : 1.2}"/>` +
    `<text x="${r(x)}" y="${r(y)}" text-anchor="middle" dominant-baseline="central" fill="${colours.text}">` +
    `${escapeXml(p.text)}</text></g>`
  const link = href?.(node)
  return link === undefined ? box : `<a href="${escapeXml(link)}">${box}</a>`
}

/** The SVG document of a prepared graph as laid out. */
const render = (root: string, prepared: Prepared, laid: LayoutOutput, options: SvgOptions): string => {
  const width = r(Math.max(laid.width, 2 * margin))
  const height = r(Math.max(laid.height, 2 * margin))
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="lineage-graph" width="${width}" height="${height}"` +
      ` viewBox="0 0 ${width} ${height}" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"` +
      ` font-size="${fontSize}" role="img" aria-label="lineage graph">`,
    `<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7"` +
      ` orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="${colours.edge}"/></marker></defs>`,
    ...prepared.edges.map((e, i) => drawEdge(e, laid.edges[i] ?? [])),
    ...prepared.nodes.map((n, i) => drawNode(n, laid.nodes[i] ?? { x: 0, y: 0 }, root, options.href)),
    "</svg>"
  ].join("\n")
}

/**
 * The graph as an SVG document (`<svg>` with the SVG namespace, no XML declaration): one `<g class="node
 * artifact|run [root]">` per node with a `<title>` holding its label, wrapped in `<a href>` when `href` gives
 * a link; one `<path class="edge input|output|initiated">` per edge. An empty graph is an empty drawing.
 * Laid out on the calling thread, however long that takes: for a graph from elsewhere, use `draw`.
 */
export const toSvg = (graph: LineageGraph.LineageGraph, options: SvgOptions = {}): string => {
  const prepared = prepare(graph)
  return render(graph.root, prepared, layoutWith(dagre, inputOf(prepared)), options)
}

// ---------------------------------------------------------------------------------------------------------
// Drawing off the event loop

/**
 * Why `draw` drew nothing: more nodes or edges than it lays out (`TooManyNodes`, `TooManyEdges`, checked
 * before any work), a layout that outran `layoutBudget` (`TooSlow`) or `layoutHeapMb` (`TooMuchMemory`), or a
 * worker that failed otherwise (`WorkerFailed`, a bug or a broken installation).
 */
export class DrawingError extends Data.TaggedError("DrawingError")<{
  readonly reason: "TooManyNodes" | "TooManyEdges" | "TooSlow" | "TooMuchMemory" | "WorkerFailed"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.detail
  }
}

/** Layouts running at once in this process, whatever the number of callers: each takes a core and a heap. */
const layouts = Semaphore.makeUnsafe(2)

/** The worker's program: `layoutWith` from its source, dagre from the path this module resolves it at. */
const layoutWorker = `const { parentPort, workerData } = require("node:worker_threads")
parentPort.postMessage((${layoutWith.toString()})(require(workerData.dagre), workerData.input))`

const dagreEntry = () => createRequire(import.meta.url).resolve("@dagrejs/dagre")

const sizeOf = (input: LayoutInput) => `${input.nodes.length} nodes and ${input.edges.length} edges`

/** Lays `input` out in a new worker thread, ended when the layout is done, fails, or is interrupted. */
const inWorker = (input: LayoutInput): Effect.Effect<LayoutOutput, DrawingError> =>
  Effect.acquireUseRelease(
    Effect.sync(
      () =>
        new Worker(layoutWorker, {
          eval: true,
          workerData: { dagre: dagreEntry(), input },
          resourceLimits: { maxOldGenerationSizeMb: layoutHeapMb }
        })
    ),
    (worker) =>
      Effect.callback<LayoutOutput, DrawingError>((resume) => {
        worker.once("message", (output: LayoutOutput) => resume(Effect.succeed(output)))
        worker.once("error", (cause: Error & { readonly code?: string }) =>
          resume(
            Effect.fail(
              cause.code === "ERR_WORKER_OUT_OF_MEMORY"
                ? new DrawingError({ reason: "TooMuchMemory", detail: `laying out the graph's ${sizeOf(input)} needs more than ${layoutHeapMb} MiB` })
                : new DrawingError({ reason: "WorkerFailed", detail: "the layout's worker thread failed", cause })
            )
          )
        )
      }),
    (worker) => Effect.promise(() => worker.terminate())
  )

const tooMany = (graph: LineageGraph.LineageGraph): DrawingError | undefined =>
  graph.nodes.length > maxNodes
    ? new DrawingError({ reason: "TooManyNodes", detail: `the graph has ${graph.nodes.length} nodes; at most ${maxNodes} are drawn` })
    : graph.edges.length > maxEdges
      ? new DrawingError({ reason: "TooManyEdges", detail: `the graph has ${graph.edges.length} edges; at most ${maxEdges} are drawn` })
      : undefined

/**
 * `toSvg`'s drawing, laid out in a worker thread so that the event loop stays free: refused beyond `maxNodes`
 * or `maxEdges` (counted as given) before any work, given up on after `layoutBudget` or beyond `layoutHeapMb`,
 * and ended at once when interrupted. At most two layouts run at a time; the budget starts when one does.
 */
export const draw = (graph: LineageGraph.LineageGraph, options: SvgOptions = {}): Effect.Effect<string, DrawingError> =>
  Effect.suspend(() => {
    const refused = tooMany(graph)
    if (refused !== undefined) return Effect.fail(refused)
    const prepared = prepare(graph)
    const input = inputOf(prepared)
    const budgeted = inWorker(input).pipe(
      Effect.timeoutOrElse({
        duration: layoutBudget,
        orElse: () =>
          Effect.fail(
            new DrawingError({ reason: "TooSlow", detail: `the graph's ${sizeOf(input)} cannot be laid out within ${Duration.format(layoutBudget)}` })
          )
      })
    )
    return Effect.map(Semaphore.withPermit(layouts, budgeted), (laid) => render(graph.root, prepared, laid, options))
  })
