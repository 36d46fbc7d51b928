/**
 * Registering and reading artifacts: lamindb's hash, size and suffix; storage under `<root>/<uid><suffix>`;
 * the same bytes as one artifact; outputs, inputs and recreating runs recorded without ever making an
 * artifact both input and output of one run; and nothing half-written when registration fails.
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as Artifacts from "../src/Artifacts.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import { withRun } from "../src/Current.js"
import * as Domain from "../src/Domain.js"
import type { Driver } from "../src/Driver.js"
import { StoreError } from "../src/Errors.js"
import { Artifact, Run, Transform } from "../src/Registries.js"
import { entity, make as makeStore, Store, type StoreShape } from "../src/Store.js"

let dir: string
let root: string
let store: StoreShape

const exec = <A, E>(effect: Effect.Effect<A, E, Store>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provideService(Store, store), Effect.provideService(ArtifactStorage, root)))
const flip = <A, E>(effect: Effect.Effect<A, E, Store>): Promise<E> => exec(Effect.flip(effect))

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "lineage-artifacts-test-"))
  root = join(dir, "storage")
  store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const md5 = (bytes: Uint8Array | string) => createHash("md5").update(bytes).digest("base64url").slice(0, 22)
const file = (name: string, bytes: Uint8Array | string) => {
  const p = join(dir, name)
  writeFileSync(p, bytes)
  return p
}
const stored = () => {
  try {
    return readdirSync(root).sort()
  } catch {
    return []
  }
}

const newRun = async (key = "script.ts") => {
  const transform = await exec(Transform.getOrCreate({ key }))
  return exec(Run.create({ transformId: transform.id }))
}
const inputLinks = entity(Domain.RunInputArtifactModel, Domain.RunInputArtifact)
const recreatedLinks = entity(Domain.RunRecreatedArtifactModel, Domain.RunRecreatedArtifact)
const linkCount = (link: typeof inputLinks | typeof recreatedLinks) =>
  exec(Store.use((s) => s.count(link.model, { _tag: "And", conds: [] })))
const allArtifacts = () => exec(Artifact.filter({ branchId: { in: [1, -1] } }).all())

describe("hash, size, suffix", () => {
  it("match node:crypto's md5 in base64url, the byte count and the file's extension", async () => {
    const bytes = "a,b\n1,2\n"
    const a = await exec(Artifacts.fromPath(file("table.csv", bytes), { key: "tables/table.csv", run: null }))
    expect(a.hash).toBe(md5(bytes))
    expect(a.hash).toHaveLength(22)
    expect(a.size).toBe(Buffer.byteLength(bytes))
    expect(a.suffix).toBe(".csv")
    expect(a.key).toBe("tables/table.csv")
  })

  it("streams a large file and still hashes every byte", async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17)
    const a = await exec(Artifacts.fromPath(file("big.bin", bytes), { run: null }))
    expect(a.hash).toBe(md5(bytes))
    expect(a.size).toBe(bytes.length)
  })

  it("keeps compound suffixes whole and drops numeric ones", () => {
    expect(Artifacts.suffixOf("/x/archive.tar.gz")).toBe(".tar.gz")
    expect(Artifacts.suffixOf("image.ome.zarr")).toBe(".ome.zarr")
    expect(Artifacts.suffixOf("reads.FASTQ.GZ")).toBe(".FASTQ.GZ")
    expect(Artifacts.suffixOf("v1.2.csv")).toBe(".csv")
    expect(Artifacts.suffixOf("log.1")).toBe("")
    expect(Artifacts.suffixOf("README")).toBe("")
    expect(Artifacts.suffixOf(".tar.gz")).toBe(".gz")
  })

  it("hashes a string as its UTF-8 bytes and takes the suffix from the key", async () => {
    const a = await exec(Artifacts.fromBytes("héllo", { key: "greetings/hello.txt", run: null }))
    expect(a.hash).toBe(md5(Buffer.from("héllo", "utf8")))
    expect(a.size).toBe(6)
    expect(a.suffix).toBe(".txt")
    const same = await exec(Artifacts.fromBytes(new TextEncoder().encode("héllo"), { run: null }))
    expect(same.id).toBe(a.id)
  })
})

describe("storage", () => {
  it("copies the bytes to <root>/<uid><suffix> and records file://<root>", async () => {
    const bytes = randomBytes(64)
    const a = await exec(Artifacts.fromPath(file("data.tar.gz", bytes), { run: null }))
    expect(a.storage).toBe(pathToFileURL(root).href)
    expect(stored()).toEqual([`${a.uid}.tar.gz`])
    expect(readFileSync(join(root, `${a.uid}.tar.gz`)).equals(bytes)).toBe(true)
    expect(Buffer.from(await exec(Artifacts.load(a))).equals(bytes)).toBe(true)
    expect(await exec(Artifacts.cache(a))).toBe(join(root, `${a.uid}.tar.gz`))
  })

  it("refuses a missing path, a directory and an empty key with ValidationErrors, writing nothing", async () => {
    const missing = await flip(Artifacts.fromPath(join(dir, "nope.csv")))
    expect(missing).toMatchObject({ _tag: "ValidationError", registry: "Artifact", field: "path", value: join(dir, "nope.csv") })
    mkdirSync(join(dir, "folder"))
    const folder = await flip(Artifacts.fromPath(join(dir, "folder")))
    expect(folder).toMatchObject({ _tag: "ValidationError", field: "path" })
    expect(folder.message).toMatch(/directory/)
    const key = await flip(Artifacts.fromBytes("x", { key: "  " }))
    expect(key).toMatchObject({ _tag: "ValidationError", field: "key", value: "  " })
    const suffix = await flip(Artifacts.fromBytes("x", { suffix: "/../escape" }))
    expect(suffix).toMatchObject({ _tag: "ValidationError", field: "suffix" })
    expect(await allArtifacts()).toEqual([])
    expect(stored()).toEqual([])
  })

  it("removes the copied bytes when the insert fails", async () => {
    const inner = MemoryStore.makeDriver()
    const failing: Driver = {
      ...inner,
      insert: (table, docs) => (table === "artifact" ? Effect.fail(StoreError.unavailable("disk full")) : inner.insert(table, docs)),
      batch: undefined
    }
    store = await Effect.runPromise(makeStore(failing))
    const error = await flip(Artifacts.fromBytes("payload", { suffix: ".txt", run: null }))
    expect(error).toMatchObject({ _tag: "StoreError" })
    expect(stored()).toEqual([])
  })

  it("fails load with a typed error when the bytes are gone", async () => {
    const a = await exec(Artifacts.fromBytes("soon gone", { run: null }))
    rmSync(root, { recursive: true })
    expect(await flip(Artifacts.load(a))).toMatchObject({ _tag: "ArtifactStorageError" })
    expect(await flip(Artifacts.cache(a))).toMatchObject({ _tag: "ArtifactStorageError" })
  })
})

describe("same bytes, same artifact", () => {
  it("returns the existing artifact and records the second run as recreating it", async () => {
    const first = await newRun()
    const second = await newRun()
    const a = await exec(withRun(first)(Artifacts.fromBytes("same", { key: "out.txt" })))
    const again = await exec(withRun(second)(Artifacts.fromBytes("same", { key: "other-key.txt" })))
    expect(again.id).toBe(a.id)
    expect(again.runId).toBe(first.id)
    expect(again.key).toBe("out.txt")
    expect((await exec(Artifacts.outputs(second))).map((x) => x.id)).toEqual([a.id])
    expect((await exec(Artifacts.outputs(first))).map((x) => x.id)).toEqual([a.id])
    await exec(withRun(first)(Artifacts.fromBytes("same")))
    await exec(withRun(second)(Artifacts.fromBytes("same")))
    expect(await linkCount(recreatedLinks)).toBe(1)
    expect(await allArtifacts()).toHaveLength(1)
    expect(stored()).toHaveLength(1)
  })

  it("makes a run the producer of bytes first registered without one", async () => {
    const r = await newRun()
    const orphan = await exec(Artifacts.fromBytes("orphan", { run: null }))
    expect(orphan.runId).toBeNull()
    const claimed = await exec(withRun(r)(Artifacts.fromBytes("orphan")))
    expect(claimed.id).toBe(orphan.id)
    expect(claimed.runId).toBe(r.id)
    expect((await exec(Artifacts.producer(orphan)))?.id).toBe(r.id)
    expect(await linkCount(recreatedLinks)).toBe(0)
  })

  it("restores a trashed artifact with the same bytes", async () => {
    const a = await exec(Artifacts.fromBytes("trashed", { run: null }))
    await exec(Artifact.delete(a))
    const back = await exec(Artifacts.fromBytes("trashed", { run: null }))
    expect(back.id).toBe(a.id)
    expect(back.branchId).toBe(1)
  })

  it("versions by key only when the bytes differ", async () => {
    const v1 = await exec(Artifacts.fromBytes("v1", { key: "model.bin", run: null }))
    const v2 = await exec(Artifacts.fromBytes("v2", { key: "model.bin", run: null }))
    expect(v2.uid.slice(0, 16)).toBe(v1.uid.slice(0, 16))
    expect(v2.uid).not.toBe(v1.uid)
    expect((await exec(Artifact.get({ key: "model.bin" }))).id).toBe(v2.id)
    expect(stored()).toEqual([`${v1.uid}.bin`, `${v2.uid}.bin`].sort())
  })

  it("ends racing registrations of the same bytes with one artifact, one file, no staging left", async () => {
    const runs = await Promise.all([newRun(), newRun(), newRun()])
    const registrations = Array.from({ length: 12 }, (_, i) =>
      withRun(runs[i % 3]!)(Artifacts.fromBytes("racing bytes", { key: `race-${i}.txt` }))
    )
    const results = await exec(Effect.all(registrations, { concurrency: "unbounded" }))
    expect(new Set(results.map((a) => a.id)).size).toBe(1)
    expect(await allArtifacts()).toHaveLength(1)
    expect(stored()).toEqual([`${results[0]!.uid}.txt`])
    const producer = (await exec(Artifact.get(results[0]!.id))).runId
    expect(runs.map((r) => r.id)).toContain(producer)
    expect(await linkCount(recreatedLinks)).toBe(2)
  })
})

describe("inputs and outputs", () => {
  it("registration within a run is an output; a load within another run is an input", async () => {
    const producer = await newRun("make.ts")
    const consumer = await newRun("use.ts")
    const a = await exec(withRun(producer)(Artifacts.fromBytes("made", { key: "made.txt" })))
    expect(a.runId).toBe(producer.id)
    await exec(withRun(consumer)(Artifacts.load(a)))
    expect((await exec(Artifacts.inputs(consumer))).map((x) => x.id)).toEqual([a.id])
    expect((await exec(Artifacts.consumers(a))).map((r) => r.id)).toEqual([consumer.id])
    expect(await exec(Artifacts.inputs(producer))).toEqual([])
    expect(await exec(Artifacts.outputs(consumer))).toEqual([])
  })

  it("never makes an artifact both input and output of one run", async () => {
    const maker = await newRun()
    const remaker = await newRun()
    const reader = await newRun()
    const a = await exec(withRun(maker)(Artifacts.fromBytes("mine")))
    await exec(withRun(remaker)(Artifacts.fromBytes("mine")))
    await exec(withRun(maker)(Artifacts.load(a)))
    await exec(withRun(remaker)(Artifacts.cache(a)))
    expect(await linkCount(inputLinks)).toBe(0)
    // A run that read it and then saves the same bytes did not make them.
    await exec(withRun(reader)(Artifacts.load(a)))
    const saved = await exec(withRun(reader)(Artifacts.fromBytes("mine")))
    expect(saved.runId).toBe(maker.id)
    expect((await exec(Artifacts.outputs(reader))).map((x) => x.id)).toEqual([])
    expect((await exec(Artifacts.inputs(reader))).map((x) => x.id)).toEqual([a.id])
  })

  it("a run does not read what it produced even when holding a record from before it claimed it", async () => {
    const r = await newRun()
    const before = await exec(Artifacts.fromBytes("claimed later", { run: null }))
    await exec(withRun(r)(Artifacts.fromBytes("claimed later")))
    await exec(withRun(r)(Artifacts.load(before)))
    expect(await linkCount(inputLinks)).toBe(0)
  })

  it("records one input link for repeated and racing loads", async () => {
    const r = await newRun()
    const a = await exec(Artifacts.fromBytes("read me", { run: null }))
    await exec(withRun(r)(Effect.all(Array.from({ length: 8 }, () => Artifacts.load(a)), { concurrency: "unbounded" })))
    await exec(withRun(r)(Artifacts.cache(a)))
    expect(await linkCount(inputLinks)).toBe(1)
  })

  it("records no input without a current run or with isRunInput: false, and on a given run when passed one", async () => {
    const r = await newRun()
    const other = await newRun()
    const a = await exec(Artifacts.fromBytes("quiet", { run: null }))
    expect(new TextDecoder().decode(await exec(Artifacts.load(a)))).toBe("quiet")
    await exec(withRun(r)(Artifacts.load(a, { isRunInput: false })))
    expect(await linkCount(inputLinks)).toBe(0)
    await exec(withRun(r)(Artifacts.load(a, { isRunInput: other })))
    expect((await exec(Artifacts.consumers(a))).map((x) => x.id)).toEqual([other.id])
  })

  it("run: null registers no producer even inside a run; an explicit run overrides the current one", async () => {
    const current = await newRun()
    const explicit = await newRun()
    const env = await exec(withRun(current)(Artifacts.fromBytes("env", { run: null, kind: "__lineage_run__" })))
    expect(env.runId).toBeNull()
    expect(env.kind).toBe("__lineage_run__")
    const out = await exec(withRun(current)(Artifacts.fromBytes("explicit", { run: explicit })))
    expect(out.runId).toBe(explicit.id)
  })

  it("finds the runs a run initiated and leaves out trashed records", async () => {
    const parent = await newRun()
    const t = await exec(Transform.create({ key: "child" }))
    const child = await exec(Run.create({ transformId: t.id, initiatedByRunId: parent.id }))
    const gone = await exec(Run.create({ transformId: t.id, initiatedByRunId: parent.id }))
    await exec(Run.delete(gone))
    expect((await exec(Artifacts.initiatedRuns(parent))).map((r) => r.id)).toEqual([child.id])
    const a = await exec(withRun(parent)(Artifacts.fromBytes("to trash")))
    await exec(Artifact.delete(a))
    expect(await exec(Artifacts.outputs(parent))).toEqual([])
    expect(await exec(Artifacts.producer(a))).toMatchObject({ id: parent.id })
  })
})
