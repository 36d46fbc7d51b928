/**
 * The MongoDB store within mongod's limits, on the server `support/mongo.ts` picks (the emulator enforces
 * them: 64 indexes per collection, 16 MiB documents):
 * - 10,000 features keep every collection's index count bounded (one wildcard index serves them all), and a
 *   feature equality or range still finds its runs;
 * - a record whose stored document would exceed the server's document limit is refused before it is written,
 *   with a typed error naming the table, the record, its size and the limit.
 */
import { afterAll, describe, expect, it } from "vitest"
import { Cause, Effect, Exit } from "effect"
import { Artifact, Ast, Feature, Features, Q, Run, Store, StoreError, Transform } from "@lineage/core"
import * as MongoStore from "@lineage/store-mongodb"
import { closeAll, freshDriver, run } from "./support/mongo.js"

afterAll(closeAll)

/** mongod's indexes per collection (`_id_` included): IndexCatalogImpl::kMaxNumIndexesAllowed. */
const mongodMaxIndexes = 64

const runner =
  (store: Store.StoreShape) =>
  <A, E>(effect: Effect.Effect<A, E, Store.Store>): Promise<A> =>
    Effect.runPromise(Effect.provideService(effect, Store.Store, store))

const failureOf = async <A, E>(effect: Effect.Effect<A, E, Store.Store>, store: Store.StoreShape): Promise<E> => {
  const exit = await Effect.runPromiseExit(Effect.provideService(effect, Store.Store, store))
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") throw new Error(`a defect instead of a typed failure: ${Cause.pretty(exit.cause)}`)
  return error.value
}

const indexCount = async (driver: MongoStore.MongoDriver, table: string): Promise<number> =>
  (await driver.client.db(driver.database).collection(driver.collectionName(table)).listIndexes().toArray()).length

describe("feature indexes", () => {
  it("10,000 features: every collection keeps a bounded index count, and feature equality and ranges still answer", { timeout: 240_000 }, async () => {
    const driver = await freshDriver("features")
    try {
      const store = await run(Store.make(driver))
      const r = runner(store)
      // The real path, one feature at a time (each declares its index)…
      const direct = 300
      for (let i = 0; i < direct; i++) await r(Feature.create({ name: `f${i}`, dtype: "float" }))
      // …and the rest in bulk; a new process (a second Store) indexes every existing feature when it opens.
      const total = 10_000
      for (let start = direct; start < total; start += 2_000)
        await r(Feature.createMany(Array.from({ length: Math.min(2_000, total - start) }, (_, j) => ({ name: `f${start + j}`, dtype: "float" }))))
      const reopened = await run(Store.make(driver))
      const r2 = runner(reopened)

      const transform = await r2(Transform.create({ key: "features.ts", kind: "script" }))
      // 40 runs, each with 50 features: run k holds f(k*250 + j) = k + j / 100.
      const runs = await r2(
        Run.createMany(
          Array.from({ length: 40 }, (_, k) => ({
            transformId: transform.id,
            featureValues: Object.fromEntries(Array.from({ length: 50 }, (_, j) => [`f${k * 250 + j}`, k + j / 100]))
          }))
        )
      )
      await r2(Features.add(runs[3]!, { f9999: 7.5 }))

      // Features no LineageFeatures declares: queried through untyped Qs.
      expect((await r2(Run.filter(Q.and<unknown>({ f9999: 7.5 })).all())).map((x) => x.id)).toEqual([runs[3]!.id])
      expect((await r2(Run.filter(Q.and<unknown>({ f250: 1 })).all())).map((x) => x.id)).toEqual([runs[1]!.id])
      expect(await r2(Run.filter(Q.and<unknown>({ f251__gte: 1, f251__lt: 2 })).count())).toBe(1)
      expect(await r2(Run.filter(Q.and<unknown>({ f9750__range: [38.5, 39.5] })).count())).toBe(1)
      expect(await r2(Run.filter(Q.and<unknown>({ f9750__range: [40, 41] })).count())).toBe(0)

      for (const table of [Run.model.table, Artifact.model.table, Feature.model.table])
        expect(await indexCount(driver, table), table).toBeLessThanOrEqual(mongodMaxIndexes)
      // One wildcard index holds every feature: the count does not depend on how many features exist.
      expect(await indexCount(driver, Run.model.table)).toBeLessThan(20)
    } finally {
      await run(driver.close())
    }
  })
})

describe("feature indexes in the per-path layout (one index per feature)", () => {
  it("declare replaces them with the wildcard index, forgets them in the catalog, and feature queries still answer", async () => {
    const driver = await freshDriver("legacy")
    try {
      const db = driver.client.db(driver.database)
      const things = db.collection(driver.collectionName("thing"))
      const legacy = (path: ReadonlyArray<string>) => `lineage_x_${encodeURIComponent(JSON.stringify(path))}`
      // The per-path layout: an index per declared feature path, each recorded in the catalog.
      for (const name of ["a", "b"]) await things.createIndex({ [`d.featureValues.${name}`]: 1 }, { name: legacy(["featureValues", name]) })
      await things.createIndex({ "o.n": 1 }, { name: legacy(["n"]) })
      const paths = [["n"], ["featureValues", "a"], ["featureValues", "b"]]
      await db
        .collection("_lineage_tables")
        .insertOne({ _id: "thing", unique: [], indexes: paths.map((path) => ({ path, kind: "sorted" })) } as never)

      await run(driver.declare([{ name: "thing", unique: [], indexes: [{ path: ["n"], kind: "sorted" }] }]))

      const names = (await things.listIndexes().toArray()).map((i) => String(i["name"]))
      expect(names.sort()).toEqual(["_id_", legacy(["n"]), "lineage_w_featureValues"].sort())
      const recorded = await db.collection("_lineage_tables").findOne({ _id: "thing" } as never)
      expect(recorded?.["indexes"]).toEqual([{ path: ["n"], kind: "sorted" }])
      expect(recorded?.["subtrees"]).toEqual(["featureValues"])

      const id = await run(driver.reserveIds("thing", 2))
      await run(driver.insert("thing", [{ id, uid: "a", n: 1, featureValues: { a: 1 } }, { id: id + 1, uid: "b", n: 2, featureValues: { a: 2, b: 3 } }]))
      const found = await run(driver.find("thing", { where: Ast.field(["featureValues", "a"], "gte", 2), orderBy: [] }))
      expect(found.map((d) => d["id"])).toEqual([id + 1])
      // A second declaration (another process) finds nothing left to retire.
      await run(driver.declare([{ name: "thing", unique: [], indexes: [{ path: ["featureValues", "c"], kind: "sorted" }] }]))
      expect((await things.listIndexes().toArray()).length).toBe(3)
    } finally {
      await run(driver.close())
    }
  })
})

describe("document size", () => {
  it("Run.create with 17 MB of params is refused before writing, naming the table, the uid, the size and the limit", { timeout: 60_000 }, async () => {
    const driver = await freshDriver("size")
    try {
      const store = await run(Store.make(driver))
      const r = runner(store)
      const transform = await r(Transform.create({ key: "big.ts", kind: "script" }))
      const before = await r(Run.filter().count())
      const e = await failureOf(Run.create({ transformId: transform.id, params: { blob: "x".repeat(17 * 1024 * 1024) } }), store)
      expect(e).toBeInstanceOf(StoreError)
      const error = e as StoreError
      expect(error.reason._tag).toBe("Invalid")
      expect(error.isRetryable).toBe(false)
      expect(error.message).toMatch(/run [0-9A-Za-z]{16}/)
      expect(error.message).toMatch(/\d{2},\d{3},\d{3} bytes/)
      expect(error.message).toContain(MongoStore.maxDocumentBytes.toLocaleString("en"))
      expect(await r(Run.filter().count())).toBe(before)
    } finally {
      await run(driver.close())
    }
  })

  it("insert and update through the driver: an oversized document is refused, one under the limit is stored", { timeout: 60_000 }, async () => {
    const driver = await freshDriver("size_driver")
    try {
      const table = { name: "thing", unique: [{ name: "thing_uid", fields: ["uid"] }], indexes: [] }
      await run(driver.declare([table]))
      const id = await run(driver.reserveIds("thing", 3))
      // Stored three times (text, order key, escaped copy): 6 MB of string is about 18 MB of BSON.
      const big = "y".repeat(6 * 1024 * 1024)
      for (const docs of [[{ id, uid: "big", s: big }], [{ id: id + 1, uid: "ok" }, { id: id + 2, uid: "big2", s: big }]]) {
        const exit = await Effect.runPromiseExit(driver.insert("thing", docs))
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
        expect(error?._tag === "Some" && error.value.reason._tag).toBe("Invalid")
        expect(error?._tag === "Some" && error.value.message).toContain(`thing ${docs.at(-1)!.uid} (id ${docs.at(-1)!.id})`)
      }
      expect(await run(driver.count("thing", Ast.always))).toBe(0)
      await run(driver.insert("thing", [{ id, uid: "small", s: "y".repeat(1024 * 1024) }]))
      const exit = await Effect.runPromiseExit(driver.update("thing", id, { s: big }))
      expect(Exit.isFailure(exit) && Cause.findErrorOption(exit.cause)._tag === "Some").toBe(true)
      expect((await run(driver.get("thing", [id])))[0]?.["s"]).toHaveLength(1024 * 1024)
    } finally {
      await run(driver.close())
    }
  })
})
