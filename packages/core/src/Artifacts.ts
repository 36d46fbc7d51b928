/**
 * Artifacts as lamindb registers them: bytes hashed (md5 → base64url, 22 characters), copied into
 * auto-managed storage as `<root>/<uid><suffix>`, and linked into lineage. An artifact registered while a run
 * is current is that run's output; one loaded while a run is current is its input; the same bytes are one
 * artifact, and registering them again in another run records that run as recreating it.
 */
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Context, Data, Effect } from "effect"
import * as Ast from "./Ast.js"
import { currentRun } from "./Current.js"
import * as Domain from "./Domain.js"
import { type DoesNotExist, type InvalidQuery, StoreError, UniqueViolation, ValidationError } from "./Errors.js"
import { mainBranch, trashBranch } from "./Model.js"
import { Artifact as ArtifactRegistry } from "./Registries.js"
import { entity, Store } from "./Store.js"
import * as Uid from "./Uid.js"

type Artifact = Domain.Artifact
type Run = Domain.Run

/** The storage root: registered bytes are copied under it. Defaults to `$LINEAGE_STORAGE`, else a temp dir. */
export const ArtifactStorage = Context.Reference<string>("@lineage/ArtifactStorage", {
  defaultValue: () => process.env["LINEAGE_STORAGE"] ?? path.join(os.tmpdir(), "lineage-storage")
})

/** Reading, copying or finding an artifact's bytes failed on the file system. */
export class ArtifactStorageError extends Data.TaggedError("ArtifactStorageError")<{
  readonly path: string
  readonly operation: string
  readonly cause?: unknown
}> {
  override get message(): string {
    const why = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    return `Could not ${this.operation} ${this.path}${why}`
  }
}

export interface RegisterOptions {
  readonly key?: string | undefined
  readonly description?: string | undefined
  readonly kind?: string | undefined
  /** The producing run; `null` records none (environment and report artifacts). Defaults to the current run. */
  readonly run?: Run | null | undefined
}

export interface BytesOptions extends RegisterOptions {
  /** `.csv`, `.tar.gz`, …; defaults to the key's suffix, else none. */
  readonly suffix?: string | undefined
}

export interface LoadOptions {
  /** `false` records no input; a run records the input on that run instead of the current one. */
  readonly isRunInput?: boolean | Run | undefined
}

export type RegisterError = ValidationError | UniqueViolation | StoreError | InvalidQuery | DoesNotExist | ArtifactStorageError
export type ReadError = ValidationError | UniqueViolation | StoreError | ArtifactStorageError

const artifactEntity = entity(Domain.ArtifactModel, Domain.Artifact)
const runEntity = entity(Domain.RunModel, Domain.Run)
const inputLinkEntity = entity(Domain.RunInputArtifactModel, Domain.RunInputArtifact)
const recreatedLinkEntity = entity(Domain.RunRecreatedArtifactModel, Domain.RunRecreatedArtifact)
type LinkEntity = typeof inputLinkEntity | typeof recreatedLinkEntity

// ---------------------------------------------------------------------------------------------------------
// Hash, size, suffix

/** lamindb-setup's `HASH_LENGTH`: md5 in base64url is exactly this long once its padding is stripped. */
const hashLength = 22

const encodeDigest = (digest: Buffer): string => digest.toString("base64url").slice(0, hashLength)

export const hashBytes = (bytes: Uint8Array): string => encodeDigest(createHash("md5").update(bytes).digest())

/**
 * Streams the file through md5, so large files never sit in memory. lamindb switches to a sha1 of the first
 * and last 50 MB above that size, which makes files differing only in the middle one artifact; we hash it all.
 */
const hashFile = (file: string): Effect.Effect<{ readonly hash: string; readonly size: number }, ArtifactStorageError> =>
  Effect.tryPromise({
    try: async () => {
      const md5 = createHash("md5")
      let size = 0
      for await (const chunk of createReadStream(file)) {
        const buffer = chunk as Buffer
        md5.update(buffer)
        size += buffer.length
      }
      return { hash: encodeDigest(md5.digest()), size }
    },
    catch: (cause) => new ArtifactStorageError({ path: file, operation: "read", cause })
  })

/** Suffixes that are one format despite their inner dot (lamindb's `KNOWN_SUFFIXES` with more than one dot). */
const compoundSuffixes = [
  ".anndata.zarr",
  ".spatialdata.zarr",
  ".ome.zarr",
  ".ome.tiff",
  ".ome.tif",
  ".vitessce.json",
  ".tar.gz",
  ".tar.bz2",
  ".tar.xz",
  ".tar.zst",
  ".fastq.gz",
  ".fq.gz",
  ".vcf.gz",
  ".bed.gz",
  ".gtf.gz",
  ".gff.gz",
  ".fa.gz",
  ".fasta.gz",
  ".csv.gz",
  ".tsv.gz",
  ".txt.gz",
  ".json.gz",
  ".nii.gz"
]

/** A file name's suffix: a known compound one whole, else the last extension; digits alone are none (lamindb). */
export const suffixOf = (name: string): string => {
  const base = path.basename(name)
  const lower = base.toLowerCase()
  const compound = compoundSuffixes.find((s) => lower.endsWith(s) && lower.length > s.length)
  if (compound !== undefined) return base.slice(base.length - compound.length)
  const ext = path.extname(base)
  return /^\.\d+$/.test(ext) ? "" : ext
}

/** A suffix becomes part of a storage file name, so it may not carry separators or other path syntax. */
const validSuffix = /^(\.[A-Za-z0-9_+-]+)*$/

// ---------------------------------------------------------------------------------------------------------
// Storage

const rootPath = Effect.gen(function* () {
  return path.resolve(yield* ArtifactStorage)
})

/** Where an artifact's bytes live, from its `storage` URL (`file://<root>`), uid and suffix. */
export const localPath = (artifact: Artifact): Effect.Effect<string, ArtifactStorageError> =>
  Effect.suspend(() => {
    const storage = artifact.storage
    if (storage === null || !storage.startsWith("file://"))
      return Effect.fail(
        new ArtifactStorageError({ path: String(storage), operation: `find the bytes of artifact ${artifact.uid} (not in local storage) at` })
      )
    return Effect.succeed(path.join(fileURLToPath(storage), `${artifact.uid}${artifact.suffix}`))
  })

const fsEffect = <A>(file: string, operation: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => new ArtifactStorageError({ path: file, operation, cause }) })

/** Best-effort cleanup: a file that is already gone is what we wanted. */
const removeQuietly = (file: string) => Effect.ignore(fsEffect(file, "remove", () => fs.rm(file, { force: true })))

/** Bytes to register: their hash and size, and how to write them to a file. */
interface Content {
  readonly hash: string
  readonly size: number
  readonly suffix: string
  readonly write: (target: string) => Effect.Effect<void, ArtifactStorageError>
}

/**
 * Writes the bytes to a staging file under the root, unique per call so racing registrations never share
 * one; a failed write leaves nothing behind.
 */
const stage = (root: string, content: Content) =>
  Effect.gen(function* () {
    yield* fsEffect(root, "create the storage directory", () => fs.mkdir(root, { recursive: true }))
    const staging = path.join(root, `.staging-${Uid.random(20)}${content.suffix}`)
    yield* content.write(staging).pipe(Effect.tapError(() => removeQuietly(staging)))
    return staging
  })

// ---------------------------------------------------------------------------------------------------------
// Links

const linkExists = (link: LinkEntity, runId: number, artifactId: number) =>
  Store.use((store) =>
    Effect.map(
      store.count(link.model, Ast.and([Ast.field(["runId"], "eq", runId), Ast.field(["artifactId"], "eq", artifactId)])),
      (n) => n > 0
    )
  )

/** Inserts a link row; the pair is unique, so a racing or repeated insert of the same pair is a no-op. */
const addLink = (link: LinkEntity, runId: number, artifactId: number) =>
  Store.use((store) =>
    store.insert(link, [{ runId, artifactId }]).pipe(
      Effect.asVoid,
      Effect.catchIf(
        (e): e is UniqueViolation => e instanceof UniqueViolation && e.constraint === `${link.model.table}_pair`,
        () => Effect.void
      )
    )
  )

const reloadArtifact = (artifact: Artifact) =>
  Store.use((store) =>
    Effect.flatMap(store.get(artifactEntity, [artifact.id]), ([fresh]) =>
      fresh === undefined ? Effect.fail(StoreError.notFound(artifactEntity.model.table, artifact.id)) : Effect.succeed(fresh)
    )
  )

const isConflict = (e: unknown): e is StoreError => e instanceof StoreError && e.reason._tag === "Conflict"

/**
 * lamindb's `populate_recreating_run`: an existing artifact registered again in `run` gets it as producer
 * if it has none, else as a recreating run. A run that read the artifact did not make it, so it becomes
 * neither (an artifact is never both input and output of one run).
 */
const recordProducer = (artifact: Artifact, run: Run | undefined): Effect.Effect<Artifact, ValidationError | UniqueViolation | StoreError, Store> =>
  Effect.gen(function* () {
    if (run === undefined || artifact.runId === run.id) return artifact
    if (yield* linkExists(inputLinkEntity, run.id, artifact.id)) return artifact
    if (artifact.runId === null) {
      const store = yield* Store
      // Compare-and-set: of two runs claiming an orphan at once, one produces it and the other recreates it.
      const claimed = yield* store
        .update(artifactEntity, artifact, { runId: run.id }, { runId: null })
        .pipe(Effect.catchIf(isConflict, () => Effect.succeed(undefined)))
      if (claimed !== undefined) return claimed
      return yield* recordProducer(yield* reloadArtifact(artifact), run)
    }
    yield* addLink(recreatedLinkEntity, run.id, artifact.id)
    return artifact
  })

// ---------------------------------------------------------------------------------------------------------
// Registration

/** The artifact holding these bytes, trash included (the hash is unique across branches). */
const byHash = (hash: string) =>
  Store.use((store) => Effect.map(store.find(artifactEntity, Ast.field(["hash"], "eq", hash), { limit: 1 }), (rows) => rows[0]))

/** Same bytes, same artifact: a trashed one comes back, and the run is recorded as its producer or recreator. */
const adopt = (existing: Artifact, run: Run | undefined) =>
  Effect.gen(function* () {
    const live = existing.branchId === trashBranch ? yield* ArtifactRegistry.restore(existing) : existing
    return yield* recordProducer(live, run)
  })

const isHashViolation = (e: unknown): e is UniqueViolation => e instanceof UniqueViolation && e.constraint === "artifact_hash"

/**
 * Copies the bytes into storage, then inserts the record (a new version if the key exists), then gives the
 * staged file its final name `<uid><suffix>`, which is only known once the record has its uid. A failed
 * insert removes the staged file; a failed rename removes the record again, so nothing is half-written.
 */
const createNew = (content: Content, fields: { readonly [k: string]: unknown }) =>
  Effect.gen(function* () {
    const root = yield* rootPath
    const staging = yield* stage(root, content)
    const created = yield* ArtifactRegistry.create({
      ...fields,
      hash: content.hash,
      size: content.size,
      suffix: content.suffix,
      storage: pathToFileURL(root).href
    }).pipe(Effect.tapError(() => removeQuietly(staging)))
    const target = path.join(root, `${created.uid}${created.suffix}`)
    yield* fsEffect(target, "move staged bytes to", () => fs.rename(staging, target)).pipe(
      Effect.tapError(() =>
        Effect.andThen(removeQuietly(staging), Effect.ignore(ArtifactRegistry.delete(created, { permanent: true })))
      )
    )
    return created
  })

const resolveRun = (run: Run | null | undefined): Effect.Effect<Run | undefined> =>
  run === null ? Effect.succeed(undefined) : run !== undefined ? Effect.succeed(run) : currentRun

const validateOptions = (options: RegisterOptions): ValidationError | undefined => {
  if (options.key !== undefined && options.key.trim().length === 0)
    return new ValidationError({ registry: "Artifact", field: "key", value: options.key, expected: "a non-empty key, or no key" })
  return undefined
}

const register = (content: Content, options: RegisterOptions): Effect.Effect<Artifact, RegisterError, Store> =>
  Effect.gen(function* () {
    const invalid = validateOptions(options)
    if (invalid !== undefined) return yield* invalid
    const run = yield* resolveRun(options.run)
    const existing = yield* byHash(content.hash)
    if (existing !== undefined) return yield* adopt(existing, run)
    const fields = {
      key: options.key ?? null,
      description: options.description ?? null,
      kind: options.kind ?? null,
      runId: run?.id ?? null
    }
    // Racing registrations of the same bytes: the loser returns the winner's artifact.
    return yield* createNew(content, fields).pipe(
      Effect.catchIf(isHashViolation, (violation) =>
        Effect.flatMap(byHash(content.hash), (winner) => (winner === undefined ? Effect.fail(violation) : adopt(winner, run)))
      )
    )
  })

/** Only regular files can be registered; a missing path or a directory is refused before anything is written. */
const statFile = (file: string) =>
  Effect.gen(function* () {
    const stat = yield* Effect.promise(() => fs.stat(file).catch(() => undefined))
    if (stat === undefined)
      return yield* new ValidationError({ registry: "Artifact", field: "path", value: file, expected: "the path of an existing file" })
    if (!stat.isFile())
      return yield* new ValidationError({
        registry: "Artifact",
        field: "path",
        value: file,
        expected: `the path of a file (it is a ${stat.isDirectory() ? "directory" : "special file"})`
      })
  })

/** Registers the file at `file`: hash, size and suffix from it, bytes copied into storage. */
export const fromPath = (file: string, options: RegisterOptions = {}): Effect.Effect<Artifact, RegisterError, Store> =>
  Effect.gen(function* () {
    const absolute = path.resolve(file)
    yield* statFile(absolute)
    const { hash, size } = yield* hashFile(absolute)
    const content: Content = {
      hash,
      size,
      suffix: suffixOf(absolute),
      write: (target) => fsEffect(absolute, "copy", () => fs.copyFile(absolute, target))
    }
    return yield* register(content, options)
  })

/** Registers in-memory bytes (a string is taken as UTF-8). */
export const fromBytes = (bytes: Uint8Array | string, options: BytesOptions = {}): Effect.Effect<Artifact, RegisterError, Store> =>
  Effect.gen(function* () {
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes
    const suffix = options.suffix ?? (options.key === undefined ? "" : suffixOf(options.key))
    if (!validSuffix.test(suffix))
      return yield* new ValidationError({ registry: "Artifact", field: "suffix", value: suffix, expected: 'a file suffix such as ".csv" or ".tar.gz", or ""' })
    const content: Content = {
      hash: hashBytes(data),
      size: data.byteLength,
      suffix,
      write: (target) => fsEffect(target, "write", () => fs.writeFile(target, data, { flag: "wx" }))
    }
    return yield* register(content, options)
  })

// ---------------------------------------------------------------------------------------------------------
// Reading

/**
 * lamindb's `track_run_inputs`: the artifact becomes an input of the run, unless that run produced or
 * recreated it. No run, no link.
 */
const trackInput = (artifact: Artifact, isRunInput: LoadOptions["isRunInput"]) =>
  Effect.gen(function* () {
    if (isRunInput === false) return
    const run = typeof isRunInput === "object" ? isRunInput : yield* currentRun
    if (run === undefined) return
    // The record in hand may predate the run claiming it as producer: ask the store.
    const fresh = yield* reloadArtifact(artifact)
    if (fresh.runId === run.id) return
    if (yield* linkExists(recreatedLinkEntity, run.id, artifact.id)) return
    yield* addLink(inputLinkEntity, run.id, artifact.id)
  })

/** The artifact's bytes; records it as an input of the current run. */
export const load = (artifact: Artifact, options: LoadOptions = {}): Effect.Effect<Uint8Array, ReadError, Store> =>
  Effect.gen(function* () {
    const file = yield* localPath(artifact)
    const bytes = yield* fsEffect(file, "read", () => fs.readFile(file))
    yield* trackInput(artifact, options.isRunInput)
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  })

/** A local path holding the artifact's bytes; records it as an input of the current run. */
export const cache = (artifact: Artifact, options: LoadOptions = {}): Effect.Effect<string, ReadError, Store> =>
  Effect.gen(function* () {
    const file = yield* localPath(artifact)
    yield* fsEffect(file, "find", () => fs.access(file, fs.constants.R_OK))
    yield* trackInput(artifact, options.isRunInput)
    return file
  })

// ---------------------------------------------------------------------------------------------------------
// Lineage of one record

const isLive = (r: { readonly branchId: number }) => r.branchId === mainBranch

const byId = (a: { readonly id: number }, b: { readonly id: number }) => a.id - b.id

/** Ids on the other side of `link` rows whose `side` is `id`. */
const linked = (link: LinkEntity, side: "runId" | "artifactId", id: number) =>
  Store.use((store) =>
    Effect.map(store.find(link, Ast.field([side], "eq", id)), (rows) =>
      rows.map((r) => (side === "runId" ? r.artifactId : r.runId))
    )
  )

const liveArtifacts = (ids: ReadonlyArray<number>) =>
  Store.use((store) => Effect.map(store.get(artifactEntity, [...new Set(ids)]), (rows) => rows.filter(isLive).sort(byId)))

const liveRuns = (ids: ReadonlyArray<number>) =>
  Store.use((store) => Effect.map(store.get(runEntity, [...new Set(ids)]), (rows) => rows.filter(isLive).sort(byId)))

/** The artifacts `run` read (trashed ones left out, as in every default query). */
export const inputs = (run: Run): Effect.Effect<ReadonlyArray<Artifact>, StoreError, Store> =>
  Effect.flatMap(linked(inputLinkEntity, "runId", run.id), liveArtifacts)

/** What `run` produced and what it recreated (lamindb's `query_output_artifacts`). */
export const outputs = (run: Run): Effect.Effect<ReadonlyArray<Artifact>, StoreError, Store> =>
  Effect.gen(function* () {
    const store = yield* Store
    const produced = yield* store.find(artifactEntity, Ast.field(["runId"], "eq", run.id))
    const recreated = yield* linked(recreatedLinkEntity, "runId", run.id)
    return yield* liveArtifacts([...produced.map((a) => a.id), ...recreated])
  })

/** The run that produced `artifact`, as the store has it now. */
export const producer = (artifact: Artifact): Effect.Effect<Run | undefined, StoreError, Store> =>
  Effect.gen(function* () {
    const fresh = yield* reloadArtifact(artifact)
    if (fresh.runId === null) return undefined
    const store = yield* Store
    return (yield* store.get(runEntity, [fresh.runId]))[0]
  })

/** Runs that read `artifact`. */
export const consumers = (artifact: Artifact): Effect.Effect<ReadonlyArray<Run>, StoreError, Store> =>
  Effect.flatMap(linked(inputLinkEntity, "artifactId", artifact.id), liveRuns)

/** Runs `run` started (its `step`/`flow` calls, or processes it launched). */
export const initiatedRuns = (run: Run): Effect.Effect<ReadonlyArray<Run>, StoreError, Store> =>
  Store.use((store) =>
    Effect.map(store.find(runEntity, Ast.field(["initiatedByRunId"], "eq", run.id)), (rows) => rows.filter(isLive).sort(byId))
  )
