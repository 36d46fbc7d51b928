/**
 * The lineage graph as Graphviz DOT: read back with a reader that follows Graphviz's own rules (its lexer's
 * quoted strings, then a plain label's escapes and entities), every hostile label comes out as written and no
 * label adds a statement or an attribute; shapes follow the node kinds; the output is stable.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as Artifacts from "../src/Artifacts.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import { withRun } from "../src/Current.js"
import { type LineageGraph, type LineageNode, lineage, quoteDot, toDot } from "../src/LineageGraph.js"
import { Run, Transform } from "../src/Registry.js"
import { make as makeStore, Store, type StoreShape } from "../src/Store.js"

/** One DOT statement as Graphviz's lexer tokenizes it: quoted strings unescaped, other tokens as they are. */
const tokens = (line: string): ReadonlyArray<{ readonly quoted: boolean; readonly text: string }> => {
  const out: Array<{ quoted: boolean; text: string }> = []
  let i = 0
  while (i < line.length) {
    const c = line[i]!
    if (c === " ") {
      i++
    } else if (c === '"') {
      // scan.l: `\"` is a quote, `\\` stays a pair, a raw newline is refused here (it would be a line of its own).
      let text = ""
      i++
      for (;;) {
        if (i >= line.length) throw new Error(`unterminated string in ${line}`)
        const d = line[i]!
        if (d === '"') break
        if (d === "\\" && line[i + 1] === '"') (text += '"'), (i += 2)
        else if (d === "\\" && line[i + 1] === "\\") (text += "\\\\"), (i += 2)
        else (text += d), i++
      }
      i++
      out.push({ quoted: true, text })
    } else {
      const m = /^(->|[\[\]=,;{}]|[A-Za-z_][A-Za-z0-9_]*|\d+)/.exec(line.slice(i))
      if (m === null) throw new Error(`unexpected ${line.slice(i)} in ${line}`)
      out.push({ quoted: false, text: m[0] })
      i += m[0].length
    }
  }
  return out
}

/** A plain label as Graphviz draws it (labels.c): entities decoded, then `\n` a line break and `\x` an `x`. */
const drawn = (raw: string): string =>
  raw
    .replace(/&(amp|lt|gt|quot|#\d+);/g, (_, name: string) =>
      name.startsWith("#") ? String.fromCodePoint(Number(name.slice(1))) : ({ amp: "&", lt: "<", gt: ">", quot: '"' } as Record<string, string>)[name]!
    )
    .replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))

/** The node statements: id → attributes, each value as Graphviz reads it. */
const nodeStatements = (dot: string) => {
  const nodes = new Map<string, Map<string, string>>()
  for (const line of dot.split("\n").slice(2, -1)) {
    const t = tokens(line)
    if (t.some((x) => !x.quoted && x.text === "->")) continue
    const [id, open] = t
    expect(id?.quoted).toBe(true)
    expect(open?.text).toBe("[")
    expect(t.at(-2)?.text).toBe("]")
    expect(t.at(-1)?.text).toBe(";")
    const attributes = new Map<string, string>()
    const body = t.slice(2, -2)
    for (let k = 0; k < body.length; k += 4) {
      expect(body[k + 1]?.text).toBe("=")
      attributes.set(body[k]!.text, body[k + 2]!.text)
      if (k + 3 < body.length) expect(body[k + 3]?.text).toBe(",")
    }
    nodes.set(id!.text, attributes)
  }
  return nodes
}

const node = (id: string, kind: LineageNode["kind"], label: string): LineageNode => ({ id, kind, uid: id.split("_")[1]!, label })

describe("quoteDot", () => {
  it("reads back as the text, whatever the text", () => {
    for (const text of ['a"b', "ends with \\", '\\"', "\\N \\G \\L", "x\\", '"; evil [shape=none]; "', "", "ünï 😀"]) {
      const [token, ...rest] = tokens(quoteDot(text))
      expect(rest).toEqual([])
      expect(token?.quoted).toBe(true)
      expect(drawn(token!.text)).toBe(text)
    }
  })

  it("writes line breaks as Graphviz's, control characters as spaces, lone surrogates as U+FFFD", () => {
    expect(quoteDot("a\r\nb\nc\rd")).toBe('"a\\nb\\nc\\nd"')
    expect(quoteDot("a\u0000b\u0007c\u001bd\u007f")).toBe('"a b c d "')
    expect(quoteDot("x\ud800y\udfffz")).toBe('"x\ufffdy\ufffdz"')
    expect(quoteDot("\ud83d\ude00")).toBe('"\ud83d\ude00"')
  })
})

describe("toDot", () => {
  const hostile = [
    '"]; evil [label="owned"]; x -> y; //',
    "</script><script>alert(1)</script>",
    "R&D &lt;not a tag&gt; &amp;",
    "trailing backslash \\",
    "two\nlines\r\nand a \ttab",
    "\\N\\G\\E\\L is not the node's name",
    "x".repeat(5000)
  ]
  const graph: LineageGraph = {
    root: "artifact_a0",
    nodes: hostile.map((label, i) => node(i % 2 === 0 ? `artifact_a${i}` : `run_r${i}`, i % 2 === 0 ? "artifact" : "run", label)),
    edges: [
      { from: "artifact_a0", to: "run_r1", kind: "input" },
      { from: "run_r1", to: "artifact_a2", kind: "output" },
      { from: "run_r3", to: "run_r1", kind: "initiated" }
    ]
  }

  it("draws every hostile label as written, in a statement of its own", () => {
    const dot = toDot(graph)
    const lines = dot.split("\n")
    expect(lines[0]).toBe("digraph lineage {")
    expect(lines[1]).toBe("  rankdir=LR;")
    expect(lines.at(-1)).toBe("}")
    expect(lines).toHaveLength(3 + graph.nodes.length + graph.edges.length)
    const nodes = nodeStatements(dot)
    expect([...nodes.keys()].sort()).toEqual(graph.nodes.map((n) => n.id).sort())
    for (const n of graph.nodes) {
      const expected = n.label.replace(/\r\n/g, "\n").replace(/\t/g, " ")
      expect(drawn(nodes.get(n.id)!.get("label")!)).toBe(expected)
    }
  })

  it("shapes artifacts rounded and runs square, draws the root thick and initiations dashed", () => {
    const dot = toDot(graph)
    const nodes = nodeStatements(dot)
    expect(nodes.get("artifact_a2")?.get("style")).toBe("rounded")
    expect(nodes.get("run_r1")?.has("style")).toBe(false)
    expect(nodes.get("run_r1")?.get("shape")).toBe("box")
    expect(nodes.get("artifact_a0")?.get("penwidth")).toBe("3")
    expect(nodes.get("artifact_a2")?.has("penwidth")).toBe(false)
    expect(dot).toContain('  "run_r3" -> "run_r1" [style=dashed];')
    expect(dot).toContain('  "artifact_a0" -> "run_r1";')
  })

  it("does not depend on the order of nodes and edges", () => {
    const shuffled: LineageGraph = { ...graph, nodes: [...graph.nodes].reverse(), edges: [...graph.edges].reverse() }
    expect(toDot(shuffled)).toBe(toDot(graph))
  })

  it("quotes ids, so a uid that is DOT syntax stays one id", () => {
    const odd: LineageGraph = {
      root: 'run_x" -> "y',
      nodes: [node('run_x" -> "y', "run", "r")],
      edges: []
    }
    const nodes = nodeStatements(toDot(odd))
    expect([...nodes.keys()]).toEqual(['run_x" -> "y'])
    expect(nodes.get('run_x" -> "y')?.get("penwidth")).toBe("3")
  })

  it("draws an empty graph", () => {
    expect(toDot({ root: "run_r", nodes: [], edges: [] })).toBe("digraph lineage {\n  rankdir=LR;\n}")
  })
})

describe("toDot of a walked graph", () => {
  let dir: string
  let store: StoreShape
  const exec = <X, E>(effect: Effect.Effect<X, E, Store>): Promise<X> =>
    Effect.runPromise(effect.pipe(Effect.provideService(Store, store), Effect.provideService(ArtifactStorage, dir)))

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "lineage-dot-test-"))
    store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it("has one statement per node and edge, labelled by key and transform", async () => {
    const raw = await exec(Artifacts.fromBytes("raw", { key: "raw.csv", run: null }))
    const transform = await exec(Transform.getOrCreate({ key: 'clean "it"' }))
    const run = await exec(Run.create({ transformId: transform.id, startedAt: new Date("2024-02-29T12:00:00.000Z") }))
    await exec(withRun(run)(Artifacts.load(raw)))
    const clean = await exec(withRun(run)(Artifacts.fromBytes("clean", { key: "clean.csv" })))
    const g = await exec(lineage(clean))
    const nodes = nodeStatements(toDot(g))
    expect(drawn(nodes.get(`artifact_${raw.uid}`)!.get("label")!)).toBe("raw.csv")
    expect(drawn(nodes.get(`run_${run.uid}`)!.get("label")!)).toBe('clean "it" · 2024-02-29T12:00:00.000Z')
    expect(nodes.get(`artifact_${clean.uid}`)?.get("penwidth")).toBe("3")
    expect(toDot(g)).toContain(`  "run_${run.uid}" -> "artifact_${clean.uid}";`)
    expect(toDot(g)).toContain(`  "artifact_${raw.uid}" -> "run_${run.uid}";`)
  })
})
