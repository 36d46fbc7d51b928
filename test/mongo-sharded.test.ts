/**
 * The MongoDB store on a sharded cluster, and the README's "Sharded clusters" table checked against what the
 * store does, not only written down:
 * - every collection the store creates has a row, and each row names exactly the unique indexes `declare`
 *   builds on it;
 * - a collection the table gives a shard key, sharded so before the store opens, is declared and used
 *   (tracking, features, queries, updates, deletes);
 * - a collection the table says cannot be sharded cannot: sharded on the first field of any of its unique
 *   indexes (every shard key MongoDB would accept starts so), `declare` fails with `Invalid` naming another;
 * - a collection the store already filled is sharded as the README says (a plain index on the key first).
 *
 * Against `MONGODB_SHARDED_URL` (a mongos) when set, else the repository's emulator as a mongos
 * (`startEmulator({ topology: "sharded" })`), which refuses what a 7.0 cluster refuses but runs no
 * transactions: there the store is opened with `transactions: false`. The output says which.
 */
import { readFileSync } from "node:fs"
import { randomBytes } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import { Feature, Features, Model, Q, Records, Run, StorageFormat, Store, StoreError, Transform } from "@lineage/core"
import { startEmulator, type Emulator } from "@lineage/mongo-emulator"
import * as MongoStore from "@lineage/store-mongodb"
import { failureOf } from "./support/failures.js"

// ------------------------------------------------------------------------------------------ the README's table

type Document = Record<string, unknown>

interface Row {
  readonly tables: ReadonlyArray<string>
  /** The shard key, or how the collection stays unsharded. */
  readonly shardKey: Document | "cannot be sharded" | "unsharded"
  /** Unique index names, `<table>` standing for each table of the row. */
  readonly unique: ReadonlyArray<string>
}

const readme = readFileSync(new URL("../packages/store-mongodb/README.md", import.meta.url), "utf8")

/** The rows of the table in the README's "Sharded clusters" section. */
const shardingTable = (): ReadonlyArray<Row> => {
  const section = /\n## Sharded clusters[^\n]*\n([\s\S]*?)(?=\n## )/.exec(readme)?.[1]
  if (section === undefined) throw new Error("the README has no Sharded clusters section")
  const lines = section.split("\n").filter((line) => line.startsWith("|"))
  const ticked = (cell: string): Array<string> => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)
  return lines.slice(2).map((line) => {
    const [tables = "", key = "", unique = ""] = line.split("|").slice(1)
    const shardKey = key.includes("cannot be sharded") ? "cannot be sharded" : key.includes("unsharded") ? "unsharded" : (JSON.parse(ticked(key)[0] ?? "") as Document)
    return { tables: ticked(tables), shardKey, unique: ticked(unique).filter((name) => name.startsWith("lineage_u_")) }
  })
}

const uniqueNamesOf = (row: Row, table: string): Array<string> => row.unique.map((name) => name.replaceAll("<table>", table)).sort()

// ------------------------------------------------------------------------------------------------- the server

interface Cluster {
  readonly url: string
  readonly emulator: Emulator | undefined
}

let cluster: Cluster
/** A driver opened on the URL, whose client (the root package does not depend on `mongodb`) serves the rest. */
let opener: MongoStore.MongoDriver
let admin: MongoStore.MongoDriver["client"]

beforeAll(async () => {
  const fromEnv = process.env["MONGODB_SHARDED_URL"]
  if (fromEnv !== undefined && fromEnv !== "") {
    cluster = { url: fromEnv, emulator: undefined }
    console.info(`MongoDB sharded tests against: MONGODB_SHARDED_URL (${MongoStore.redactUrl(fromEnv)})`)
  } else {
    const emulator = await startEmulator({ topology: "sharded" })
    cluster = { url: emulator.url, emulator }
    console.info(`MongoDB sharded tests against: emulator as mongos (${emulator.url})`)
  }
  opener = await Effect.runPromise(MongoStore.make({ url: cluster.url, serverSelectionTimeoutMs: 5_000 }))
  admin = opener.client
})

afterAll(async () => {
  if (opener !== undefined) await Effect.runPromise(opener.close())
  await cluster?.emulator?.stop()
})

const runId = `lineage_s${process.pid}_${randomBytes(3).toString("hex")}`
let databases = 0

/** A store's driver on a fresh database, sharded as `shardKeys` says (by table) before anything is declared. */
const freshDriver = async (shardKeys: Readonly<Record<string, Document>> = {}): Promise<MongoStore.MongoDriver> => {
  const database = `${runId}_${databases++}`
  for (const [table, key] of Object.entries(shardKeys)) await admin.db("admin").command({ shardCollection: `${database}.${table}`, key })
  const driver = await Effect.runPromise(
    MongoStore.fromClient(admin, { database, ...(cluster.emulator === undefined ? {} : { transactions: false as const }) })
  )
  return { ...driver, close: () => Effect.promise(() => admin.db(database).dropDatabase().catch(() => undefined)) }
}

const use =
  (store: Store.StoreShape) =>
  <A, E>(effect: Effect.Effect<A, E, Store.Store>): Promise<A> =>
    Effect.runPromise(Effect.provideService(effect, Store.Store, store))

const indexesOf = async (driver: MongoStore.MongoDriver, table: string): Promise<Array<Document>> =>
  admin.db(driver.database).collection(driver.collectionName(table)).listIndexes().toArray()

const indexNames = async (driver: MongoStore.MongoDriver, table: string): Promise<Array<string>> =>
  (await indexesOf(driver, table)).map((index) => String(index["name"]))

const uniqueIndexes = async (driver: MongoStore.MongoDriver, table: string): Promise<Array<string>> =>
  (await indexesOf(driver, table))
    .filter((index) => index["unique"] === true)
    .map((index) => String(index["name"]))
    .sort()

/** Every table core declares, with the spec `declare` is given. */
const tableSpecs = [StorageFormat.tableSpec, ...Object.values(Records.models).map(Model.tableSpec)]

// ---------------------------------------------------------------------------------------------------- tests

describe("the README's shard key table", () => {
  const rows = shardingTable()
  const shardKeys: Record<string, Document> = Object.fromEntries(
    rows.flatMap(({ tables, shardKey }) => (typeof shardKey === "object" ? tables.map((t): [string, Document] => [t, shardKey]) : []))
  )

  it("has a row for every collection the store creates, naming exactly the unique indexes declare builds", async () => {
    expect(Object.keys(shardKeys)).toEqual(["run"])
    const driver = await freshDriver(shardKeys)
    try {
      await Effect.runPromise(Store.make(driver))
      const collections = (await admin.db(driver.database).listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort()
      const described = rows.flatMap((row) => row.tables).sort()
      expect(described).toEqual(collections)
      for (const row of rows)
        for (const table of row.tables) expect(await uniqueIndexes(driver, table), table).toEqual(uniqueNamesOf(row, table))
      expect(await indexNames(driver, "run")).toContain("o.uid_1")
    } finally {
      await Effect.runPromise(driver.close())
    }
  })

  it("a collection it says cannot be sharded fails declare with Invalid naming another unique index, whatever the key", async () => {
    const unshardable = rows.filter((row) => row.shardKey === "cannot be sharded").flatMap((row) => row.tables)
    expect(unshardable.length).toBeGreaterThan(0)
    for (const table of unshardable) {
      const spec = tableSpecs.find((s) => s.name === table)
      if (spec === undefined) throw new Error(`no table spec for ${table}`)
      // Any shard key a unique index allows starts with that index's first field.
      for (const constraint of spec.unique) {
        const driver = await freshDriver({ [table]: { [`o.${constraint.fields[0]!}`]: 1 } })
        try {
          const error = await failureOf(driver.declare([spec]))
          expect(error, `${table} sharded on ${constraint.fields[0]!}`).toBeInstanceOf(StoreError)
          expect(error.reason._tag).toBe("Invalid")
          expect(error.message).toContain(`declare ${table}`)
          expect(error.message).toMatch(new RegExp(`cannot create unique index over \\{ o\\.(?!${constraint.fields[0]!}\\b)`))
        } finally {
          await Effect.runPromise(driver.close())
        }
      }
    }
  })
})

describe("a run collection sharded on { \"o.uid\": 1 }", () => {
  let driver: MongoStore.MongoDriver
  let r: ReturnType<typeof use>

  beforeAll(async () => {
    driver = await freshDriver({ run: { "o.uid": 1 } })
    r = use(await Effect.runPromise(Store.make(driver)))
  })
  afterAll(() => Effect.runPromise(driver.close()))

  it("tracks runs: inserts one and many, gets by id and uid prefix, filters, counts, updates, deletes", async () => {
    expect(driver.deployment).toBe("sharded")
    const transform = await r(Transform.create({ key: "sharded.ts", kind: "script" }))
    const runs = await r(Run.createMany(Array.from({ length: 5 }, (_, i) => ({ transformId: transform.id, name: `run ${i}` }))))
    const one = await r(Run.create({ transformId: transform.id, name: "single" }))
    expect((await r(Run.get(one.id))).uid).toBe(one.uid)
    expect((await r(Run.get(one.uid.slice(0, 10)))).id).toBe(one.id)
    expect(await r(Run.filter({ transform__key: "sharded.ts" }).count())).toBe(6)
    expect((await r(Run.filter({ name__startsWith: "run " }).orderBy("-name").limit(2).all())).map((x) => x.name)).toEqual(["run 4", "run 3"])
    const finished = await r(Run.update(runs[0]!, { status: "completed", finishedAt: new Date() }))
    expect((await r(Run.get(finished.uid))).status).toBe("completed")
    await r(Run.delete(runs[1]!, { permanent: true }))
    expect(await r(Run.filter({ transform__key: "sharded.ts" }).count())).toBe(5)
  })

  it("keeps feature values under its wildcard index and answers feature filters", async () => {
    const transform = await r(Transform.create({ key: "features.ts", kind: "script" }))
    await r(Feature.create({ name: "lr", dtype: "float" }))
    const [a, b] = await r(Run.createMany([{ transformId: transform.id }, { transformId: transform.id }]))
    await r(Features.add(a!, { lr: 0.1 }))
    await r(Features.add(b!, { lr: 0.2 }))
    expect((await r(Run.filter(Q.and<unknown>({ lr__gt: 0.15 })).all())).map((x) => x.id)).toEqual([b!.id])
    // The shard key's index comes on top of the store's 14 (the README's count).
    expect(await indexNames(driver, "run")).toHaveLength(15)
  })

  it("moves a record whose uid an update changes (the shard key) instead of refusing or losing it", async () => {
    const id = await Effect.runPromise(driver.reserveIds("run", 1))
    await Effect.runPromise(driver.insert("run", [{ id, uid: "aaaaaaaaaaaaaaaa", name: "before" }]))
    const updated = await Effect.runPromise(driver.update("run", id, { uid: "zzzzzzzzzzzzzzzz", name: "after" }))
    expect(updated).toMatchObject({ id, uid: "zzzzzzzzzzzzzzzz" })
    expect(await Effect.runPromise(driver.get("run", [id]))).toEqual([updated])
  })

  it("gives a uid to a record stored without one (its shard key null) by an update", async () => {
    const id = await Effect.runPromise(driver.reserveIds("run", 1))
    // The store's own inserts require a uid: the record is written in the stored form directly.
    const record = { id, name: "no uid yet" }
    await admin
      .db(driver.database)
      .collection<{ readonly _id: number } & Document>(driver.collectionName("run"))
      .insertOne({ _id: id, v: 0, j: JSON.stringify(record), o: {}, d: { name: record.name } })
    const updated = await Effect.runPromise(driver.update("run", id, { uid: "bbbbbbbbbbbbbbbb" }))
    expect(updated).toMatchObject({ id, uid: "bbbbbbbbbbbbbbbb", name: "no uid yet" })
    expect(await Effect.runPromise(driver.get("run", [id]))).toEqual([updated])
  })
})

describe("sharding a run collection the store already filled", () => {
  it("is refused until a plain index on o.uid exists (the unique one is partial), then the store carries on", async () => {
    const driver = await freshDriver()
    try {
      const r = use(await Effect.runPromise(Store.make(driver)))
      const transform = await r(Transform.create({ key: "later.ts", kind: "script" }))
      await r(Run.createMany([{ transformId: transform.id }, { transformId: transform.id }]))
      const ns = `${driver.database}.${driver.collectionName("run")}`
      const refused = await admin
        .db("admin")
        .command({ shardCollection: ns, key: { "o.uid": 1 } })
        .then(
          () => undefined,
          (e: unknown) => e as { readonly code?: unknown }
        )
      expect(refused?.code).toBe(72)
      await admin.db(driver.database).collection(driver.collectionName("run")).createIndex({ "o.uid": 1 }, { name: "o.uid_1" })
      await admin.db("admin").command({ shardCollection: ns, key: { "o.uid": 1 } })
      const reopened = use(await Effect.runPromise(Store.make(driver)))
      await reopened(Run.create({ transformId: transform.id }))
      expect(await reopened(Run.filter({ transform__key: "later.ts" }).count())).toBe(3)
    } finally {
      await Effect.runPromise(driver.close())
    }
  })
})
