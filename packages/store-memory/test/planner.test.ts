/**
 * The planner must use its indexes: these tests read the driver's counters and plans, over a table big
 * enough that a scan would show.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { Ast, Evaluator } from "@lineage/core"
import type { MemoryDriver } from "../src/index.js"
import { driverWith, run } from "./helpers.js"

const N = 100_000
const statuses = ["running", "done", "failed", "queued"] as const

const docAt = (i: number): Evaluator.Doc => ({
  id: i + 1,
  uid: `r${String(i).padStart(6, "0")}`,
  status: statuses[i % statuses.length]!,
  experiment: `exp-${i % 1000}`,
  score: (i * 7919) % N,
  note: i % 2 === 0 ? "even" : "odd"
})

describe(`planner over ${N} documents`, () => {
  let driver: MemoryDriver
  const docs = Array.from({ length: N }, (_, i) => docAt(i))

  beforeAll(() => {
    driver = driverWith({
      name: "runs",
      unique: [{ name: "uid", fields: ["uid"] }],
      indexes: [
        { path: ["status"], kind: "hash" },
        { path: ["experiment"], kind: "hash" },
        { path: ["score"], kind: "sorted" }
      ]
    })
    run(driver.insert("runs", docs))
  })

  const measure = <A>(f: () => A) => {
    driver.resetStats()
    const result = f()
    return { result, ...driver.stats() }
  }

  it("answers a selective indexed equality without a scan", () => {
    const spec = { where: Ast.field(["experiment"], "eq", "exp-42"), orderBy: [] }
    const { result, scanned, examined } = measure(() => run(driver.find("runs", spec)))
    expect(result).toHaveLength(100)
    expect(scanned).toBe(0)
    expect(examined).toBe(100)
    expect(driver.explain("runs", spec)).toMatchObject({
      fullScan: false,
      access: { _tag: "Lookup", index: "hash", path: ["experiment"], op: "eq", estimated: 100 }
    })
    const started = performance.now()
    for (let i = 0; i < 100; i++) run(driver.find("runs", { where: Ast.field(["experiment"], "eq", `exp-${i}`), orderBy: [] }))
    // Generous bound for slow CI machines; a scan of this table takes tens of milliseconds.
    expect((performance.now() - started) / 100).toBeLessThan(2)
  })

  it("intersects selective conjuncts and re-checks the rest", () => {
    const where = Ast.and([
      Ast.field(["experiment"], "eq", "exp-42"),
      Ast.field(["score"], "lt", 300),
      Ast.field(["note"], "regex", "^e")
    ])
    const spec = { where, orderBy: [] }
    const plan = driver.explain("runs", spec)
    expect(plan.access).toMatchObject({ _tag: "Intersect", estimated: 100 })
    const { result, scanned, examined } = measure(() => run(driver.find("runs", spec)))
    expect(result).toEqual(Evaluator.find(docs, spec))
    expect(scanned).toBe(0)
    // Only documents in both index answers reach the evaluator.
    expect(examined).toBe(docs.filter((d) => d["experiment"] === "exp-42" && (d["score"] as number) < 300).length)
  })

  it("serves ranges from the sorted index", () => {
    const spec = { where: Ast.field(["score"], "range", [500, 549]), orderBy: [{ path: ["score"], direction: "desc" as const }] }
    expect(driver.explain("runs", spec).access).toMatchObject({ _tag: "Lookup", index: "sorted", op: "range", estimated: 50 })
    const { result, scanned, examined } = measure(() => run(driver.find("runs", spec)))
    expect(result.map((d) => d["score"])).toEqual(Array.from({ length: 50 }, (_, i) => 549 - i))
    expect(scanned).toBe(0)
    expect(examined).toBe(50)
  })

  it("serves uid prefixes from the implicit uid index", () => {
    const where = Ast.field(["uid"], "startsWith", "r00012")
    const { result, scanned, examined } = measure(() => run(driver.count("runs", where)))
    expect(result).toBe(10)
    expect(scanned).toBe(0)
    expect(examined).toBe(10)
  })

  it("unions the branches of an indexed Or", () => {
    const where = Ast.or([Ast.field(["experiment"], "in", ["exp-1", "exp-2"]), Ast.field(["score"], "lt", 10)])
    expect(driver.explain("runs", { where, orderBy: [] }).access).toMatchObject({ _tag: "Union", estimated: 210 })
    const { result, scanned } = measure(() => run(driver.count("runs", where)))
    expect(result).toBe(docs.filter((d) => Evaluator.matches(d, where)).length)
    expect(scanned).toBe(0)
  })

  it("reads the top 10 in index order instead of sorting", () => {
    for (const direction of ["asc", "desc"] as const) {
      const spec = { where: Ast.always, orderBy: [{ path: ["score"], direction }], limit: 10 }
      expect(driver.explain("runs", spec)).toMatchObject({ orderedByIndex: true, fullScan: false })
      const { result, scanned, examined } = measure(() => run(driver.find("runs", spec)))
      expect(result).toEqual(Evaluator.find(docs, spec))
      expect(scanned).toBe(0)
      expect(examined).toBe(10)
    }
  })

  it("walks the index past non-matches for an unselective filter", () => {
    const spec = { where: Ast.field(["status"], "eq", "failed"), orderBy: [{ path: ["id"], direction: "desc" as const }], limit: 10, offset: 5 }
    expect(driver.explain("runs", spec)).toMatchObject({ orderedByIndex: true, access: { _tag: "IndexOrder", path: ["id"] } })
    const { result, scanned, examined } = measure(() => run(driver.find("runs", spec)))
    expect(result).toEqual(Evaluator.find(docs, spec))
    expect(scanned).toBe(0)
    expect(examined).toBeLessThan(100)
  })

  it("pages with a cursor from the index position", () => {
    const orderBy = [{ path: ["score"], direction: "asc" as const }]
    const first = run(driver.find("runs", { where: Ast.always, orderBy, limit: 10 }))
    const spec = { where: Ast.always, orderBy, limit: 10, after: Evaluator.cursorOf(orderBy, first.at(-1)!) }
    const { result, examined } = measure(() => run(driver.find("runs", spec)))
    expect(result.map((d) => d["score"])).toEqual(Array.from({ length: 10 }, (_, i) => i + 10))
    expect(examined).toBeLessThanOrEqual(11)
  })

  it("scans only when nothing is indexed", () => {
    const where = Ast.field(["note"], "eq", "odd")
    expect(driver.explain("runs", { where, orderBy: [{ path: ["note"], direction: "asc" }] })).toMatchObject({ fullScan: true })
    const { result, scanned } = measure(() => run(driver.count("runs", where)))
    expect(result).toBe(N / 2)
    expect(scanned).toBe(N)
  })
})
