/**
 * The planner must use its indexes: these tests read the driver's plans (`explain`) and counters over a
 * table big enough that a scan would show, and check every answer against the reference evaluator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Ast, Evaluator } from "@lineage/core"
import type { RedisDriver } from "../src/index.js"
import { countRoundTrips, freshDriver, run } from "../../../test/support/redis.js"

const N = 2_000
const statuses = ["running", "done", "failed", "queued"] as const

const docAt = (i: number): Evaluator.Doc => ({
  id: i + 1,
  uid: `r${String(i).padStart(6, "0")}`,
  status: statuses[i % statuses.length]!,
  experiment: `exp-${i % 200}`,
  score: (i * 7919) % N,
  at: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
  note: i % 2 === 0 ? "even" : "odd"
})

describe(`planner over ${N} documents`, () => {
  let driver: RedisDriver
  const docs = Array.from({ length: N }, (_, i) => docAt(i))

  beforeAll(async () => {
    driver = await freshDriver("planner")
    await run(
      driver.declare([
        {
          name: "runs",
          unique: [{ name: "runs_uid", fields: ["uid"] }],
          indexes: [
            { path: ["status"], kind: "hash" },
            { path: ["experiment"], kind: "hash" },
            { path: ["score"], kind: "sorted" },
            { path: ["at"], kind: "sorted" }
          ]
        }
      ])
    )
    await run(driver.insert("runs", docs))
  })
  afterAll(() => run(driver.close()))

  /** Runs a find, checks it against the evaluator, and returns the plan and the documents it fetched. */
  const measured = async (spec: Ast.FindSpec) => {
    const plan = await run(driver.explain("runs", spec))
    driver.resetStats()
    const got = await run(driver.find("runs", spec))
    const stats = driver.stats()
    expect(got).toEqual(Evaluator.find(docs, spec))
    return { plan, stats, got }
  }

  it("indexed equality reads only its candidates", async () => {
    const { plan, stats, got } = await measured({ where: Ast.field(["experiment"], "eq", "exp-7"), orderBy: [] })
    expect(plan.access).toMatchObject({ _tag: "Lookup", path: ["experiment"], estimated: N / 200 })
    expect(plan.fullScan).toBe(false)
    expect(got).toHaveLength(N / 200)
    expect(stats.fetched).toBe(N / 200)
    expect(stats.scanned).toBe(0)
  })

  it("a selective lookup costs two round trips (plan with its ids, then the documents); a broad one, three", async () => {
    const trips = async (spec: Ast.FindSpec) => {
      const counts = countRoundTrips(driver.client)
      const got = await run(driver.find("runs", spec))
      expect(got).toEqual(Evaluator.find(docs, spec))
      return counts.roundTrips
    }
    // 10 documents: their members come back with the sizes.
    expect(await trips({ where: Ast.field(["experiment"], "eq", "exp-7"), orderBy: [] })).toBe(2)
    // 500 documents: past the prefetch limit, the ids take a trip of their own.
    expect(await trips({ where: Ast.field(["status"], "eq", "done"), orderBy: [] })).toBe(3)
  })

  it("two indexed conjuncts of similar size are intersected; the evaluator checks the rest", async () => {
    const where = Ast.and([Ast.field(["experiment"], "in", ["exp-1", "exp-2"]), Ast.field(["score"], "lt", 20), Ast.field(["note"], "eq", "odd")])
    const { plan, stats } = await measured({ where, orderBy: [] })
    expect(plan.access._tag).toBe("Intersect")
    expect(stats.fetched).toBeLessThanOrEqual(20)
  })

  it("an or of indexed predicates is a union of lookups", async () => {
    const where = Ast.or([Ast.field(["experiment"], "eq", "exp-3"), Ast.field(["uid"], "startsWith", "r00001")])
    const { plan, stats } = await measured({ where, orderBy: [] })
    expect(plan.access._tag).toBe("Union")
    expect(stats.fetched).toBeLessThanOrEqual(N / 200 + 10)
  })

  it("date ranges are read from the index", async () => {
    const where = Ast.field(["at"], "range", ["2024-01-01T01:00:00.000Z", "2024-01-01T01:09:59.999Z"])
    const { plan, got, stats } = await measured({ where, orderBy: [{ path: ["at"], direction: "desc" }] })
    expect(plan.access._tag).toBe("Lookup")
    expect(got).toHaveLength(10)
    expect(stats.fetched).toBe(10)
  })

  it("top 10 by an indexed field reads about 10 documents, in both directions and after a cursor", async () => {
    for (const direction of ["asc", "desc"] as const) {
      const spec: Ast.FindSpec = { where: Ast.always, orderBy: [{ path: ["score"], direction }], limit: 10 }
      const { plan, stats, got } = await measured(spec)
      expect(plan.access).toMatchObject({ _tag: "IndexOrder", path: ["score"], direction })
      expect(plan.orderedByIndex).toBe(true)
      expect(stats.fetched).toBeLessThanOrEqual(11)
      const next = await measured({ ...spec, after: Evaluator.cursorOf(spec.orderBy, got[got.length - 1]!) })
      expect(next.stats.fetched).toBeLessThanOrEqual(12)
    }
  })

  it("ties on the order key come out by ascending id, also descending", async () => {
    const spec: Ast.FindSpec = { where: Ast.always, orderBy: [{ path: ["status"], direction: "desc" }], limit: 7, offset: 3 }
    const { plan, stats } = await measured(spec)
    expect(plan.access._tag).toBe("IndexOrder")
    // The whole run of the last value is read to order it by id: bounded by that run, not the table.
    expect(stats.fetched).toBeLessThanOrEqual(N / 4 + 11)
  })

  it("a predicate with no index falls back to a scan, and says so", async () => {
    const { plan, stats } = await measured({ where: Ast.field(["note"], "eq", "odd"), orderBy: [{ path: ["note"], direction: "asc" }] })
    expect(plan.access._tag).toBe("Scan")
    expect(plan.fullScan).toBe(true)
    expect(stats.scanned).toBe(N)
  })

  it("count of a lone indexed predicate reads no documents; other counts agree with the evaluator", async () => {
    driver.resetStats()
    expect(await run(driver.count("runs", Ast.field(["status"], "eq", "done")))).toBe(N / 4)
    expect(await run(driver.count("runs", Ast.always))).toBe(N)
    expect(driver.stats().fetched).toBe(0)
    const where = Ast.and([Ast.field(["status"], "eq", "done"), Ast.field(["score"], "gte", 1000)])
    expect(await run(driver.count("runs", where))).toBe(docs.filter((d) => Evaluator.matches(d, where)).length)
  })
})
