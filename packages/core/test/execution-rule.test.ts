/**
 * One rule for executing queries, in both faces: builders (`filter`, `orderBy`, `limit`, `offset`,
 * `allBranches`) return query sets, terminals (`all`, `first`, `count`, …) run them, and a registry's `all()`
 * is a terminal too. And relations given as records, which the types offer in every input, are what the store
 * reads: in `create`, `update` and `getOrCreate`, lookup included.
 */
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import { Lineage, Run, Transform } from "../src/index.js"

let ln: Lineage.Client
beforeEach(async () => {
  ln = await Lineage.connect("memory:")
})
afterEach(async () => {
  await ln.close()
})

describe("a registry's all() runs", () => {
  it("in the Promise face: records, on the main branch, each with its feature manager", async () => {
    const transform = await ln.Transform.create({ key: "all.ts" })
    const kept = await ln.Run.create({ transform, name: "kept" })
    const trashed = await ln.Run.create({ transform, name: "trashed" })
    await ln.Run.delete(trashed)
    const all = await ln.Run.all()
    expect(all.length).toBe(1)
    expect(all.map((r) => r.uid)).toEqual([kept.uid])
    expect(typeof all[0]!.features.add).toBe("function")
    expect((await ln.Transform.all()).map((t) => t.key)).toEqual(["all.ts"])
  })

  it("in the Effect face, as filter().all()", async () => {
    const found = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const transform = yield* Transform.create({ key: "all.ts" })
          const runs = yield* Effect.forEach(["a", "b"], (name) => Run.create({ transform, name }))
          yield* Run.delete(runs[1]!)
          return { all: yield* Run.all(), filtered: yield* Run.filter().all() }
        }),
        MemoryStore.layer()
      )
    )
    expect(found.all.map((r) => r.name)).toEqual(["a"])
    expect(found.all).toEqual(found.filtered)
  })

  it("while builders wait for a terminal: allBranches() reaches the trash in the Promise face too", async () => {
    const transform = await ln.Transform.create({ key: "branches.ts" })
    const trashed = await ln.Run.create({ transform })
    await ln.Run.delete(trashed)
    const everywhere = ln.Run.filter({ transform }).allBranches().orderBy("-startedAt")
    expect(await everywhere.count()).toBe(1)
    expect((await everywhere.all()).map((r) => r.uid)).toEqual([trashed.uid])
    expect(await ln.Run.filter({ transform }).count()).toBe(0)
  })
})

describe("relations given as records", () => {
  it("name the related record in create, update and a getOrCreate lookup", async () => {
    const first = await ln.Transform.create({ key: "first.ts" })
    const second = await ln.Transform.create({ key: "second.ts" })
    const run = await ln.Run.getOrCreate({ transform: first, name: "r" })
    expect(run.transformId).toBe(first.id)
    expect((await ln.Run.getOrCreate({ transform: first, name: "r" })).uid).toBe(run.uid)
    const moved = await ln.Run.update(run, { transform: second })
    expect(moved.transformId).toBe(second.id)
    const other = await ln.Run.create({ transform: second, initiatedByRun: moved })
    expect(other.initiatedByRunId).toBe(moved.id)
  })
})
