/**
 * No tracked run outlives what it belongs to: a store layer released while its run is tracked ends the run
 * aborted (and stops its heartbeat and process hooks), and a `track()` interrupted while its run's write is
 * in flight never leaves that run `started`.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import type { Driver } from "../src/Driver.js"
import { StoreError } from "../src/Errors.js"
import { Run } from "../src/Registry.js"
import { layer, layerFromDriver, Store, make as makeStore } from "../src/Store.js"
import * as Tracking from "../src/Tracking.js"

const storage = mkdtempSync(join(tmpdir(), "lineage-tracking-release-"))
afterAll(() => rmSync(storage, { recursive: true, force: true }))
afterEach(() => {
  delete process.env[Tracking.initiatedByRunVariable]
})

const hooks = () => ({ sigint: process.listenerCount("SIGINT"), env: process.env[Tracking.initiatedByRunVariable] })

/** The stored runs of `driver`, read on a store of their own. */
const runsOf = (driver: Driver) =>
  Effect.runPromise(Effect.flatMap(makeStore(driver), (s) => Effect.provideService(Run.filter().all(), Store, s)))

describe("a store layer released while its run is tracked", () => {
  it("ends the run aborted, stops its heartbeat and removes its process hooks (layerFromDriver)", async () => {
    const driver = MemoryStore.makeDriver()
    const before = hooks()
    const tracked = await Effect.runPromise(
      Tracking.track({ transform: { key: "released" }, heartbeatMs: 100 }).pipe(
        Effect.provide(layerFromDriver(driver)),
        Effect.provideService(ArtifactStorage, storage)
      )
    )
    const [stored] = await runsOf(driver)
    expect(stored?.uid).toBe(tracked.uid)
    expect(stored?.status).toBe("aborted")
    expect(stored?.finishedAt).toBeInstanceOf(Date)
    expect(hooks()).toEqual(before)
    // No heartbeat keeps writing to a store nobody holds any more.
    await new Promise((resolve) => setTimeout(resolve, 350))
    const [later] = await runsOf(driver)
    expect(later?.lastHeartbeatAt?.getTime()).toBe(stored?.lastHeartbeatAt?.getTime())
  })

  it("ends the run before the layer closes its driver (layer)", async () => {
    const driver = MemoryStore.makeDriver()
    let closed = false
    // A closed driver takes no writes: the run can only be ended if that happens before the close.
    const owned: Driver = {
      ...driver,
      update: (...args) => (closed ? Effect.fail(StoreError.unavailable("closed")) : driver.update(...args)),
      close: () => Effect.sync(() => void (closed = true))
    }
    const tracked = await Effect.runPromise(
      Tracking.track({ transform: { key: "released-owned" }, handleProcess: false }).pipe(
        Effect.provide(layer(Effect.succeed(owned))),
        Effect.provideService(ArtifactStorage, storage)
      )
    )
    expect(closed).toBe(true)
    expect((await runsOf(driver)).map((r) => [r.uid, r.status])).toEqual([[tracked.uid, "aborted"]])
  })

  it("leaves a finished run as it is, and a layer whose run was finished releases quietly", async () => {
    const driver = MemoryStore.makeDriver()
    await Effect.runPromise(
      Effect.andThen(Tracking.track({ transform: { key: "finished" }, handleProcess: false }), Tracking.finish()).pipe(
        Effect.provide(layerFromDriver(driver)),
        Effect.provideService(ArtifactStorage, storage)
      )
    )
    expect((await runsOf(driver)).map((r) => r.status)).toEqual(["completed"])
  })
})

describe("a track() interrupted while its run's write is in flight", () => {
  it("leaves no run started: the write completes and the run is ended aborted", async () => {
    const driver = MemoryStore.makeDriver()
    // The run's insert lands at once, but its reply comes late: the caller is interrupted in between.
    const slowReply: Driver = {
      ...driver,
      insert: (table, docs) => Effect.tap(driver.insert(table, docs), () => (table === "run" ? Effect.sleep("100 millis") : Effect.void))
    }
    const store = await Effect.runPromise(makeStore(slowReply))
    const outcome = await Effect.runPromise(
      Effect.timeoutOption(Tracking.track({ transform: { key: "interrupted-write" }, handleProcess: false }), "50 millis").pipe(
        Effect.provideService(Store, store),
        Effect.provideService(ArtifactStorage, storage)
      )
    )
    expect(outcome._tag).toBe("None")
    const runs = await runsOf(driver)
    expect(runs.length).toBe(1)
    expect(runs[0]?.status).toBe("aborted")
    // The store is free to track again.
    const again = await Effect.runPromise(
      Effect.andThen(Tracking.track({ transform: { key: "after" }, handleProcess: false }), Tracking.finish()).pipe(
        Effect.provideService(Store, store),
        Effect.provideService(ArtifactStorage, storage)
      )
    )
    expect(again.status).toBe("completed")
  })
})
