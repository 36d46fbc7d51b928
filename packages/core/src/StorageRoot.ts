/**
 * The directory that holds artifact bytes, and the only one they are read from. A record names its file
 * (`<root>/<uid><suffix>`) and its root (`storage`), but any client of a shared store can write a record, so
 * the file is found under this process's configured root and nowhere else: a record naming another root, a
 * uid or suffix that is path syntax, or a file that resolves out of the root is refused. The root itself must
 * be a directory this user (or the superuser) owns, reached through no symlink someone else planted; one
 * created here is private to the user (0700), as is every file written into it (0600).
 */
import { constants as fsConstants } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Context, Data, Effect } from "effect"
import * as ArtifactPaths from "./ArtifactPaths.js"
import { ArtifactModel } from "./Records.js"
import { decodeUrlPart, type Doc, urlWithoutQuery } from "./Driver.js"
import { inspectedAsErrors } from "./Errors.js"

/**
 * Where new bytes go and the only place bytes are read from: `$LINEAGE_STORAGE`, else the per-user
 * `defaultStorageRoot()`. `Lineage.connect` provides its own: the `storage` option, `$LINEAGE_STORAGE`, or the
 * root beside a SQLite database file (`storageNextTo`).
 */
export const ArtifactStorage = Context.Reference<string>("@lineage/ArtifactStorage", {
  defaultValue: () => process.env["LINEAGE_STORAGE"] || defaultStorageRoot()
})

/**
 * `$XDG_DATA_HOME/lineage/storage`, else `~/.local/share/lineage/storage`: per user, kept across reboots
 * (unlike a temp directory), and the same from any working directory, so one store's records find their
 * bytes wherever the program runs. A user without a home directory gets `<tmp>/lineage-<uid>/storage`.
 */
export const defaultStorageRoot = (env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string => {
  const xdg = env["XDG_DATA_HOME"]
  // The XDG spec: a relative value is invalid and ignored.
  if (xdg !== undefined && path.isAbsolute(xdg)) return path.join(xdg, "lineage", "storage")
  if (home !== "") return path.join(home, ".local", "share", "lineage", "storage")
  return path.join(os.tmpdir(), `lineage-${process.getuid?.() ?? "user"}`, "storage")
}

/**
 * The storage root that goes with a store URL, or undefined when none does: for a SQLite database file
 * (`sqlite:./runs/lineage.db`) the directory `storage` beside it (`./runs/storage`, resolved now), so a
 * project's records and bytes live, move and are deleted together, whichever way the file is named. A database
 * in memory (`sqlite::memory:`) and a server's store have no place of their own: their bytes go to the per-user
 * default. The root is checked as every root is before a byte is written (`writable`): in a directory others may
 * write to, a `storage` someone else made or linked is refused, never used.
 */
export const storageNextTo = (storeUrl: string): string | undefined => {
  const file = sqliteFile(storeUrl)
  return file === undefined ? undefined : path.join(path.dirname(file), "storage")
}

/**
 * The database file a `sqlite:` URL names, resolved against the working directory; undefined for any other
 * URL and for a database in memory. Read as the SQLite adapter reads its URLs: the path runs to the query, if
 * any, and is percent-decoded (a malformed %-escape, which the adapter refuses, gives undefined).
 */
export const sqliteFile = (storeUrl: string): string | undefined => {
  const raw = /^sqlite:([^?]*)/.exec(storeUrl)?.[1]
  const file = raw === undefined ? undefined : decodeUrlPart(raw)
  if (file === undefined || file === "" || file === ":memory:") return undefined
  return path.resolve(file)
}

/** Mode of a storage root this library creates. */
export const rootMode = 0o700
/** Mode of every file this library writes into a storage root. */
export const fileMode = 0o600

/**
 * Why touching artifact bytes failed:
 * - `Io`: the file system refused (missing file, permissions, disk full);
 * - `OutsideRoot`: the record leads out of the configured storage root (its storage, uid or suffix, or a
 *   symlink in the root);
 * - `UnsafeRoot`: the root is no directory of this user's, or is reached through someone else's symlink;
 * - `HashMismatch`: the bytes are not those the record was registered with (nothing is returned).
 */
export type ArtifactStorageReason = "Io" | "OutsideRoot" | "UnsafeRoot" | "HashMismatch"

export class ArtifactStorageError extends Data.TaggedError("ArtifactStorageError")<{
  readonly reason: ArtifactStorageReason
  readonly path: string
  readonly operation: string
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const why = this.detail ?? (this.cause instanceof Error ? this.cause.message : undefined)
    return `Could not ${this.operation} ${this.path}${why === undefined ? "" : `: ${why}`}`
  }
}

inspectedAsErrors(ArtifactStorageError)

export const fsEffect = <A>(file: string, operation: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => new ArtifactStorageError({ reason: "Io", path: file, operation, cause }) })

const isMissing = (e: unknown) => (e as { readonly code?: unknown } | null)?.code === "ENOENT"

/** What `rootProblem` needs of a `Stats`. */
export interface Owned {
  readonly uid: number
  readonly isDirectory: () => boolean
  readonly isSymbolicLink: () => boolean
}

/**
 * Why a root may not hold artifact bytes, or undefined: `entry` is its `lstat`, `target` its `stat`, `user`
 * the current uid (undefined where the platform has none). A symlink someone else owns lets them point our
 * writes and reads anywhere; a directory someone else owns lets them swap or delete what is in it.
 */
export const rootProblem = (entry: Owned, target: Owned, user: number | undefined): string | undefined => {
  if (user !== undefined && entry.isSymbolicLink() && entry.uid !== user)
    return `it is a symlink owned by uid ${entry.uid}, not by this user (uid ${user})`
  if (!target.isDirectory()) return "it is not a directory"
  if (user !== undefined && target.uid !== user && target.uid !== 0)
    return `it is a directory owned by uid ${target.uid}, not by this user (uid ${user}) or the superuser`
  return undefined
}

/** The configured root as given (resolved) and as the file system has it (every symlink followed). */
export interface Root {
  readonly path: string
  readonly real: string
}

const unsafe = (root: string, operation: string, detail: string) =>
  new ArtifactStorageError({ reason: "UnsafeRoot", path: root, operation, detail })

/**
 * Why the way to `root` may not be taken, or undefined: a symlink on it (above the root, which `rootProblem`
 * judges) must be this user's or the superuser's, or whoever planted it chooses where the root is. Parts not
 * made yet are not looked at. Every check is asynchronous: a root may be on a network file system, where a
 * synchronous call that gets no answer would stop the whole process (its timeouts, its signal handling).
 */
const pathProblem = (root: string, user: number | undefined, operation: string) =>
  fsEffect(root, operation, async () => {
    if (user === undefined) return undefined
    let at = path.parse(root).root
    for (const part of path.dirname(root).slice(at.length).split(path.sep)) {
      if (part === "") continue
      at = path.join(at, part)
      const entry = await fs.lstat(at).catch((e: unknown) => (isMissing(e) ? undefined : Promise.reject(e)))
      if (entry === undefined) return undefined
      if (entry.isSymbolicLink() && entry.uid !== user && entry.uid !== 0)
        return `${at} on its path is a symlink owned by uid ${entry.uid}, not by this user (uid ${user}) or the superuser`
    }
    return undefined
  })

/**
 * Creates the root 0700 where it is missing. The mode is set on a handle opened without following links,
 * so neither the umask nor a symlink swapped in meanwhile decides it.
 */
const create = (root: string, operation: string) =>
  fsEffect(root, operation, async () => {
    const made = await fs.mkdir(root, { recursive: true, mode: rootMode })
    if (made === undefined) return
    const handle = await fs.open(root, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | (fsConstants.O_NOFOLLOW ?? 0))
    try {
      await handle.chmod(rootMode)
    } finally {
      await handle.close()
    }
  })

/**
 * `dir` (resolved), checked as a storage root is before anything is read or written under it: reached
 * through no symlink someone else planted, and a directory this user (or the superuser) owns. When
 * `purpose` is "write" it is created 0700 where missing.
 */
export const ownDirectory = (dir: string, purpose: "write" | "read", operation: string): Effect.Effect<string, ArtifactStorageError> =>
  Effect.gen(function* () {
    const root = path.resolve(dir)
    const user = process.getuid?.()
    // Before the directory is created (so that none is made through someone else's link) and after (a
    // link planted meanwhile).
    const before = yield* pathProblem(root, user, operation)
    if (before !== undefined) return yield* unsafe(root, operation, before)
    const found = yield* fsEffect(root, operation, () =>
      fs.lstat(root).catch((e: unknown) => (isMissing(e) ? undefined : Promise.reject(e)))
    )
    if (found === undefined) {
      if (purpose === "read") return yield* new ArtifactStorageError({ reason: "Io", path: root, operation, detail: "it does not exist" })
      yield* create(root, operation)
    }
    const stats = yield* fsEffect(root, operation, async () => {
      // One made here is looked at as it is now, after its creation.
      const link = found ?? (await fs.lstat(root))
      return { link, target: link.isSymbolicLink() ? await fs.stat(root) : link }
    })
    const problem = rootProblem(stats.link, stats.target, user) ?? (found !== undefined ? undefined : yield* pathProblem(root, user, operation))
    if (problem !== undefined) return yield* unsafe(root, operation, problem)
    return root
  })

const operations = { write: "write artifact bytes into the storage root", read: "read artifact bytes from the storage root" }

/** The configured root (resolved), checked (and created, for writing) before any byte is read or written under it. */
const checked = (purpose: "write" | "read"): Effect.Effect<string, ArtifactStorageError> =>
  Effect.gen(function* () {
    const configured = yield* ArtifactStorage
    const operation = operations[purpose]
    if (configured.length === 0 || configured.includes("\0"))
      return yield* unsafe(JSON.stringify(configured), operation, "a storage root is a non-empty path without NUL")
    return yield* ownDirectory(configured, purpose, operation)
  })

/** Where bytes are read from: the configured root, checked, as given and as the file system has it. */
export const readable: Effect.Effect<Root, ArtifactStorageError> = Effect.gen(function* () {
  const root = yield* checked("read")
  const real = yield* fsEffect(root, operations.read, () => fs.realpath(root))
  return { path: root, real }
})

/** Where new bytes go: the configured root as given (resolved), checked and created where missing. */
export const writable: Effect.Effect<string, ArtifactStorageError> = checked("write")

const inside = (root: string, file: string) => {
  const relative = path.relative(root, file)
  return relative !== "" && !path.isAbsolute(relative) && relative.split(path.sep)[0] !== ".."
}

interface Located {
  readonly uid: string
  readonly suffix: string
  readonly storage: string | null
}

/** A record's storage as an error may show it: any client can write one holding credentials or a signed query. */
const shownStorage = (storage: string | null) => (storage === null ? "null" : JSON.stringify(urlWithoutQuery(storage)))

const outside = (artifact: Located, detail: string) =>
  new ArtifactStorageError({
    reason: "OutsideRoot",
    path: `${artifact.uid}${artifact.suffix}`,
    operation: `find the bytes of artifact ${artifact.uid} (storage ${shownStorage(artifact.storage)}) as`,
    detail
  })

/** The real directory a `file:` storage URL names, or undefined when it names none that exists. */
const storageDirectory = (storage: string | null) =>
  Effect.promise(async () => {
    if (storage === null || !storage.startsWith("file:")) return undefined
    try {
      return await fs.realpath(fileURLToPath(storage))
    } catch {
      return undefined
    }
  })

/**
 * The real path of an artifact's file, which must be in the configured root: the record's storage must be
 * that root, its uid and suffix a plain file name, and no symlink may lead out of the root.
 */
export const locate = (artifact: Located): Effect.Effect<string, ArtifactStorageError> =>
  Effect.gen(function* () {
    const root = yield* readable
    const name = ArtifactPaths.fileName(artifact, ArtifactModel.uidLength)
    if (name === undefined)
      return yield* outside(artifact, `its uid and suffix are no file name (expected ${ArtifactModel.uidLength} base62 characters and a suffix such as ".csv")`)
    if ((yield* storageDirectory(artifact.storage)) !== root.real)
      return yield* outside(
        artifact,
        `it is not stored in this client's storage root ${root.path}; bytes are only read from there (set the storage option or LINEAGE_STORAGE to their root)`
      )
    const file = path.join(root.real, name)
    const real = yield* fsEffect(file, "find", () => fs.realpath(file))
    if (!inside(root.real, real)) return yield* outside(artifact, `it resolves to ${real}, outside the storage root ${root.path}`)
    return real
  })

/**
 * Creates `target` (never following or replacing what is there), 0600 whatever the umask, writes every
 * chunk, calling `observe` on each, and flushes it to disk. A failure removes what was written.
 */
export const writeNew = (
  target: string,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  observe: (chunk: Uint8Array) => void,
  operation: string
): Effect.Effect<void, ArtifactStorageError> =>
  fsEffect(target, operation, async () => {
    const handle = await fs.open(target, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | (fsConstants.O_NOFOLLOW ?? 0), fileMode)
    try {
      await handle.chmod(fileMode)
      for await (const chunk of chunks) {
        observe(chunk)
        await handle.write(chunk)
      }
      await handle.sync()
    } catch (e) {
      await handle.close().catch(() => undefined)
      await fs.rm(target, { force: true })
      throw e
    }
    await handle.close()
  })

/**
 * Removes the files of permanently deleted artifact records, where they are this client's to remove: in the
 * configured root, named by a valid uid and suffix. Anything else is left alone, and a file that cannot be
 * removed is logged: the records are gone either way.
 */
export const removeFiles = (docs: ReadonlyArray<Doc>): Effect.Effect<void> =>
  Effect.gen(function* () {
    const artifacts = docs.flatMap((d) =>
      typeof d["uid"] === "string" && typeof d["suffix"] === "string"
        ? [{ uid: d["uid"], suffix: d["suffix"], storage: typeof d["storage"] === "string" ? d["storage"] : null }]
        : []
    )
    if (artifacts.length === 0) return
    const root = yield* Effect.option(readable)
    if (root._tag === "None") return
    for (const artifact of artifacts) {
      const name = ArtifactPaths.fileName(artifact, ArtifactModel.uidLength)
      if (name === undefined || (yield* storageDirectory(artifact.storage)) !== root.value.real) continue
      const file = path.join(root.value.real, name)
      // unlink never follows a symlink: a link in the root goes, whatever it points to stays.
      yield* fsEffect(file, "remove", () => fs.unlink(file).catch((e: unknown) => (isMissing(e) ? undefined : Promise.reject(e)))).pipe(
        Effect.catch((e) => Effect.logWarning(`artifact ${artifact.uid} is deleted but its bytes remain: ${e.message}`))
      )
    }
  })
