/**
 * A tracked process that ends badly still tells its OpenLineage endpoint: SIGTERM sends the run's ABORT, an
 * uncaught exception its FAIL (with what was thrown), both delivered before the process ends, each with the
 * summary of the metrics the process had logged but not yet written.
 */
import { once } from "node:events"
import { mkdtempSync, rmSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { OpenLineage } from "@lineage/core"
import { specErrors } from "./fixtures/openlineage/validate.js"
import * as Tracked from "./support/tracked.js"

const storage = mkdtempSync(join(tmpdir(), "lineage-openlineage-process-"))
const bodies: Array<string> = []
const server = http.createServer((req, res) => {
  let body = ""
  req.setEncoding("utf8")
  req.on("data", (chunk: string) => (body += chunk))
  req.on("end", () => {
    bodies.push(body)
    res.writeHead(200).end()
  })
})
let url: string

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  rmSync(storage, { recursive: true, force: true })
})

/** The events the endpoint received for the run `uid`. */
const eventsOf = (uid: string) =>
  bodies.map((b) => JSON.parse(b) as OpenLineage.RunEvent).filter((e) => e.run.runId === OpenLineage.runId(uid))

/** Starts the tracked process on a memory store, sending its events to this file's endpoint, logging `metrics` points first. */
const startTracked = (mode: "wait" | "throw", metrics = 0) =>
  Tracked.startTracked(mode, { LINEAGE_STORE: "memory:", LINEAGE_STORAGE: storage, LINEAGE_OPENLINEAGE_URL: url, METRICS: String(metrics) })

describe("a tracked process sending OpenLineage events", () => {
  it("SIGTERM: the ABORT event reaches the endpoint before the process ends, with the metrics still buffered", async () => {
    const { child, uid } = await startTracked("wait", 4)
    child.kill("SIGTERM")
    const [, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null]
    expect(signal).toBe("SIGTERM")
    const events = eventsOf(uid)
    expect(events.map((e) => e.eventType)).toEqual(["START", "ABORT"])
    for (const event of events) expect(specErrors(event)).toEqual([])
    expect(events[1]!.run.facets.lineage_metrics?.metrics).toEqual({ loss: { last: 0.25, min: 0.25, max: 1, count: 4, step: 3 } })
  })

  it("an uncaught exception: the FAIL event reaches the endpoint before the process exits, with the metrics", async () => {
    const { child, uid } = await startTracked("throw", 2)
    const [code] = (await once(child, "exit")) as [number | null]
    expect(code).toBe(1)
    const events = eventsOf(uid)
    expect(events.map((e) => e.eventType)).toEqual(["START", "FAIL"])
    expect(events[1]!.run.facets.errorMessage?.message).toBe("Error: the job failed")
    expect(events[1]!.run.facets.lineage_metrics?.metrics).toEqual({ loss: { last: 0.5, min: 0.5, max: 1, count: 2, step: 1 } })
    for (const event of events) expect(specErrors(event)).toEqual([])
  })
})
