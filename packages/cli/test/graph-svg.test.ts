/**
 * The lineage graph as SVG, read back by a real XML parser (Chromium's `DOMParser`, strict `image/svg+xml`):
 * well-formed whatever the labels, every label shown and titled as written, only drawing elements, links where
 * asked, the same bytes for the same graph, cycles and empty graphs drawn. `draw`, laying out in a worker
 * thread: the same drawing, the bounds it refuses beyond, and a graph too tangled to lay out in its budget,
 * given up on while the event loop stays free. A drawing is kept in `test-output/screenshots/` to be looked at.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import type { LineageGraph } from "@lineage/core"
import { Cause, Effect, Exit } from "effect"
import type { Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { draw, type DrawingError, maxEdges, maxLabelColumns, maxNodes, maxTitleLength, toSvg } from "../src/GraphSvg.js"
import { type Browser, launch } from "./support/chromium.js"

type Graph = LineageGraph.LineageGraph
type Node = LineageGraph.LineageNode

const screenshots = join(import.meta.dirname, "../../../test-output/screenshots")

let browser: Browser
let page: Page

beforeAll(async () => {
  browser = await launch()
  page = await browser.context.newPage()
})
afterAll(() => browser?.close())

/** The little of the DOM the parsing below uses (the tests' type check has no DOM library). */
interface DomElement {
  readonly localName: string
  readonly namespaceURI: string | null
  readonly textContent: string | null
  readonly parentElement: DomElement | null
  readonly attributes: Iterable<{ readonly name: string }>
  getAttribute(name: string): string | null
  querySelector(selector: string): DomElement | null
  querySelectorAll(selector: string): Iterable<DomElement>
}
declare class DOMParser {
  parseFromString(
    source: string,
    type: "image/svg+xml"
  ): { readonly documentElement: DomElement; getElementsByTagName(name: string): ArrayLike<DomElement> & Iterable<DomElement> } & DomElement
}

/** What the parser made of a drawing. */
interface Parsed {
  readonly errors: number
  readonly root: string
  readonly namespace: string | null
  readonly elements: ReadonlyArray<string>
  readonly eventAttributes: number
  readonly nodes: ReadonlyArray<{
    readonly id: string | null
    readonly classes: string
    readonly title: string
    readonly text: string
    readonly href: string | null
    readonly width: number
  }>
  readonly edges: ReadonlyArray<{ readonly classes: string; readonly d: string; readonly marker: string | null }>
}

const parse = (svg: string): Promise<Parsed> =>
  page.evaluate((source) => {
    const doc = new DOMParser().parseFromString(source, "image/svg+xml")
    const all = [...doc.getElementsByTagName("*")]
    return {
      errors: doc.getElementsByTagName("parsererror").length,
      root: doc.documentElement.localName,
      namespace: doc.documentElement.namespaceURI,
      elements: [...new Set(all.map((e) => e.localName))].sort(),
      eventAttributes: all.flatMap((e) => [...e.attributes].filter((a) => a.name.toLowerCase().startsWith("on"))).length,
      nodes: [...doc.querySelectorAll("g.node")].map((g) => ({
        id: g.getAttribute("data-id"),
        classes: g.getAttribute("class") ?? "",
        title: g.querySelector("title")?.textContent ?? "",
        text: g.querySelector("text")?.textContent ?? "",
        href: g.parentElement?.localName === "a" ? g.parentElement.getAttribute("href") : null,
        width: Number(g.querySelector("rect")?.getAttribute("width"))
      })),
      edges: [...doc.querySelectorAll("path.edge")].map((p) => ({
        classes: p.getAttribute("class") ?? "",
        d: p.getAttribute("d") ?? "",
        marker: p.getAttribute("marker-end")
      }))
    }
  }, svg)

const node = (id: string, label: string): Node => {
  const [kind, uid] = id.split("_") as ["artifact" | "run", string]
  return { id, kind, uid, label }
}

const hostile = [
  "</title><script>alert(1)</script>",
  `quotes " and ' and <b>&amp;</b>`,
  "control \u0000\u0001\u0008\u000b\u001f\u007f characters",
  "lone \ud800 surrogate and \uffff",
  "line\nbreaks\r\nand\ttabs",
  "]]><!-- not a comment --><![CDATA[",
  "ünïcødé 😀 数据集",
  "k".repeat(100_000)
]

const hostileGraph: Graph = {
  root: "artifact_h0",
  nodes: hostile.map((label, i) => node(i % 2 === 0 ? `artifact_h${i}` : `run_h${i}`, label)),
  edges: [
    { from: "artifact_h0", to: "run_h1", kind: "input" },
    { from: "run_h1", to: "artifact_h2", kind: "output" },
    { from: "run_h3", to: "run_h1", kind: "initiated" },
    { from: "artifact_h2", to: "run_h3", kind: "input" }
  ]
}

/** What XML keeps of a title: characters it cannot hold become U+FFFD; line breaks are normalised. */
const asTitle = (label: string) =>
  label.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|\p{Cs}/gu, "\uFFFD").replace(/\r\n?/g, "\n")

describe("toSvg", () => {
  it("is well-formed SVG with only drawing elements, whatever the labels", async () => {
    const parsed = await parse(toSvg(hostileGraph, { href: (n) => `#/${n.kind}/${n.uid}` }))
    expect(parsed.errors).toBe(0)
    expect(parsed.root).toBe("svg")
    expect(parsed.namespace).toBe("http://www.w3.org/2000/svg")
    expect(parsed.elements).toEqual(["a", "defs", "g", "marker", "path", "rect", "svg", "text", "title"])
    expect(parsed.eventAttributes).toBe(0)
    expect(parsed.nodes).toHaveLength(hostile.length)
  })

  it("titles every node with its label and shows it on one line, cut to fit", async () => {
    const parsed = await parse(toSvg(hostileGraph))
    const byId = new Map(parsed.nodes.map((n) => [n.id, n]))
    for (const n of hostileGraph.nodes) {
      const drawn = byId.get(n.id)!
      const fits = n.label.length <= maxTitleLength
      expect(drawn.title).toBe(fits ? asTitle(n.label) : `${n.label.slice(0, maxTitleLength)}…`)
      expect(drawn.text).not.toMatch(/[\n\r\t\u0000-\u001f]/)
      expect(Array.from(drawn.text).length).toBeLessThanOrEqual(maxLabelColumns)
    }
    expect(byId.get("artifact_h0")!.text).toBe("</title><script>alert(1)</script>")
    expect(byId.get("artifact_h4")!.text).toBe("line breaks and tabs")
    expect(byId.get("artifact_h6")!.text).toBe("ünïcødé 😀 数据集")
    expect(byId.get("run_h7")!.text).toBe(`${"k".repeat(maxLabelColumns - 1)}…`)
  })

  it("stays small however long a label is", () => {
    expect(toSvg(hostileGraph).length).toBeLessThan(20_000)
  })

  it("sizes boxes to their labels and tells kinds and the root apart", async () => {
    const graph: Graph = {
      root: "run_r",
      nodes: [node("artifact_a", "a.csv"), node("artifact_b", "a much longer key/of/an/artifact.parquet"), node("run_r", "train")],
      edges: [
        { from: "artifact_a", to: "run_r", kind: "input" },
        { from: "run_r", to: "artifact_b", kind: "output" }
      ]
    }
    const parsed = await parse(toSvg(graph))
    const byId = new Map(parsed.nodes.map((n) => [n.id, n]))
    expect(byId.get("artifact_b")!.width).toBeGreaterThan(byId.get("artifact_a")!.width)
    expect(byId.get("artifact_a")!.classes).toBe("node artifact")
    expect(byId.get("run_r")!.classes).toBe("node run root")
    expect(parsed.edges.map((e) => e.classes).sort()).toEqual(["edge input", "edge output"])
    for (const e of parsed.edges) expect(e.marker).toBe("url(#lineage-arrow)")
  })

  it("links the nodes `href` gives a link, escaped, and leaves the others bare", async () => {
    const graph: Graph = {
      root: "artifact_a",
      nodes: [node("artifact_a", "a"), node("run_r", "r")],
      edges: [{ from: "artifact_a", to: "run_r", kind: "input" }]
    }
    const parsed = await parse(toSvg(graph, { href: (n) => (n.kind === "run" ? `#/run/${n.uid}?x="1"&y=<2>` : undefined) }))
    expect(parsed.errors).toBe(0)
    const byId = new Map(parsed.nodes.map((n) => [n.id, n]))
    expect(byId.get("run_r")!.href).toBe('#/run/r?x="1"&y=<2>')
    expect(byId.get("artifact_a")!.href).toBeNull()
  })

  it("gives the same bytes for the same graph, in any order", () => {
    const shuffled: Graph = { ...hostileGraph, nodes: [...hostileGraph.nodes].reverse(), edges: [...hostileGraph.edges].reverse() }
    expect(toSvg(shuffled)).toBe(toSvg(hostileGraph))
    expect(toSvg(hostileGraph)).toBe(toSvg(hostileGraph))
  })

  it("draws a cycle: every node once, every edge with a finite route", async () => {
    const graph: Graph = {
      root: "artifact_a",
      nodes: [node("artifact_a", "a"), node("run_r", "r"), node("artifact_b", "b"), node("run_s", "s")],
      edges: [
        { from: "artifact_a", to: "run_r", kind: "input" },
        { from: "run_r", to: "artifact_b", kind: "output" },
        { from: "artifact_b", to: "run_s", kind: "input" },
        { from: "run_s", to: "artifact_a", kind: "output" },
        { from: "run_s", to: "run_s", kind: "initiated" }
      ]
    }
    const parsed = await parse(toSvg(graph))
    expect(parsed.errors).toBe(0)
    expect(parsed.nodes.map((n) => n.id).sort()).toEqual(["artifact_a", "artifact_b", "run_r", "run_s"])
    expect(parsed.edges).toHaveLength(5)
    for (const e of parsed.edges) expect(e.d).toMatch(/^M-?\d+(\.\d)?,-?\d+(\.\d)?( [QL][-\d., ]+)*$/)
  })

  it("draws each node once and leaves out edges to nodes it does not have", async () => {
    const graph: Graph = {
      root: "run_r",
      nodes: [node("run_r", "r"), node("run_r", "r again"), node("artifact_a", "a")],
      edges: [
        { from: "artifact_a", to: "run_r", kind: "input" },
        { from: "artifact_a", to: "run_r", kind: "input" },
        { from: "run_r", to: "artifact_missing", kind: "output" }
      ]
    }
    const parsed = await parse(toSvg(graph))
    expect(parsed.nodes.map((n) => n.id).sort()).toEqual(["artifact_a", "run_r"])
    expect(parsed.edges).toHaveLength(1)
  })

  it("draws an empty graph as an empty drawing", async () => {
    const parsed = await parse(toSvg({ root: "run_x", nodes: [], edges: [] }))
    expect(parsed.errors).toBe(0)
    expect(parsed.root).toBe("svg")
    expect(parsed.nodes).toEqual([])
    expect(parsed.edges).toEqual([])
  })

  it("renders in a page (kept as a screenshot)", async () => {
    const graph: Graph = {
      root: "artifact_m",
      nodes: [
        node("artifact_raw", "raw.csv"),
        node("run_d", "download · 2024-02-29T12:00:00.000Z"),
        node("run_n", "prepare/normalize · 2024-02-29T12:00:01.000Z"),
        node("artifact_norm", "normalized.csv"),
        node("run_t", "train · 2024-02-29T12:00:02.000Z"),
        node("run_f0", "train/fit · 2024-02-29T12:00:02.100Z"),
        node("run_f1", "train/fit · 2024-02-29T12:00:02.200Z"),
        node("artifact_m", "model.json"),
        node("artifact_x", hostile[0]!)
      ],
      edges: [
        { from: "run_d", to: "artifact_raw", kind: "output" },
        { from: "artifact_raw", to: "run_n", kind: "input" },
        { from: "run_n", to: "artifact_norm", kind: "output" },
        { from: "artifact_norm", to: "run_f0", kind: "input" },
        { from: "artifact_norm", to: "run_f1", kind: "input" },
        { from: "run_t", to: "run_f0", kind: "initiated" },
        { from: "run_t", to: "run_f1", kind: "initiated" },
        { from: "run_t", to: "artifact_m", kind: "output" },
        { from: "run_t", to: "artifact_x", kind: "output" }
      ]
    }
    const svg = toSvg(graph, { href: (n) => `#/${n.kind}/${n.uid}` })
    await page.setContent(`<!doctype html><body style="margin:16px;background:#fff">${svg}</body>`)
    const box = await page.locator("svg").boundingBox()
    expect(box?.width).toBeGreaterThan(100)
    expect(await page.locator("script").count()).toBe(0)
    mkdirSync(screenshots, { recursive: true })
    await page.locator("svg").screenshot({ path: join(screenshots, "graph-svg.png") })
  })
})

/** `nodes` nodes, alternately artifacts and runs, with ids that sort as they are numbered. */
const numbered = (nodes: number): Array<Node> =>
  Array.from({ length: nodes }, (_, i) => node(`${i % 2 === 0 ? "artifact" : "run"}_${String(i).padStart(4, "0")}`, `data/step-${i}.csv`))

/**
 * A sweep as a lineage store holds it: `runs` runs that each read all of `inputs` shared artifacts and write
 * one artifact of their own, so that every run's edges cross every other's.
 */
const sweep = (inputs: number, runs: number): Graph => {
  const shared = Array.from({ length: inputs }, (_, i) => node(`artifact_in${i}`, `data/input-${i}.csv`))
  const nodes = [...shared]
  const edges: Array<LineageGraph.LineageEdge> = []
  for (let i = 0; i < runs; i++) {
    const [run, model] = [node(`run_r${i}`, `train · 2024-02-29T12:00:${i % 60}Z`), node(`artifact_m${i}`, `models/model-${i}.json`)]
    nodes.push(run, model)
    edges.push(...shared.map((a) => ({ from: a.id, to: run.id, kind: "input" as const })), { from: run.id, to: model.id, kind: "output" })
  }
  return { root: shared[0]!.id, nodes, edges }
}

/**
 * A chain of `nodes` nodes with the rest of `edges` spanning as far as they can: every edge across many
 * columns becomes a chain of dagre's dummy nodes, which is what makes a layout slow, not the counts.
 */
const tangled = (nodes: number, edges: number): Graph => {
  const all = numbered(nodes)
  const links: Array<LineageGraph.LineageEdge> = all.slice(1).map((n, i) => ({ from: all[i]!.id, to: n.id, kind: "input" }))
  for (let span = nodes - 1; links.length < edges; span--)
    for (let i = 0; i + span < nodes && links.length < edges; i++) links.push({ from: all[i]!.id, to: all[i + span]!.id, kind: "input" })
  return { root: all[0]!.id, nodes: all, edges: links }
}

const drawingError = (exit: Exit.Exit<string, DrawingError>): DrawingError => {
  if (Exit.isSuccess(exit)) throw new Error("the graph was drawn")
  return Cause.squash(exit.cause) as DrawingError
}

describe("draw", () => {
  const href = (n: Node) => `#/${n.kind}/${n.uid}`

  it("lays a dense graph at the bounds out in a worker thread: the same bytes as toSvg", async () => {
    const graph = sweep(2, (maxNodes - 2) / 2)
    expect(graph.nodes).toHaveLength(maxNodes)
    expect(graph.edges.length).toBeGreaterThan(maxEdges - 5)
    const drawn = await Effect.runPromise(draw(graph, { href }))
    expect(drawn).toBe(toSvg(graph, { href }))
    const parsed = await parse(drawn)
    expect(parsed.errors).toBe(0)
    expect(parsed.nodes).toHaveLength(graph.nodes.length)
    expect(parsed.edges).toHaveLength(graph.edges.length)
  })

  it("refuses more nodes or edges than it draws, saying how many", async () => {
    const nodes = drawingError(await Effect.runPromiseExit(draw(sweep(1, maxNodes / 2))))
    expect(nodes.reason).toBe("TooManyNodes")
    expect(nodes.message).toContain(`${maxNodes + 1} nodes`)
    const wide = sweep(3, Math.ceil(maxEdges / 4) + 1)
    expect(wide.nodes.length).toBeLessThanOrEqual(maxNodes)
    const edges = drawingError(await Effect.runPromiseExit(draw(wide)))
    expect(edges.reason).toBe("TooManyEdges")
    expect(edges.message).toContain(`${wide.edges.length} edges`)
  })

  it("gives up on a graph too tangled to lay out in its budget, and the event loop stays free meanwhile", async () => {
    let ticks = 0
    const timer = setInterval(() => ticks++, 20)
    try {
      const error = drawingError(await Effect.runPromiseExit(draw(tangled(maxNodes, maxEdges))))
      expect(error.reason).toBe("TooSlow")
      expect(error.message).toContain(`${maxNodes} nodes and ${maxEdges} edges`)
    } finally {
      clearInterval(timer)
    }
    expect(ticks).toBeGreaterThan(0)
  })

  it("stops laying out when interrupted: the worker is ended", async () => {
    // The diagnostic report lists this thread's running workers.
    const workers = () => (process.report.getReport() as { readonly workers: ReadonlyArray<unknown> }).workers.length
    const before = workers()
    const exit = await Effect.runPromiseExit(draw(tangled(maxNodes, maxEdges)).pipe(Effect.timeout("300 millis")))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(workers()).toBe(before)
  })
})
