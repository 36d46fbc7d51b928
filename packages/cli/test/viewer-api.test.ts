/**
 * The viewer's HTTP API without a browser: a real server on loopback, in this process, over a seeded SQLite
 * store, asked with `node:http` (which lets a test send any Host header and method). Routes and their
 * answers, status codes of every failure, hostile uids and parameters refused before the store is asked, the
 * headers that lock every response down, the token, the Host check, and the options `serve` refuses.
 */
import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { execFileSync, spawn } from "node:child_process"
import { connect, createServer, type Socket } from "node:net"
import { Lineage, type LineageGraph } from "@lineage/core"
import { Cause, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { maxNodes } from "../src/GraphSvg.js"
import { maxDownloadBytes } from "../src/viewer/Api.js"
import type { ViewerError } from "../src/Viewer.js"
import type { ArtifactDetail, FeatureRow, Found, Page, RunDetail, RunsPage, TransformDetail, TransformRow } from "../src/Views.js"
import { learningRates, oddNames, scheduledPrefix, type Seeded, seed, seedWide } from "./support/seed.js"
import { ask, expectFailure } from "./support/http.js"
import { type Running, serve, tryServe } from "./support/viewer.js"

const viewerErrorOf = (exit: Exit.Exit<unknown, unknown>): ViewerError => {
  if (Exit.isSuccess(exit)) throw new Error("the viewer started")
  return Cause.squash(exit.cause) as ViewerError
}

/** A redis-server of this test's own on a free port, so that it can be stopped under the viewer. */
const startRedis = async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })
  const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "ignore"] })
  await new Promise<void>((resolve, reject) => {
    server.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("Ready to accept connections") && resolve())
    server.on("exit", () => reject(new Error("redis-server exited")))
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    /** Makes the server answer no client for a minute: a store that is slow on purpose. */
    pause: () => void execFileSync("redis-cli", ["-p", String(port), "CLIENT", "PAUSE", "60000", "ALL"]),
    kill: () => void server.kill("SIGKILL")
  }
}

/** A viewer over a Redis store with one run in it, and the Redis server. */
const serveOnRedis = async (options: Parameters<typeof serve>[1] = {}) => {
  const redis = await startRedis()
  const ln = await Lineage.connect(redis.url)
  await ln.track({ transform: { key: "on redis" } })
  await ln.finish()
  await ln.close()
  return { redis, viewer: await serve({ url: redis.url, storage: seeded.storage }, options) }
}

/** The file of an artifact in the seeded storage root. */
const fileOf = (uid: string) => join(seeded.storage, readdirSync(seeded.storage).find((f) => f.startsWith(uid))!)

let seeded: Seeded
let viewer: Running
let port: number

beforeAll(async () => {
  seeded = await seed()
  viewer = await serve(seeded)
  port = viewer.port
}, 60_000)

afterAll(async () => {
  await viewer?.close()
  if (seeded !== undefined) rmSync(seeded.directory, { recursive: true, force: true })
})

describe("the runs", () => {
  it("lists them newest first, with the total and the params and features that vary", async () => {
    const answer = await ask(port, "/api/runs")
    expect(answer.status).toBe(200)
    const page = answer.json<RunsPage>()
    expect(page.total).toBe(seeded.runs)
    expect(page.rows).toHaveLength(seeded.runs)
    const started = page.rows.map((r: { startedAt: string }) => r.startedAt)
    expect(started).toEqual([...started].sort().reverse())
    expect(page.varying.params).toEqual(expect.arrayContaining(["learning_rate", "epochs"]))
    expect(page.varying.features).toEqual(expect.arrayContaining(["accuracy"]))
  })

  it("pages them", async () => {
    const all = (await ask(port, "/api/runs?limit=10")).json<RunsPage>()
    const second = (await ask(port, "/api/runs?limit=5&offset=5")).json<RunsPage>()
    expect(second.total).toBe(seeded.runs)
    expect(second.rows.map((r) => r.uid)).toEqual(all.rows.slice(5, 10).map((r) => r.uid))
  })

  it("narrows them by the keyword filter: fields, params and features", async () => {
    const uids = async (filter: string) =>
      (await ask(port, `/api/runs?filter=${encodeURIComponent(filter)}`)).json<RunsPage>().rows.map((r) => r.uid).sort()
    expect(await uids("status=errored")).toEqual([seeded.failed.uid])
    const above = seeded.train.filter((t) => t.learningRate > 0.02).map((t) => t.uid).sort()
    expect(above).toHaveLength(4)
    expect(await uids("params__learning_rate__gt=0.02")).toEqual(above)
    expect(await uids("accuracy__gt=0.8195 transform__key=train")).toEqual(
      seeded.train.filter((t) => t.learningRate >= 0.02).map((t) => t.uid).sort()
    )
  })

  it("orders them by the column asked for", async () => {
    const rows = (await ask(port, `/api/runs?order=params__learning_rate&filter=${encodeURIComponent("transform__key=train")}`)).json<RunsPage>().rows
    expect(rows.map((r) => r.params["learning_rate"])).toEqual(learningRates)
    const down = (await ask(port, `/api/runs?order=-accuracy&filter=${encodeURIComponent("transform__key=train")}&limit=1`)).json<RunsPage>()
    expect(down.rows[0]?.uid).toBe(seeded.train.at(-1)!.uid)
  })

  it("answers a filter, an order or a page it cannot read with InvalidQuery naming it", async () => {
    expect(expectFailure(await ask(port, "/api/runs?filter=nosuchfield%3D1"), 400, "InvalidQuery").message).toContain("nosuchfield")
    expect(expectFailure(await ask(port, "/api/runs?filter=status%3D%22unclosed"), 400, "InvalidQuery").message).toContain("quote")
    expect(expectFailure(await ask(port, "/api/runs?order=nosuchfield"), 400, "InvalidQuery").message).toContain("nosuchfield")
    expect(expectFailure(await ask(port, "/api/runs?limit=abc"), 400, "InvalidQuery").message).toContain('"limit"')
    expect(expectFailure(await ask(port, "/api/runs?limit=0"), 400, "InvalidQuery").message).toContain('"limit"')
    expect(expectFailure(await ask(port, "/api/runs?limit=1001"), 400, "InvalidQuery").message).toContain('"limit"')
    expect(expectFailure(await ask(port, "/api/runs?offset=-1"), 400, "InvalidQuery").message).toContain('"offset"')
    expect(expectFailure(await ask(port, "/api/runs?offset=99999999999999999999"), 400, "InvalidQuery").message).toContain('"offset"')
    expect(expectFailure(await ask(port, "/api/runs?colour=red"), 400, "InvalidQuery").message).toContain('"colour"')
    expect(expectFailure(await ask(port, "/api/runs?limit=1&limit=2"), 400, "InvalidQuery").message).toContain("once")
    expect(expectFailure(await ask(port, `/api/runs/${seeded.download.uid}?limit=1`), 400, "InvalidQuery").message).toContain('"limit"')
  })

  it("states each page parameter's own range, and takes every value in it", async () => {
    expect(expectFailure(await ask(port, "/api/runs?limit=0"), 400, "InvalidQuery").message).toContain("an integer from 1 to 1000")
    const max = String(Number.MAX_SAFE_INTEGER)
    const beyond = expectFailure(await ask(port, `/api/runs?offset=${Number.MAX_SAFE_INTEGER + 1}`), 400, "InvalidQuery")
    expect(beyond.message).toContain(`an integer from 0 to ${max}`)
    for (const offset of [max, `000${max}`, "0000000000000000000000005"]) {
      const page = (await ask(port, `/api/runs?offset=${offset}`)).json<RunsPage>()
      expect(page.total).toBe(seeded.runs)
    }
    expect((await ask(port, "/api/runs?limit=0001")).json<RunsPage>().rows).toHaveLength(1)
  })
})

describe("one record", () => {
  it("shows a run: params, features, inputs, outputs, runs around it, timeline", async () => {
    const train = seeded.train[3]!
    const run = (await ask(port, `/api/runs/${train.uid}`)).json<RunDetail>()
    expect(run.uid).toBe(train.uid)
    expect(run.params).toEqual({ learning_rate: train.learningRate, epochs: 3 })
    expect(Object.keys(run.features)).toEqual(["accuracy"])
    expect(run.inputs.map((a) => a.uid)).toEqual([seeded.raw.uid])
    expect(run.outputs.map((a) => a.uid)).toEqual([train.model])
    expect(run.timeline.map((e) => e.event)).toContain("finished")
    const prepare = (await ask(port, `/api/runs/${seeded.prepare.uid}`)).json<RunDetail>()
    expect(prepare.initiatedRuns.map((r) => r.uid).sort()).toEqual([seeded.normalize.uid, seeded.failed.uid].sort())
    const step = (await ask(port, `/api/runs/${seeded.normalize.uid}`)).json<RunDetail>()
    expect(step.initiatedBy?.uid).toBe(seeded.prepare.uid)
  })

  it("finds a record by a uid prefix, and names the candidates of an ambiguous one", async () => {
    expect((await ask(port, `/api/find/${seeded.raw.uid.slice(0, 8)}`)).json<Found>()).toEqual({ kind: "artifact", uid: seeded.raw.uid })
    expect((await ask(port, `/api/find/${seeded.download.uid}`)).json<Found>()).toEqual({ kind: "run", uid: seeded.download.uid })
    expect((await ask(port, `/api/runs/${seeded.download.uid.slice(0, 10)}`)).json<RunDetail>().uid).toBe(seeded.download.uid)
    const ambiguous = expectFailure(await ask(port, `/api/find/${scheduledPrefix}`), 409, "MultipleObjectsReturned")
    for (const uid of seeded.scheduled) expect(ambiguous.message).toContain(uid)
    expectFailure(await ask(port, `/api/runs/${scheduledPrefix}`), 409, "MultipleObjectsReturned")
    // A versioned family's stem, or a prefix of it, names its latest version (as `get` reads it).
    expect((await ask(port, `/api/find/${seeded.trainVersions[0].slice(0, 8)}`)).json<Found>()).toEqual({ kind: "transform", uid: seeded.trainVersions[1] })
    expectFailure(await ask(port, "/api/find/zzzzzzzzzzzzzzzzzzzz"), 404, "DoesNotExist")
    expectFailure(await ask(port, "/api/runs/zzzzzzzzzzzzzzzz"), 404, "DoesNotExist")
  })

  it("shows a transform with its versions and runs", async () => {
    const [v1, v2] = seeded.trainVersions
    const t = (await ask(port, `/api/transforms/${v2}`)).json<TransformDetail>()
    expect(t.ref).toEqual({ uid: v2, key: "train", version: "2.2" })
    expect(t.versions.map((v) => v.uid)).toEqual([v1, v2])
    expect(t.runCount).toBe(4)
    const list = (await ask(port, "/api/transforms")).json<Page<TransformRow>>()
    expect(list.rows.map((r) => r.key)).toEqual(expect.arrayContaining(["download", "train", "prepare", "prepare/normalize"]))
  })

  it("shows an artifact: the run that made it and the runs that read it", async () => {
    const a = (await ask(port, `/api/artifacts/${seeded.raw.uid}`)).json<ArtifactDetail>()
    expect(a.summary.key).toBe("data/raw.csv")
    expect(a.run?.uid).toBe(seeded.download.uid)
    expect(a.readBy.map((r) => r.uid).sort()).toEqual([...seeded.train.map((t) => t.uid), seeded.normalize.uid].sort())
  })

  it("lists the features", async () => {
    const features = (await ask(port, "/api/features")).json<Page<FeatureRow>>()
    expect(features.rows.map((f) => `${f.name}:${f.dtype}`)).toEqual(
      ["accuracy:float", "rows:int", ...Object.keys(oddNames.features).map((n) => `${n}:int`)].sort()
    )
  })

  it("refuses a hostile uid before the store is asked", async () => {
    const hostile = [
      "..%2F..%2Fetc%2Fpasswd",
      "%00",
      "a'b",
      "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
      "x".repeat(21),
      "%E0%A4%A",
      "%F0%9F%98%80",
      "abc%20def",
      "abc%0Adef",
      "%FF"
    ]
    for (const uid of hostile)
      for (const route of ["runs", "transforms", "artifacts", "find", "graph"]) {
        const error = expectFailure(await ask(port, `/api/${route}/${uid}`), 400, "InvalidQuery")
        expect(error.message).toContain("base62")
        expect(error.message.length).toBeLessThan(400)
      }
    expectFailure(await ask(port, `/api/artifacts/${"%00"}/download`), 400, "InvalidQuery")
  })
})

describe("downloads", () => {
  it("hand out the bytes as an attachment with a safe name", async () => {
    const answer = await ask(port, `/api/artifacts/${seeded.raw.uid}/download`)
    expect(answer.status).toBe(200)
    expect(answer.text).toBe(seeded.raw.bytes)
    expect(answer.headers["content-type"]).toBe("application/octet-stream")
    expect(answer.headers["content-disposition"]).toBe(`attachment; filename="raw.csv"; filename*=UTF-8''raw.csv`)
    expect(answer.headers["content-length"]).toBe(String(Buffer.byteLength(seeded.raw.bytes)))
    expect(answer.headers["content-security-policy"]).toBe("default-src 'none'; sandbox")
    expect(answer.headers["x-content-type-options"]).toBe("nosniff")
  })

  it("refuse bytes that are not the artifact's, and say when the file is gone, naming no server path", async () => {
    const tamperedUid = seeded.train[0]!.model
    writeFileSync(fileOf(tamperedUid), "tampered")
    const tampered = expectFailure(await ask(port, `/api/artifacts/${tamperedUid}/download`), 500, "ArtifactStorageError")
    expect(tampered.reason).toBe("HashMismatch")
    const goneUid = seeded.train[1]!.model
    rmSync(fileOf(goneUid))
    const gone = expectFailure(await ask(port, `/api/artifacts/${goneUid}/download`), 404, "ArtifactStorageError")
    expect(gone.reason).toBe("Io")
    for (const [error, uid] of [[tampered, tamperedUid], [gone, goneUid]] as const) {
      expect(error.message).toContain(uid)
      expect(error.message).not.toContain(seeded.directory)
      expect(error.message).not.toMatch(/\/(tmp|home|root|var)\//)
    }
    expectFailure(await ask(port, "/api/artifacts/zzzzzzzzzzzzzzzzzzzz/download"), 404, "DoesNotExist")
  })

  it("refuse a file over the bound by its size on disk, even when the record has no size, reading none of it", async () => {
    const uid = seeded.train[2]!.model
    const ln = await Lineage.connect(seeded.url)
    try {
      await ln.Artifact.update(await ln.Artifact.get(uid), { size: null })
    } finally {
      await ln.close()
    }
    // Sparse: as large as the bound and one byte more, taking no room on disk.
    truncateSync(fileOf(uid), maxDownloadBytes + 1)
    for (const method of ["GET", "HEAD"]) {
      const answer = await ask(port, `/api/artifacts/${uid}/download`, { method })
      expect(answer.status).toBe(413)
      if (method === "GET") expect(expectFailure(answer, 413, "TooLarge").message).toContain(uid)
    }
  })

  it("answer HEAD from the file's size on disk, without reading or hashing the bytes", async () => {
    const get = await ask(port, `/api/artifacts/${seeded.raw.uid}/download`)
    const head = await ask(port, `/api/artifacts/${seeded.raw.uid}/download`, { method: "HEAD" })
    expect(head.status).toBe(200)
    expect(head.body.byteLength).toBe(0)
    for (const name of ["content-length", "content-type", "content-disposition", "content-security-policy"])
      expect(head.headers[name]).toBe(get.headers[name])
    // Bytes of the recorded length but not the recorded hash: a GET reads and refuses them, a HEAD never reads them.
    const uid = seeded.train[4]!.model
    const bytes = readFileSync(fileOf(uid))
    writeFileSync(fileOf(uid), Buffer.from(bytes.map((b) => b ^ 1)))
    expect((await ask(port, `/api/artifacts/${uid}/download`, { method: "HEAD" })).headers["content-length"]).toBe(String(bytes.byteLength))
    expect(expectFailure(await ask(port, `/api/artifacts/${uid}/download`), 500, "ArtifactStorageError").reason).toBe("HashMismatch")
  })
})

describe("graphs", () => {
  it("walks the lineage of a run or an artifact as JSON", async () => {
    const g = (await ask(port, `/api/graph/${seeded.normalize.uid}`)).json<LineageGraph.LineageGraph>()
    expect(g.root).toBe(`run_${seeded.normalize.uid}`)
    const ids = g.nodes.map((n) => n.id)
    expect(ids).toEqual(expect.arrayContaining([`artifact_${seeded.raw.uid}`, `artifact_${seeded.normalized.uid}`, `run_${seeded.prepare.uid}`]))
    const up = (await ask(port, `/api/graph/${seeded.normalized.uid}?direction=upstream&depth=1`)).json<LineageGraph.LineageGraph>()
    expect(up.nodes.map((n) => n.id).sort()).toEqual([`artifact_${seeded.normalized.uid}`, `run_${seeded.normalize.uid}`].sort())
  })

  it("draws it as SVG, each node linked to its page", async () => {
    const answer = await ask(port, `/api/graph/${seeded.raw.uid}?format=svg&depth=2`)
    expect(answer.status).toBe(200)
    expect(answer.headers["content-type"]).toBe("image/svg+xml; charset=utf-8")
    expect(answer.text.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true)
    expect(answer.text).toContain(`<a href="#/artifact/${seeded.raw.uid}">`)
    expect(answer.text).toContain(`<a href="#/run/${seeded.download.uid}">`)
    expect(answer.text).toContain(`<a href="#/artifact/${seeded.train[5]!.model}">`)
  })

  it("refuses to draw a graph of more nodes than it draws (413, saying what to ask for), and serves its JSON", async () => {
    const wide = await seedWide(maxNodes)
    const viewer = await serve(wide)
    try {
      const path = `/api/graph/${wide.shared}?direction=downstream&depth=1`
      expect((await ask(viewer.port, path)).json<LineageGraph.LineageGraph>().nodes).toHaveLength(maxNodes + 1)
      const refused = expectFailure(await ask(viewer.port, `${path}&format=svg`), 413, "TooLarge")
      expect(refused.message).toContain(`${maxNodes + 1} nodes`)
      expect(refused.message).toContain("depth")
      expect(refused.message).toContain("format=json")
      expect((await ask(viewer.port, `/api/graph/${wide.shared}?direction=upstream&format=svg`)).status).toBe(200)
    } finally {
      await viewer.close()
      rmSync(wide.directory, { recursive: true, force: true })
    }
  }, 60_000)

  it("refuses what it cannot draw or read", async () => {
    expect(expectFailure(await ask(port, `/api/graph/${seeded.raw.uid}?direction=sideways`), 400, "InvalidQuery").message).toContain('"direction"')
    expect(expectFailure(await ask(port, `/api/graph/${seeded.raw.uid}?depth=21`), 400, "InvalidQuery").message).toContain('"depth"')
    expect(expectFailure(await ask(port, `/api/graph/${seeded.raw.uid}?format=png`), 400, "InvalidQuery").message).toContain('"format"')
    expect(expectFailure(await ask(port, `/api/graph/${seeded.trainVersions[0]}`), 400, "InvalidQuery").message).toContain("transform")
  })
})

describe("every response", () => {
  const paths = () => ["/", "/app.js", "/style.css", "/api/runs", "/api/nothing", "/nothing", `/api/runs/${seeded.download.uid}`]

  it("carries a strict Content-Security-Policy, nosniff, and no CORS header", async () => {
    for (const path of paths()) {
      const answer = await ask(port, path, { headers: { Origin: "https://evil.example" } })
      const csp = String(answer.headers["content-security-policy"])
      expect(csp).toContain("default-src 'self'")
      expect(csp).not.toContain("unsafe-inline")
      expect(csp).not.toContain("unsafe-eval")
      expect(answer.headers["x-content-type-options"]).toBe("nosniff")
      expect(answer.headers["x-frame-options"]).toBe("DENY")
      expect(answer.headers["cache-control"]).toBe("no-store")
      expect(Object.keys(answer.headers).filter((h) => h.startsWith("access-control-"))).toEqual([])
    }
  })

  it("is read-only: any method but GET and HEAD is 405", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      const answer = await ask(port, "/api/runs", { method, headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "GET" } })
      expectFailure(answer, 405, "MethodNotAllowed")
      expect(answer.headers["allow"]).toBe("GET, HEAD")
    }
  })

  it("answers HEAD with the headers of GET and no body", async () => {
    const get = await ask(port, "/api/runs")
    const head = await ask(port, "/api/runs", { method: "HEAD" })
    expect(head.status).toBe(200)
    expect(head.body.byteLength).toBe(0)
    expect(head.headers["content-length"]).toBe(String(get.body.byteLength))
  })

  it("refuses requests another site's page makes (Sec-Fetch-Site cross-site or same-site)", async () => {
    for (const site of ["cross-site", "same-site", "CROSS-SITE"]) {
      const error = expectFailure(await ask(port, "/api/runs?limit=1", { headers: { "Sec-Fetch-Site": site } }), 403, "CrossSite")
      expect(error.message).toContain(JSON.stringify(site))
      expectFailure(await ask(port, "/", { headers: { "Sec-Fetch-Site": site } }), 403, "CrossSite")
    }
    for (const site of ["same-origin", "none"])
      expect((await ask(port, "/api/runs?limit=1", { headers: { "Sec-Fetch-Site": site } })).status).toBe(200)
  })

  it("needs a Host header that names the viewer (DNS rebinding)", async () => {
    for (const host of ["evil.example", `evil.example:${port}`, `127.0.0.1:${port + 1}`, `127.0.0.1.evil.example:${port}`]) {
      const error = expectFailure(await ask(port, "/api/runs", { headers: { Host: host } }), 403, "HostNotAllowed")
      expect(error.message).toContain(JSON.stringify(host))
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`])
      expect((await ask(port, "/api/runs?limit=1", { headers: { Host: host } })).status).toBe(200)
  })
})

/** A request written by hand, for targets no HTTP client sends; the status line and body of the answer. */
const askRaw = (port: number, target: string): Promise<{ readonly statusLine: string; readonly body: string }> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () =>
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
    )
    let data = ""
    socket.on("data", (chunk: Buffer) => (data += chunk.toString("utf8")))
    socket.on("error", reject)
    socket.on("close", () => resolve({ statusLine: data.split("\r\n")[0] ?? "", body: data.slice(data.indexOf("\r\n\r\n") + 4) }))
  })

describe("a request target that is no URL", () => {
  it("is a 400, and the viewer serves on", async () => {
    const answer = await askRaw(port, "http://[")
    expect(answer.statusLine).toBe("HTTP/1.1 400 Bad Request")
    expect((JSON.parse(answer.body) as { readonly error: { readonly _tag: string } }).error._tag).toBe("BadRequest")
    expect((await ask(port, "/api/runs?limit=1")).status).toBe(200)
  })
})

describe("the page", () => {
  it("is served with no inline script, only its own files", async () => {
    const html = await ask(port, "/")
    expect(html.status).toBe(200)
    expect(html.headers["content-type"]).toBe("text/html; charset=utf-8")
    expect(html.text).toContain('<script type="module" src="app.js"></script>')
    expect(html.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(html.text).not.toMatch(/https?:\/\//)
    expect((await ask(port, "/index.html")).text).toBe(html.text)
    const js = await ask(port, "/app.js")
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8")
    expect(js.text).not.toContain("innerHTML")
    expect(js.text).not.toMatch(/https?:\/\/(?!www\.w3\.org)/)
    expect((await ask(port, "/style.css")).headers["content-type"]).toBe("text/css; charset=utf-8")
  })

  it("has nothing else: unknown paths are 404", async () => {
    expectFailure(await ask(port, "/nothing"), 404, "RouteNotFound")
    expectFailure(await ask(port, "/../../etc/passwd"), 404, "RouteNotFound")
    expectFailure(await ask(port, "/page/app.js"), 404, "RouteNotFound")
    expectFailure(await ask(port, "/api/"), 404, "RouteNotFound")
    expectFailure(await ask(port, "/api/runs/%2e%2e"), 404, "RouteNotFound")
    expectFailure(await ask(port, "/api/runs/"), 400, "InvalidQuery")
    expectFailure(await ask(port, `/api/runs/${seeded.download.uid}/extra`), 404, "RouteNotFound")
  })
})

describe("with a token", () => {
  const token = "t0ken-for-the-viewer_tests.1234"
  let guarded: Running

  beforeAll(async () => {
    guarded = await serve(seeded, { token })
  })
  afterAll(() => guarded?.close())

  it("refuses every request without it, or with another", async () => {
    for (const path of ["/", "/app.js", "/api/runs", `/api/artifacts/${seeded.raw.uid}/download`]) {
      const missing = expectFailure(await ask(guarded.port, path), 401, "Unauthorized")
      expect(missing.message).not.toContain(token)
      expect((await ask(guarded.port, path)).headers["www-authenticate"]).toBe('Bearer realm="lineage"')
      expectFailure(await ask(guarded.port, `${path}?token=wrong-token-of-some-length`), 401, "Unauthorized")
      expectFailure(await ask(guarded.port, path, { headers: { Authorization: `Bearer ${token}x` } }), 401, "Unauthorized")
      expectFailure(await ask(guarded.port, path, { headers: { Authorization: `Basic ${token}` } }), 401, "Unauthorized")
    }
  })

  it("answers with it, in the Authorization header, the query or its cookie", async () => {
    expect((await ask(guarded.port, "/api/runs?limit=1", { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200)
    expect((await ask(guarded.port, `/api/runs?limit=1&token=${token}`)).status).toBe(200)
    expect((await ask(guarded.port, `/api/artifacts/${seeded.raw.uid}/download?token=${token}`)).text).toBe(seeded.raw.bytes)
    const cookie = { Cookie: `theme=dark; lineage_token_${guarded.port}=${token}` }
    expect((await ask(guarded.port, "/api/runs?limit=1", { headers: cookie })).status).toBe(200)
    expect((await ask(guarded.port, `/api/artifacts/${seeded.raw.uid}/download`, { headers: cookie })).text).toBe(seeded.raw.bytes)
    expect((await ask(guarded.port, "/app.js", { headers: cookie })).status).toBe(200)
    expectFailure(await ask(guarded.port, "/api/runs", { headers: { Cookie: `lineage_token_${guarded.port}=${token}x` } }), 401, "Unauthorized")
    expectFailure(await ask(guarded.port, "/api/runs", { headers: { Cookie: `lineage_token_${guarded.port + 1}=${token}` } }), 401, "Unauthorized")
  })

  it("turns the token of a page load into an HttpOnly, SameSite=Strict cookie and the URL into one without it", async () => {
    for (const [path, to] of [["/", "/"], ["/index.html", "/index.html"]] as const) {
      const landing = await ask(guarded.port, `${path}?token=${token}`)
      expect(landing.status).toBe(303)
      expect(landing.headers["location"]).toBe(to)
      expect(landing.headers["set-cookie"]).toEqual([`lineage_token_${guarded.port}=${token}; Path=/; HttpOnly; SameSite=Strict`])
      expect(landing.text).not.toContain(token)
    }
    expectFailure(await ask(guarded.port, "/?token=wrong-token-of-some-length"), 401, "Unauthorized")
    const html = await ask(guarded.port, "/", { headers: { Cookie: `lineage_token_${guarded.port}=${token}` } })
    expect(html.status).toBe(200)
    expect(html.text).toContain('<script type="module" src="app.js"></script>')
    expect(html.text).not.toContain(token)
    expect(guarded.url).not.toContain(token)
  })
})

describe("serve", () => {
  it("refuses an address other machines can reach, unless a token is set", async () => {
    for (const host of ["0.0.0.0", "::", "192.0.2.1"]) {
      const error = viewerErrorOf(await tryServe(seeded, { host }))
      expect(error._tag).toBe("ViewerError")
      expect(error.reason).toBe("NonLoopback")
      expect(error.message).toContain(JSON.stringify(host))
    }
    const open = await serve(seeded, { host: "0.0.0.0", token: "a-long-enough-token-0123" })
    try {
      const answer = await ask(open.port, "/api/runs?limit=1", { headers: { Host: `some.name:${open.port}`, Authorization: "Bearer a-long-enough-token-0123" } })
      expect(answer.status).toBe(200)
      expectFailure(await ask(open.port, "/api/runs?limit=1", { headers: { Host: `some.name:${open.port}` } }), 401, "Unauthorized")
    } finally {
      await open.close()
    }
  })

  it("refuses options out of bounds, naming them, never showing a token", async () => {
    const refusal = async (options: Parameters<typeof tryServe>[1]) => viewerErrorOf(await tryServe(seeded, options))
    for (const p of [-1, 65536, 1.5, Number.NaN]) expect((await refusal({ port: p })).message).toContain("option port")
    for (const host of ["", "bad host", "a\u0000b", "x".repeat(300)]) expect((await refusal({ host })).message).toContain("option host")
    for (const deadlineMs of [0, -1, 1.5, 600_001, Number.NaN]) expect((await refusal({ deadlineMs })).message).toContain("option deadlineMs")
    for (const token of ["short", "has spaces in it, sixteen+", "ünïcødé-token-of-length", "x".repeat(513)]) {
      const error = await refusal({ token })
      expect(error.reason).toBe("InvalidOption")
      expect(error.message).toContain("option token")
      expect(error.message).not.toContain(token)
    }
  })

  it("says when the port is taken", async () => {
    const error = viewerErrorOf(await tryServe(seeded, { port }))
    expect(error.reason).toBe("Listen")
    expect(error.message).toContain(String(port))
  })

  it("answers 503 when the store takes longer than the deadline", async () => {
    const { redis, viewer } = await serveOnRedis({ deadlineMs: 300 })
    try {
      expect((await ask(viewer.port, "/api/runs")).json<RunsPage>().total).toBe(1)
      redis.pause()
      const error = expectFailure(await ask(viewer.port, "/api/runs"), 503, "Timeout")
      expect(error.message).toContain("300 ms")
    } finally {
      redis.kill()
      await viewer.close()
    }
  })

  it("closes an idle keep-alive connection when its scope closes", async () => {
    const viewer = await serve(seeded)
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(viewer.port, "127.0.0.1", () => s.write(`GET /api/runs?limit=1 HTTP/1.1\r\nHost: 127.0.0.1:${viewer.port}\r\n\r\n`))
      s.once("data", () => resolve(s))
      s.once("error", reject)
    })
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
    await viewer.stop()
    await closed
    await viewer.close()
  })

  it("interrupts the requests it is answering when its scope closes", async () => {
    const { redis, viewer } = await serveOnRedis()
    try {
      redis.pause()
      const pending = ask(viewer.port, "/api/runs")
      // The request reaches the viewer, which waits on the paused store.
      await new Promise((resolve) => setTimeout(resolve, 300))
      await viewer.stop()
      await expect(pending).rejects.toThrow(/socket hang up|ECONNRESET/)
    } finally {
      redis.kill()
      await viewer.close()
    }
  })

  it("answers 503 when the store is unreachable, and stops listening when its scope closes", async () => {
    const redis = await startRedis()
    try {
      const ln = await Lineage.connect(redis.url)
      await ln.track({ transform: { key: "on redis" } })
      await ln.finish()
      await ln.close()
      const viewer = await serve({ url: redis.url, storage: seeded.storage })
      expect((await ask(viewer.port, "/api/runs")).json<RunsPage>().total).toBe(1)
      redis.kill()
      const error = expectFailure(await ask(viewer.port, "/api/runs"), 503, "StoreError")
      expect(error.reason).toBe("Unavailable")
      await viewer.close()
      await expect(ask(viewer.port, "/api/runs")).rejects.toThrow(/ECONNREFUSED/)
    } finally {
      redis.kill()
    }
  })
})
