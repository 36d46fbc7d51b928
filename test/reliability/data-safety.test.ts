/**
 * Data safety on every store: trash and restore round-trip a run and an artifact unchanged (hidden while in
 * the trash, back with the same fields after), and a permanent delete of a run that produced an artifact is
 * refused with ProtectedRecord saying why, leaving the run, the artifact and the link as they were.
 */
import { describe, expect, it } from "vitest"
import { Lineage, ProtectedRecord } from "@lineage/core"
import { record } from "./support/figures.js"
import { allTargets } from "./support/stores.js"

const targets = await allTargets()

describe.each(targets)("$name: trash, restore, protected delete", (target) => {
  it("trash/restore round-trips; a permanent delete of a run with outputs refuses and says why", async () => {
    const opened = await target.open("safety")
    const ln = await Lineage.connect(opened.url)
    try {
      const run = await ln.track({ transform: { key: "safety.ts", version: "1", kind: "script" }, params: { k: "a:b{c}*\n✓" }, heartbeatMs: 60_000, handleProcess: false })
      const artifact = await ln.Artifact.fromBytes(`safety ${opened.url}`, { key: "safety/out.txt" })
      const finished = await ln.finish()

      await ln.Run.delete(finished)
      expect(await ln.Run.filter({ transform__key: "safety.ts" }).count()).toBe(0)
      expect((await ln.Run.get(run.uid)).branchId).not.toBe(1)
      const restored = await ln.Run.restore(finished)
      expect({ ...restored, updatedAt: undefined }).toEqual({ ...finished, updatedAt: undefined })
      expect(await ln.Run.filter({ transform__key: "safety.ts" }).count()).toBe(1)

      await ln.Artifact.delete(artifact)
      expect(await ln.Artifact.filter({ key: "safety/out.txt" }).count()).toBe(0)
      const back = await ln.Artifact.restore(artifact)
      expect(back.isLatest).toBe(true)
      expect({ ...back, updatedAt: undefined }).toEqual({ ...artifact, updatedAt: undefined })

      const error = await ln.Run.delete(restored, { permanent: true }).then(
        () => undefined,
        (e: unknown) => e
      )
      expect(error).toBeInstanceOf(ProtectedRecord)
      expect((error as ProtectedRecord).message).toContain(run.uid)
      expect((error as ProtectedRecord).reason).toContain("Artifact")
      // Refused means untouched: run, artifact and the producing link are all still there.
      expect((await ln.Run.get(run.uid)).status).toBe("completed")
      expect((await ln.Artifact.get(artifact.uid)).runId).toBe(run.id)
      expect((await ln.Run.outputs(restored)).map((a) => a.uid)).toEqual([artifact.uid])
      if (opened.drift !== undefined) expect(await opened.drift()).toEqual([])
      record({ target: "data safety: trash/restore, protected delete", store: target.name, processes: 1, operations: 7, faults: 0, inputs: 0, lost: 0, seconds: 0 })
    } finally {
      await ln.close()
      await opened.dispose()
    }
  })
})
