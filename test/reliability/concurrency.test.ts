/**
 * Concurrency: 20 OS processes released together race on get-or-create of one Transform (key, version), on
 * new versions of one Transform key, on get-or-create of one Feature, on adding the same feature values to
 * one run, and on linking the same input artifact to it. Afterwards: one record, one latest version, no
 * duplicate link, no lost list item — on every store several processes can share.
 */
import { describe, expect, it } from "vitest"
import { Lineage } from "@lineage/core"
import { compiledScripts } from "../support/scripts.js"
import { record, since } from "./support/figures.js"
import { fixture, race } from "./support/processes.js"
import { sharedTargets } from "./support/stores.js"

const processes = Number(process.env["LINEAGE_RACE_PROCESSES"] ?? 20)
const targets = await sharedTargets()
const scripts = compiledScripts({ worker: fixture("reliability-race-worker.ts") })

interface Result {
  readonly worker: number
  readonly shared: string
  readonly revised: string
  readonly feature: string
}

describe.each(targets)("$name: 20 processes racing", (target) => {
  it("get-or-create, revisions, feature values and links end in one record each, one latest", async () => {
    const opened = await target.open("race")
    const ln = await Lineage.connect(opened.url)
    try {
      await ln.Feature.create({ name: "race_value", dtype: "int" })
      await ln.Feature.create({ name: "race_labels", dtype: "list[str]" })
      const transform = await ln.Transform.create({ key: "race-setup", version: "1" })
      const run = await ln.Run.create({ transform })
      const artifact = await ln.Artifact.fromBytes(`race input ${opened.url}`, { key: "race/input.txt", run: null })
      const start = performance.now()
      const results = await race<Result>(scripts.worker, processes, (i) => ({
        LINEAGE_STORE: opened.url,
        WORKER: String(i),
        RUN_UID: run.uid,
        ARTIFACT_UID: artifact.uid
      }))
      const seconds = since(start)

      // get-or-create of (key, version): one record, and every process got it.
      const shared = await ln.Transform.filter({ key: "race-shared", id__gte: 0 }).all()
      expect(shared).toHaveLength(1)
      expect(new Set(results.map((r) => r.shared))).toEqual(new Set([shared[0]!.uid]))
      // Revisions of one key: a version per process, exactly one latest, one family stem.
      const revised = await ln.Transform.filter({ key: "race-revised", id__gte: 0 }).all()
      expect(revised.map((t) => t.version).sort()).toEqual(Array.from({ length: processes }, (_, w) => `w${w}`).sort())
      expect(revised.filter((t) => t.isLatest)).toHaveLength(1)
      expect(new Set(revised.map((t) => t.uid.slice(0, 12))).size).toBe(1)
      expect(new Set(revised.map((t) => t.uid)).size).toBe(processes)
      // get-or-create of a Feature: one record.
      const features = await ln.Feature.filter({ name: "race_created" }).all()
      expect(features).toHaveLength(1)
      expect(new Set(results.map((r) => r.feature))).toEqual(new Set([features[0]!.uid]))
      // The same values from 20 writers: stored once; every writer's own list item kept, none twice.
      const values = await (await ln.Run.get(run.uid)).features.get()
      expect(values["race_value"]).toBe(42)
      const labels = values["race_labels"] as ReadonlyArray<string>
      expect([...labels].sort()).toEqual(["shared", ...Array.from({ length: processes }, (_, w) => `w${w}`)].sort())
      // The same input link from 20 writers: one link row.
      const inputs = await ln.Run.inputs(await ln.Run.get(run.uid))
      expect(inputs.map((a) => a.uid)).toEqual([artifact.uid])
      expect(await ln.Run.filter({ inputArtifacts: artifact }).count()).toBe(1)
      if (opened.drift !== undefined) expect(await opened.drift()).toEqual([])
      record({ target: "concurrency: 20-process races", store: target.name, processes, operations: processes * 5, faults: 0, inputs: 0, lost: 0, seconds, note: "getOrCreate transform + feature, revisions, features.add, input link" })
    } finally {
      await ln.close()
      await opened.dispose()
    }
  }, 120_000)
})
