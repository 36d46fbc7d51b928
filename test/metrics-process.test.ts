/**
 * A process's buffered metric points survive how it ends, on a store several processes share (a SQLite file):
 * SIGTERM writes them before the run is marked aborted, and a script that ends without `finish()` or `close()`
 * writes them as it exits (`beforeExit`). The process logs with a flush size and interval out of reach, so
 * nothing but its end writes them.
 */
import { once } from "node:events"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Lineage } from "@lineage/core"
import { startUntilPrinted } from "./support/tracked.js"

const script = fileURLToPath(new URL("./fixtures/metrics-process.ts", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "lineage-metrics-process-"))
const url = `sqlite:${join(dir, "lineage.db")}`
const points = 5_000

let ln: Lineage.Client
beforeAll(async () => {
  ln = await Lineage.connect(url, { storage: join(dir, "storage") })
})
afterAll(async () => {
  await ln.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Starts the process and resolves once it printed its run's uid (every point is logged by then). */
const start = (mode: "wait" | "end") =>
  startUntilPrinted(script, { LINEAGE_STORE: url, LINEAGE_STORAGE: join(dir, "storage"), MODE: mode, POINTS: String(points) }, /run ([0-9A-Za-z]{16})\r?\n/)

const storedSteps = async (uid: string) => {
  const [series] = await ln.metrics.history({ runs: uid })
  return series?.points.map((p) => p.step) ?? []
}

describe("a process's buffered metric points", () => {
  it("SIGTERM: written before the run is marked aborted, then the process ends as SIGTERM would end it", async () => {
    const { child, uid } = await start("wait")
    child.kill("SIGTERM")
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null]
    expect([code, signal]).toEqual([null, "SIGTERM"])
    expect((await ln.Run.get(uid)).status).toBe("aborted")
    expect(await storedSteps(uid)).toEqual(Array.from({ length: points }, (_, i) => i))
    expect(await ln.metrics.summary(uid)).toEqual({ loss: { last: points - 1, min: 0, max: points - 1, count: points, step: points - 1 } })
  })

  it("a script that ends without finish() or close(): written as the process exits, which it then does", async () => {
    const { child, uid } = await start("end")
    const [code] = (await once(child, "exit")) as [number | null]
    expect(code).toBe(0)
    expect((await ln.Run.get(uid)).status).toBe("started")
    expect((await storedSteps(uid)).length).toBe(points)
  })
})
