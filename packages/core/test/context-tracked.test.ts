/**
 * Reading the context with no run tracked is `TrackNotCalled` saying what to do, in both faces; asking
 * whether a run is tracked never throws (`ln.context.isTracked`, `Current.context` in Effect code).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import * as Current from "../src/Current.js"
import { TrackNotCalled } from "../src/Errors.js"
import * as Lineage from "../src/Lineage.js"
import { make as makeStore, Store } from "../src/Store.js"
import * as Tracking from "../src/Tracking.js"

const storage = mkdtempSync(join(tmpdir(), "lineage-context-tracked-"))
afterAll(() => rmSync(storage, { recursive: true, force: true }))

/** What `read` throws, which must be a TrackNotCalled. */
const refusal = (read: () => unknown): TrackNotCalled => {
  let thrown: unknown
  try {
    read()
  } catch (e) {
    thrown = e
  }
  expect(thrown).toBeInstanceOf(TrackNotCalled)
  return thrown as TrackNotCalled
}

describe("ln.context", () => {
  let ln: Lineage.Client
  beforeEach(async () => {
    ln = await Lineage.connect("memory:", { storage })
  })
  afterEach(async () => {
    await ln.close()
  })

  it("refuses to read run or transform with no run tracked, saying to call track() or use a flow", () => {
    expect(ln.context.isTracked).toBe(false)
    const e = refusal(() => ln.context.run.features)
    expect(e.message).toContain("call track() first")
    expect(e.message).toContain("flow()")
    expect(e.message).toContain("ln.context.isTracked")
    refusal(() => ln.context.transform)
  })

  it("gives the run and transform while tracked, and refuses again after finish()", async () => {
    const run = await ln.track({ transform: { key: "context.ts", kind: "script" }, handleProcess: false })
    expect(ln.context.isTracked).toBe(true)
    expect(ln.context.run.uid).toBe(run.uid)
    expect(ln.context.transform.key).toBe("context.ts")
    await ln.context.run.features.describe()
    await ln.finish()
    expect(ln.context.isTracked).toBe(false)
    refusal(() => ln.context.run)
  })

  it("is the flow's run inside a flow, with nothing tracked globally", async () => {
    const inside = await ln.flow(async () => ({ tracked: ln.context.isTracked, uid: ln.context.run.uid }), { key: "probe" })()
    expect(inside.tracked).toBe(true)
    const flowRun = await ln.Run.get(inside.uid)
    expect(flowRun.uid).toBe(inside.uid)
    expect(ln.context.isTracked).toBe(false)
  })
})

describe("Current.tracked (the Effect face)", () => {
  it("fails with TrackNotCalled with no run tracked, succeeds with the run while one is", async () => {
    const store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
    const provide = <A, E>(effect: Effect.Effect<A, E, Store>) =>
      effect.pipe(Effect.provideService(Store, store), Effect.provideService(ArtifactStorage, storage))
    expect((await Effect.runPromise(provide(Current.context))).run).toBeUndefined()
    const refused = await Effect.runPromise(provide(Effect.flip(Current.tracked)))
    expect(refused).toBeInstanceOf(TrackNotCalled)
    expect(refused.message).toContain("call track() first")
    const run = await Effect.runPromise(provide(Tracking.track({ transform: { key: "effect.ts", kind: "script" }, handleProcess: false })))
    expect((await Effect.runPromise(provide(Current.tracked))).run.uid).toBe(run.uid)
    await Effect.runPromise(provide(Tracking.finish()))
  })

  it("says to await track() while it is still starting the run", async () => {
    const store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
    // What a track() holds from its claim until its run is written.
    Current.slotOf(store).state = { _tag: "Starting" }
    const refused = await Effect.runPromise(Effect.flip(Effect.provideService(Current.tracked, Store, store)))
    expect(refused.message).toContain("track() is still starting one; await it")
  })

  it("fails with TrackNotCalled without a store, outside a flow", async () => {
    expect(await Effect.runPromise(Effect.flip(Current.tracked))).toBeInstanceOf(TrackNotCalled)
  })
})
