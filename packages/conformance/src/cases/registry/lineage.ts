/**
 * The lineage walk on the store under test: the same graph as the reference, hop by hop, upstream,
 * downstream and both; runs started by runs; cycles that end; trashed records left out.
 */
import assert from "node:assert/strict"
import { Artifact, type Records, LineageGraph as Graph } from "@lineage/core"
import type { Case } from "../../Case.js"
import { consume, newTrackedRun, produce, type StorageSession, storageCase } from "./artifacts.js"
import { linkInput } from "./support.js"

const group = "lineage"
const c = (name: string, body: (s: StorageSession) => Promise<void>): Case => storageCase(group, name, body)

const aid = (a: Records.Artifact) => `artifact_${a.uid}`
const rid = (r: Records.Run) => `run_${r.uid}`
const sorted = (xs: ReadonlyArray<string>) => [...xs].sort()
const nodeIds = (g: Graph.LineageGraph) => g.nodes.map((n) => n.id)
const edgeList = (g: Graph.LineageGraph) => g.edges.map((e) => `${e.from} -> ${e.to}`)
const walk = (s: StorageSession, record: Records.Artifact | Records.Run, options: Graph.LineageOptions) => s.run(Graph.lineage(record, options))

/** raw → ingest → clean → train → model */
const pipeline = async (s: StorageSession) => {
  const raw = await produce(s, null, "raw", "raw.csv")
  const ingest = await newTrackedRun(s, "ingest.ts")
  await consume(s, ingest, raw)
  const clean = await produce(s, ingest, "clean", "clean.csv")
  const train = await newTrackedRun(s, "train.ts")
  await consume(s, train, clean)
  const model = await produce(s, train, "model", "model.bin")
  return { raw, ingest, clean, train, model }
}

export const lineageCases: ReadonlyArray<Case> = [
  c("upstream follows producers and their inputs, one hop per level, as deep as asked", async (s) => {
    const p = await pipeline(s)
    assert.deepStrictEqual(nodeIds(await walk(s, p.model, { direction: "upstream", depth: 0 })), [aid(p.model)])
    assert.deepStrictEqual(
      nodeIds(await walk(s, p.model, { direction: "upstream", depth: 2 })),
      sorted([aid(p.model), rid(p.train), aid(p.clean)])
    )
    const all = await walk(s, p.model, { direction: "upstream" })
    assert.deepStrictEqual(nodeIds(all), sorted([aid(p.raw), rid(p.ingest), aid(p.clean), rid(p.train), aid(p.model)]))
    assert.deepStrictEqual(
      edgeList(all),
      sorted([
        `${aid(p.raw)} -> ${rid(p.ingest)}`,
        `${rid(p.ingest)} -> ${aid(p.clean)}`,
        `${aid(p.clean)} -> ${rid(p.train)}`,
        `${rid(p.train)} -> ${aid(p.model)}`
      ])
    )
  }),
  c("downstream follows the runs that read an artifact and what they made; both joins the two", async (s) => {
    const p = await pipeline(s)
    assert.deepStrictEqual(
      nodeIds(await walk(s, p.raw, { direction: "downstream", depth: 2 })),
      sorted([aid(p.raw), rid(p.ingest), aid(p.clean)])
    )
    const both = await walk(s, p.clean, { direction: "both", depth: 1 })
    assert.deepStrictEqual(nodeIds(both), sorted([rid(p.ingest), aid(p.clean), rid(p.train)]))
    const fromRun = await walk(s, p.ingest, { depth: 1 })
    assert.deepStrictEqual(nodeIds(fromRun), sorted([aid(p.raw), rid(p.ingest), aid(p.clean)]))
  }),
  c("a run started by another run is linked to it", async (s) => {
    const parent = await newTrackedRun(s, "flow.ts")
    const child = await newTrackedRun(s, "step", { initiatedByRunId: parent.id })
    const out = await produce(s, child, "from a step")
    const g = await walk(s, out, { direction: "upstream" })
    assert.deepStrictEqual(nodeIds(g), sorted([aid(out), rid(child), rid(parent)]))
    assert.ok(g.edges.some((e) => e.from === rid(parent) && e.to === rid(child) && e.kind === "initiated"))
  }),
  c("a cycle A → run → B → run → A ends, each edge drawn once", async (s) => {
    const r1 = await newTrackedRun(s, "one.ts")
    const r2 = await newTrackedRun(s, "two.ts")
    const a = await produce(s, r2, "A")
    const b = await produce(s, r1, "B")
    await consume(s, r1, a)
    await consume(s, r2, b)
    const g = await walk(s, a, { depth: 1_000 })
    assert.deepStrictEqual(nodeIds(g), sorted([aid(a), aid(b), rid(r1), rid(r2)]))
    assert.equal(g.edges.length, 4)
  }),
  c("an artifact that is input and output of one run is drawn only as its output", async (s) => {
    const r = await newTrackedRun(s)
    const a = await produce(s, r, "loop")
    await linkInput(s, r, a)
    const g = await walk(s, a, { depth: 20 })
    assert.deepStrictEqual(g.edges, [{ from: rid(r), to: aid(a), kind: "output" }])
  }),
  c("trashed records are left out of the graph", async (s) => {
    const p = await pipeline(s)
    await s.run(Artifact.delete(p.clean))
    const g = await walk(s, p.model, { direction: "upstream" })
    assert.deepStrictEqual(nodeIds(g), sorted([aid(p.model), rid(p.train)]))
  }),
  c("Mermaid names every node and edge of the walked graph", async (s) => {
    const p = await pipeline(s)
    const g = await walk(s, p.model, {})
    const text = Graph.toMermaid(g)
    assert.ok(text.startsWith("flowchart LR\n"))
    for (const n of g.nodes) assert.ok(text.includes(`  ${n.id}`), `node ${n.id} is drawn`)
    for (const e of g.edges) assert.ok(text.includes(`  ${e.from} --> ${e.to}`), `edge ${e.from} → ${e.to} is drawn`)
    assert.equal(Graph.toMermaid(g), Graph.toMermaid({ ...g, nodes: [...g.nodes].reverse(), edges: [...g.edges].reverse() }))
  })
]
