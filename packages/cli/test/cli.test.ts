/**
 * The built `lineage` command, run as a child process against runs seeded through `Lineage.connect` on every
 * store another process can reach: SQLite (a temp file), PostgreSQL (a fresh schema), Redis (a fresh key
 * prefix) and MongoDB (the repository's wire-protocol emulator on a TCP port, or `MONGODB_URL`). On each: the
 * runs as JSON, a filter, `show` and `graph`. On SQLite, every command in detail: tables, filters, details,
 * graph formats, listings, export, help, exit codes, the default store, colour and redaction.
 */
import { spawn } from "node:child_process"
import { once } from "node:events"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Lineage, Run, Store, Transform } from "@lineage/core"
import * as MongoStore from "@lineage/store-mongodb"
import * as RedisStore from "@lineage/store-redis"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildIfStale } from "../../../test/support/build.js"
import { closeAll, freshDatabase, mongoServer } from "../../../test/support/mongo.js"
import { openPool, serverUrl as postgresUrl } from "../../../test/support/postgres.js"
import { freshPrefix, redisServer } from "../../../test/support/redis.js"
import type { RunDetail, RunsPage, TransformDetail, ArtifactDetail, Page, TransformRow, FeatureRow } from "../src/Views.js"
import { baseEnv, bin, lineage, lineageJson } from "./support/bin.js"

const ansi = /\u001b\[/

/** Runs the bin with its standard output read by `read`, which may stop reading or go away; resolves on exit. */
const lineagePiped = (
  args: ReadonlyArray<string>,
  read: (stdout: NodeJS.ReadableStream & { destroy: () => void }) => void,
  options: { readonly node?: ReadonlyArray<string> } = {}
): Promise<{ readonly code: number | null; readonly stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.node ?? []), bin, ...args], { cwd: tmpdir(), env: baseEnv(), stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("error", reject)
    child.once("close", (code) => resolve({ code, stderr }))
    read(child.stdout)
  })

// ---------------------------------------------------------------------------------------------------------
// Seed data

interface Seeded {
  readonly downloads: readonly [string, string]
  readonly downloadTransforms: readonly [string, string]
  readonly pipeline: string
  /** learning_rate 0.1 (accuracy 0.93), then 0.001 (accuracy 0.71). */
  readonly trains: readonly [string, string]
  readonly errored: string
  readonly crashed: string
  readonly raw: string
  readonly models: readonly [string, string]
}

/**
 * Two runs of a `download` script (versions 1.0 and 2.0 of one transform family), a pipeline run whose two
 * `train` steps read raw.csv and each write a model (features set afterwards), an `evaluate` step that
 * throws (errored), and a started run whose heartbeat stopped long ago (stale), of a transform whose uid
 * shares its first characters.
 */
const seed = async (url: string, storage: string): Promise<Seeded> => {
  const ln = await Lineage.connect(url, { storage })
  try {
    await ln.Feature.getOrCreate({ name: "accuracy" }, { dtype: "float" })
    const d1 = await ln.track({ transform: { key: "download", version: "1.0" }, params: { source: "s3://bucket/a.csv", api_key: "sk-live-0123456789abcdef" } })
    const raw = await ln.Artifact.fromBytes("cell,size\na,1\nb,4\n", { key: "raw.csv", description: "raw measurements" })
    await ln.finish()
    const d2 = await ln.track({ transform: { key: "download", version: "2.0" }, params: { source: "s3://bucket/b.csv" } })
    await ln.finish()
    const pipeline = await ln.track({ transform: { key: "train-pipeline", version: "1.0" } })
    const train = ln.step(
      async ({ learning_rate }: { readonly learning_rate: number }) => {
        await ln.Artifact.load(raw)
        return ln.Artifact.fromBytes(JSON.stringify({ learning_rate }), { key: `model-${learning_rate}.json` })
      },
      { key: "train" }
    )
    const m1 = await train({ learning_rate: 0.1 })
    const m2 = await train({ learning_rate: 0.001 })
    const evaluate = ln.step(
      async () => {
        throw new Error("evaluation failed")
      },
      { key: "evaluate" }
    )
    await evaluate().catch(() => undefined)
    await ln.finish()
    const trains: Array<string> = []
    for (const [model, accuracy] of [
      [m1, 0.93],
      [m2, 0.71]
    ] as const) {
      const run = await ln.Run.get((await ln.Artifact.producer(model))!.uid)
      await run.features.add({ accuracy })
      trains.push(run.uid)
    }
    const errored = await ln.Run.filter({ status: "errored" }).one()
    // Uids given, so that a prefix names a run and a transform at once.
    const crashedTransform = await ln.Transform.create({ key: "crashed-job", uid: "ZzCrashedJob0000" })
    const crashed = await ln.Run.create({
      uid: "ZzCrashedRun0001",
      transformId: crashedTransform.id,
      status: "started",
      startedAt: new Date("2024-01-01T00:00:00Z"),
      lastHeartbeatAt: new Date("2024-01-01T00:00:05Z")
    })
    const t1 = await ln.Transform.get(d1.transformId)
    const t2 = await ln.Transform.get(d2.transformId)
    return {
      downloads: [d1.uid, d2.uid],
      downloadTransforms: [t1.uid, t2.uid],
      pipeline: pipeline.uid,
      trains: [trains[0]!, trains[1]!],
      errored: errored.uid,
      crashed: crashed.uid,
      raw: raw.uid,
      models: [m1.uid, m2.uid]
    }
  } finally {
    await ln.close()
  }
}

// ---------------------------------------------------------------------------------------------------------
// Stores

interface StoreCase {
  readonly name: string
  /** The URL the bin is given, and the environment it runs with. */
  readonly open: () => Promise<{ readonly url: string; readonly env: NodeJS.ProcessEnv; readonly dispose: () => Promise<void> }>
}

const storageDir = () => mkdtempSync(join(tmpdir(), "lineage-cli-storage-"))

const stores: ReadonlyArray<StoreCase> = [
  {
    name: "postgres",
    open: async () => {
      const schema = `lineage_cli_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
      const pool = await openPool({ max: 1 })
      const url = `${postgresUrl}${postgresUrl.includes("?") ? "&" : "?"}schema=${schema}`
      const storage = storageDir()
      return {
        url,
        env: { LINEAGE_STORAGE: storage },
        dispose: async () => {
          await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
          await pool.end()
          rmSync(storage, { recursive: true, force: true })
        }
      }
    }
  },
  {
    name: "redis",
    open: async () => {
      const server = await redisServer()
      const url = `${server.url}/0?prefix=${encodeURIComponent(freshPrefix("cli"))}`
      const storage = storageDir()
      return {
        url,
        env: { LINEAGE_STORAGE: storage },
        dispose: async () => {
          const driver = await Effect.runPromise(RedisStore.fromUrl(url))
          await Effect.runPromise(Effect.andThen(driver.drop(), driver.close()))
          rmSync(storage, { recursive: true, force: true })
        }
      }
    }
  },
  {
    name: "mongodb",
    open: async () => {
      const server = await mongoServer()
      const at = new URL(server.url)
      at.searchParams.set("database", freshDatabase("cli"))
      const url = at.toString()
      const storage = storageDir()
      return {
        url,
        env: { LINEAGE_STORAGE: storage },
        dispose: async () => {
          const driver = await Effect.runPromise(MongoStore.fromUrl(url))
          await driver.client.db(driver.database).dropDatabase()
          await Effect.runPromise(driver.close())
          rmSync(storage, { recursive: true, force: true })
        }
      }
    }
  }
]

beforeAll(() => buildIfStale(["sql", "store-sqlite", "store-postgres", "store-redis", "store-mongodb", "cli"]), 600_000)
afterAll(async () => {
  await closeAll()
})

/** What every store must show the same way: the runs as JSON, a filter, a run's detail, a graph. */
const commonChecks = (store: () => { readonly url: string; readonly env: NodeJS.ProcessEnv; readonly seeded: Seeded }) => {
  it("runs --json: every run, newest first, with the params and features that vary", async () => {
    const { url, env, seeded } = store()
    const page = await lineageJson<RunsPage>(["runs", "--store", url], { env })
    expect(page.total).toBe(7)
    expect(page.rows.map((r) => r.uid).sort()).toEqual(
      [...seeded.downloads, seeded.pipeline, ...seeded.trains, seeded.errored, seeded.crashed].sort()
    )
    const started = page.rows.map((r) => r.startedAt)
    expect(started).toEqual([...started].sort().reverse())
    expect(page.varying.params).toEqual(expect.arrayContaining(["learning_rate", "source"]))
    expect(page.varying.features).toEqual(["accuracy"])
    const train = page.rows.find((r) => r.uid === seeded.trains[0])!
    expect(train).toMatchObject({ status: "completed", params: { learning_rate: 0.1 }, features: { accuracy: 0.93 } })
    expect(train.transform.key).toBe("train-pipeline/train")
    expect(typeof train.durationMs).toBe("number")
  })

  it("a filter in keyword form selects as the query language does", async () => {
    const { url, env, seeded } = store()
    const [fast, errored, trains] = await Promise.all([
      lineageJson<RunsPage>(["runs", "--store", url, "--filter", "params__learning_rate__gt=0.01"], { env }),
      lineageJson<RunsPage>(["runs", "--store", url, "-f", "status=errored"], { env }),
      lineageJson<RunsPage>(["runs", "--store", url, "-f", "transform__key__startswith=train", "-f", "accuracy__lt=0.8"], { env })
    ])
    expect(fast.rows.map((r) => r.uid)).toEqual([seeded.trains[0]])
    expect(errored.rows.map((r) => r.uid)).toEqual([seeded.errored])
    expect(trains.rows.map((r) => r.uid)).toEqual([seeded.trains[1]])
  })

  it("show <prefix>: a run with its params, features, inputs, outputs and the run that initiated it", async () => {
    const { url, env, seeded } = store()
    const detail = await lineageJson<RunDetail>(["show", seeded.trains[0].slice(0, 10), "--store", url], { env })
    expect(detail.kind).toBe("run")
    expect(detail.uid).toBe(seeded.trains[0])
    expect(detail.params).toEqual({ learning_rate: 0.1 })
    expect(detail.features).toEqual({ accuracy: 0.93 })
    expect(detail.inputs.map((a) => a.uid)).toEqual([seeded.raw])
    expect(detail.outputs.map((a) => a.uid)).toEqual([seeded.models[0]])
    expect(detail.initiatedBy?.uid).toBe(seeded.pipeline)
  })

  it("graph --format json: the lineage around raw.csv", async () => {
    const { url, env, seeded } = store()
    const result = await lineage(["graph", seeded.raw, "--format", "json", "--store", url], { env })
    expect(result.stderr).toBe("")
    const graph = JSON.parse(result.stdout) as { root: string; nodes: Array<{ uid: string }>; edges: Array<{ from: string; to: string; kind: string }> }
    expect(graph.root).toBe(`artifact_${seeded.raw}`)
    expect(graph.nodes.map((n) => n.uid)).toEqual(expect.arrayContaining([seeded.downloads[0], ...seeded.trains, ...seeded.models]))
    expect(graph.edges).toEqual(
      expect.arrayContaining([
        { from: `run_${seeded.downloads[0]}`, to: `artifact_${seeded.raw}`, kind: "output" },
        { from: `artifact_${seeded.raw}`, to: `run_${seeded.trains[1]}`, kind: "input" }
      ])
    )
  })
}

for (const storeCase of stores) {
  describe(`on ${storeCase.name}`, () => {
    let state: { url: string; env: NodeJS.ProcessEnv; seeded: Seeded; dispose: () => Promise<void> }
    beforeAll(async () => {
      const opened = await storeCase.open()
      const seeded = await seed(opened.url, opened.env["LINEAGE_STORAGE"]!)
      state = { ...opened, seeded }
    }, 120_000)
    afterAll(async () => {
      await state?.dispose()
    })
    commonChecks(() => state)
  })
}

// ---------------------------------------------------------------------------------------------------------
// SQLite: every command in detail

describe("on sqlite", () => {
  let dir: string
  let url: string
  let seeded: Seeded
  const env: NodeJS.ProcessEnv = {}
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lineage-cli-sqlite-"))
    mkdirSync(join(dir, ".lineage"), { mode: 0o700 })
    url = `sqlite:${join(dir, ".lineage", "lineage.db")}`
    // The storage root beside the database file, as `Lineage.connect` and the command line both choose it.
    seeded = await seed(url, join(dir, ".lineage", "storage"))
  }, 120_000)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  commonChecks(() => ({ url, env, seeded }))

  describe("runs", () => {
    it("a table: a column per varying param and feature, statuses, a footer; no colour off a terminal", async () => {
      const result = await lineage(["runs", "--store", url])
      expect(result.code).toBe(0)
      expect(result.stderr).toBe("")
      const lines = result.stdout.trimEnd().split("\n")
      expect(lines[0]).toMatch(/^uid +transform +version +status +started +duration +params\.api_key +params\.learning_rate +params\.source +features\.accuracy$/)
      expect(lines).toHaveLength(1 + 7 + 1)
      expect(lines.at(-1)).toBe("7 runs.")
      expect(lines.find((l) => l.startsWith(seeded.errored))).toMatch(/train-pipeline\/evaluate +1\.0|train-pipeline\/evaluate +\S+ +errored/)
      expect(lines.find((l) => l.startsWith(seeded.trains[0]))).toMatch(/completed .* 0\.1 .* 0\.93$/)
      expect(result.stdout).not.toMatch(ansi)
    })

    it("--order, --limit and --offset page through the runs", async () => {
      const [all, second, table] = await Promise.all([
        lineageJson<RunsPage>(["runs", "--store", url, "--order", "startedAt"]),
        lineageJson<RunsPage>(["runs", "--store", url, "--order", "startedAt", "--limit", "2", "--offset", "2"]),
        lineage(["runs", "--store", url, "-n", "2"])
      ])
      expect(second.total).toBe(7)
      expect(second.rows.map((r) => r.uid)).toEqual(all.rows.slice(2, 4).map((r) => r.uid))
      expect(table.stdout.trimEnd().split("\n").at(-1)).toBe("1-2 of 7 runs (--limit and --offset for others).")
    })

    it("a bad filter prints the InvalidQuery text on standard error and exits 2", async () => {
      const [badEnum, badDate, noEquals, badOrder] = await Promise.all([
        lineage(["runs", "--store", url, "--filter", "status=exploded"]),
        lineage(["runs", "--store", url, "--filter", "startedAt__gt=May 1"]),
        lineage(["runs", "--store", url, "--filter", "status"]),
        lineage(["runs", "--store", url, "--order", "transform__key"])
      ])
      for (const r of [badEnum, badDate, noEquals, badOrder]) {
        expect(r.code).toBe(2)
        expect(r.stdout).toBe("")
        expect(r.stderr).toMatch(/^lineage: InvalidQuery: Invalid query on Run: /)
      }
      expect(badEnum.stderr).toContain('field "status" with operator "eq" and value "exploded": expected one of scheduled')
      expect(badDate.stderr).toContain("expected an ISO 8601 date or time")
      expect(noEquals.stderr).toContain("expected a term key=value")
    })

    it("an --order that names no key is bad input (2)", async () => {
      for (const r of await Promise.all(["--order=", "--order=,"].map((order) => lineage(["runs", "--store", url, order])))) {
        expect(r.code).toBe(2)
        expect(r.stdout).toBe("")
        expect(r.stderr).toMatch(/^lineage: InvalidQuery: .*field "order"/)
      }
    })

    it("a limit out of range and an unknown flag are bad usage (2), told on standard error only", async () => {
      const [tooMany, unknownFlag, notANumber] = await Promise.all([
        lineage(["runs", "--store", url, "--limit", "5000"]),
        lineage(["runs", "--store", url, "--bogus"]),
        lineage(["runs", "--store", url, "--limit", "many"])
      ])
      expect(tooMany.code).toBe(2)
      expect(tooMany.stderr).toContain('field "limit"')
      for (const r of [unknownFlag, notANumber]) {
        expect(r.code).toBe(2)
        expect(r.stdout).toBe("")
        expect(r.stderr).toContain("See: lineage runs --help")
      }
      expect(unknownFlag.stderr).toContain("--bogus")
    })
  })

  describe("show", () => {
    it("a run as text: its sections, secrets redacted, the environment read from storage", async () => {
      const result = await lineage(["show", seeded.downloads[0], "--store", url])
      expect(result.code).toBe(0)
      const out = result.stdout
      expect(out.split("\n")[0]).toBe(`Run ${seeded.downloads[0]}  download 1.0  completed`)
      for (const title of ["Fields", "Params", "Features", "Inputs", "Outputs", "Environment", "Report", "Initiated by", "Initiated runs", "Timeline"])
        expect(out).toContain(`\n\n${title}\n`)
      expect(out).toMatch(/api_key +\*\*\*REDACTED\*\*\*/)
      expect(out).not.toContain("sk-live-0123456789abcdef")
      expect(out).toContain(seeded.raw)
      expect(out).toMatch(new RegExp(`node +${process.version.replaceAll(".", "\\.")}`))
      expect(out).toMatch(/finished +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d completed/)
      expect(out).not.toMatch(ansi)
    })

    it("a run as JSON: environment content, timeline, initiated runs", async () => {
      const [pipeline, errored] = await Promise.all([
        lineageJson<RunDetail>(["show", seeded.pipeline, "--store", url]),
        lineageJson<RunDetail>(["show", seeded.errored, "--store", url])
      ])
      expect(pipeline.initiatedRuns.map((r) => r.uid).sort()).toEqual([...seeded.trains, seeded.errored].sort())
      expect(pipeline.environment?.content).toMatchObject({ node: process.version, platform: process.platform })
      expect(pipeline.timeline.map((e) => e.event)).toEqual(["created", "started", "heartbeat", "finished"])
      expect(pipeline.timeline.at(-1)?.status).toBe("completed")
      expect(errored.row.status).toBe("errored")
    })

    it("a transform: its versions and recent runs; the family stem names the latest version", async () => {
      const [v1, v2] = seeded.downloadTransforms
      const [detail, byStem, text] = await Promise.all([
        lineageJson<TransformDetail>(["show", v1, "--store", url]),
        lineageJson<TransformDetail>(["show", v1.slice(0, 12), "--store", url]),
        lineage(["show", v2, "--store", url])
      ])
      expect(detail.kind).toBe("transform")
      expect(detail.versions.map((v) => [v.uid, v.version, v.isLatest])).toEqual([
        [v1, "1.0", false],
        [v2, "2.0", true]
      ])
      expect(detail.runs.map((r) => r.uid)).toEqual([seeded.downloads[0]])
      expect(detail.runCount).toBe(1)
      expect(byStem.uid).toBe(v2)
      expect(text.stdout).toContain("\n\nVersions\n")
      expect(text.stdout).toContain("\n\nRuns (1 most recent of 1)\n")
    })

    it("an artifact: the run that produced it and the runs that read it", async () => {
      const [detail, model] = await Promise.all([
        lineageJson<ArtifactDetail>(["show", seeded.raw, "--store", url]),
        lineageJson<ArtifactDetail>(["show", seeded.models[0], "--store", url])
      ])
      expect(detail.kind).toBe("artifact")
      expect(detail.summary).toMatchObject({ key: "raw.csv", description: "raw measurements" })
      expect(detail.run?.uid).toBe(seeded.downloads[0])
      expect(detail.readBy.map((r) => r.uid).sort()).toEqual([...seeded.trains].sort())
      expect(model.run?.uid).toBe(seeded.trains[0])
    })

    it("a prefix of a versioned family's stem names its latest version", async () => {
      const detail = await lineageJson<TransformDetail>(["show", seeded.downloadTransforms[0].slice(0, 9), "--store", url])
      expect(detail.uid).toBe(seeded.downloadTransforms[1])
    })

    it("an unknown uid is not found (3); an ambiguous prefix names its candidates (3); a non-uid is bad input (2)", async () => {
      const [unknown, ambiguous, notUid, run, transform] = await Promise.all([
        lineage(["show", "zzzzzzzzzzzz", "--store", url]),
        lineage(["show", "ZzCrashed", "--store", url]),
        lineage(["show", "not-a-uid!", "--store", url]),
        lineageJson<RunDetail>(["show", "ZzCrashedR", "--store", url]),
        lineageJson<TransformDetail>(["show", "ZzCrashedJ", "--store", url])
      ])
      expect(unknown.code).toBe(3)
      expect(unknown.stderr).toBe("lineage: DoesNotExist: No Run/Transform/Artifact matches uid prefix 'zzzzzzzzzzzz'.\n")
      expect(ambiguous.code).toBe(3)
      expect(ambiguous.stderr).toBe(
        "lineage: MultipleObjectsReturned: 2 Run/Transform/Artifact records match uid prefix 'ZzCrashed' " +
          "(run ZzCrashedRun0001, transform ZzCrashedJob0000); give more characters; expected exactly one\n"
      )
      expect(notUid.code).toBe(2)
      expect(notUid.stderr).toContain('field "uid"')
      for (const r of [unknown, ambiguous, notUid]) expect(r.stdout).toBe("")
      expect([run.uid, transform.uid]).toEqual([seeded.crashed, "ZzCrashedJob0000"])
    })
  })

  describe("graph", () => {
    it("mermaid (the default), dot and svg", async () => {
      const [mermaid, dot, svg] = await Promise.all([
        lineage(["graph", seeded.trains[0], "--store", url]),
        lineage(["graph", seeded.trains[0], "--format", "dot", "--store", url]),
        lineage(["graph", seeded.trains[0], "--format", "svg", "--store", url])
      ])
      expect(mermaid.stdout.startsWith("flowchart LR\n")).toBe(true)
      expect(mermaid.stdout).toContain(`run_${seeded.trains[0]}`)
      expect(mermaid.stdout).toContain(`artifact_${seeded.raw}`)
      expect(dot.stdout.startsWith("digraph lineage {\n")).toBe(true)
      expect(dot.stdout).toContain(`"run_${seeded.trains[0]}"`)
      expect(svg.stdout).toMatch(/^<svg[\s>]/)
      expect(svg.stdout.trimEnd().endsWith("</svg>")).toBe(true)
      for (const r of [mermaid, dot, svg]) expect(r.code).toBe(0)
    })

    it("--upstream, --downstream and --depth bound the walk", async () => {
      type Graph = { nodes: Array<{ uid: string }> }
      const uids = (g: Graph) => g.nodes.map((n) => n.uid).sort()
      const [up, down, shallow] = await Promise.all([
        lineage(["graph", seeded.raw, "--upstream", "--format", "json", "--store", url]),
        lineage(["graph", seeded.raw, "--downstream", "--format", "json", "--store", url]),
        lineage(["graph", seeded.raw, "--depth", "1", "--format", "json", "--store", url])
      ])
      expect(uids(JSON.parse(up.stdout) as Graph)).toEqual([seeded.downloads[0], seeded.raw].sort())
      expect(uids(JSON.parse(down.stdout) as Graph)).toEqual([seeded.raw, ...seeded.trains, ...seeded.models].sort())
      expect(uids(JSON.parse(shallow.stdout) as Graph)).toEqual([seeded.raw, seeded.downloads[0], ...seeded.trains].sort())
    })

    it("bad usage: both directions, a depth out of range, a transform, an unknown format (2)", async () => {
      const results = await Promise.all([
        lineage(["graph", seeded.raw, "--upstream", "--downstream", "--store", url]),
        lineage(["graph", seeded.raw, "--depth", "999", "--store", url]),
        lineage(["graph", seeded.downloadTransforms[0], "--store", url]),
        lineage(["graph", seeded.raw, "--format", "png", "--store", url])
      ])
      for (const r of results) {
        expect(r.code).toBe(2)
        expect(r.stdout).toBe("")
      }
      expect(results[0]!.stderr).toContain("exclude each other")
      expect(results[2]!.stderr).toContain("is a transform")
    })
  })

  describe("listings", () => {
    it("stale: the started run whose heartbeat stopped", async () => {
      const [page, none, text] = await Promise.all([
        lineageJson<RunsPage>(["stale", "--store", url]),
        lineageJson<RunsPage>(["stale", "--older-than", String(Date.now() + 86_400_000), "--store", url]),
        lineage(["stale", "--store", url])
      ])
      expect(page.rows.map((r) => r.uid)).toEqual([seeded.crashed])
      expect(none.total).toBe(0)
      expect(text.stdout).toContain("crashed-job")
      expect(text.stdout.trimEnd().endsWith("1 stale runs.")).toBe(true)
    })

    it("transforms: each with its run count and last run; filters apply", async () => {
      const [page, filtered, text] = await Promise.all([
        lineageJson<Page<TransformRow>>(["transforms", "--store", url]),
        lineageJson<Page<TransformRow>>(["transforms", "--filter", "key__startswith=train-pipeline", "--store", url]),
        lineage(["transforms", "--store", url])
      ])
      expect(page.total).toBe(6)
      const train = page.rows.find((t) => t.key === "train-pipeline/train")!
      expect(train.runCount).toBe(2)
      expect(train.lastRun?.status).toBe("completed")
      expect(filtered.rows.map((t) => t.key)).toEqual(["train-pipeline", "train-pipeline/evaluate", "train-pipeline/train"])
      expect(text.stdout.split("\n")[0]).toMatch(/^uid +key +version +kind +runs +last run +description$/)
    })

    it("features", async () => {
      const [page, text] = await Promise.all([lineageJson<Page<FeatureRow>>(["features", "--store", url]), lineage(["features", "--store", url])])
      expect(page.rows.map((f) => [f.name, f.dtype])).toEqual([["accuracy", "float"]])
      expect(text.stdout).toMatch(/accuracy +float/)
    })
  })

  describe("export", () => {
    type Entry = { registry: string; record: { [k: string]: unknown }; inputArtifacts?: Array<string> }

    it("ndjson: every run with its transform and artifacts, each written before what references it", async () => {
      const result = await lineage(["export", "--format", "ndjson", "--store", url])
      expect(result.code).toBe(0)
      const entries = result.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Entry)
      const count = (registry: string) => entries.filter((e) => e.registry === registry).length
      expect(count("Run")).toBe(7)
      expect(count("Transform")).toBe(6)
      const seen = new Set<string>()
      for (const e of entries) {
        if (e.registry === "Run") {
          expect(seen.has(`Transform:${String(e.record["transformId"])}`)).toBe(true)
          for (const field of ["environmentId", "reportId"])
            if (e.record[field] !== null) expect(seen.has(`Artifact:${String(e.record[field])}`)).toBe(true)
        }
        seen.add(`${e.registry}:${String(e.record["id"])}`)
      }
      const train = entries.find((e) => e.record["uid"] === seeded.trains[0])!
      expect(train.inputArtifacts).toEqual([seeded.raw])
      expect(train.record["params"]).toEqual({ learning_rate: 0.1 })
      expect(result.stdout).not.toContain("sk-live-0123456789abcdef")
    })

    it("openlineage: the run events of each selected run, one per line, in the namespace given", async () => {
      const result = await lineage(["export", "--format", "openlineage", "--namespace", "team-a", "--filter", "status=errored", "--store", url])
      expect(result.code).toBe(0)
      const events = result.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { eventType: string; job: { namespace: string; name: string } })
      expect(events.map((e) => e.eventType)).toEqual(["START", "FAIL"])
      for (const e of events) {
        expect(e.job.namespace).toBe("team-a")
        expect(e.job.name).toContain("evaluate")
      }
    })

    it("json: the same entries in one document; a filter selects the runs", async () => {
      const [json, ndjson, errored] = await Promise.all([
        lineage(["export", "--store", url]),
        lineage(["export", "--format", "ndjson", "--store", url]),
        lineage(["export", "--format", "ndjson", "--filter", "status=errored", "--store", url])
      ])
      const doc = JSON.parse(json.stdout) as { format: string; version: number; records: Array<Entry> }
      expect(doc.format).toBe("lineage-export")
      expect(doc.records).toEqual(ndjson.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Entry))
      const runs = errored.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Entry).filter((e) => e.registry === "Run")
      expect(runs.map((e) => e.record["uid"])).toEqual([seeded.errored])
      expect(errored.stderr).toBe("")
    })
  })

  describe("ui", () => {
    /** Starts `lineage ui` and resolves once it printed where it serves. */
    const startUi = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) => {
      const child = spawn(process.execPath, [bin, "ui", "--store", url, ...args], { env: { ...baseEnv(), ...env }, stdio: ["ignore", "pipe", "pipe"] })
      let out = ""
      let err = ""
      child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()))
      const served = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString()
          const match = /Lineage viewer at (http:\/\/\S+)/.exec(out)
          if (match !== null) resolve(match[1]!)
        })
        child.once("exit", (code) => reject(new Error(`lineage ui exited (${code}): ${err}`)))
      })
      return { child, url: served, stderr: () => err }
    }

    it("serves the viewer over the store until SIGINT, then exits 130", async () => {
      const { child, url: viewer } = await startUi([])
      expect(viewer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
      const page = await fetch(viewer)
      expect(page.status).toBe(200)
      const runs = (await (await fetch(new URL("api/runs", viewer))).json()) as RunsPage
      expect(runs.total).toBe(7)
      child.kill("SIGINT")
      const [code] = (await once(child, "exit")) as [number | null]
      expect(code).toBe(130)
    })

    it("with a token (from LINEAGE_UI_TOKEN), a request without it is refused; the URL printed never shows it", async () => {
      const token = "cli-test-token-0123456789abcdef"
      const { child, url: viewer } = await startUi([], { LINEAGE_UI_TOKEN: token })
      try {
        expect(viewer).not.toContain(token)
        expect((await fetch(viewer)).status).toBeGreaterThanOrEqual(400)
        expect((await fetch(viewer, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200)
        // A page load with the token in its URL (what `--open` hands the browser) is let in.
        expect((await fetch(`${viewer}?token=${token}`, { redirect: "manual" })).status).toBeLessThan(400)
      } finally {
        child.kill("SIGTERM")
        await once(child, "exit")
      }
    })

    it("an address other machines reach, without a token, is refused (2)", async () => {
      const result = await lineage(["ui", "--host", "0.0.0.0", "--store", url])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/^lineage: ViewerError: The viewer cannot start: option host/)
    })
  })

  describe("the store", () => {
    it("a SQLite file that does not exist is not created: every command refuses it (1), the default included", async () => {
      const empty = mkdtempSync(join(tmpdir(), "lineage-cli-empty-"))
      try {
        const named = join(empty, "sub", "x.db")
        const [byDefault, byFlag, byEnv, viewer] = await Promise.all([
          lineage(["runs"], { cwd: empty }),
          lineage(["show", "abc", "--store", `sqlite:${named}`]),
          lineage(["export"], { env: { LINEAGE_STORE: `sqlite:${named}` } }),
          lineage(["ui"], { cwd: empty })
        ])
        const hint = ": run a tracked script first, or pass --store / set LINEAGE_STORE\n"
        expect(byDefault.stderr).toBe(`lineage: StoreError: store unavailable: no store at ${join(empty, ".lineage", "lineage.db")}${hint}`)
        for (const r of [byFlag, byEnv]) expect(r.stderr).toBe(`lineage: StoreError: store unavailable: no store at ${named}${hint}`)
        for (const r of [byDefault, byFlag, byEnv, viewer]) {
          expect(r.code).toBe(1)
          expect(r.stdout).toBe("")
        }
        expect(readdirSync(empty)).toEqual([])
      } finally {
        rmSync(empty, { recursive: true, force: true })
      }
    })

    it("a failure's message shows control characters escaped, its line breaks kept", async () => {
      const r = await lineage(["runs", "--store", "sqlite:/nonexistent/\u001b]0;pwned\u0007\u009b31m\u202e.db"])
      expect(r.code).toBe(1)
      expect(r.stderr).toContain("/nonexistent/\\u001b]0;pwned\\u0007\\u009b31m\\u202e.db")
      expect(r.stderr.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/)
    })

    it("flags are checked before the store is opened: a store that is down does not hide bad usage (2)", async () => {
      const down = "postgres://127.0.0.1:1/nowhere?connectTimeoutMs=2000"
      const results = await Promise.all([
        lineage(["graph", "abc", "--depth", "999", "--store", down]),
        lineage(["graph", "abc", "--upstream", "--downstream", "--store", down]),
        lineage(["stale", "--older-than", "-5", "--store", down]),
        lineage(["runs", "--limit", "5000", "--store", down]),
        lineage(["transforms", "--offset", "-1", "--store", down])
      ])
      for (const r of results) {
        expect(r.code).toBe(2)
        expect(r.stderr).not.toContain("StoreError")
      }
    })

    it("LINEAGE_STORE names it when --store does not; without either, the default file in the working directory", async () => {
      const [fromEnv, byDefault] = await Promise.all([
        lineageJson<RunsPage>(["runs"], { env: { LINEAGE_STORE: url } }),
        lineageJson<RunsPage>(["runs"], { cwd: dir })
      ])
      expect(fromEnv.total).toBe(7)
      expect(byDefault.total).toBe(7)
    })

    it("a store that cannot be reached is a failure (1) whose message never shows the URL's password", async () => {
      const [flag, fromEnv] = await Promise.all([
        lineage(["runs", "--store", "postgres://ada:hunter2-secret@127.0.0.1:1/nowhere?connectTimeoutMs=2000"]),
        lineage(["transforms"], { env: { LINEAGE_STORE: "redis://:s3cret-token@127.0.0.1:1/0" } })
      ])
      for (const r of [flag, fromEnv]) {
        expect(r.code).toBe(1)
        expect(r.stdout).toBe("")
        expect(r.stderr).toMatch(/^lineage: StoreError: /)
      }
      expect(flag.stderr).not.toContain("hunter2-secret")
      expect(fromEnv.stderr).not.toContain("s3cret-token")
    })
  })

  describe("help", () => {
    const commands = ["runs", "show", "graph", "stale", "transforms", "features", "export", "ui"]

    it("--help of the command and of each subcommand: usage, flags, the exit codes; exit 0", async () => {
      const results = await Promise.all([lineage(["--help"]), ...commands.map((c) => lineage([c, "--help"]))])
      for (const [i, r] of results.entries()) {
        expect(r.code).toBe(0)
        expect(r.stdout).toContain("USAGE")
        expect(r.stdout).toContain("Exit codes: 0 done; 1 failure")
        expect(r.stdout).toContain("--store URL")
        expect(r.stdout).not.toMatch(ansi)
        if (i > 0) expect(r.stdout).toContain(`lineage ${commands[i - 1]}`)
      }
      expect(results[0]!.stdout).toMatch(/SUBCOMMANDS\n(?:.*\n)*\s+runs +List runs/)
      expect(results[1]!.stdout).toContain("--filter, -f KEY=VALUE")
      expect(results[3]!.stdout).toContain("--format")
      expect(results[8]!.stdout).toContain("--token")
    })

    it("--version prints the package's version", async () => {
      const result = await lineage(["--version"])
      expect(result.code).toBe(0)
      expect(result.stdout).toContain("0.1.0")
    })

    it("an unknown subcommand is bad usage (2)", async () => {
      const result = await lineage(["nope"])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain("nope")
    })
  })
})

// ---------------------------------------------------------------------------------------------------------
// Large data, readers that go away or read slowly

describe("on a store of large records", () => {
  let dir: string
  let url: string
  let wide: string
  const bulkRuns = 200
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lineage-cli-large-"))
    url = `sqlite:${join(dir, "lineage.db")}`
    const params = (i: number) => Object.fromEntries(Array.from({ length: 60 }, (_, k) => [`param_${k}`, `${i}:${"v".repeat(300)}`]))
    wide = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const bulk = yield* Transform.create({ key: "bulk" })
          yield* Run.createMany(Array.from({ length: bulkRuns }, (_, i) => ({ transformId: bulk.id, status: "completed", params: params(i) })))
          const long = yield* Transform.create({ key: "k".repeat(1_000_000), version: "v".repeat(10_000) })
          yield* Run.createMany(Array.from({ length: 20 }, (_, i) => ({ transformId: long.id, params: { i } })))
          const many = yield* Transform.create({ key: "wide" })
          const run = yield* Run.create({ transformId: many.id, params: Object.fromEntries(Array.from({ length: 200_000 }, (_, k) => [`p${k}`, k])) })
          return run.uid
        }),
        Store.layer(Lineage.driverFor(url))
      )
    )
  }, 120_000)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("runs, as a table and as JSON, and show: a megabyte key and 200,000 params come out cut and counted", async () => {
    const [table, json, show, showJson] = await Promise.all([
      lineage(["runs", "-n", "1000", "--store", url]),
      lineage(["runs", "-n", "1000", "--json", "--store", url]),
      lineage(["show", wide, "--store", url]),
      lineage(["show", wide, "--json", "--store", url])
    ])
    for (const r of [table, json, show, showJson]) {
      expect(r.stderr).toBe("")
      expect(r.code).toBe(0)
    }
    const lines = table.stdout.trimEnd().split("\n")
    expect(lines).toHaveLength(1 + bulkRuns + 20 + 1 + 1)
    for (const line of lines) expect(line.length).toBeLessThan(6_000)
    const page = JSON.parse(json.stdout) as RunsPage
    expect(page.total).toBe(bulkRuns + 21)
    expect(json.stdout.length).toBeLessThan(10_000_000)
    expect(page.rows.find((r) => r.uid === wide)?.more).toEqual({ params: 200_000 - 50, features: 0 })
    expect(show.stdout).toContain(`… ${200_000 - 50} more params`)
    expect(Object.keys((JSON.parse(showJson.stdout) as RunDetail).params)).toHaveLength(50)
  }, 120_000)

  it("a reader that goes away early ends the command quietly, exit 0, as `git log | head` does", async () => {
    const closeAtFirstChunk = (stdout: NodeJS.ReadableStream & { destroy: () => void }) => stdout.once("data", () => stdout.destroy())
    const results = await Promise.all([
      lineagePiped(["runs", "-n", "1000", "--json", "--store", url], closeAtFirstChunk),
      lineagePiped(["export", "--format", "ndjson", "--store", url], closeAtFirstChunk),
      lineagePiped(["export", "--store", url], closeAtFirstChunk)
    ])
    for (const r of results) expect(r).toEqual({ code: 0, stderr: "" })
  }, 120_000)

  it("export waits for a slow reader: what it holds unwritten stays near one record, not the whole export", async () => {
    // Preloaded into the command: the most standard output ever held in memory, told on standard error at exit.
    const probe = join(dir, "probe.cjs")
    writeFileSync(
      probe,
      "let most = 0\n" +
        "const write = process.stdout.write.bind(process.stdout)\n" +
        "process.stdout.write = (...args) => { const ok = write(...args); most = Math.max(most, process.stdout.writableLength); return ok }\n" +
        "process.on('exit', () => process.stderr.write(`most held: ${most}\\n`))\n"
    )
    const chunks: Array<Buffer> = []
    const result = await lineagePiped(
      ["export", "--format", "ndjson", "--filter", "transform__key=bulk", "--store", url],
      (stdout) => {
        const take = (chunk: Buffer) => void chunks.push(chunk)
        // A reader that stops once the command has started writing: meanwhile a command that ignores
        // backpressure queues its whole output.
        stdout.once("data", (first: Buffer) => {
          take(first)
          stdout.pause()
          setTimeout(() => stdout.on("data", take).resume(), 1_500)
        })
      },
      { node: ["--require", probe] }
    )
    expect(result.code).toBe(0)
    const most = Number(/most held: (\d+)/.exec(result.stderr)?.[1])
    const output = Buffer.concat(chunks)
    const longest = output
      .toString()
      .split("\n")
      .reduce((most, line) => Math.max(most, Buffer.byteLength(line) + 1), 0)
    // One record per write: held at most is what the stream held below its high-water mark, and one record.
    expect(output.length).toBeGreaterThan(100 * longest)
    expect(most).toBeGreaterThan(0)
    expect(most).toBeLessThan(longest + 64 * 1024)
  }, 120_000)
})
