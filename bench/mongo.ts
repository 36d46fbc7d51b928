/**
 * The MongoDB store beside the raw official driver doing the same operations on the same server: the same
 * runs inserted with `insertMany` into a plain collection (same JSON, `_id` = id, indexes on the queried
 * fields), and the target queries as native `find`s on it. The server is `MONGODB_URL` when set, else the
 * repository's wire-protocol emulator; the figures say which. On the emulator (which answers every query by
 * scanning, with or without indexes) the ratios show the store's own overhead, not what a mongod would do.
 */
import { Run, Store } from "@lineage/core"
import * as MongoStore from "@lineage/store-mongodb"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { mongoServer } from "../test/support/mongo.js"
import { log, median, newBench, runner } from "./common.js"
import { load, runInput } from "./data.js"
import { cases, relatedIds } from "./memory.js"

interface RawDoc {
  readonly _id: number
  readonly [key: string]: unknown
}

export interface MongoOp {
  readonly name: string
  readonly lineageMs: number
  readonly rawMs: number
}

export interface MongoFigures {
  readonly total: number
  /** Which server: the emulator or `MONGODB_URL` (password redacted). */
  readonly server: string
  readonly insertPerSec: number
  readonly rawInsertPerSec: number
  readonly ops: ReadonlyArray<MongoOp>
}

export const measure = async (total: number, batch = 1_000): Promise<MongoFigures> => {
  const server = await mongoServer()
  const database = `lineage_bench_${process.pid}_${randomBytes(3).toString("hex")}`
  const driver = await Effect.runPromise(MongoStore.make({ url: server.url, database }))
  try {
    const store = await Effect.runPromise(Store.make(driver))
    const run = runner(store)
    const loaded = await load(run, total, batch)
    const insertPerSec = total / (loaded.insertMs / 1000)

    // The raw side: the same documents as plain JSON, with indexes on what the queries read.
    const raw = driver.client.db(database).collection<RawDoc>("raw_runs")
    for (const key of ["transformId", "featureValues.batch", "featureValues.score", "uid", "status", "startedAt"]) await raw.createIndex({ [key]: 1 })
    const docs: Array<RawDoc> = (await run(Run.filter({}).orderBy("id").all())).map((r) => {
      const doc = Run.entity.encode(r)
      return { ...doc, _id: doc["id"] as number }
    })
    const rawStart = performance.now()
    for (let start = 0; start < docs.length; start += batch) await raw.insertMany(docs.slice(start, start + batch), { ordered: true })
    const rawInsertPerSec = docs.length / ((performance.now() - rawStart) / 1000)
    log(`  mongodb ${total.toLocaleString("en")} (${server.label}): insert ${Math.round(insertPerSec).toLocaleString("en")} runs/s, raw insertMany ${Math.round(rawInsertPerSec).toLocaleString("en")} docs/s`)

    const some = docs.find((d) => d["transformId"] === loaded.transformIds[7])!
    const list = cases(run, total, loaded.transformIds[7]!, String(some["uid"]).slice(0, 8), await relatedIds(run)).filter((c) => !c.name.startsWith("feature range"))
    const bench = newBench()
    const rawQuery = (c: (typeof list)[number]) => () => {
      let cursor = raw.find(c.mingo.criteria).sort(c.mingo.sort ?? { _id: 1 })
      if (c.mingo.limit !== undefined) cursor = cursor.limit(c.mingo.limit)
      return cursor.toArray()
    }
    for (const c of list) {
      const rows = (await c.lineage()).length
      const rawRows = (await rawQuery(c)()).length
      if (rows !== rawRows) throw new Error(`${c.name}: lineage ${rows} rows, raw ${rawRows}`)
      bench.add(c.name, c.lineage)
      bench.add(`raw: ${c.name}`, rawQuery(c))
    }
    const id = Number(some["id"])
    bench.add("get by id", () => run(Run.get(id)))
    bench.add("raw: get by id", () => raw.findOne({ _id: id }))
    let extra = 0
    bench.add("one Run.create", () => run(Run.create(runInput(total + extra++, loaded.transformIds[0]!, Math.random))))
    bench.add("raw: one Run.create", () => {
      const fresh = 10_000_000 + extra++
      return raw.insertOne({ ...docs[0], _id: fresh, id: fresh })
    })
    await bench.run()
    const ops = [...list.map((c) => c.name), "get by id", "one Run.create"].map((name) => ({
      name,
      lineageMs: median(bench, name),
      rawMs: median(bench, `raw: ${name}`)
    }))
    return { total, server: server.label, insertPerSec, rawInsertPerSec, ops }
  } finally {
    await Effect.runPromise(Effect.ignore(Effect.tryPromise(() => driver.client.db(database).dropDatabase())))
    await Effect.runPromise(driver.close())
    await (await mongoServer()).stop()
  }
}
