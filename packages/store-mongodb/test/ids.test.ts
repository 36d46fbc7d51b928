/**
 * What the id counter costs a write: inserting ids `reserveIds` gave sends nothing to the counter (core's
 * inserts stay one request), an id past the counter raises it once per insert call, before the documents are
 * written, and after `drop` a handle no longer trusts what it knew of the dropped counters.
 */
import { type CommandStartedEvent, MongoClient } from "mongodb"
import { afterAll, afterEach, beforeAll, expect, it } from "vitest"
import * as MongoStore from "@lineage/store-mongodb"
import { closeAll, freshDatabase, mongoServer, run } from "../../../test/support/mongo.js"

let client: MongoClient
const started: Array<CommandStartedEvent> = []
const databases: Array<string> = []

beforeAll(async () => {
  client = new MongoClient((await mongoServer()).url, { monitorCommands: true, serverSelectionTimeoutMS: 5_000 })
  client.on("commandStarted", (e) => started.push(e))
})

afterEach(async () => {
  for (const name of databases.splice(0)) await client.db(name).dropDatabase()
})

afterAll(async () => {
  await client.close()
  await closeAll()
})

const declared = async (): Promise<MongoStore.MongoDriver> => {
  const database = freshDatabase("ids")
  databases.push(database)
  const driver = await run(MongoStore.fromClient(client, { database }))
  await run(driver.declare([{ name: "thing", unique: [], indexes: [] }]))
  return driver
}

const writeCommands = new Set(["insert", "update", "findAndModify", "delete"])

/** The writes `f` sends, as `command collection`, in order. */
const writesOf = async (f: () => Promise<unknown>): Promise<Array<string>> => {
  started.length = 0
  await f()
  return started.filter((e) => writeCommands.has(e.commandName)).map((e) => `${e.commandName} ${String(e.command[e.commandName])}`)
}

it("inserting reserved ids writes the documents and nothing else", async () => {
  const driver = await declared()
  const first = await run(driver.reserveIds("thing", 3))
  expect(await writesOf(() => run(driver.insert("thing", [{ id: first + 1, uid: "b" }, { id: first, uid: "a" }])))).toEqual(["insert thing"])
  expect(await writesOf(() => run(driver.insert("thing", [{ id: first + 2, uid: "c" }])))).toEqual(["insert thing"])
})

it("an id past the counter raises it once per insert call, before the documents are written", async () => {
  const driver = await declared()
  const raised = await writesOf(() => run(driver.insert("thing", [{ id: 100, uid: "a" }, { id: 90, uid: "b" }])))
  expect(raised).toEqual(["update _lineage_ids", "insert thing"])
  // The handle knows the counter is past 100 now: no second raise.
  expect(await writesOf(() => run(driver.insert("thing", [{ id: 95, uid: "c" }])))).toEqual(["insert thing"])
  expect(await run(driver.reserveIds("thing", 1))).toBe(101)
})

it("after drop, an id the dropped counter was past raises the new counter", async () => {
  const driver = await declared()
  expect(await run(driver.reserveIds("thing", 10))).toBe(1)
  await run(driver.drop())
  await run(driver.declare([{ name: "thing", unique: [], indexes: [] }]))
  await run(driver.insert("thing", [{ id: 5, uid: "a" }]))
  expect(await run(driver.reserveIds("thing", 1))).toBe(6)
})
