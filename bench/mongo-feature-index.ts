/**
 * Two ways to index feature values on MongoDB, measured side by side on the same server (`MONGODB_URL`, else
 * the repository's emulator; the output says which):
 *   A. wildcard: the store's documents as they are (values under `d.featureValues.<name>`) and one index
 *      `{ "d.featureValues.$**": 1 }`; a feature query is `{ "d.featureValues.<name>": cond }`.
 *   B. key/value pairs: the same documents plus `f: [{ k: name, v: value }]` and one multikey index
 *      `{ "f.k": 1, "f.v": 1 }`; a feature query is `{ f: { $elemMatch: { k: name, v: cond } } }`.
 * Figures: indexes per collection, BSON bytes per document, insert throughput, and median latency of an
 * equality and a range query on one feature. On the emulator every query is a scan (indexes are catalogued,
 * not used), so the latencies compare the two filter shapes and document sizes, not what mongod's planner
 * does with the two indexes.
 *
 *   pnpm tsx --conditions=@lineage/source bench/mongo-feature-index.ts [runs=10000] [features=50] [pool=10000]
 */
import { createRequire } from "node:module"
import { Effect } from "effect"
import * as MongoStore from "@lineage/store-mongodb"
import { toStored } from "../packages/store-mongodb/src/Encoding.js"
import { mongoServer } from "../test/support/mongo.js"
import { log, medianOf, rng } from "./common.js"

const [runs = 10_000, perRun = 50, pool = 10_000] = process.argv.slice(2).map(Number)

// The driver is the store's dependency, not the repository root's: reach its BSON through the store package.
const { BSON } = createRequire(new URL("../packages/store-mongodb/package.json", import.meta.url))("mongodb") as {
  readonly BSON: { readonly calculateObjectSize: (doc: object) => number }
}
type Document = Record<string, unknown>
type Collection = ReturnType<ReturnType<MongoStore.MongoDriver["client"]["db"]>["collection"]>

interface Design {
  readonly name: string
  readonly index: { readonly [field: string]: 1 }
  readonly shape: (doc: Document, values: ReadonlyArray<readonly [string, number]>) => Document
  readonly equal: (name: string, value: number) => Document
  readonly range: (name: string, lo: number, hi: number) => Document
}

const designs: ReadonlyArray<Design> = [
  {
    name: "A wildcard { d.featureValues.$**: 1 }",
    index: { "d.featureValues.$**": 1 },
    shape: (doc) => doc,
    equal: (name, value) => ({ [`d.featureValues.${name}`]: { $eq: value } }),
    range: (name, lo, hi) => ({ [`d.featureValues.${name}`]: { $gte: lo, $lte: hi } })
  },
  {
    name: "B pairs { f.k: 1, f.v: 1 }",
    index: { "f.k": 1, "f.v": 1 },
    shape: (doc, values) => ({ ...doc, f: values.map(([k, v]) => ({ k, v })) }),
    equal: (name, value) => ({ f: { $elemMatch: { k: name, v: { $eq: value } } } }),
    range: (name, lo, hi) => ({ f: { $elemMatch: { k: name, v: { $gte: lo, $lte: hi } } } })
  }
]

/** A run as the store stores it (`toStored` of core's encoded record), with `perRun` features from the pool. */
const makeRuns = (): Array<{ readonly doc: Document; readonly values: ReadonlyArray<readonly [string, number]> }> => {
  const random = rng(7)
  return Array.from({ length: runs }, (_, i) => {
    const values = Array.from({ length: perRun }, (_, j) => [`f${(i * 37 + j * 211) % pool}`, Math.floor(random() * 1000) / 1000] as const)
    const record = {
      id: i + 1,
      uid: `run${String(i).padStart(13, "0")}`,
      transformId: 1 + (i % 100),
      status: "completed",
      startedAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      params: { learning_rate: (i % 1000) / 1000, seed: i },
      featureValues: Object.fromEntries(values)
    }
    return { doc: toStored(record, 0) as unknown as Document, values }
  })
}

const measureDesign = async (c: Collection, design: Design, data: ReturnType<typeof makeRuns>) => {
  await c.createIndex(design.index)
  const docs = data.map(({ doc, values }) => design.shape(doc, values))
  const bytes = docs.reduce((n, d) => n + BSON.calculateObjectSize(d), 0)
  const start = performance.now()
  for (let i = 0; i < docs.length; i += 1_000) await c.insertMany(docs.slice(i, i + 1_000), { ordered: true })
  const insertPerSec = docs.length / ((performance.now() - start) / 1000)
  const [name, value] = data[runs >> 1]!.values[0]!
  const equalRows = (await c.find(design.equal(name, value)).toArray()).length
  const rangeRows = (await c.find(design.range(name, 0.25, 0.75)).toArray()).length
  const equalMs = await medianOf(9, () => c.find(design.equal(name, value)).toArray())
  const rangeMs = await medianOf(9, () => c.find(design.range(name, 0.25, 0.75)).toArray())
  const indexes = (await c.listIndexes().toArray()).length
  return { design: design.name, indexes, bytesPerDoc: Math.round(bytes / docs.length), insertPerSec: Math.round(insertPerSec), equalMs, equalRows, rangeMs, rangeRows }
}

const server = await mongoServer()
const driver = await Effect.runPromise(MongoStore.make({ url: server.url, database: `lineage_fx_${process.pid}` }))
try {
  log(`feature indexes on ${server.label}: ${runs.toLocaleString("en")} runs × ${perRun} features from a pool of ${pool.toLocaleString("en")}`)
  const data = makeRuns()
  const rows = []
  for (const design of designs) rows.push(await measureDesign(driver.client.db(driver.database).collection(design.name.slice(0, 1)), design, data))
  if (rows[0]!.equalRows !== rows[1]!.equalRows || rows[0]!.rangeRows !== rows[1]!.rangeRows) throw new Error(`the designs disagree: ${JSON.stringify(rows)}`)
  log("| design | indexes | BSON bytes/doc | inserts/s | equality ms (rows) | range ms (rows) |")
  log("|---|---|---|---|---|---|")
  for (const r of rows)
    log(`| ${r.design} | ${r.indexes} | ${r.bytesPerDoc.toLocaleString("en")} | ${r.insertPerSec.toLocaleString("en")} | ${r.equalMs.toFixed(1)} (${r.equalRows}) | ${r.rangeMs.toFixed(1)} (${r.rangeRows}) |`)
} finally {
  await driver.client.db(driver.database).dropDatabase()
  await Effect.runPromise(driver.close())
  await server.stop()
}
