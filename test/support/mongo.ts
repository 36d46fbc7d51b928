/**
 * A MongoDB server for tests: `MONGODB_URL` when set (a real server, standalone or replica set), else the
 * repository's wire-protocol emulator of a standalone mongod (`@lineage/mongo-emulator`), started once per
 * test file. (`mongodb-memory-server-core` would come between the two, but it is not installed here: it
 * downloads `mongod` from the internet.) Every run announces which server it uses. Tests isolate themselves
 * by a fresh database per case, dropped afterwards.
 */
import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import type { Backdoor } from "@lineage/conformance"
import type { Driver } from "@lineage/core"
import { type Emulator, SERVER_VERSION, MAX_WIRE_VERSION, startEmulator } from "@lineage/mongo-emulator"
import * as MongoStore from "@lineage/store-mongodb"

export interface MongoServer {
  readonly url: string
  /** What the tests ran against, for the output. */
  readonly label: string
  /** The emulator, when that is the server (fault tests need it). */
  readonly emulator: Emulator | undefined
  readonly stop: () => Promise<void>
}

const start = async (): Promise<MongoServer> => {
  const fromEnv = process.env["MONGODB_URL"]
  if (fromEnv !== undefined && fromEnv !== "") {
    const label = `MONGODB_URL (${MongoStore.redactUrl(fromEnv)})`
    console.info(`MongoDB store tests against: ${label}`)
    return { url: fromEnv, label, emulator: undefined, stop: async () => {} }
  }
  const emulator = await startEmulator({ port: 0 })
  const label = `emulator (standalone mongod ${SERVER_VERSION}, wire version ${MAX_WIRE_VERSION}, ${emulator.url})`
  console.info(`MongoDB store tests against: ${label}`)
  // Stopped, it is forgotten: the next `mongoServer()` starts another (a bench's sections each stop theirs).
  return {
    url: emulator.url,
    label,
    emulator,
    stop: () => {
      shared = undefined
      return emulator.stop()
    }
  }
}

let shared: Promise<MongoServer> | undefined

/** The server for this test file, found or started once (again after it was stopped). */
export const mongoServer = (): Promise<MongoServer> => (shared ??= start())

export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

/** Databases of this run start with this, so a crashed run's leftovers are recognisable. */
const runId = `lineage_t${process.pid}_${randomBytes(3).toString("hex")}`
let counter = 0
export const freshDatabase = (label: string): string => `${runId}_${label}_${counter++}`.slice(0, 60)

/**
 * One driver opened by `make` (its client shared by the tests' drivers, as an application shares one
 * `MongoClient`), kept for the file.
 */
let opener: Promise<MongoStore.MongoDriver> | undefined
const sharedDriver = async (): Promise<MongoStore.MongoDriver> => {
  const server = await mongoServer()
  return (opener ??= run(MongoStore.make({ url: server.url, serverSelectionTimeoutMs: 5_000 })))
}

/** A driver on a fresh database of the shared client (`fromClient`), whose `close` drops the database. */
export const freshDriver = async (label: string, options: MongoStore.FromClientOptions = {}): Promise<MongoStore.MongoDriver> => {
  const { client } = await sharedDriver()
  const driver = await run(MongoStore.fromClient(client, { database: freshDatabase(label), ...options }))
  return { ...driver, close: () => Effect.ignore(Effect.tryPromise(() => client.db(driver.database).dropDatabase())) }
}

/** Another handle onto the same database and prefix, as a second process would open. */
export const reopen = async (driver: MongoStore.MongoDriver): Promise<MongoStore.MongoDriver> => {
  const server = await mongoServer()
  return run(MongoStore.make({ url: server.url, database: driver.database, prefix: driver.prefix, serverSelectionTimeoutMs: 5_000 }))
}

/**
 * Reads persisted documents through a separate client (a second driver's `MongoClient`, used raw: the root
 * package does not depend on `mongodb` itself), not through the driver's queries. The stored JSON text must
 * agree with the stored `_id`.
 */
export const backdoor = (driver: MongoStore.MongoDriver): Backdoor => {
  let other: Promise<MongoStore.MongoDriver> | undefined
  const collection = async (table: string) => {
    other ??= reopen(driver)
    const raw = await other
    return raw.client.db(driver.database).collection(driver.collectionName(table))
  }
  const decode = (raw: { readonly _id: unknown; readonly j?: unknown }): Driver.Doc => {
    if (typeof raw.j !== "string") throw new Error(`document ${String(raw._id)} has no JSON text`)
    const doc = JSON.parse(raw.j) as Driver.Doc
    if (doc["id"] !== raw._id) throw new Error(`document ${String(raw._id)} holds id ${String(doc["id"])}`)
    return doc
  }
  const close = async () => {
    if (other !== undefined) await run((await other).close())
  }
  const wrapped: Backdoor = {
    all: async (table) => (await (await collection(table)).find({}).toArray()).map(decode),
    get: async (table, id) => {
      const raw = await (await collection(table)).findOne({ _id: id } as never)
      return raw === null ? undefined : decode(raw)
    }
  }
  closers.add(close)
  return wrapped
}

const closers = new Set<() => Promise<void>>()

/** Closes the backdoors' and the shared driver's clients, then the emulator; call in `afterAll`. */
export const closeAll = async (): Promise<void> => {
  for (const close of closers) await close()
  closers.clear()
  if (opener !== undefined) await run((await opener).close())
  opener = undefined
  await (await mongoServer()).stop()
}
