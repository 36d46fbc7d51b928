/**
 * Load: N processes × M tracked runs each (features, an output artifact from bytes, a step), all released
 * together on one store; afterwards every run is there exactly once, completed, with its features, its
 * output artifact and its step run; uids and ids are unique; Redis's index check finds no drift.
 *
 * Where the time goes, printed and recorded: a process's start-up (spawn to `ready`: loading the packages,
 * connecting, the transform), then per tracked run the wall time in a worker and the CPU time it spent, and the
 * tracked runs per second of all processes once started (and with start-up counted, over the whole test).
 *
 * CI: 8 × 40 (LOAD_PROCESSES / LOAD_RUNS to change); soak (LINEAGE_SOAK=1): 8 × 2,000.
 */
import { describe, expect, it } from "vitest"
import { Lineage } from "@lineage/core"
import { compiledScripts } from "../support/scripts.js"
import { record, since, soak } from "./support/figures.js"
import { fixture, race } from "./support/processes.js"
import { sharedTargets } from "./support/stores.js"

const processes = Number(process.env["LOAD_PROCESSES"] ?? 8)
const runsEach = Number(process.env["LOAD_RUNS"] ?? (soak ? 2_000 : 40))
const targets = await sharedTargets()
const scripts = compiledScripts({ worker: fixture("load-worker.ts") })

interface WorkerResult {
  readonly worker: number
  readonly runs: ReadonlyArray<string>
  /** Spawn to `ready`: wall and CPU milliseconds. */
  readonly startup: { readonly ms: number; readonly cpuMs: number }
  /** The runs' wall and CPU milliseconds. */
  readonly ms: number
  readonly cpuMs: number
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The split of the time: start-up per process, then per run, and the throughput once started. */
const split = (results: ReadonlyArray<WorkerResult>, seconds: number) => {
  const total = results.reduce((n, r) => n + r.runs.length, 0)
  const writeSeconds = Math.max(...results.map((r) => r.ms)) / 1000
  return {
    startupMs: Math.round(median(results.map((r) => r.startup.ms))),
    startupCpuMs: Math.round(median(results.map((r) => r.startup.cpuMs))),
    runMs: results.reduce((n, r) => n + r.ms, 0) / total,
    runCpuMs: results.reduce((n, r) => n + r.cpuMs, 0) / total,
    started: Math.round(total / writeSeconds),
    overall: Math.round(total / seconds),
    writeSeconds
  }
}

describe.each(targets)("$name: load", (target) => {
  it(`${processes} processes × ${runsEach} tracked runs: nothing lost, nothing twice`, async () => {
    const opened = await target.open("load")
    const ln = await Lineage.connect(opened.url)
    try {
      await ln.Feature.create({ name: "load_worker", dtype: "int" })
      await ln.Feature.create({ name: "load_index", dtype: "int" })
      const start = performance.now()
      // Called as each worker is spawned: SPAWNED_AT lets it time its own start-up.
      const results = await race<WorkerResult>(scripts.worker, processes, (i) => ({
        LINEAGE_STORE: opened.url,
        WORKER: String(i),
        RUNS: String(runsEach),
        SPAWNED_AT: String(Date.now())
      }))
      const seconds = since(start)
      const total = processes * runsEach

      const acknowledged = results.flatMap((r) => r.runs)
      expect(acknowledged).toHaveLength(total)
      expect(new Set(acknowledged).size).toBe(total)
      const tracked = await ln.Run.filter({ transform__key: "load-job.ts", id__gte: 0 }).all()
      const steps = await ln.Run.filter({ transform__key: "load-job.ts/double", id__gte: 0 }).all()
      const outputs = await ln.Artifact.filter({ key__startswith: "load/", id__gte: 0 }).all()
      // Exactly once: as many runs as acknowledged, each uid once, ids unique.
      expect(tracked).toHaveLength(total)
      expect(new Set(tracked.map((r) => r.uid))).toEqual(new Set(acknowledged))
      const allRuns = [...tracked, ...steps]
      expect(new Set(allRuns.map((r) => r.id)).size).toBe(allRuns.length)
      expect(new Set(outputs.map((a) => a.id)).size).toBe(outputs.length)
      // Every run completed, with its features, its output artifact and its step run.
      const byRun = new Map(outputs.map((a) => [a.runId, a]))
      const stepsByParent = new Map<number | null, number>()
      for (const s of steps) stepsByParent.set(s.initiatedByRunId, (stepsByParent.get(s.initiatedByRunId) ?? 0) + 1)
      let lost = 0
      for (const run of tracked) {
        const values = run.featureValues as { readonly load_worker?: number; readonly load_index?: number }
        const params = run.params as { readonly worker: number; readonly index: number }
        const output = byRun.get(run.id)
        const ok =
          run.status === "completed" &&
          values.load_worker === params.worker &&
          values.load_index === params.index &&
          output?.key === `load/w${params.worker}/r${params.index}.txt` &&
          stepsByParent.get(run.id) === 1
        if (!ok) lost++
      }
      expect(lost).toBe(0)
      expect(steps.every((s) => s.status === "completed")).toBe(true)
      expect(outputs).toHaveLength(total)
      if (opened.drift !== undefined) expect(await opened.drift()).toEqual([])
      const time = split(results, seconds)
      const timing =
        `start-up ${time.startupMs} ms/process (${time.startupCpuMs} ms CPU); ` +
        `${time.runMs.toFixed(1)} ms/run in a process (${time.runCpuMs.toFixed(1)} ms CPU) once started; ` +
        `${time.started} tracked runs/s once started, ${time.overall} with start-up`
      console.info(`[load] ${target.name}: ${processes} × ${runsEach} tracked runs (+${steps.length} step runs, ${outputs.length} artifacts), ${time.writeSeconds.toFixed(1)} s of writing: ${timing}`)
      record({ target: "load: tracked runs with features, artifact, step", store: target.name, processes, operations: total, faults: 0, inputs: 0, lost, seconds, note: `${timing}; checked ${total} runs + ${steps.length} step runs + ${outputs.length} artifacts` })
    } finally {
      await ln.close()
      await opened.dispose()
    }
  }, soak ? 3_600_000 : 170_000)
})
