/**
 * Runs as OpenLineage events: every event produced here is checked against the spec's own schemas
 * (`test/fixtures/openlineage`), facets included.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import { specErrors } from "../../../test/fixtures/openlineage/validate.js"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as Artifacts from "../src/Artifacts.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import * as OpenLineage from "../src/OpenLineage.js"
import type * as Records from "../src/Records.js"
import { Artifact, Feature, Run, Transform } from "../src/Registry.js"
import { make as makeStore, Store, type StoreShape } from "../src/Store.js"
import * as Tracking from "../src/Tracking.js"

const storage = mkdtempSync(join(tmpdir(), "lineage-openlineage-test-"))
afterAll(() => rmSync(storage, { recursive: true, force: true }))

let store: StoreShape
const run = <A, E>(effect: Effect.Effect<A, E, Store>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provideService(Store, store), Effect.provideService(ArtifactStorage, storage)))

beforeEach(async () => {
  store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
})
afterEach(async () => {
  await Effect.runPromise(Effect.exit(Effect.provideService(Tracking.finish(), Store, store)))
  delete process.env[Tracking.initiatedByRunVariable]
})

const eventsOf = (r: Records.Run, options?: OpenLineage.EventOptions) => run(OpenLineage.events(r, options))

/** The events of `r`, each checked against the spec. */
const validEvents = async (r: Records.Run, options?: OpenLineage.EventOptions) => {
  const events = await eventsOf(r, options)
  for (const event of events) expect(specErrors(event)).toEqual([])
  return events
}

const v5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("runId", () => {
  it("is RFC 9562's name-based UUID: the RFC's own example gives its published value", () => {
    // RFC 9562, Appendix A.4: "www.example.com" in the DNS namespace.
    expect(OpenLineage.uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com")).toBe("2ed6657d-e927-568b-95e1-2665a8aea6a2")
  })

  it("names runs under the namespace the docs derive, deterministically, one id per uid", () => {
    expect(OpenLineage.uuid5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "https://github.com/lineage-dev/lineage#run")).toBe(
      OpenLineage.runIdNamespace
    )
    const id = OpenLineage.runId("aBcDeFgH12345678")
    expect(id).toMatch(v5)
    expect(OpenLineage.runId("aBcDeFgH12345678")).toBe(id)
    expect(OpenLineage.runId("aBcDeFgH12345679")).not.toBe(id)
    expect(id).toBe(OpenLineage.uuid5(OpenLineage.runIdNamespace, "aBcDeFgH12345678"))
  })

  it("refuses a namespace that is no UUID", () => {
    expect(() => OpenLineage.uuid5("not-a-uuid", "x")).toThrow(RangeError)
  })
})

describe("a tracked run's events", () => {
  const trackedRun = () =>
    run(
      Effect.gen(function* () {
        yield* Feature.create({ name: "accuracy", dtype: "float" })
        const input = yield* Artifacts.fromBytes("a,b\n1,2\n", { key: "data/raw.csv", description: "raw table", run: null })
        const started = yield* Tracking.track({
          transform: { key: "train.ts", version: "1", kind: "script", sourceCode: "export const lr = 0.1\n", description: "trains a model" },
          params: { lr: 0.1, api_key: "sk-live-secret" },
          features: { accuracy: 0.9 },
          handleProcess: false
        })
        yield* Artifacts.load(input)
        const output = yield* Artifacts.fromBytes("weights", { key: "models/model.bin" })
        const finished = yield* Tracking.finish()
        return { input, started, output, finished }
      })
    )

  it("are START then COMPLETE, valid by the spec, with the run's id, times, job and facets", async () => {
    const { started, finished } = await trackedRun()
    const events = await validEvents(finished, { namespace: "lab" })
    expect(events.map((e) => e.eventType)).toEqual(["START", "COMPLETE"])
    expect(events.map((e) => e.run.runId)).toEqual([OpenLineage.runId(finished.uid), OpenLineage.runId(finished.uid)])
    expect(events[0]!.eventTime).toBe(started.startedAt.toISOString())
    expect(events[1]!.eventTime).toBe(finished.finishedAt!.toISOString())
    for (const e of events) {
      expect(e.schemaURL).toBe("https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent")
      expect(e.producer).toBe(`https://github.com/lineage-dev/lineage/tree/@lineage/core@${OpenLineage.coreVersion()}/packages/core`)
      expect(OpenLineage.coreVersion()).toMatch(/^\d+\.\d+\.\d+/)
    }
    const { job, run: r } = events[1]!
    expect(job.namespace).toBe("lab")
    expect(job.name).toBe("train.ts")
    expect(job.facets.jobType).toMatchObject({ processingType: "BATCH", integration: "LINEAGE", jobType: "SCRIPT" })
    expect(job.facets.sourceCode).toMatchObject({ language: "TypeScript", sourceCode: "export const lr = 0.1\n" })
    expect(job.facets.documentation?.description).toBe("trains a model")
    expect(job.facets.lineage_transform).toMatchObject({ version: "1", kind: "script" })
    expect(r.facets.lineage_run.uid).toBe(finished.uid)
    expect(r.facets.lineage_params?.params).toEqual({ lr: 0.1, api_key: "***REDACTED***" })
    expect(r.facets.lineage_features?.values).toEqual({ accuracy: 0.9 })
    expect(r.facets.parent).toBeUndefined()
    expect(r.facets.errorMessage).toBeUndefined()
  })

  it("list the run's inputs and outputs on the last event, named where their bytes are", async () => {
    const { input, output, finished } = await trackedRun()
    const [start, complete] = await validEvents(finished)
    expect(start!.inputs).toEqual([])
    expect(start!.outputs).toEqual([])
    expect(complete!.inputs.map((d) => [d.namespace, d.name])).toEqual([["file", join(storage, `${input.uid}.csv`)]])
    expect(complete!.outputs.map((d) => [d.namespace, d.name])).toEqual([["file", join(storage, `${output.uid}.bin`)]])
    const [dataset] = complete!.inputs
    expect(dataset!.facets.version.datasetVersion).toBe(input.version)
    expect(dataset!.facets.documentation?.description).toBe("raw table")
    expect(dataset!.facets.lineage_artifact).toMatchObject({ uid: input.uid, key: "data/raw.csv", hash: input.hash, size: 8, suffix: ".csv" })
  })

  it("name a step's parent: the run that called it, and its job", async () => {
    const { parent, child } = await run(
      Effect.gen(function* () {
        const parent = yield* Tracking.track({ transform: { key: "pipeline.ts", version: "1" }, handleProcess: false })
        yield* Tracking.step((x: number) => Effect.succeed(x * 2), { key: "double" })(21)
        const [child] = yield* Artifacts.initiatedRuns(parent)
        yield* Tracking.finish()
        return { parent, child: child! }
      })
    )
    const events = await validEvents(child)
    expect(events.map((e) => e.eventType)).toEqual(["START", "COMPLETE"])
    const facets = events[0]!.run.facets
    expect(facets.parent?.run.runId).toBe(OpenLineage.runId(parent.uid))
    expect(facets.parent?.job).toEqual({ namespace: "default", name: "pipeline.ts" })
    expect(events[0]!.job.name).toBe("pipeline.ts/double")
    expect(events[0]!.job.facets.jobType?.jobType).toBe("FUNCTION")
    expect(events[0]!.job.facets.sourceCode?.language).toBe("JavaScript")
    expect(facets.lineage_params?.params).toEqual({ x: 21 })
  })
})

describe("statuses", () => {
  const runWith = (patch: { readonly [k: string]: unknown }) =>
    run(
      Effect.gen(function* () {
        const transform = yield* Transform.create({ key: "job.ts", versionTag: "1" })
        return yield* Run.create({ transformId: transform.id, startedAt: new Date("2026-01-01T00:00:00.000Z"), ...patch })
      })
    )

  it.each([
    ["scheduled", []],
    ["started", ["START"]],
    ["restarted", ["START"]],
    ["completed", ["START", "COMPLETE"]],
    ["errored", ["START", "FAIL"]],
    ["aborted", ["START", "ABORT"]]
  ] as const)("a %s run has the events %j, in that order", async (status, types) => {
    const ended = ["completed", "errored", "aborted"].includes(status)
    const r = await runWith({ status, ...(ended ? { finishedAt: new Date("2026-01-01T00:01:00.000Z") } : {}) })
    const events = await validEvents(r)
    expect(events.map((e) => e.eventType)).toEqual(types)
    expect(events.map((e) => e.eventTime)).toEqual(types.map((t) => (t === "START" ? "2026-01-01T00:00:00.000Z" : "2026-01-01T00:01:00.000Z")))
  })

  it("a restarted run's events are its restart's: a runId of their own, naming the first attempt's in restartOf", async () => {
    const r = await runWith({ status: "restarted" })
    const [start] = await validEvents(r)
    expect(start!.run.runId).toBe(OpenLineage.uuid5(OpenLineage.runIdNamespace, `${r.uid}@2026-01-01T00:00:00.000Z`))
    expect(start!.run.runId).toBe(OpenLineage.attemptRunId(r, true))
    expect(start!.run.facets.lineage_run.restartOf).toBe(OpenLineage.runId(r.uid))
  })

  it("an end recorded before the start is reported at the start, keeping each run's events in time order", async () => {
    const r = await runWith({ status: "completed", finishedAt: new Date("2025-12-31T00:00:00.000Z") })
    const events = await validEvents(r)
    expect(events.map((e) => e.eventTime)).toEqual(["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"])
  })
})

describe("what a store hands back is bounded", () => {
  it("leaves out params past the facet limit, a source past its limit, and cuts long texts", async () => {
    const params = Object.fromEntries(Array.from({ length: OpenLineage.maxFacetValues + 1 }, (_, i) => [`k${i}`, i]))
    const r = await run(
      Effect.gen(function* () {
        const transform = yield* Transform.create({
          key: "big.ts",
          versionTag: "1",
          sourceCode: "x".repeat(OpenLineage.maxSourceChars + 1),
          description: "d".repeat(OpenLineage.maxTextChars + 10)
        })
        return yield* Run.create({ transformId: transform.id, status: "started", params })
      })
    )
    const [start] = await validEvents(r)
    expect(start!.run.facets.lineage_params).toBeUndefined()
    expect(start!.job.facets.sourceCode).toBeUndefined()
    expect(start!.job.facets.documentation?.description).toBe(`${"d".repeat(OpenLineage.maxTextChars)}…`)
  })

  it("reads at most maxDatasets artifacts per side, by a query with a limit, and counts the ones left out", async () => {
    const artifactFinds: Array<number | undefined> = []
    const driver = MemoryStore.makeDriver()
    store = await Effect.runPromise(
      makeStore({
        ...driver,
        find: (table, spec) => {
          if (table === "artifact") artifactFinds.push(spec.limit)
          return driver.find(table, spec)
        }
      })
    )
    const r = await run(
      Effect.gen(function* () {
        const transform = yield* Transform.create({ key: "fan-out.ts", versionTag: "1" })
        const r = yield* Run.create({ transformId: transform.id, status: "completed", finishedAt: new Date() })
        yield* Effect.forEach(Array.from({ length: OpenLineage.maxDatasets + 1 }, (_, i) => i), (i) =>
          Artifact.create({ key: `parts/${i}.csv`, suffix: ".csv", storage: "s3://bucket/parts", run: r })
        )
        return r
      })
    )
    artifactFinds.length = 0
    const [, complete] = await validEvents(r)
    expect(complete!.outputs).toHaveLength(OpenLineage.maxDatasets)
    expect(complete!.run.facets.lineage_run.omittedOutputs).toBe(1)
    expect(complete!.run.facets.lineage_run.omittedInputs).toBeUndefined()
    expect(artifactFinds.length).toBeGreaterThan(0)
    expect(artifactFinds.every((limit) => limit !== undefined && limit <= OpenLineage.maxDatasets)).toBe(true)
  })

  it("names a dataset in an object store by bucket and path, and one with an odd storage by its uid", async () => {
    const { r, s3, odd } = await run(
      Effect.gen(function* () {
        const transform = yield* Transform.create({ key: "copy.ts", versionTag: "1" })
        const r = yield* Run.create({ transformId: transform.id, status: "completed", finishedAt: new Date() })
        const s3 = yield* Artifact.create({ key: "data/t.parquet", suffix: ".parquet", storage: "s3://bucket/prefix", run: r })
        const odd = yield* Artifact.create({ key: "data/o.csv", suffix: ".csv", storage: "s3://bucket/other", run: r })
        return { r, s3, odd }
      })
    )
    // Written straight to the store, past the registry's checks, as another client could.
    await Effect.runPromise(store.driver.update("artifact", odd.id, { storage: "ftp://evil.example/../x" }))
    const [, complete] = await validEvents(r)
    expect(complete!.outputs.map((d) => [d.namespace, d.name])).toEqual([
      ["s3://bucket", `prefix/${s3.uid}.parquet`],
      ["lineage", `artifact/${odd.uid}`]
    ])
  })
})

describe("the lineage_metrics facet", () => {
  const summary = {
    loss: { last: 0.25, min: 0.2, max: 2.5, count: 100, step: 99 },
    acc: { last: 0.9, min: 0.1, max: 0.91, count: 50, step: 98 }
  }
  const endedWith = (status: "completed" | "errored" | "aborted", metricSummary: unknown) =>
    run(
      Effect.gen(function* () {
        const transform = yield* Transform.getOrCreate({ key: "train.ts", versionTag: "1" })
        const r = yield* Run.create({ transformId: transform.id, status, finishedAt: new Date() })
        // Written straight to the store, past the registry's checks, as another client could.
        yield* store.driver.update("run", r.id, { metricSummary: metricSummary as never })
        return yield* Run.get(r.uid)
      })
    )

  it.each(["completed", "errored", "aborted"] as const)("a %s run's terminal event carries its summary, by key in key order; its START none", async (status) => {
    const [start, end] = await validEvents(await endedWith(status, summary))
    expect(start!.run.facets.lineage_metrics).toBeUndefined()
    const facet = end!.run.facets.lineage_metrics!
    expect(facet.metrics).toEqual(summary)
    expect(Object.keys(facet.metrics)).toEqual(["acc", "loss"])
    expect(facet.omittedKeys).toBeUndefined()
    expect(facet._schemaURL).toBe(`${OpenLineage.lineageFacetsSchema}#/$defs/LineageMetricsRunFacet`)
    expect(facet._producer).toBe(OpenLineage.producer())
  })

  it("is left out for a run with no metrics", async () => {
    const [, complete] = await validEvents(await endedWith("completed", {}))
    expect(complete!.run.facets.lineage_metrics).toBeUndefined()
  })

  it("leaves out and counts what no client writes, and keys past maxFacetMetrics", async () => {
    const odd = {
      ok: { last: 1, min: 0, max: 2, count: 3, step: 2 },
      text: { last: "1", min: 0, max: 2, count: 3, step: 2 },
      negativeCount: { last: 1, min: 0, max: 2, count: -1, step: 2 },
      fractionalStep: { last: 1, min: 0, max: 2, count: 3, step: 1.5 },
      notAnObject: [1, 2],
      [`${"k".repeat(251)}`]: { last: 1, min: 0, max: 2, count: 3, step: 2 }
    }
    const [, complete] = await validEvents(await endedWith("completed", odd))
    expect(complete!.run.facets.lineage_metrics).toMatchObject({ metrics: { ok: odd.ok }, omittedKeys: 5 })
    expect(Object.keys(complete!.run.facets.lineage_metrics!.metrics)).toEqual(["ok"])

    const many = Object.fromEntries(Array.from({ length: OpenLineage.maxFacetMetrics + 2 }, (_, i) => [`m${String(i).padStart(5, "0")}`, odd.ok]))
    const [, full] = await validEvents(await endedWith("completed", many))
    const keys = Object.keys(full!.run.facets.lineage_metrics!.metrics)
    expect(keys).toHaveLength(OpenLineage.maxFacetMetrics)
    expect(keys.at(-1)).toBe(`m${String(OpenLineage.maxFacetMetrics - 1).padStart(5, "0")}`)
    expect(full!.run.facets.lineage_metrics!.omittedKeys).toBe(2)
  })

  it("is checked against its published schema: a summary missing a field or holding another is refused", async () => {
    const [, complete] = await validEvents(await endedWith("completed", summary))
    const copy = (): Record<string, any> => JSON.parse(JSON.stringify(complete))
    const missing = copy()
    delete missing["run"]["facets"]["lineage_metrics"]["metrics"]["loss"]["count"]
    const extra = copy()
    extra["run"]["facets"]["lineage_metrics"]["metrics"]["loss"]["mean"] = 1
    const notANumber = copy()
    notANumber["run"]["facets"]["lineage_metrics"]["metrics"]["acc"]["last"] = "0.9"
    for (const bad of [missing, extra, notANumber]) expect(specErrors(bad).join("\n")).toContain("run.facets.lineage_metrics/metrics/")
  })
})

describe("the job namespace", () => {
  afterEach(() => {
    for (const name of OpenLineage.namespaceVariables) delete process.env[name]
  })

  it("is the option, else LINEAGE_OPENLINEAGE_NAMESPACE, else OPENLINEAGE_NAMESPACE, else default", () => {
    expect(OpenLineage.namespace()).toBe("default")
    process.env["OPENLINEAGE_NAMESPACE"] = "reference"
    expect(OpenLineage.namespace()).toBe("reference")
    process.env["LINEAGE_OPENLINEAGE_NAMESPACE"] = "ours"
    expect(OpenLineage.namespace()).toBe("ours")
    expect(OpenLineage.namespace("given")).toBe("given")
    expect(OpenLineage.namespace("  ")).toBe("ours")
  })
})

describe("the spec check itself", () => {
  it("refuses an event with a facet missing _producer, a bad runId, an unknown eventType, or an extra _ field", async () => {
    const r = await run(
      Effect.gen(function* () {
        const transform = yield* Transform.create({ key: "job.ts", versionTag: "1" })
        return yield* Run.create({ transformId: transform.id, status: "started" })
      })
    )
    const [event] = await validEvents(r)
    const copy = (): Record<string, any> => JSON.parse(JSON.stringify(event))
    const noProducer = copy()
    delete noProducer["run"]["facets"]["lineage_run"]["_producer"]
    const badId = copy()
    badId["run"]["runId"] = "run-1"
    const badType = copy()
    badType["eventType"] = "FINISHED"
    const extra = copy()
    extra["job"]["facets"]["jobType"]["_note"] = "x"
    const noProducerAtAll = copy()
    delete noProducerAtAll["producer"]
    for (const bad of [noProducer, badId, badType, extra, noProducerAtAll]) expect(specErrors(bad)).not.toEqual([])
  })
})
