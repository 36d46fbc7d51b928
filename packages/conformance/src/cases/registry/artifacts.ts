/**
 * Artifacts through the store: the same bytes are one live artifact (also under racing writers, which the
 * `artifact_hash` constraint decides); a run that registers bytes is their producer or recreating run; a run
 * that loads an artifact is its input, once, and never for what it made; bad input writes nothing. A record
 * another client wrote straight into the store cannot make `load` read outside the storage root, tampered
 * bytes are refused, and a permanent delete removes the bytes.
 */
import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { Artifact, Artifacts, Current, type Records, type Driver, Run, type Store, Transform } from "@lineage/core"
import { Effect } from "effect"
import type { Case } from "../../Case.js"
import { registryCase, type Session } from "./support.js"

/** A session whose effects also see a storage root of their own, removed after the case. */
export interface StorageSession extends Session {
  readonly storage: string
  /** File names under the storage root. */
  readonly stored: () => Promise<ReadonlyArray<string>>
  /** A scratch directory for source files, outside the storage root. */
  readonly scratch: string
}

const provideStorage =
  (storage: string) =>
  <A, E>(effect: Effect.Effect<A, E, Store.Store>): Effect.Effect<A, E, Store.Store> =>
    Effect.provideService(effect, Artifacts.ArtifactStorage, storage)

export const storageCase = (group: string, name: string, body: (s: StorageSession) => Promise<void>): Case =>
  registryCase(group, name, async (s) => {
    const dir = await mkdtemp(join(tmpdir(), "lineage-conformance-"))
    const storage = join(dir, "storage")
    const scratch = join(dir, "scratch")
    const within = provideStorage(storage)
    await mkdir(scratch)
    try {
      await body({
        ...s,
        run: (effect) => s.run(within(effect)),
        fail: (effect, tag) => s.fail(within(effect), tag),
        storage,
        scratch,
        stored: async () => (await readdir(storage).catch(() => [])).sort()
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

export const newTrackedRun = async (s: Session, key = "script.ts", input: { readonly [k: string]: unknown } = {}) => {
  const transform = await s.run(Transform.getOrCreate({ key }))
  return s.run(Run.create({ transformId: transform.id, ...input }))
}

/** Registers bytes as an output of `run` (or of no run). */
export const produce = (s: Session, run: Records.Run | null, bytes: string, key?: string) =>
  s.run(run === null ? Artifacts.fromBytes(bytes, { key, run: null }) : Current.withRun(run)(Artifacts.fromBytes(bytes, { key })))

/** Loads an artifact as an input of `run`. */
export const consume = (s: Session, run: Records.Run, artifact: Records.Artifact) => s.run(Current.withRun(run)(Artifacts.load(artifact)))

const group = "artifacts"
const c = (name: string, body: (s: StorageSession) => Promise<void>): Case => storageCase(group, name, body)

const md5 = (bytes: string | Uint8Array) => createHash("md5").update(bytes).digest("base64url").slice(0, 22)

/** Writes fields of a record as another client could: through the raw driver, past every check of core's. */
const rawPatch = async (s: StorageSession, a: Records.Artifact, patch: Driver.Doc) => {
  await Effect.runPromise(s.ctx.driver.update("artifact", a.id, patch))
  return s.run(Artifact.get(a.id))
}

export const artifacts: ReadonlyArray<Case> = [
  c("a registered file has lamindb's hash, its size and suffix, and its bytes under <root>/<uid><suffix>", async (s) => {
    const bytes = "gene,count\nTP53,7\n"
    const source = join(s.scratch, "counts.tar.gz")
    await writeFile(source, bytes)
    const a = await s.run(Artifacts.fromPath(source, { key: "counts.tar.gz", run: null }))
    const doc = await s.persisted("artifact", a.id)
    assert.equal(doc?.["hash"], md5(bytes))
    assert.equal(doc?.["size"], Buffer.byteLength(bytes))
    assert.equal(doc?.["suffix"], ".tar.gz")
    assert.equal(doc?.["storage"], pathToFileURL(s.storage).href)
    assert.deepStrictEqual(await s.stored(), [`${a.uid}.tar.gz`])
    assert.equal(await readFile(join(s.storage, `${a.uid}.tar.gz`), "utf8"), bytes)
    assert.equal(new TextDecoder().decode(await s.run(Artifacts.load(a))), bytes)
  }),
  c("the same bytes registered in a second run are the same artifact, recreated by that run", async (s) => {
    const first = await newTrackedRun(s)
    const second = await newTrackedRun(s)
    const a = await produce(s, first, "same bytes", "a.txt")
    const again = await produce(s, second, "same bytes", "b.txt")
    assert.equal(again.id, a.id)
    assert.equal((await s.persisted("artifact", a.id))?.["runId"], first.id)
    const links = await s.persistedAll("run_recreated_artifact")
    assert.deepStrictEqual(links.map((l) => [l["runId"], l["artifactId"]]), [[second.id, a.id]])
    assert.equal((await s.persistedAll("artifact")).length, 1)
    await produce(s, second, "same bytes")
    await produce(s, first, "same bytes")
    assert.equal((await s.persistedAll("run_recreated_artifact")).length, 1, "recorded once, never for the producer")
  }),
  c("an artifact registered in a run is its output; loaded in another run, that run's input", async (s) => {
    const maker = await newTrackedRun(s, "make.ts")
    const reader = await newTrackedRun(s, "read.ts")
    const a = await produce(s, maker, "made here")
    await consume(s, reader, a)
    assert.deepStrictEqual((await s.run(Artifacts.outputs(maker))).map((x) => x.id), [a.id])
    assert.deepStrictEqual((await s.run(Artifacts.inputs(reader))).map((x) => x.id), [a.id])
    assert.deepStrictEqual((await s.run(Artifacts.consumers(a))).map((r) => r.id), [reader.id])
    assert.equal((await s.run(Artifacts.producer(a)))?.id, maker.id)
    const links = await s.persistedAll("run_input_artifact")
    assert.deepStrictEqual(links.map((l) => [l["runId"], l["artifactId"]]), [[reader.id, a.id]])
  }),
  c("an artifact is never input and output of the same run", async (s) => {
    const maker = await newTrackedRun(s)
    const remaker = await newTrackedRun(s)
    const reader = await newTrackedRun(s)
    const a = await produce(s, maker, "mine")
    await produce(s, remaker, "mine")
    await consume(s, maker, a)
    await s.run(Current.withRun(remaker)(Artifacts.cache(a)))
    assert.equal((await s.persistedAll("run_input_artifact")).length, 0)
    await consume(s, reader, a)
    await produce(s, reader, "mine")
    assert.deepStrictEqual(
      (await s.persistedAll("run_recreated_artifact")).map((l) => l["runId"]),
      [remaker.id],
      "a run that read the bytes did not recreate them"
    )
  }),
  c("racing registrations of the same bytes end with one artifact and one stored file", async (s) => {
    const runs = [await newTrackedRun(s), await newTrackedRun(s)]
    const all = Array.from({ length: 8 }, (_, i) => Current.withRun(runs[i % 2]!)(Artifacts.fromBytes("race", { key: `race-${i}.txt` })))
    const results = await s.run(Effect.all(all, { concurrency: "unbounded" }))
    assert.equal(new Set(results.map((a) => a.id)).size, 1)
    assert.equal((await s.persistedAll("artifact")).length, 1)
    assert.deepStrictEqual(await s.stored(), [`${results[0]!.uid}.txt`])
    assert.equal((await s.persistedAll("run_recreated_artifact")).length, 1)
  }),
  c("racing and repeated loads in one run record a single input link", async (s) => {
    const r = await newTrackedRun(s)
    const a = await produce(s, null, "read often")
    await s.run(Current.withRun(r)(Effect.all(Array.from({ length: 6 }, () => Artifacts.load(a)), { concurrency: "unbounded" })))
    await consume(s, r, a)
    assert.equal((await s.persistedAll("run_input_artifact")).length, 1)
  }),
  c("loads without a current run, or with isRunInput: false, record no input", async (s) => {
    const r = await newTrackedRun(s)
    const a = await produce(s, null, "untracked")
    await s.run(Artifacts.load(a))
    await s.run(Current.withRun(r)(Artifacts.load(a, { isRunInput: false })))
    assert.equal((await s.persistedAll("run_input_artifact")).length, 0)
  }),
  c("a missing path is a ValidationError naming it, and nothing is written", async (s) => {
    const missing = join(s.scratch, "absent.csv")
    const e = await s.fail(Artifacts.fromPath(missing), "ValidationError")
    assert.equal(e.field, "path")
    assert.equal(e.value, missing)
    const k = await s.fail(Artifacts.fromBytes("x", { key: "" }), "ValidationError")
    assert.equal(k.field, "key")
    assert.equal((await s.persistedAll("artifact")).length, 0)
    assert.deepStrictEqual(await s.stored(), [])
  }),
  c("registering the bytes of a trashed artifact makes a new artifact with its own file; the trashed one stays", async (s) => {
    const a = await produce(s, null, "trash me")
    await s.run(Artifact.delete(a))
    const fresh = await produce(s, null, "trash me")
    assert.notEqual(fresh.id, a.id)
    assert.notEqual(fresh.uid, a.uid)
    assert.equal(fresh.branchId, 1)
    assert.equal(fresh.hash, a.hash)
    assert.equal((await s.persisted("artifact", a.id))?.["branchId"], -1)
    assert.deepStrictEqual(await s.stored(), [`${a.uid}`, `${fresh.uid}`].sort())
    assert.equal((await produce(s, null, "trash me")).id, fresh.id, "the same bytes are one live artifact")
    await s.run(Artifact.delete(a, { permanent: true }))
    assert.deepStrictEqual(await s.stored(), [`${fresh.uid}`], "a permanent delete removes its own record's file only")
    assert.equal(new TextDecoder().decode(await s.run(Artifacts.load(fresh, { isRunInput: false }))), "trash me")
  }),
  c("Artifact.update refuses a suffix, key or storage that is path syntax; the record keeps its values", async (s) => {
    const a = await produce(s, null, "guarded")
    const suffix = await s.fail(Artifact.update(a, { suffix: "/../../../etc/hostname" }), "ValidationError")
    assert.equal(suffix.field, "suffix")
    assert.equal((await s.fail(Artifact.update(a, { key: "../../up.csv" }), "ValidationError")).field, "key")
    assert.equal((await s.fail(Artifact.update(a, { storage: "file:///etc/../etc" }), "ValidationError")).field, "storage")
    assert.equal((await s.fail(Artifact.create({ suffix: "/x", key: "k.csv" }), "ValidationError")).field, "suffix")
    const doc = await s.persisted("artifact", a.id)
    assert.equal(doc?.["suffix"], "")
    assert.equal(doc?.["storage"], pathToFileURL(s.storage).href)
    assert.equal((await s.persistedAll("artifact")).length, 1)
  }),
  c("load refuses a record written straight into the store whose suffix, uid or storage leads out of the root", async (s) => {
    const secret = join(s.scratch, "secret.txt")
    await writeFile(secret, "not yours")
    const a = await produce(s, null, "innocent")
    // <root>/<uid>/../../scratch/secret.txt is the secret: the storage root and scratch are siblings.
    const bySuffix = await rawPatch(s, a, { suffix: "/../../scratch/secret.txt", hash: md5("not yours"), size: 9 })
    assert.equal(join(s.storage, `${bySuffix.uid}${bySuffix.suffix}`), secret)
    const e = await s.fail(Artifacts.load(bySuffix), "ArtifactStorageError")
    assert.equal(e.reason, "OutsideRoot")
    assert.equal((await s.fail(Artifacts.cache(bySuffix), "ArtifactStorageError")).reason, "OutsideRoot")
    await writeFile(join(s.scratch, a.uid), "not yours")
    const byStorage = await rawPatch(s, a, { suffix: "", storage: pathToFileURL(s.scratch).href })
    assert.equal((await s.fail(Artifacts.load(byStorage), "ArtifactStorageError")).reason, "OutsideRoot")
    const link = await rawPatch(s, a, { storage: pathToFileURL(s.storage).href })
    await rm(join(s.storage, a.uid))
    await symlink(join(s.scratch, a.uid), join(s.storage, a.uid))
    assert.equal((await s.fail(Artifacts.load(link), "ArtifactStorageError")).reason, "OutsideRoot")
  }),
  c("load refuses bytes that no longer have the recorded hash", async (s) => {
    const a = await produce(s, null, "original")
    await writeFile(join(s.storage, a.uid), "tampered")
    const e = await s.fail(Artifacts.load(a), "ArtifactStorageError")
    assert.equal(e.reason, "HashMismatch")
    assert.match(e.message, new RegExp(md5("tampered")))
    assert.equal((await s.persistedAll("run_input_artifact")).length, 0)
  }),
  c("a permanent delete removes the artifact's bytes; the trash keeps them", async (s) => {
    const a = await produce(s, null, "short-lived", "gone.txt")
    const kept = await produce(s, null, "long-lived", "kept.txt")
    await s.run(Artifact.delete(a))
    assert.deepStrictEqual(await s.stored(), [`${a.uid}.txt`, `${kept.uid}.txt`].sort())
    await s.run(Artifact.delete(a, { permanent: true }))
    assert.deepStrictEqual(await s.stored(), [`${kept.uid}.txt`])
  }),
  c("new bytes under an existing key are the key's next version", async (s) => {
    const v1 = await produce(s, null, "first", "model.bin")
    const v2 = await produce(s, null, "second", "model.bin")
    assert.equal(v2.uid.slice(0, 16), v1.uid.slice(0, 16))
    assert.equal((await s.persisted("artifact", v1.id))?.["isLatest"], false)
    assert.equal((await s.persisted("artifact", v2.id))?.["isLatest"], true)
  }),
  c("a key whose suffix is not the file's is a ValidationError naming both, and nothing is written", async (s) => {
    const source = join(s.scratch, "counts.csv")
    await writeFile(source, "gene,count\n")
    const e = await s.fail(Artifacts.fromPath(source, { key: "counts.txt" }), "ValidationError")
    assert.equal(e.field, "key")
    assert.equal(e.value, "counts.txt")
    assert.match(e.message, /the suffix "\.txt" of the provided key is incorrect, it should be "\.csv"/)
    await s.fail(Artifacts.fromBytes("gene,count\n", { key: "counts.txt", suffix: ".csv" }), "ValidationError")
    assert.equal((await s.persistedAll("artifact")).length, 0)
    assert.deepStrictEqual(await s.stored(), [])
    const a = await s.run(Artifacts.fromPath(source, { key: "counts.csv", run: null }))
    assert.equal((await s.persisted("artifact", a.id))?.["key"], "counts.csv")
  }),
  c("a trashed artifact whose bytes a live artifact took cannot be restored: UniqueViolation on hash", async (s) => {
    const a = await produce(s, null, "contested")
    await s.run(Artifact.delete(a))
    const live = await produce(s, null, "contested")
    const e = await s.fail(Artifact.restore(a), "UniqueViolation")
    assert.equal(e.constraint, "artifact_hash")
    assert.deepStrictEqual(e.fields, ["hash"])
    assert.equal((await s.persisted("artifact", a.id))?.["branchId"], -1)
    await s.run(Artifact.delete(live))
    assert.equal((await s.run(Artifact.restore(a))).branchId, 1, "once the live one is trashed, it comes back")
  })
]
