/**
 * Artifacts as lamindb registers them: bytes hashed (md5 → base64url, 22 characters), copied into
 * auto-managed storage as `<root>/<uid><suffix>`, and linked into lineage. An artifact registered while a run
 * is current is that run's output; one loaded while a run is current is its input; the same bytes are one
 * live artifact, and registering them again in another run records that run as recreating it (bytes only a
 * trashed artifact holds make a new one, with its own file: lamindb restores nothing implicitly). Reading returns
 * bytes only from the configured storage root and only if they still have the recorded hash.
 */
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import * as ArtifactPaths from "./ArtifactPaths.js"
import * as Ast from "./Ast.js"
import { currentRun } from "./Current.js"
import * as Records from "./Records.js"
import { type DoesNotExist, type InvalidQuery, StoreError, UniqueViolation, ValidationError } from "./Errors.js"
import * as Hints from "./Hints.js"
import { showName } from "./Limits.js"
import { mainBranch } from "./Model.js"
import { meter, ProgressStream } from "./Progress.js"
import { Artifact as ArtifactRegistry } from "./Registry.js"
import { entity, Store } from "./Store.js"
import * as StorageRoot from "./StorageRoot.js"
import { ArtifactStorageError, fsEffect } from "./StorageRoot.js"
import * as Uid from "./Uid.js"
import * as Versioning from "./Versioning.js"

export { maxKeyLength, maxStorageLength, maxSuffixLength, storageSchemes } from "./ArtifactPaths.js"
export { type ProgressOutput, progressMinBytes, ProgressStream } from "./Progress.js"
export {
  ArtifactStorage,
  ArtifactStorageError,
  type ArtifactStorageReason,
  defaultStorageRoot,
  fileMode,
  rootMode
} from "./StorageRoot.js"

type Artifact = Records.Artifact
type Run = Records.Run

export interface RegisterOptions {
  readonly key?: string | undefined
  readonly description?: string | undefined
  readonly kind?: string | undefined
  /** The producing run; `null` records none (environment and report artifacts). Defaults to the current run. */
  readonly run?: Run | null | undefined
}

export interface BytesOptions extends RegisterOptions {
  /** `.csv`, `.tar.gz`, …; defaults to the key's suffix, else none. A key given with it must end in it. */
  readonly suffix?: string | undefined
}

export interface LoadOptions {
  /** `false` records no input; a run records the input on that run instead of the current one. */
  readonly isRunInput?: boolean | Run | undefined
}

export type RegisterError = ValidationError | UniqueViolation | StoreError | InvalidQuery | DoesNotExist | ArtifactStorageError
export type ReadError = ValidationError | UniqueViolation | StoreError | ArtifactStorageError

const artifactEntity = entity(Records.ArtifactModel, Records.Artifact)
const runEntity = entity(Records.RunModel, Records.Run)
const inputLinkEntity = entity(Records.RunInputArtifactModel, Records.RunInputArtifact)
const recreatedLinkEntity = entity(Records.RunRecreatedArtifactModel, Records.RunRecreatedArtifact)
type LinkEntity = typeof inputLinkEntity | typeof recreatedLinkEntity

// ---------------------------------------------------------------------------------------------------------
// Hash, size, suffix

/** lamindb-setup's `HASH_LENGTH`: md5 in base64url is exactly this long once its padding is stripped. */
const hashLength = 22

const encodeDigest = (digest: Buffer): string => digest.toString("base64url").slice(0, hashLength)

export const hashBytes = (bytes: Uint8Array): string => encodeDigest(createHash("md5").update(bytes).digest())

/**
 * md5 and byte count of every chunk `transfer` observes, with progress on a terminal for large files (`size`
 * is only the expected total: the count is what was read). The progress line is ended however it goes.
 */
const digested = <E>(label: string, size: number, transfer: (observe: (chunk: Uint8Array) => void) => Effect.Effect<void, E>) =>
  Effect.gen(function* () {
    const md5 = createHash("md5")
    const progress = meter(yield* ProgressStream, label, size)
    let bytes = 0
    yield* transfer((chunk) => {
      md5.update(chunk)
      bytes += chunk.byteLength
      progress.advance(chunk.byteLength)
    }).pipe(Effect.ensuring(Effect.sync(progress.finish)))
    return { hash: encodeDigest(md5.digest()), size: bytes }
  })

/**
 * Streams the file through md5, so large files never sit in memory, and counts its bytes: the file may have
 * changed since it was stat'ed, and the record's size must be that of the bytes hashed. lamindb switches to a
 * sha1 of the first and last 50 MB above that size, which makes files differing only in the middle one
 * artifact; we hash it all.
 */
const hashFile = (file: string, size: number): Effect.Effect<{ readonly hash: string; readonly size: number }, ArtifactStorageError> =>
  digested(`hashing ${path.basename(file)}`, size, (observe) =>
    fsEffect(file, "read", async () => {
      for await (const chunk of createReadStream(file)) observe(chunk as Buffer)
    })
  )

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

/**
 * A file name's suffix: a known compound one whole, else the last extension; digits alone are none (lamindb).
 * An extension that is no valid suffix (a space, a `~`, too long) gives none: the bytes are kept all the same.
 */
export const suffixOf = (name: string): string => {
  const base = path.basename(name)
  const lower = base.toLowerCase()
  const compound = compoundSuffixes.find((s) => lower.endsWith(s) && lower.length > s.length)
  if (compound !== undefined) return base.slice(base.length - compound.length)
  const ext = path.extname(base)
  return /^\.\d+$/.test(ext) || !ArtifactPaths.isSuffix(ext) ? "" : ext
}

// ---------------------------------------------------------------------------------------------------------
// Storage

/**
 * Where an artifact's bytes are: its file in the configured storage root, after checking that the record
 * leads nowhere else (see `StorageRoot.locate`).
 */
export const localPath = (artifact: Artifact): Effect.Effect<string, ArtifactStorageError> => StorageRoot.locate(artifact)

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
 * one; a failed write leaves nothing behind, and the final name only ever holds a complete file.
 */
const stage = (root: string, content: Content) =>
  Effect.gen(function* () {
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

/** Where the live artifact holding each hash was last seen (see `Hints`). */
const liveIds = Hints.make()


/**
 * The live artifact holding these bytes (the hash is unique among live artifacts; the trash is left alone):
 * read by id where one was seen holding them, and kept if it still does and is still live.
 */
const byHash = (hash: string) =>
  Effect.gen(function* () {
    const store = yield* Store
    const hinted = liveIds.get(store, hash)
    if (hinted !== undefined) {
      const [seen] = yield* store.get(artifactEntity, [hinted])
      if (seen !== undefined && seen.hash === hash && seen.branchId === mainBranch) return seen
      liveIds.forget(store, hash)
    }
    const [found] = yield* store.find(artifactEntity, Ast.and([Ast.field(["hash"], "eq", hash), Ast.field(["branchId"], "eq", mainBranch)]), { limit: 1 })
    if (found !== undefined) liveIds.set(store, hash, found.id)
    return found
  })

const isHashViolation = (e: unknown): e is UniqueViolation => e instanceof UniqueViolation && e.constraint === "artifact_hash"

/**
 * Copies the bytes into storage, then inserts the record (a new version if the key exists), then gives the
 * staged file its final name `<uid><suffix>`, which is only known once the record has its uid. A failed
 * insert removes the staged file; a failed rename removes the record again, so nothing is half-written.
 */
const createNew = (content: Content, fields: { readonly [k: string]: unknown }) =>
  Effect.gen(function* () {
    const root = yield* StorageRoot.writable
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
    yield* Store.useSync((store) => liveIds.set(store, content.hash, created.id))
    return created
  })

const resolveRun = (run: Run | null | undefined): Effect.Effect<Run | undefined> =>
  run === null ? Effect.succeed(undefined) : run !== undefined ? Effect.succeed(run) : currentRun

/**
 * lamindb's rule: a key names what the bytes are, so its suffix is theirs (`data.txt` is refused for a `.csv`
 * file, and so is `data`), compound suffixes whole (`.gz` is not `.tar.gz`). Case aside: lamindb lowercases
 * every suffix it reads, so `data.csv` names a `.CSV` file.
 */
const checkKeySuffix = (key: string, suffix: string, source: string): ValidationError | undefined => {
  const given = suffixOf(key)
  if (given.toLowerCase() === suffix.toLowerCase()) return undefined
  const wanted = suffix === "" ? `a key without a suffix, like ${source}` : `a key with the suffix "${suffix}", like ${source}`
  return new ValidationError({
    registry: "Artifact",
    field: "key",
    value: key,
    expected: `${wanted}: the suffix "${given}" of the provided key is incorrect, it should be "${suffix}"`
  })
}

/** The options `fromPath` takes, and `fromBytes` (which also takes `suffix`). */
const pathOptions: ReadonlyArray<keyof RegisterOptions> = ["key", "description", "kind", "run"]
const bytesOptions: ReadonlyArray<keyof BytesOptions> = [...pathOptions, "suffix"]

/** An option no registration reads (from JavaScript, or a misspelling): refused rather than silently dropped. */
const unknownOption = (options: RegisterOptions, known: ReadonlyArray<string>): ValidationError | undefined => {
  const unknown = Object.keys(options).find((name) => !known.includes(name))
  return unknown === undefined
    ? undefined
    : new ValidationError({
        registry: "Artifact",
        field: unknown,
        value: (options as { readonly [name: string]: unknown })[unknown],
        expected: `one of the options ${known.join(", ")}`
      })
}

/**
 * The first option refused, before anything is written: one no registration reads, the key's syntax, the
 * suffix's, then whether they agree. A key that is no string at all is left to the registry's schema, which
 * names it.
 */
const validateOptions = (options: RegisterOptions, known: ReadonlyArray<string>, suffix: string, source: string): ValidationError | undefined =>
  unknownOption(options, known) ??
  (options.key === undefined ? undefined : ArtifactPaths.checkKey(options.key)) ??
  // A `suffix` option from JavaScript may be anything: it is compared as text below.
  (typeof suffix === "string"
    ? ArtifactPaths.checkSuffix(suffix)
    : new ValidationError({ registry: "Artifact", field: "suffix", value: suffix, expected: "a string such as \".csv\", or none" })) ??
  (typeof options.key === "string" ? checkKeySuffix(options.key, suffix, source) : undefined)

const isClaimViolation = (e: unknown): e is UniqueViolation =>
  e instanceof UniqueViolation && e.fields.some((f) => f === Versioning.latestKey || f === Versioning.familyKey)

/** The refusal of `key` for `artifact` because another artifact family holds it (one family per key). */
const keyHeld = (artifact: Artifact, key: string, violation: UniqueViolation) =>
  new UniqueViolation({
    registry: "Artifact",
    constraint: violation.constraint,
    fields: ["key"],
    values: [key],
    detail:
      `these bytes are artifact ${artifact.uid}, which has no key, and another artifact family holds this key; ` +
      `register them under another key, or trash ${artifact.uid} and register them again to make them a new version of the key`
  })

/** What registering the same bytes again changes on the artifact holding them, and what it keeps. */
interface Changes {
  readonly patch: { key?: string; description?: string }
  /** The values `patch` replaces, which must still be stored for it to apply (compare-and-set). */
  readonly expected: { key?: string | null; description?: string | null }
  /** What the artifact keeps of what was asked, worded for a warning. */
  readonly kept: ReadonlyArray<string>
}

/**
 * lamindb's `Artifact(…)` on bytes it already holds (`update_attributes`): the existing artifact takes the key
 * if it has none (its bytes live under its uid, so a key only names them) and the description if one is
 * given; it keeps another key, its kind and its suffix, which say what the bytes are, and the caller is warned.
 */
const changesFor = (artifact: Artifact, options: BytesOptions): Changes => {
  const patch: Changes["patch"] = {}
  const expected: Changes["expected"] = {}
  const kept: Array<string> = []
  if (options.key !== undefined && options.key !== artifact.key) {
    if (artifact.key !== null) kept.push(`the key ${showName(artifact.key)}, not ${showName(options.key)}`)
    else {
      patch.key = options.key
      expected.key = null
    }
  }
  if (options.description !== undefined && options.description !== artifact.description) {
    patch.description = options.description
    expected.description = artifact.description
  }
  const asked = [
    ["kind", options.kind, artifact.kind],
    ["suffix", options.suffix, artifact.suffix]
  ] as const
  for (const [name, given, held] of asked)
    if (given !== undefined && given !== held) kept.push(`the ${name} ${held === null ? "none" : showName(held)}, not ${showName(given)}`)
  return { patch, expected, kept }
}

/** The warnings for `changes` applied to `artifact`: what it kept, and its description replaced, as lamindb logs. */
const warningsFor = (artifact: Artifact, { patch, kept }: Changes): ReadonlyArray<string> => {
  const holds = `artifact ${artifact.uid} already holds these bytes`
  const replaced = patch.description === undefined || artifact.description === null ? undefined : artifact.description
  return [
    ...(kept.length === 0 ? [] : [`${holds}: it keeps ${kept.join(", ")} (update the artifact to change them)`]),
    ...(replaced === undefined ? [] : [`${holds}: updated its description from ${showName(replaced)} to ${showName(patch.description!)}`])
  ]
}

/**
 * The artifact holding bytes registered again with `options`, changed as `changesFor` says. The change is a
 * compare-and-set on the values it replaces, so of racing registrations one names the artifact and the rest
 * find it named (and are warned); the key's syntax was checked with the options, before anything was written.
 */
const reregistered = (artifact: Artifact, options: BytesOptions): Effect.Effect<Artifact, ValidationError | UniqueViolation | StoreError, Store> =>
  Effect.gen(function* () {
    const changes = changesFor(artifact, options)
    const { key } = changes.patch
    if (key !== undefined) {
      const wrongSuffix = checkKeySuffix(key, artifact.suffix, `the suffix of artifact ${artifact.uid}, which holds these bytes`)
      if (wrongSuffix !== undefined) return yield* wrongSuffix
    }
    let result = artifact
    if (Object.keys(changes.patch).length > 0) {
      const store = yield* Store
      const updated = yield* store.update(artifactEntity, artifact, changes.patch, changes.expected).pipe(
        Effect.catchIf(isConflict, () => Effect.succeed(undefined)),
        Effect.catchIf(isClaimViolation, (violation) => Effect.fail(keyHeld(artifact, key!, violation)))
      )
      // Changed by another registration first: what is left to do is decided on the artifact as it is now.
      if (updated === undefined) return yield* reregistered(yield* reloadArtifact(artifact), options)
      result = updated
    }
    for (const warning of warningsFor(artifact, changes)) yield* Effect.logWarning(warning)
    return result
  })

/** Registers checked content under checked options. */
const register = (content: Content, options: BytesOptions): Effect.Effect<Artifact, RegisterError, Store> =>
  Effect.gen(function* () {
    const run = yield* resolveRun(options.run)
    const existing = yield* byHash(content.hash)
    // Same bytes, same live artifact: the run is recorded as its producer or recreator.
    if (existing !== undefined) return yield* recordProducer(yield* reregistered(existing, options), run)
    const fields = {
      key: options.key ?? null,
      description: options.description ?? null,
      kind: options.kind ?? null,
      runId: run?.id ?? null
    }
    // Racing registrations of the same bytes: the loser returns the winner's artifact.
    return yield* createNew(content, fields).pipe(
      Effect.catchIf(isHashViolation, (violation) =>
        Effect.flatMap(byHash(content.hash), (winner) =>
          winner === undefined ? Effect.fail(violation) : Effect.flatMap(reregistered(winner, options), (named) => recordProducer(named, run))
        )
      )
    )
  })

/**
 * Only regular files can be registered; a missing path or a directory is refused before anything is
 * written. Gives the file's size.
 */
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
    return stat.size
  })

/**
 * Copies `source` to `target`, hashing what is copied: a file that changed since it was hashed is refused,
 * so the stored bytes are always those the record's hash names.
 */
const copyVerified = (source: string, target: string, hash: string, size: number) =>
  Effect.gen(function* () {
    const copied = (yield* digested(`copying ${path.basename(source)}`, size, (observe) =>
      StorageRoot.writeNew(target, createReadStream(source), observe, `copy ${source} to`)
    )).hash
    if (copied !== hash)
      return yield* new ArtifactStorageError({
        reason: "HashMismatch",
        path: source,
        operation: "register",
        detail: `the file changed while it was registered (hash ${hash} before copying, ${copied} copied)`
      })
  })

/**
 * Registers the file at `file`: hash, size and suffix from it, bytes copied into storage. A `key` must end in
 * the file's suffix (compared ignoring case), or have none if the file has none.
 */
export const fromPath = (file: string, options: RegisterOptions = {}): Effect.Effect<Artifact, RegisterError, Store> =>
  Effect.gen(function* () {
    const absolute = path.resolve(file)
    const expected = yield* statFile(absolute)
    const suffix = suffixOf(absolute)
    const invalid = validateOptions(options, pathOptions, suffix, "the file")
    if (invalid !== undefined) return yield* invalid
    const { hash, size } = yield* hashFile(absolute, expected)
    const content: Content = {
      hash,
      size,
      suffix,
      write: (target) => copyVerified(absolute, target, hash, size)
    }
    return yield* register(content, options)
  })

/** Registers in-memory bytes (a string is taken as UTF-8). */
export const fromBytes = (bytes: Uint8Array | string, options: BytesOptions = {}): Effect.Effect<Artifact, RegisterError, Store> =>
  Effect.gen(function* () {
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes
    const suffix = options.suffix ?? (options.key === undefined ? "" : suffixOf(options.key))
    const invalid = validateOptions(options, bytesOptions, suffix, "the `suffix` option")
    if (invalid !== undefined) return yield* invalid
    const content: Content = {
      hash: hashBytes(data),
      size: data.byteLength,
      suffix,
      write: (target) => StorageRoot.writeNew(target, [data], () => undefined, "write")
    }
    return yield* register(content, options)
  })

/**
 * The artifact that registering `bytes` as no run's (`run: null`) with `options` would return untouched: the
 * live artifact holding them, when every option given is already its value (no key to take, no description
 * to replace, nothing kept to warn about). Undefined when registering them would do more, or would refuse the
 * options: `fromBytes` is then what does it.
 */
export const registeredAs = (
  bytes: Uint8Array | string,
  options: BytesOptions & { readonly run: null }
): Effect.Effect<Artifact | undefined, StoreError, Store> =>
  Effect.gen(function* () {
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes
    const suffix = options.suffix ?? (options.key === undefined ? "" : suffixOf(options.key))
    if (validateOptions(options, bytesOptions, suffix, "the `suffix` option") !== undefined) return undefined
    const existing = yield* byHash(hashBytes(data))
    if (existing === undefined) return undefined
    const kept = (given: string | undefined, held: string | null) => given === undefined || given === held
    const untouched =
      kept(options.key, existing.key) &&
      kept(options.description, existing.description) &&
      kept(options.kind, existing.kind) &&
      kept(options.suffix, existing.suffix)
    return untouched ? existing : undefined
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

const mismatch = (artifact: Artifact, file: string, detail: string) =>
  new ArtifactStorageError({ reason: "HashMismatch", path: file, operation: `verify the bytes of artifact ${artifact.uid} in`, detail })

/**
 * The file's bytes if they are the artifact's: the size and then the md5 must be those recorded. The file is
 * opened without following a symlink, so it is the one `localPath` checked.
 */
const readVerified = (artifact: Artifact, file: string) =>
  Effect.gen(function* () {
    if (artifact.hash === null) return yield* mismatch(artifact, file, "the record has no hash to check the bytes against")
    const bytes = yield* fsEffect(file, "read", async () => {
      const handle = await fs.open(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0))
      try {
        const stat = await handle.stat()
        if (artifact.size !== null && stat.size !== artifact.size) return stat.size
        return await handle.readFile()
      } finally {
        await handle.close()
      }
    })
    if (typeof bytes === "number") return yield* mismatch(artifact, file, `it holds ${bytes} bytes, the record says ${artifact.size}`)
    const actual = hashBytes(bytes)
    if (actual !== artifact.hash) return yield* mismatch(artifact, file, `its hash is ${actual}, the record says ${artifact.hash}`)
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  })

/** The artifact's bytes, verified against its hash; records it as an input of the current run. */
export const load = (artifact: Artifact, options: LoadOptions = {}): Effect.Effect<Uint8Array, ReadError, Store> =>
  Effect.gen(function* () {
    const bytes = yield* readVerified(artifact, yield* localPath(artifact))
    yield* trackInput(artifact, options.isRunInput)
    return bytes
  })

/**
 * A local path holding the artifact's bytes, checked to be in the storage root; records it as an input of
 * the current run. The bytes are not hashed here: the caller reads them later, which a check now could not
 * vouch for.
 */
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
