/**
 * Registering and reading artifacts: lamindb's hash, size and suffix; storage under `<root>/<uid><suffix>`;
 * the same bytes as one artifact; outputs, inputs and recreating runs recorded without ever making an
 * artifact both input and output of one run; and nothing half-written when registration fails.
 */
import { createHash, randomBytes } from "node:crypto"
import {
  chmodSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as Artifacts from "../src/Artifacts.js"
import { ArtifactStorage, defaultStorageRoot } from "../src/Artifacts.js"
import { withRun } from "../src/Current.js"
import * as Records from "../src/Records.js"
import type { Doc, Driver } from "../src/Driver.js"
import { StoreError } from "../src/Errors.js"
import { Artifact, Run, Transform } from "../src/Registry.js"
import { rootProblem } from "../src/StorageRoot.js"
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
/**
 * A symlink another user owns, and the directory it leads to: made under the test directory and handed to
 * `nobody` when the tests run as root, else a system symlink owned by someone else stands in.
 */
const foreignSymlink = (): { readonly link: string; readonly target: string } => {
  if (process.getuid!() === 0) {
    const target = join(dir, "attacker")
    const link = join(dir, "planted")
    mkdirSync(target)
    symlinkSync(target, link)
    lchownSync(link, 65534, 65534)
    return { link, target }
  }
  const link = ["/bin", "/lib", "/sbin", "/var/run"].find(
    (p) => existsSync(p) && lstatSync(p).isSymbolicLink() && lstatSync(p).uid !== process.getuid!()
  )
  if (link === undefined) throw new Error("no symlink owned by another user to test with: run the tests as root")
  return { link, target: realpathSync(link) }
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
const inputLinks = entity(Records.RunInputArtifactModel, Records.RunInputArtifact)
const recreatedLinks = entity(Records.RunRecreatedArtifactModel, Records.RunRecreatedArtifact)
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

  it("leaves a trashed artifact with the same bytes in the trash and makes a new one (lamindb: no implicit restore)", async () => {
    const a = await exec(Artifacts.fromBytes("trashed", { run: null }))
    await exec(Artifact.delete(a))
    const fresh = await exec(Artifacts.fromBytes("trashed", { run: null }))
    expect(fresh.id).not.toBe(a.id)
    expect(fresh.branchId).toBe(1)
    expect((await exec(Artifact.reload(a))).branchId).toBe(-1)
    expect(stored()).toEqual([a.uid, fresh.uid].sort())
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

// ---------------------------------------------------------------------------------------------------------
// Hostile records, tampered bytes, the storage root

/** A record as another client could write it: straight through the driver, past every check of ours. */
const rawPatch = async (a: Records.Artifact, patch: Doc) => {
  await Effect.runPromise(store.driver.update("artifact", a.id, patch))
  return exec(Artifact.get(a.id))
}

describe("the paths a record names", () => {
  it("refuses Artifact.update with a suffix, key or storage that is path syntax, a secret or too long", async () => {
    const a = await exec(Artifacts.fromBytes("guarded", { suffix: ".txt", run: null }))
    const escape = await flip(Artifact.update(a, { suffix: "/../../../etc/hostname" }))
    expect(escape).toMatchObject({ _tag: "ValidationError", registry: "Artifact", field: "suffix", value: "/../../../etc/hostname" })
    expect(escape.message).toMatch(/\.tar\.gz/)
    for (const suffix of ["..", ".a/b", ".a\\b", ".c\0sv", ".c\nsv", `.${"x".repeat(40)}`, "csv"])
      expect(await flip(Artifact.update(a, { suffix }))).toMatchObject({ _tag: "ValidationError", field: "suffix", value: suffix })
    for (const key of ["/etc/hostname", "../up.txt", "a/../../b.txt", "a/./b", "a\\b.txt", "a\0b", "a\x1bb", "a//b", "dir/", "C:/x", "k".repeat(1025)])
      expect(await flip(Artifact.update(a, { key }))).toMatchObject({ _tag: "ValidationError", field: "key", value: key })
    for (const storage of ["file:///etc/../etc", "file://host/share", "/plain/path", "ftp://h/x", "s3://user:secret@bucket", "s3://bucket?X-Amz-Signature=abc", "s3://", "file:///a\nb"])
      expect(await flip(Artifact.update(a, { storage }))).toMatchObject({ _tag: "ValidationError", field: "storage" })
    const leaked = await flip(Artifact.update(a, { storage: "s3://user:secret@bucket" }))
    expect(leaked.message).not.toContain("secret")
    expect(JSON.stringify(leaked)).not.toContain("secret")
    expect((await exec(Artifact.get(a.id))).suffix).toBe(".txt")
  })

  it("refuses the same values on create, getOrCreate and createMany, and accepts lamindb's shapes", async () => {
    expect(await flip(Artifact.create({ suffix: "/../x", storage: null }))).toMatchObject({ _tag: "ValidationError", field: "suffix" })
    expect(await flip(Artifact.getOrCreate({ key: "../x.csv" }))).toMatchObject({ _tag: "ValidationError", field: "key" })
    expect(await flip(Artifact.createMany([{ key: "ok.csv" }, { key: "/abs.csv" }]))).toMatchObject({ _tag: "ValidationError", field: "key" })
    expect(await flip(Artifacts.fromBytes("x", { key: "../../x.csv" }))).toMatchObject({ _tag: "ValidationError", field: "key" })
    expect(await flip(Artifacts.fromPath(file("ok.csv", "x"), { key: "/etc/x.csv" }))).toMatchObject({ _tag: "ValidationError", field: "key" })
    expect(await allArtifacts()).toEqual([])
    expect(stored()).toEqual([])
    const fine = await exec(
      Artifact.create({ key: "data/raw/ß.ome.zarr", suffix: ".ome.zarr", storage: "s3://bucket/prefix" })
    )
    expect(fine.key).toBe("data/raw/ß.ome.zarr")
    for (const suffix of ["", ".csv", ".tar.gz", ".anndata.zarr"])
      expect((await exec(Artifact.update(fine, { suffix }))).suffix).toBe(suffix)
    for (const storage of ["gs://b", "hf://datasets/x", "https://example.org/data", pathToFileURL(root).href, null])
      expect((await exec(Artifact.update(fine, { storage }))).storage).toBe(storage)
  })

  it("derives no suffix from a file name whose extension is not one, instead of refusing the file", async () => {
    const a = await exec(Artifacts.fromPath(file("notes.v2 draft", "text"), { run: null }))
    expect(a.suffix).toBe("")
    const b = await exec(Artifacts.fromBytes("more", { key: "notes/summary.v2 draft", run: null }))
    expect(b.suffix).toBe("")
    expect(stored()).toEqual([a.uid, b.uid].sort())
  })

  it("load and cache refuse a record written past validation whose suffix leaves the root", async () => {
    writeFileSync(join(dir, "secret.txt"), "not yours")
    const a = await exec(Artifacts.fromBytes("innocent", { run: null }))
    const hostile = await rawPatch(a, { suffix: "/../../secret.txt", hash: md5("not yours"), size: 9 })
    expect(join(root, `${hostile.uid}${hostile.suffix}`)).toBe(join(dir, "secret.txt"))
    const e = await flip(Artifacts.load(hostile))
    expect(e).toMatchObject({ _tag: "ArtifactStorageError", reason: "OutsideRoot" })
    expect(e.message).toContain("/../../secret.txt")
    expect(await flip(Artifacts.cache(hostile))).toMatchObject({ _tag: "ArtifactStorageError", reason: "OutsideRoot" })
  })

  it("load refuses a raw record whose uid is path syntax or whose storage names another directory", async () => {
    writeFileSync(join(dir, "secret.txt"), "not yours")
    const a = await exec(Artifacts.fromBytes("innocent", { run: null }))
    const doc = { ...a, uid: "../secret", suffix: ".txt", hash: md5("not yours"), size: 9 }
    expect(await flip(Artifacts.load(doc as Records.Artifact))).toMatchObject({ _tag: "ArtifactStorageError", reason: "OutsideRoot" })
    mkdirSync(join(dir, "elsewhere"))
    writeFileSync(join(dir, "elsewhere", `${a.uid}`), "innocent")
    const moved = await rawPatch(a, { storage: pathToFileURL(join(dir, "elsewhere")).href })
    const e = await flip(Artifacts.load(moved))
    expect(e).toMatchObject({ _tag: "ArtifactStorageError", reason: "OutsideRoot" })
    expect(e.message).toContain(root)
  })

  it("an error about a raw record's storage shows no credentials or signed query it holds", async () => {
    const a = await exec(Artifacts.fromBytes("innocent", { run: null }))
    for (const storage of ["https://ada:Hunter2Secret@example.org/bucket", "s3://bucket/x?X-Amz-Signature=Hunter2Secret&X-Amz-Credential=AKIA"]) {
      const hostile = await rawPatch(a, { storage })
      for (const e of [await flip(Artifacts.load(hostile)), await flip(Artifacts.cache(hostile))]) {
        expect(e).toMatchObject({ _tag: "ArtifactStorageError", reason: "OutsideRoot" })
        expect(`${e.message} ${JSON.stringify(e)}`).not.toContain("Hunter2Secret")
      }
    }
  })

  it("load refuses a file in the root that is a symlink leading out of it", async () => {
    writeFileSync(join(dir, "secret.txt"), "not yours")
    const a = await exec(Artifacts.fromBytes("not yours", { suffix: ".txt", run: null }))
    const inRoot = join(root, `${a.uid}.txt`)
    rmSync(inRoot)
    symlinkSync(join(dir, "secret.txt"), inRoot)
    expect(await flip(Artifacts.load(a))).toMatchObject({ _tag: "ArtifactStorageError", reason: "OutsideRoot" })
    expect(await flip(Artifacts.cache(a))).toMatchObject({ _tag: "ArtifactStorageError", reason: "OutsideRoot" })
  })
})

describe("reading verifies the bytes", () => {
  it("refuses bytes that no longer match the recorded hash, and returns none of them", async () => {
    const a = await exec(Artifacts.fromBytes("original", { suffix: ".txt", run: null }))
    writeFileSync(join(root, `${a.uid}.txt`), "tampered")
    const e = await flip(Artifacts.load(a))
    expect(e).toMatchObject({ _tag: "ArtifactStorageError", reason: "HashMismatch" })
    expect(e.message).toContain(md5("original"))
    expect(e.message).toContain(md5("tampered"))
    writeFileSync(join(root, `${a.uid}.txt`), "longer than the original")
    expect(await flip(Artifacts.load(a))).toMatchObject({ _tag: "ArtifactStorageError", reason: "HashMismatch" })
  })

  it("refuses a record with no hash to check against", async () => {
    const a = await exec(Artifacts.fromBytes("unverifiable", { run: null }))
    const blank = await rawPatch(a, { hash: null })
    expect(await flip(Artifacts.load(blank))).toMatchObject({ _tag: "ArtifactStorageError", reason: "HashMismatch" })
  })
})

describe("the storage root", () => {
  it("creates the root 0700 and each file 0600 whatever the umask", async () => {
    const previous = process.umask(0o000)
    try {
      const a = await exec(Artifacts.fromBytes("private", { suffix: ".txt", run: null }))
      const source = file("shared.csv", "a,b\n")
      chmodSync(source, 0o644)
      const b = await exec(Artifacts.fromPath(source, { run: null }))
      expect(statSync(root).mode & 0o777).toBe(0o700)
      expect(statSync(join(root, `${a.uid}.txt`)).mode & 0o777).toBe(0o600)
      expect(statSync(join(root, `${b.uid}.csv`)).mode & 0o777).toBe(0o600)
    } finally {
      process.umask(previous)
    }
    process.umask(0o277)
    try {
      root = join(dir, "strict-umask")
      const c = await exec(Artifacts.fromBytes("strict", { run: null }))
      expect(statSync(root).mode & 0o777).toBe(0o700)
      expect(statSync(join(root, c.uid)).mode & 0o777).toBe(0o600)
    } finally {
      process.umask(previous)
    }
  })

  it("refuses a pre-planted root that is a symlink owned by someone else, for writing and for reading", async () => {
    const a = await exec(Artifacts.fromBytes("before", { run: null }))
    const { link: planted, target } = foreignSymlink()
    const before = readdirSync(target)
    const owner = lstatSync(planted).uid
    expect(owner).not.toBe(process.getuid!())
    root = planted
    const write = await flip(Artifacts.fromBytes("after", { run: null }))
    expect(write).toMatchObject({ _tag: "ArtifactStorageError", reason: "UnsafeRoot", path: planted })
    expect(write.message).toContain(`uid ${owner}`)
    expect(readdirSync(target)).toEqual(before)
    expect(await flip(Artifacts.load(a))).toMatchObject({ _tag: "ArtifactStorageError", reason: "UnsafeRoot" })
  })

  it.runIf(process.getuid?.() === 0)("refuses a root reached through someone else's symlink above it, and makes nothing through it", async () => {
    const target = join(dir, "attacker")
    const link = join(dir, "planted")
    mkdirSync(target)
    symlinkSync(target, link)
    lchownSync(link, 65534, 65534)
    root = join(link, "lineage", "storage")
    const write = await flip(Artifacts.fromBytes("through their link", { run: null }))
    expect(write).toMatchObject({ _tag: "ArtifactStorageError", reason: "UnsafeRoot", path: root })
    expect(write.message).toContain(`${link} on its path is a symlink owned by uid 65534`)
    expect(readdirSync(target)).toEqual([])
    mkdirSync(join(target, "lineage", "storage"), { recursive: true, mode: 0o700 })
    expect(await flip(Artifacts.fromBytes("through their link", { run: null }))).toMatchObject({ reason: "UnsafeRoot" })
    expect(readdirSync(join(target, "lineage", "storage"))).toEqual([])
  })

  it("defaults to a per-user data directory, never a shared temp path", () => {
    expect(defaultStorageRoot({ XDG_DATA_HOME: "/data/me" }, "/home/me")).toBe("/data/me/lineage/storage")
    expect(defaultStorageRoot({ XDG_DATA_HOME: "relative" }, "/home/me")).toBe("/home/me/.local/share/lineage/storage")
    expect(defaultStorageRoot({}, "/home/me")).toBe("/home/me/.local/share/lineage/storage")
    expect(defaultStorageRoot({}, "")).toBe(join(tmpdir(), `lineage-${process.getuid!()}`, "storage"))
  })

  it("judges a root by who owns the link and the directory", () => {
    const node = (uid: number, kind: "dir" | "link" | "file") => ({
      uid,
      isDirectory: () => kind === "dir",
      isSymbolicLink: () => kind === "link"
    })
    expect(rootProblem(node(1000, "dir"), node(1000, "dir"), 1000)).toBeUndefined()
    expect(rootProblem(node(1000, "link"), node(1000, "dir"), 1000)).toBeUndefined()
    expect(rootProblem(node(0, "dir"), node(0, "dir"), 1000)).toBeUndefined()
    expect(rootProblem(node(1001, "link"), node(1000, "dir"), 1000)).toMatch(/symlink owned by uid 1001/)
    expect(rootProblem(node(0, "link"), node(0, "dir"), 1000)).toMatch(/symlink owned by uid 0/)
    expect(rootProblem(node(1001, "dir"), node(1001, "dir"), 1000)).toMatch(/directory owned by uid 1001/)
    expect(rootProblem(node(1000, "link"), node(1001, "dir"), 1000)).toMatch(/directory owned by uid 1001/)
    expect(rootProblem(node(1000, "file"), node(1000, "file"), 1000)).toMatch(/not a directory/)
    expect(rootProblem(node(1001, "link"), node(1001, "dir"), undefined)).toBeUndefined()
  })

  it("follows a symlink root the user owns", async () => {
    const real = join(dir, "real-storage")
    mkdirSync(real, { mode: 0o700 })
    symlinkSync(real, join(dir, "link"))
    root = join(dir, "link")
    const a = await exec(Artifacts.fromBytes("through my link", { run: null }))
    expect(readdirSync(real)).toEqual([a.uid])
    expect(new TextDecoder().decode(await exec(Artifacts.load(a)))).toBe("through my link")
  })
})

describe("permanent delete", () => {
  it("removes the bytes with the record; the trash keeps them", async () => {
    const a = await exec(Artifacts.fromBytes("deleted for good", { suffix: ".txt", run: null }))
    const keep = await exec(Artifacts.fromBytes("kept", { suffix: ".txt", run: null }))
    await exec(Artifact.delete(a))
    expect(stored()).toEqual([`${a.uid}.txt`, `${keep.uid}.txt`].sort())
    await exec(Artifact.delete(a, { permanent: true }))
    expect(stored()).toEqual([`${keep.uid}.txt`])
    await exec(Artifact.filter({ id: keep.id }).delete({ permanent: true }))
    expect(stored()).toEqual([])
  })

  it("leaves bytes a record names outside this client's root, or by a path it must not follow", async () => {
    writeFileSync(join(dir, "secret.txt"), "not yours")
    const a = await exec(Artifacts.fromBytes("x", { run: null }))
    const hostile = await rawPatch(a, { suffix: "/../../secret.txt" })
    await exec(Artifact.delete(hostile, { permanent: true }))
    expect(readFileSync(join(dir, "secret.txt"), "utf8")).toBe("not yours")
    const other = join(dir, "other")
    const b = await exec(Artifacts.fromBytes("y", { run: null }))
    mkdirSync(other)
    writeFileSync(join(other, b.uid), "y")
    const elsewhere = await rawPatch(b, { storage: pathToFileURL(other).href })
    await exec(Artifact.delete(elsewhere, { permanent: true }))
    expect(readdirSync(other)).toEqual([b.uid])
  })
})

describe("a key's suffix", () => {
  const refusal = async (effect: Effect.Effect<unknown, unknown, Store>) => {
    const e = await flip(effect)
    expect(e).toMatchObject({ _tag: "ValidationError", field: "key" })
    return (e as { readonly message: string }).message
  }

  it("must be the file's: another suffix, none, or part of a compound one is refused, naming the expected one", async () => {
    expect(await refusal(Artifacts.fromPath(file("table.csv", "a,b"), { key: "table.txt" }))).toContain(
      `got "table.txt", expected a key with the suffix ".csv", like the file: the suffix ".txt" of the provided key is incorrect, it should be ".csv"`
    )
    expect(await refusal(Artifacts.fromPath(file("table.csv", "a,b"), { key: "tables/table" }))).toContain(
      `the suffix "" of the provided key is incorrect, it should be ".csv"`
    )
    expect(await refusal(Artifacts.fromPath(file("README", "hi"), { key: "readme.md" }))).toContain(
      `expected a key without a suffix, like the file: the suffix ".md" of the provided key is incorrect, it should be ""`
    )
    expect(await refusal(Artifacts.fromPath(file("counts.tar.gz", "x"), { key: "counts.gz" }))).toContain(`it should be ".tar.gz"`)
    expect(await refusal(Artifacts.fromPath(file("counts.gz", "y"), { key: "counts.tar.gz" }))).toContain(`it should be ".gz"`)
    expect(await allArtifacts()).toEqual([])
    expect(stored()).toEqual([])
  })

  it("is compared ignoring case, and the file keeps its own", async () => {
    const a = await exec(Artifacts.fromPath(file("SCAN.CSV", "1,2"), { key: "scans/scan.csv", run: null }))
    expect([a.key, a.suffix]).toEqual(["scans/scan.csv", ".CSV"])
    const b = await exec(Artifacts.fromPath(file("raw", "no suffix"), { key: "data/raw", run: null }))
    expect([b.key, b.suffix]).toEqual(["data/raw", ""])
  })

  it("must be the suffix option's when both are given to fromBytes; either alone decides", async () => {
    expect(await refusal(Artifacts.fromBytes("a,b", { key: "table.txt", suffix: ".csv" }))).toContain(
      `expected a key with the suffix ".csv", like the \`suffix\` option: the suffix ".txt" of the provided key is incorrect`
    )
    expect(await refusal(Artifacts.fromBytes("a,b", { key: "table.csv", suffix: "" }))).toContain("a key without a suffix")
    expect(await allArtifacts()).toEqual([])
    expect(stored()).toEqual([])
    expect((await exec(Artifacts.fromBytes("1", { key: "t.CSV", suffix: ".csv", run: null }))).suffix).toBe(".csv")
    expect((await exec(Artifacts.fromBytes("2", { key: "t2.csv", run: null }))).suffix).toBe(".csv")
    expect((await exec(Artifacts.fromBytes("3", { suffix: ".parquet", run: null }))).suffix).toBe(".parquet")
  })

  it("a suffix option that is no string is a ValidationError naming suffix, with or without a key", async () => {
    for (const options of [{ key: "a.txt", suffix: 5 }, { suffix: 5 }, { key: "a.txt", suffix: { toLowerCase: () => ".txt" } }]) {
      const e = await flip(Artifacts.fromBytes("x", { ...options, run: null } as unknown as Artifacts.BytesOptions))
      expect(e).toMatchObject({ _tag: "ValidationError", field: "suffix" })
    }
    expect(await allArtifacts()).toEqual([])
    expect(stored()).toEqual([])
  })
})
