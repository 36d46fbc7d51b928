/**
 * A tracked process killed at a random moment (from half its start-up time, measured first, to 1500 ms after
 * it printed its run: before, during or after `track()`), by SIGKILL or SIGTERM, leaves no run that looks alive forever: every run in the namespace is
 * completed, errored or aborted, or is found by `Run.stale({ olderThanMs })` once its heartbeat (100 ms in
 * test/fixtures/tracked-process.ts) has stopped. Writers killed by SIGKILL in the middle of a stream of writes
 * (support/killed-writer.ts; 300–1500 ms after their first acknowledged round) lose no round they had acknowledged, and leave a consistent store: no index drift,
 * and on SQLite `PRAGMA integrity_check` says ok. Delays come from a seeded generator, printed for replay.
 */
import { once } from "node:events"
import { join } from "node:path"
import { createInterface } from "node:readline"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Lineage } from "@lineage/core"
import { compiledScripts, spawnCompiled } from "../support/scripts.js"
import { trackedScript } from "../support/tracked.js"
import { record, since } from "./support/figures.js"
import { startWorker } from "./support/processes.js"
import { sharedTargets } from "./support/stores.js"

const processes = Number(process.env["LINEAGE_KILL_PROCESSES"] ?? 6)
const seed = Number(process.env["LINEAGE_KILL_SEED"] ?? Date.now() % 1_000_000)
const targets = await sharedTargets()
// The kills are spread over three times the start-up measured first, which busy cores stretch (beyond 10 s on 2
// cores beside another multi-process test file): the time allowed covers that, and checks nothing.
const timeoutMs = 180_000
const scripts = compiledScripts({ tracked: trackedScript, writer: join(import.meta.dirname, "support", "killed-writer.ts") })

describe.each(targets)("$name: tracked processes killed at random moments", (target) => {
  it(`no run looks alive forever (seed ${seed})`, async () => {
    const opened = await target.open("killed")
    const ln = await Lineage.connect(opened.url)
    try {
      // How long a process takes to start and track: the window the kills are spread over.
      const probe = spawnCompiled(scripts.tracked, { LINEAGE_STORE: opened.url, MODE: "wait" })
      const probeStart = performance.now()
      await new Promise<void>((resolve, reject) => {
        probe.stdout!.on("data", (chunk: Buffer) => (chunk.toString().includes("run ") ? resolve() : undefined))
        probe.once("exit", () => reject(new Error("the probe process exited before tracking")))
      })
      const startup = Math.round(performance.now() - probeStart)
      probe.kill("SIGTERM")
      await once(probe, "exit")
      // Half the processes are killed 0–1500 ms after they printed their run; the others at a random moment
      // of their start-up (connecting, creating the transform, the run, the environment artifact).
      // Which half is which is fixed (a seed drawing every process into start-up left only the probe's run).
      const plan = fc.sample(fc.record({ delayMs: fc.integer({ min: 0, max: 1_500 }), startupMs: fc.integer({ min: 0, max: startup * 3 }) }), { numRuns: processes, seed }).map(
        (p, i) => ({ ...p, afterRun: i < Math.ceil(processes / 2), signal: (i % 2 === 0 ? "SIGKILL" : "SIGTERM") as NodeJS.Signals })
      )
      const start = performance.now()
      await Promise.all(
        plan.map(async ({ afterRun, delayMs, startupMs, signal }) => {
          const child = spawnCompiled(scripts.tracked, { LINEAGE_STORE: opened.url, MODE: "wait" })
          const exited = once(child, "exit")
          const tracked = new Promise<void>((resolve) => {
            child.stdout!.on("data", (chunk: Buffer) => (chunk.toString().includes("run ") ? resolve() : undefined))
            child.once("exit", () => resolve())
          })
          if (afterRun) {
            await tracked
            await new Promise((r) => setTimeout(r, delayMs))
          } else await new Promise((r) => setTimeout(r, startupMs))
          child.kill(signal)
          await exited
        })
      )
      // Longer than the fixture's heartbeat and than the 3 s a dying process may spend marking its run.
      await new Promise((r) => setTimeout(r, 1_000))
      const runs = await ln.Run.filter({ id__gte: 0 }).all()
      const stale = new Set((await ln.Run.stale({ olderThanMs: 500 }).all()).map((r) => r.uid))
      const alive = runs.filter((r) => !["completed", "errored", "aborted"].includes(r.status) && !stale.has(r.uid))
      // The probe's run, and the runs of the processes killed after they began tracking.
      expect(runs.length).toBeGreaterThan(1)
      expect(alive.map((r) => `${r.uid} ${r.status} ${r.lastHeartbeatAt?.toISOString() ?? "no heartbeat"}`)).toEqual([])
      const byStatus = runs.reduce<{ [k: string]: number }>((acc, r) => ({ ...acc, [stale.has(r.uid) ? "stale" : r.status]: (acc[stale.has(r.uid) ? "stale" : r.status] ?? 0) + 1 }), {})
      if (opened.drift !== undefined) expect(await opened.drift()).toEqual([])
      record({ target: "faults: tracked process killed at random", store: target.name, processes, operations: runs.length, faults: processes, inputs: 0, lost: 0, seconds: since(start), note: `seed ${seed}; start-up ${startup} ms; runs left: ${JSON.stringify(byStatus)}; ${plan.filter((p) => p.signal === "SIGKILL").length} SIGKILL` })
    } finally {
      await ln.close()
      await opened.dispose()
    }
  }, timeoutMs)

  it(`writers killed by SIGKILL mid-stream lose no acknowledged write and leave a consistent store (seed ${seed})`, async () => {
    const opened = await target.open("killed_writers")
    const ln = await Lineage.connect(opened.url)
    try {
      await ln.Feature.create({ name: "kill_worker", dtype: "int" })
      const writers = Array.from({ length: Math.max(2, Math.ceil(processes / 2)) }, (_, i) => {
        const worker = startWorker(scripts.writer, { LINEAGE_STORE: opened.url, WORKER: String(i) })
        const acknowledged: Array<string> = []
        // Its stream is under way once a round was acknowledged (or over, when the writer died before one).
        let streamed: () => void
        const firstAck = new Promise<void>((resolve) => (streamed = resolve))
        createInterface({ input: worker.child.stdout! }).on("line", (line) => {
          if (!line.startsWith("ack ")) return
          acknowledged.push(line.slice(4))
          streamed()
        })
        // "close": every line the writer printed before it was killed is read by then.
        const exited = once(worker.child, "close")
        return { worker, acknowledged, exited, streaming: Promise.race([firstAck, exited]) }
      })
      await Promise.all(writers.map((w) => w.worker.ready))
      // Each writer is killed at its own moment of its stream, counted from its first acknowledged round (busy
      // cores can make that round alone outlast a delay counted from the start): most often inside a
      // transaction, as it writes.
      const delays = fc.sample(fc.integer({ min: 300, max: 1_500 }), { numRuns: writers.length, seed })
      const start = performance.now()
      await Promise.all(
        writers.map(async (w, i) => {
          w.worker.go()
          await w.streaming
          await new Promise((r) => setTimeout(r, delays[i]))
          w.worker.child.kill("SIGKILL")
          await w.exited
        })
      )
      const acknowledged = writers.flatMap((w) => w.acknowledged)
      const runs = await ln.Run.filter({ transform__key: "killed-writer.ts", id__gte: 0 }).all()
      const outputs = new Set((await ln.Artifact.filter({ key__startswith: "killed/", id__gte: 0 }).all()).map((a) => a.runId))
      const byUid = new Map(runs.map((r) => [r.uid, r]))
      // Every acknowledged round is whole: its run completed, with its feature and its output artifact.
      const lost = acknowledged.filter((uid) => {
        const run = byUid.get(uid)
        return run?.status !== "completed" || (run.featureValues as { readonly kill_worker?: number }).kill_worker === undefined || !outputs.has(run.id)
      })
      expect(acknowledged.length).toBeGreaterThan(0)
      expect(lost).toEqual([])
      if (opened.drift !== undefined) expect(await opened.drift()).toEqual([])
      record({
        target: "faults: writers killed by SIGKILL mid-stream",
        store: target.name,
        processes: writers.length,
        operations: runs.length,
        faults: writers.length,
        inputs: 0,
        lost: lost.length,
        seconds: since(start),
        note: `seed ${seed}; ${acknowledged.length} rounds acknowledged, ${runs.length - acknowledged.length} cut short; ${opened.drift === undefined ? "no drift check" : target.name === "sqlite" ? "integrity_check ok, no drift" : "no drift"}`
      })
    } finally {
      await ln.close()
      await opened.dispose()
    }
  }, timeoutMs)
})
