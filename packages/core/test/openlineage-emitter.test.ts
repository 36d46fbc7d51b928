/**
 * The live emitter against a real HTTP server on loopback: what it posts (path, headers, bodies in order, each
 * valid by the spec), how it retries, how it closes, and that no endpoint, however broken, delays or fails the
 * tracked code or makes it read the store.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Fiber, Logger } from "effect"
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import { specErrors } from "../../../test/fixtures/openlineage/validate.js"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as Artifacts from "../src/Artifacts.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import type { Driver } from "../src/Driver.js"
import { ValidationError } from "../src/Errors.js"
import * as Lineage from "../src/Lineage.js"
import * as Metrics from "../src/Metrics.js"
import * as OpenLineage from "../src/OpenLineage.js"
import * as OpenLineageEmitter from "../src/OpenLineageEmitter.js"
import { Run } from "../src/Registry.js"
import { make as makeStore, Store, type StoreShape } from "../src/Store.js"
import * as Tracking from "../src/Tracking.js"

const storage = mkdtempSync(join(tmpdir(), "lineage-openlineage-emitter-test-"))
afterAll(() => rmSync(storage, { recursive: true, force: true }))

// ---------------------------------------------------------------------------------------------------------
// A lineage endpoint on loopback

interface Received {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

type Answer = number | "hang"

const servers: Array<{ readonly close: () => Promise<void> }> = []

/** A server answering each request with `answer(index)`: a status, or no answer at all. */
const serve = async (answer: (index: number) => Answer) => {
  const received: Array<Received> = []
  const unanswered: Array<http.ServerResponse> = []
  const arrivals: Array<() => void> = []
  const server = http.createServer((req, res) => {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => (body += chunk))
    req.on("end", () => {
      const status = answer(received.length)
      received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body })
      if (status === "hang") unanswered.push(res)
      else res.writeHead(status).end()
      for (const arrived of arrivals.splice(0)) arrived()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const close = async () => {
    for (const res of unanswered) res.destroy()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  servers.push({ close })
  const { port } = server.address() as AddressInfo
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    unanswered,
    /** Resolves once a request has arrived. */
    arrival: () => new Promise<void>((resolve) => arrivals.push(resolve)),
    /** Resolves once the client has given up the unanswered request `index` (its connection closed). */
    abandoned: (index: number) => new Promise<void>((resolve) => unanswered[index]!.once("close", () => resolve())),
    events: () => received.map((r) => JSON.parse(r.body) as OpenLineage.RunEvent)
  }
}

/** A loopback port nothing listens on. */
const closedPort = async () => {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

// ---------------------------------------------------------------------------------------------------------
// The Effect face, with its warnings captured

let store: StoreShape
let warnings: Array<string>
let logger: Logger.Logger<unknown, void>

/** A logger keeping what it is given in `into`: each test its own, so a late warning of one never lands in another. */
const keeping = (into: Array<string>) =>
  Logger.make(({ message }) => {
    into.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
  })

const provided = <A, E>(effect: Effect.Effect<A, E, Store>, at = storage) =>
  effect.pipe(Effect.provideService(Store, store), Effect.provideService(ArtifactStorage, at), Effect.provide(Logger.layer([logger])))

const run = <A, E>(effect: Effect.Effect<A, E, Store>): Promise<A> => Effect.runPromise(provided(effect))

const envNames = [
  "LINEAGE_OPENLINEAGE_URL",
  "LINEAGE_OPENLINEAGE_API_KEY",
  "LINEAGE_OPENLINEAGE_ENDPOINT",
  "OPENLINEAGE_URL",
  "OPENLINEAGE_API_KEY",
  "OPENLINEAGE_ENDPOINT",
  ...OpenLineage.namespaceVariables
]

beforeEach(async () => {
  warnings = []
  logger = keeping(warnings)
  store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
})
afterEach(async () => {
  await Effect.runPromise(Effect.exit(Effect.provideService(Tracking.finish(), Store, store)))
  for (const name of envNames) delete process.env[name]
  delete process.env[Tracking.initiatedByRunVariable]
  for (const server of servers.splice(0)) await server.close()
})

const transform = { key: "train.ts", version: "1" }

/** A tracked run with one step, sending to `openLineage`; the run as finished, the store's queue flushed. */
const trackedWithStep = (openLineage?: OpenLineageEmitter.Options | false) =>
  run(
    Effect.gen(function* () {
      yield* Tracking.track({ transform, handleProcess: false, ...(openLineage !== undefined ? { openLineage } : {}) })
      yield* Tracking.step((x: number) => Effect.succeed(x), { key: "fit" })(1)
      const finished = yield* Tracking.finish()
      yield* OpenLineageEmitter.flush
      return finished
    })
  )

/** A finished run's START event, and an emitter for `options` built in the test's context. */
const emitterAndEvent = (options: OpenLineageEmitter.Options) =>
  run(
    Effect.gen(function* () {
      const finished = yield* Tracking.track({ transform, handleProcess: false, openLineage: false }).pipe(Effect.andThen(Tracking.finish()))
      const [event] = yield* OpenLineage.events(finished)
      return { emitter: yield* OpenLineageEmitter.make(options), event: event! }
    })
  )

/** An emitter whose endpoint never answers, with two events sent: the first in flight, the second queued. */
const twoQueuedOnHangingEndpoint = async () => {
  const server = await serve(() => "hang")
  const { emitter, event } = await emitterAndEvent({ url: server.url, timeoutMs: 20_000, retries: 0 })
  const arrived = server.arrival()
  emitter.send(event)
  emitter.send(event)
  await arrived
  return { server, emitter, event }
}

const expectValid = (events: ReadonlyArray<OpenLineage.RunEvent>) => {
  for (const event of events) expect(specErrors(event)).toEqual([])
}

/** `driver` with each call of the operations named in `counts` counted there. */
const counting = (driver: Driver, counts: Record<string, number>): Driver =>
  new Proxy(driver, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver)
      if (typeof name !== "string" || !(name in counts) || typeof value !== "function") return value
      return (...args: ReadonlyArray<unknown>) => {
        counts[name]!++
        return Reflect.apply(value, target, args)
      }
    }
  })

describe("sending", () => {
  it("posts each event as JSON to {url}/api/v1/lineage with the bearer key, in the order they happened", async () => {
    const server = await serve(() => 200)
    const finished = await trackedWithStep({ url: server.url, apiKey: "ol-key-123", namespace: "lab" })
    expect(server.received.map((r) => [r.method, r.url, r.headers["content-type"], r.headers["authorization"]])).toEqual(
      Array.from({ length: 4 }, () => ["POST", "/api/v1/lineage", "application/json", "Bearer ol-key-123"])
    )
    const events = server.events()
    expectValid(events)
    expect(events.map((e) => [e.eventType, e.job.name])).toEqual([
      ["START", "train.ts"],
      ["START", "train.ts/fit"],
      ["COMPLETE", "train.ts/fit"],
      ["COMPLETE", "train.ts"]
    ])
    expect(events.every((e) => e.job.namespace === "lab")).toBe(true)
    expect(events[3]!.run.runId).toBe(OpenLineage.runId(finished.uid))
    expect(events[1]!.run.facets.parent?.run.runId).toBe(OpenLineage.runId(finished.uid))
    expect(events[1]!.run.facets.parent?.job).toEqual({ namespace: "lab", name: "train.ts" })
    expect(warnings).toEqual([])
  })

  it("sends the events a run's export has, datasets included: none on START, the run's inputs and outputs on its end", async () => {
    const server = await serve(() => 200)
    const finished = await run(
      Effect.gen(function* () {
        const input = yield* Artifacts.fromBytes("a,b\n1,2\n", { key: "data/raw.csv", run: null })
        yield* Tracking.track({ transform, handleProcess: false, params: { lr: 0.1 }, openLineage: { url: server.url } })
        yield* Artifacts.load(input)
        yield* Artifacts.fromBytes("weights", { key: "models/model.bin" })
        const finished = yield* Tracking.finish()
        yield* OpenLineageEmitter.flush
        return finished
      })
    )
    const live = server.events()
    expect(live.map((e) => [e.eventType, e.inputs.length, e.outputs.length])).toEqual([
      ["START", 0, 0],
      ["COMPLETE", 1, 1]
    ])
    expect(live).toEqual(await run(OpenLineage.events(finished)))
  })

  it("carries the metrics logged during the run on its COMPLETE event, as its export does", async () => {
    const server = await serve(() => 200)
    const finished = await run(
      Effect.gen(function* () {
        yield* Tracking.track({ transform, handleProcess: false, openLineage: { url: server.url } })
        for (let step = 0; step < 5; step++) yield* Metrics.log({ loss: 1 / (step + 1), acc: step / 10 })
        const finished = yield* Tracking.finish()
        yield* OpenLineageEmitter.flush
        return finished
      })
    )
    const live = server.events()
    expectValid(live)
    expect(live.map((e) => [e.eventType, e.run.facets.lineage_metrics?.metrics])).toEqual([
      ["START", undefined],
      [
        "COMPLETE",
        {
          acc: { last: 0.4, min: 0, max: 0.4, count: 5, step: 4 },
          loss: { last: 0.2, min: 0.2, max: 1, count: 5, step: 4 }
        }
      ]
    ])
    expect(live).toEqual(await run(OpenLineage.events(finished)))
  })

  it("puts credentials of the URL in a Basic authorization", async () => {
    const server = await serve(() => 200)
    await trackedWithStep({ url: `http://ada:p%40ss@127.0.0.1:${server.port}/base/` })
    expect(server.received[0]!.url).toBe("/base/api/v1/lineage")
    expect(server.received[0]!.headers["authorization"]).toBe(`Basic ${Buffer.from("ada:p@ss").toString("base64")}`)
  })

  it("carries what a failed step threw in an errorMessage facet, secrets redacted", async () => {
    const server = await serve(() => 200)
    await run(
      Effect.gen(function* () {
        yield* Tracking.track({ transform, handleProcess: false, openLineage: { url: server.url } })
        yield* Effect.exit(Tracking.step(() => Effect.fail(new Error("boom: password=hunter2")), { key: "explode" })())
        yield* Tracking.finish()
        yield* OpenLineageEmitter.flush
      })
    )
    const events = server.events()
    expectValid(events)
    const fail = events.find((e) => e.eventType === "FAIL")
    expect(fail?.job.name).toBe("train.ts/explode")
    expect(fail?.run.facets.errorMessage?.message).toContain("Error: boom")
    expect(fail?.run.facets.errorMessage?.programmingLanguage).toBe("JavaScript")
    expect(JSON.stringify(fail)).not.toContain("hunter2")
  })

  it("carries why a track() failed after its run was written in the FAIL event's errorMessage", async () => {
    const server = await serve(() => 200)
    // A storage root that is a file: the run's environment artifact cannot be written, after the run was.
    const file = join(storage, "not-a-directory")
    writeFileSync(file, "")
    const failed = await Effect.runPromise(
      provided(Effect.flip(Tracking.track({ transform, handleProcess: false, openLineage: { url: server.url } })), file)
    )
    await run(OpenLineageEmitter.flush)
    const events = server.events()
    expectValid(events)
    expect(events.map((e) => e.eventType)).toEqual(["START", "FAIL"])
    expect(events[1]!.run.facets.errorMessage?.message).toContain(failed.message.slice(0, 40))
  })
})

describe("a restarted run", () => {
  const restarted = () =>
    run(
      Effect.gen(function* () {
        const again = yield* Tracking.track({ transform, handleProcess: false, newRun: false })
        const finished = yield* Tracking.finish()
        yield* OpenLineageEmitter.flush
        return { again, finished }
      })
    )

  it("is an OpenLineage run of its own: one START and one terminal event per runId, the restart naming the first", async () => {
    const server = await serve(() => 200)
    const first = await run(
      Tracking.track({ transform, handleProcess: false, openLineage: { url: server.url } }).pipe(Effect.andThen(Tracking.finish()))
    )
    const { again } = await restarted()
    expect(again.uid).toBe(first.uid)
    const events = server.events()
    expectValid(events)
    const attempt = OpenLineage.uuid5(OpenLineage.runIdNamespace, `${first.uid}@${again.startedAt.toISOString()}`)
    expect(events.map((e) => [e.eventType, e.run.runId])).toEqual([
      ["START", OpenLineage.runId(first.uid)],
      ["COMPLETE", OpenLineage.runId(first.uid)],
      ["START", attempt],
      ["COMPLETE", attempt]
    ])
    const firstId = OpenLineage.runId(first.uid)
    expect(events.map((e) => e.run.facets.lineage_run.restartOf)).toEqual([undefined, undefined, firstId, firstId])
    expect(events[2]!.eventTime).toBe(again.startedAt.toISOString())
  })

  it("exports as the events its latest attempt sent, while running and once ended", async () => {
    const server = await serve(() => 200)
    const first = await run(Tracking.track({ transform, handleProcess: false, openLineage: false }).pipe(Effect.andThen(Tracking.finish())))
    // Created an hour before its restart, as the store tells it.
    await Effect.runPromise(store.driver.update("run", first.id, { createdAt: new Date(first.createdAt.getTime() - 3_600_000).toISOString() }))
    const { again, finished } = await run(
      Effect.gen(function* () {
        const again = yield* Tracking.track({ transform, handleProcess: false, newRun: false, openLineage: { url: server.url } })
        return { again, finished: yield* Tracking.finish().pipe(Effect.tap(() => OpenLineageEmitter.flush)) }
      })
    )
    const live = server.events()
    expect(await run(OpenLineage.events(again))).toEqual([live[0]])
    expect(await run(OpenLineage.events(finished))).toEqual(live)
    expect(live.map((e) => e.run.facets.lineage_run.restartOf)).toEqual([OpenLineage.runId(first.uid), OpenLineage.runId(first.uid)])
  })
})

describe("the tracked code", () => {
  it("makes the store reads of a step call it makes without an emitter: the events are built in the background", async () => {
    const server = await serve(() => "hang")
    const readsOfOneStep = async (openLineage: OpenLineageEmitter.Options | false) => {
      const counts = { get: 0, find: 0, count: 0 }
      store = await Effect.runPromise(makeStore(counting(MemoryStore.makeDriver(), counts)))
      const arrived = server.arrival()
      await run(Tracking.track({ transform, handleProcess: false, openLineage }))
      // With the emitter, its loop now waits for an answer to the run's START: it builds nothing more meanwhile.
      if (openLineage !== false) await arrived
      const fit = Tracking.step((x: number) => Effect.succeed(x), { key: "fit" })
      await run(fit(1))
      for (const name of Object.keys(counts)) counts[name as keyof typeof counts] = 0
      await run(fit(2))
      await run(Tracking.finish())
      return counts
    }
    const without = await readsOfOneStep(false)
    expect(await readsOfOneStep({ url: server.url, timeoutMs: 20_000, retries: 0 })).toEqual(without)
  })

  it("a step interrupted just as its run is written ends that run aborted, never leaving it started", async () => {
    let runWritten = () => {}
    const written = new Promise<void>((resolve) => (runWritten = resolve))
    let slow = false
    const base = MemoryStore.makeDriver()
    const driver: Driver = {
      ...base,
      // The step's run lands in the store, then the write takes a while to return.
      insert: (table, docs) =>
        Effect.andThen(
          base.insert(table, docs),
          slow && table === "run" ? Effect.andThen(Effect.sync(runWritten), Effect.sleep("50 millis")) : Effect.void
        )
    }
    store = await Effect.runPromise(makeStore(driver))
    const server = await serve(() => 200)
    await run(Tracking.track({ transform, handleProcess: false, openLineage: { url: server.url } }))
    const fit = Tracking.step((x: number) => Effect.succeed(x), { key: "fit" })
    slow = true
    const call = Effect.runFork(provided(fit(1)))
    await written
    await Effect.runPromise(Fiber.interrupt(call))
    slow = false
    const runs = await run(Run.filter({ transform__key: "train.ts/fit" }).all())
    expect(runs.map((r) => r.status)).toEqual(["aborted"])
  })
})

describe("retries and failures", () => {
  it("retries a 5xx: a server answering 500 then 200 receives the event again, and nothing is warned", async () => {
    const server = await serve((i) => (i === 0 ? 500 : 200))
    await trackedWithStep({ url: server.url, retries: 1 })
    expect(server.received).toHaveLength(5)
    expect(server.received[1]!.body).toBe(server.received[0]!.body)
    expect(server.events().map((e) => e.eventType)).toEqual(["START", "START", "START", "COMPLETE", "COMPLETE"])
    expect(warnings).toEqual([])
  })

  it("does not retry a 4xx other than 429, and warns once for an endpoint that keeps refusing", async () => {
    const server = await serve(() => 400)
    await trackedWithStep({ url: server.url, retries: 3 })
    expect(server.received).toHaveLength(4)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`${server.url}/api/v1/lineage`)
    expect(warnings[0]).toContain("HTTP 400")
  })

  it("an endpoint that does not answer delays neither track() nor finish(), and the run completes", async () => {
    const server = await serve(() => "hang")
    const arrived = server.arrival()
    await run(Tracking.track({ transform, handleProcess: false, openLineage: { url: server.url, timeoutMs: 20_000, retries: 0 } }))
    await arrived
    const finished = await run(Tracking.finish())
    // finish() returned while the START event still waits for its answer, its request open.
    expect(server.unanswered).toHaveLength(1)
    expect(server.unanswered[0]!.socket?.destroyed).toBe(false)
    expect((await run(Run.get(finished.uid))).status).toBe("completed")
    server.unanswered.splice(0)[0]!.writeHead(200).end()
    const next = server.arrival()
    await next
    server.unanswered.splice(0)[0]!.writeHead(200).end()
    await run(OpenLineageEmitter.flush)
    expect(server.events().map((e) => e.eventType)).toEqual(["START", "COMPLETE"])
    expect(warnings).toEqual([])
  })

  it("flush stops waiting for an endpoint that does not answer after its bound, warning of what is still queued", async () => {
    const { server, emitter, event } = await twoQueuedOnHangingEndpoint()
    await emitter.flush(100)
    expect(warnings).toEqual([`OpenLineage: 2 event(s) for ${server.url}/api/v1/lineage still queued after waiting 100 ms`])
    expect(server.unanswered[0]!.socket?.destroyed).toBe(false)
    await emitter.close(0)
  })

  it("close waits once, then aborts the request in flight and drops the rest with one warning, and sends nothing after", async () => {
    const { server, emitter, event } = await twoQueuedOnHangingEndpoint()
    await emitter.close(100)
    expect(warnings).toEqual([`OpenLineage: closing, 2 event(s) for ${server.url}/api/v1/lineage were dropped after waiting 100 ms`])
    await server.abandoned(0)
    emitter.send(event)
    await emitter.flush(100)
    expect(server.received).toHaveLength(1)
    expect(warnings).toHaveLength(1)
  })

  it("an unreachable endpoint: one warning, the URL's password and the API key never shown, the run completes", async () => {
    const port = await closedPort()
    const finished = await trackedWithStep({ url: `http://127.0.0.1:${port}`, apiKey: "key-secret", retries: 1 })
    expect(finished.status).toBe("completed")
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`http://127.0.0.1:${port}/api/v1/lineage`)
    expect(warnings[0]).toContain("network error ECONNREFUSED")
    expect(warnings.join("\n")).not.toContain("key-secret")
    warnings.length = 0
    await trackedWithStep({ url: `http://ada:pw-secret@127.0.0.1:${port}`, retries: 0 })
    expect(warnings).toEqual([expect.stringContaining(`http://ada:***@127.0.0.1:${port}/api/v1/lineage`)])
    expect(warnings.join("\n")).not.toContain("pw-secret")
  })

  it("hides a user name standing alone in the URL, often a token, in warnings and refusals", async () => {
    const port = await closedPort()
    await trackedWithStep({ url: `http://ghp_TOKENxyz@127.0.0.1:${port}`, retries: 0 })
    expect(warnings).toEqual([expect.stringContaining(`http://***@127.0.0.1:${port}/api/v1/lineage`)])
    const refused = await run(Effect.flip(OpenLineageEmitter.config({ url: "ftp://ghp_TOKENxyz@example.org" })))
    expect(refused.message).not.toContain("ghp_TOKENxyz")
    expect(warnings.join("\n")).not.toContain("ghp_TOKENxyz")
  })

  it("a full queue drops what does not fit, with one warning, and sends the rest once the endpoint answers", async () => {
    let open = false
    const server = await serve(() => (open ? 200 : "hang"))
    const { emitter, event } = await emitterAndEvent({ url: server.url, timeoutMs: 10_000, retries: 0 })
    // The first event is sent (and waits), the next maxQueuedEvents - 1 wait in the queue, the rest are dropped.
    for (let i = 0; i < OpenLineageEmitter.maxQueuedEvents + 5; i++) emitter.send(event)
    expect(warnings.filter((w) => w.includes("is full"))).toHaveLength(1)
    open = true
    for (const res of server.unanswered) res.writeHead(200).end()
    // A thousand requests one after another: seconds on a quiet machine, longer on a loaded one.
    await emitter.flush(120_000)
    expect(server.received).toHaveLength(OpenLineageEmitter.maxQueuedEvents)
  }, 150_000)

  it("an event larger than the queue holds gets a warning of its own, and the next overflow is still warned about", async () => {
    const server = await serve(() => "hang")
    const { emitter, event } = await emitterAndEvent({ url: server.url, timeoutMs: 20_000, retries: 0 })
    emitter.send({ ...event, job: { ...event.job, name: "x".repeat(OpenLineageEmitter.maxQueuedBytes) } })
    expect(warnings).toEqual([expect.stringContaining(`more than the ${OpenLineageEmitter.maxQueuedBytes} an emitter holds`)])
    for (let i = 0; i < OpenLineageEmitter.maxQueuedEvents + 1; i++) emitter.send(event)
    expect(warnings.filter((w) => w.includes("is full"))).toHaveLength(1)
    await emitter.close(0)
  })
})

describe("configuration", () => {
  it("from the environment: LINEAGE_OPENLINEAGE_URL with LINEAGE_OPENLINEAGE_API_KEY, _ENDPOINT and the namespace", async () => {
    const server = await serve(() => 200)
    process.env["LINEAGE_OPENLINEAGE_URL"] = server.url
    process.env["LINEAGE_OPENLINEAGE_API_KEY"] = "env-key"
    process.env["LINEAGE_OPENLINEAGE_ENDPOINT"] = "custom/lineage"
    process.env["LINEAGE_OPENLINEAGE_NAMESPACE"] = "env-ns"
    await trackedWithStep()
    expect(server.received.map((r) => [r.url, r.headers["authorization"]])).toEqual(
      Array.from({ length: 4 }, () => ["/custom/lineage", "Bearer env-key"])
    )
    expect(server.events().every((e) => e.job.namespace === "env-ns")).toBe(true)
  })

  it("takes no key or endpoint from the reference client's variables, nor the environment's key for a URL given in code", async () => {
    const server = await serve(() => 200)
    process.env["OPENLINEAGE_API_KEY"] = "other-integration-key"
    process.env["OPENLINEAGE_ENDPOINT"] = "other/path"
    process.env["LINEAGE_OPENLINEAGE_API_KEY"] = "env-key"
    process.env["LINEAGE_OPENLINEAGE_ENDPOINT"] = "env/path"
    await trackedWithStep({ url: server.url })
    expect(server.received.map((r) => [r.url, r.headers["authorization"]])).toEqual(
      Array.from({ length: 4 }, () => ["/api/v1/lineage", undefined])
    )
  })

  it("never lets a key override credentials in the URL: refused in code, and from the environment nothing is sent", async () => {
    const server = await serve(() => 200)
    const openLineage = { url: `http://ada:pw@127.0.0.1:${server.port}`, apiKey: "key-secret" }
    const refused = await run(Effect.flip(Tracking.track({ transform, handleProcess: false, openLineage })))
    expect(refused).toMatchObject({ _tag: "ValidationError", field: "apiKey" })
    expect(refused.message).not.toMatch(/key-secret|:pw@/)
    process.env["LINEAGE_OPENLINEAGE_URL"] = `http://ada:pw@127.0.0.1:${server.port}`
    process.env["LINEAGE_OPENLINEAGE_API_KEY"] = "key-secret"
    expect((await trackedWithStep()).status).toBe("completed")
    expect(server.received).toEqual([])
    expect(warnings).toEqual([expect.stringContaining("LINEAGE_OPENLINEAGE_API_KEY")])
    expect(warnings.join("\n")).not.toMatch(/key-secret|:pw@/)
  })

  it("openLineage: false sends nothing, not even to LINEAGE_OPENLINEAGE_URL", async () => {
    const server = await serve(() => 200)
    process.env["LINEAGE_OPENLINEAGE_URL"] = server.url
    await trackedWithStep(false)
    expect(server.received).toEqual([])
  })

  it.each([
    [{ url: "ftp://example.org" }, "url"],
    [{ url: "http://127.0.0.1:1", timeoutMs: 0 }, "timeoutMs"],
    [{ url: "http://127.0.0.1:1", retries: 1.5 }, "retries"],
    [{ url: "http://127.0.0.1:1", endpoint: "api?token=key-secret" }, "endpoint"],
    [{ url: "http://127.0.0.1:1", apiKey: "bad\nkey-secret" }, "apiKey"],
    ["http://user:key-secret@127.0.0.1:1", "options"]
  ])("refuses %j before anything is written, naming %s", async (openLineage, field) => {
    const error = await run(
      Effect.flip(Tracking.track({ transform, handleProcess: false, openLineage: openLineage as OpenLineageEmitter.Options }))
    )
    expect(error).toBeInstanceOf(ValidationError)
    expect(error).toMatchObject({ field })
    expect(error.message).not.toContain("key-secret")
    expect(error.message).toMatch(new RegExp(`^Invalid OpenLineage\\.${field}: `))
    expect(await run(Run.filter().count())).toBe(0)
  })

  it("refuses an unknown option by its name alone, never showing its value", async () => {
    for (const name of ["apikey", "token", "api_key"]) {
      const error = await run(
        Effect.flip(Tracking.track({ transform, handleProcess: false, openLineage: { url: "http://127.0.0.1:1", [name]: "sk-live-SECRET" } }))
      )
      expect(error).toMatchObject({ _tag: "ValidationError", field: "options", value: name })
      expect(error.message).toContain(JSON.stringify(name))
      expect(error.message).not.toContain("sk-live-SECRET")
      expect(error.message).not.toContain("OpenLineage.openLineage")
    }
  })

  it("a bad LINEAGE_OPENLINEAGE_URL is warned about once and sends nothing; connect() and track() still work", async () => {
    process.env["LINEAGE_OPENLINEAGE_URL"] = "not a url"
    const finished = await trackedWithStep()
    expect(finished.status).toBe("completed")
    expect(warnings).toEqual([expect.stringContaining("LINEAGE_OPENLINEAGE_URL")])
    const ln = await Lineage.connect("memory:", { storage })
    await ln.track({ transform, handleProcess: false })
    await ln.close()
  })

  it("track() refused by a later check leaves the client's emitter as it was", async () => {
    const kept = await serve(() => 200)
    const refused = await serve(() => 200)
    const ln = await Lineage.connect("memory:", { storage, openLineage: { url: kept.url } })
    await expect(ln.track({ transform, handleProcess: false, openLineage: { url: refused.url }, features: { unknown: 1 } })).rejects.toMatchObject({
      _tag: "ValidationError"
    })
    await ln.track({ transform, handleProcess: false })
    await ln.finish()
    await ln.close()
    expect(kept.events().map((e) => e.eventType)).toEqual(["START", "COMPLETE"])
    expect(refused.received).toEqual([])
  })

  it("track() with the options the emitter has keeps that emitter: one failing endpoint is one warning", async () => {
    const port = await closedPort()
    const openLineage = { url: `http://127.0.0.1:${port}`, retries: 0 }
    for (let i = 0; i < 3; i++) await run(Tracking.track({ transform, handleProcess: false, openLineage }).pipe(Effect.andThen(Tracking.finish())))
    await run(OpenLineageEmitter.flush)
    expect(warnings).toHaveLength(1)
  })
})

describe("the Promise face", () => {
  it("a client's flows and steps emit without track(), and close() waits for what is queued", async () => {
    const server = await serve(() => 200)
    const ln = await Lineage.connect("memory:", { storage, openLineage: { url: server.url } })
    const load = ln.step(async function load(n: number) {
      return n + 1
    })
    await ln.flow(async function etl() {
      return load(1)
    })()
    await ln.close()
    const events = server.events()
    expectValid(events)
    expect(events.map((e) => [e.eventType, e.job.name])).toEqual([
      ["START", "etl"],
      ["START", "etl/load"],
      ["COMPLETE", "etl/load"],
      ["COMPLETE", "etl"]
    ])
  })

  it("close() ends a tracked run aborted and delivers its ABORT before it returns", async () => {
    const server = await serve(() => 200)
    const ln = await Lineage.connect("memory:", { storage, openLineage: { url: server.url } })
    await ln.track({ transform, handleProcess: false })
    await ln.close()
    expect(server.events().map((e) => e.eventType)).toEqual(["START", "ABORT"])
  })

  it("close() with an endpoint that never answers waits once, warns of what it dropped, and returns", async () => {
    const server = await serve(() => "hang")
    const arrived = server.arrival()
    const ln = await Lineage.connect("memory:", { storage, openLineage: { url: server.url, timeoutMs: 1_000, retries: 0 } })
    await ln.track({ transform, handleProcess: false })
    await arrived
    const logged: Array<string> = []
    const log = console.log
    console.log = (...args: ReadonlyArray<unknown>) => void logged.push(args.map(String).join(" "))
    try {
      // The START's own attempt gives up first; the ABORT's is in flight when close's one wait (1 s) ends.
      await ln.close()
      expect(logged).toEqual([
        expect.stringContaining("the START event of run"),
        expect.stringMatching(/OpenLineage: closing, 1 event\(s\) for .* were dropped after waiting 1000 ms$/)
      ])
    } finally {
      console.log = log
    }
  })

  it("connect() refuses bad options with a ValidationError", async () => {
    await expect(Lineage.connect("memory:", { storage, openLineage: { url: "mailto:x@example.org" } })).rejects.toMatchObject({
      _tag: "ValidationError",
      field: "url"
    })
  })
})
