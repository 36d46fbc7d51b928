/**
 * The emulator and a driver client connected to it, for one test file: started before its first test and
 * stopped after its last. Read the fields inside tests and hooks, once `beforeAll` has filled them.
 */
import { MongoClient } from "mongodb"
import { afterAll, beforeAll } from "vitest"
import { startEmulator, type Emulator } from "@lineage/mongo-emulator"

export interface Connected {
  emulator: Emulator
  client: MongoClient
}

export const connectedEmulator = (): Connected => {
  const connected = {} as Connected
  beforeAll(async () => {
    connected.emulator = await startEmulator()
    connected.client = new MongoClient(connected.emulator.url, { serverSelectionTimeoutMS: 2_000 })
    await connected.client.connect()
  })
  afterAll(async () => {
    await connected.client?.close()
    await connected.emulator?.stop()
  })
  return connected
}
