/**
 * Connections dropped under the store's feet (the emulator's `dropConnections`, always an emulator of its own:
 * a real server cannot be told to do that from here): writes in flight fail with a typed, retryable
 * `Unavailable`, reads recover by themselves, and no stored document is half-written (its JSON text, order
 * keys and escaped copy always agree).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Cause, Effect, Exit } from "effect"
import { Ast, type Driver, StoreError } from "@lineage/core"
import { type Emulator, startEmulator } from "@lineage/mongo-emulator"
import * as MongoStore from "@lineage/store-mongodb"

const table: Driver.TableSpec = { name: "thing", unique: [{ name: "thing_uid", fields: ["uid"] }], indexes: [{ path: ["n"], kind: "sorted" }] }

let emulator: Emulator
let driver: MongoStore.MongoDriver
const run = <A>(e: Effect.Effect<A, StoreError>) => Effect.runPromise(e)

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 })
  console.info(`MongoDB fault tests against: emulator (its own, ${emulator.url})`)
  driver = await run(MongoStore.make({ url: emulator.url, database: "faults", serverSelectionTimeoutMs: 2_000 }))
  await run(driver.declare([table]))
})

afterAll(async () => {
  await run(driver.close())
  await emulator.stop()
})

const outcome = async (e: Effect.Effect<unknown, StoreError>): Promise<StoreError | undefined> => {
  const exit = await Effect.runPromiseExit(e)
  if (Exit.isSuccess(exit)) return undefined
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") throw new Error(`a defect instead of a typed failure: ${Cause.pretty(exit.cause)}`)
  return error.value
}

/** Every stored document is whole: what its order keys and escaped copy say is what its JSON text says. */
const wholeDocuments = async () => {
  const raws = await driver.client.db("faults").collection(driver.collectionName("thing")).find({}).toArray()
  for (const raw of raws) {
    const doc = JSON.parse(String(raw["j"])) as Driver.Doc
    expect(raw["_id"]).toBe(doc["id"])
    expect(raw["o"]).toEqual({ uid: MongoStore.orderKey(doc["uid"]!), ...(doc["n"] === undefined ? {} : { n: MongoStore.orderKey(doc["n"]!) }) })
  }
  return raws.length
}

describe("dropped connections", () => {
  it("a write on a dropped connection fails as Unavailable and retryable; reads recover; the store is whole", async () => {
    const first = await run(driver.reserveIds("thing", 2))
    await run(driver.insert("thing", [{ id: first, uid: "before", n: 1 }]))
    emulator.dropConnections()
    const error = await outcome(driver.insert("thing", [{ id: first + 1, uid: "during", n: 2 }]))
    expect(error?.reason._tag).toBe("Unavailable")
    expect(error?.isRetryable).toBe(true)
    // Reads retry by themselves; the refused insert is absent or whole (its reply, not its write, may be lost).
    const got = await run(driver.get("thing", [first, first + 1]))
    expect(got[0]).toEqual({ id: first, uid: "before", n: 1 })
    if (got.length === 2) expect(got[1]).toEqual({ id: first + 1, uid: "during", n: 2 })
    await wholeDocuments()
  })

  it("writes racing repeated drops: every failure is typed, nothing is half-written, the survivors are exact", async () => {
    const n = 40
    const first = await run(driver.reserveIds("thing", n))
    const docs = Array.from({ length: n }, (_, i) => ({ id: first + i, uid: `w${i}`, n: i }))
    const writes = docs.map((d, i) =>
      Effect.runPromise(Effect.andThen(Effect.sleep(`${i} millis`), Effect.flip(Effect.as(driver.insert("thing", [d]), "ok" as const))).pipe(Effect.orElseSucceed(() => undefined)))
    )
    const drops = [5, 15, 25].map((ms) => new Promise<void>((resolve) => setTimeout(() => (emulator.dropConnections(), resolve()), ms)))
    const errors = (await Promise.all(writes)).filter((e): e is StoreError => e !== undefined)
    await Promise.all(drops)
    console.info(`${errors.length} of ${n} writes failed across 3 drops`)
    for (const e of errors) {
      expect(e).toBeInstanceOf(StoreError)
      expect(["Unavailable", "UniqueViolation"]).toContain(e.reason._tag)
    }
    await wholeDocuments()
    const stored = await run(driver.find("thing", { where: Ast.field(["uid"], "startsWith", "w"), orderBy: [] }))
    for (const doc of stored) expect(doc).toEqual(docs[(doc["id"] as number) - first])
    expect(emulator.stats().droppedConnections).toBeGreaterThan(0)
  })
})
