/**
 * The emulator and a driver client connected to it, for one test file: started before its first test and
 * stopped after its last. Read the fields inside tests and hooks, once `beforeAll` has filled them.
 */
import { MongoClient, MongoServerError } from "mongodb"
import { afterAll, beforeAll, expect } from "vitest"
import { startEmulator, type Emulator, type EmulatorOptions } from "@lineage/mongo-emulator"

export interface Connected {
  emulator: Emulator
  client: MongoClient
}

export const connectedEmulator = (options: EmulatorOptions = {}): Connected => {
  const connected = {} as Connected
  beforeAll(async () => {
    connected.emulator = await startEmulator(options)
    connected.client = new MongoClient(connected.emulator.url, { serverSelectionTimeoutMS: 2_000 })
    await connected.client.connect()
  })
  afterAll(async () => {
    await connected.client?.close()
    await connected.emulator?.stop()
  })
  return connected
}

/** The server error a request fails with; fails the test if it succeeds or fails otherwise. */
export const failure = async (p: Promise<unknown>): Promise<MongoServerError> => {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(MongoServerError)
  return error as MongoServerError
}
