/**
 * `lineage types`: the store's features as a TypeScript declaration file (`FeatureTypes.render` in core), so
 * that the compiler checks feature keys and values. The file is written whole or not at all: into a temporary
 * file beside it (given the old file's permissions), flushed, then renamed over it, so an interrupted run
 * leaves the old file (and at worst a stray temporary file), never half a new one. The rename makes a new
 * inode: a reader holding the old file keeps reading it, and a hard link to the old file keeps the old text.
 * A symbolic link is followed to the file it names, even one that does not exist yet, so the link stays one.
 * `--check` writes nothing and fails when the file on disk does not declare what the store holds now, for CI.
 */
import { randomBytes } from "node:crypto"
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { basename, dirname, join, resolve, sep } from "node:path"
import { FeatureTypes, Lineage } from "@lineage/core"
import { Data, Effect } from "effect"
import { printable, UsageError } from "./Failure.js"
import { print } from "./Output.js"

/** Where the declarations go unless `--out` says otherwise: the working directory. */
export const defaultOut = "lineage-features.d.ts"

/** `--out` for standard output. */
export const stdoutOut = "-"

/** The declaration file could not be written or read, or does not match the store (`--check`). */
export class FeatureTypesError extends Data.TaggedError("FeatureTypesError")<{
  readonly reason: "Missing" | "OutOfDate" | "Unreadable" | "Unwritable"
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/** What `types` is asked to do, as its flags say. */
export interface Flags {
  readonly out: string
  readonly check: boolean
}

/** Whether `path` names an existing directory (through symbolic links). */
const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** `types`' flags checked, before any store is opened: `--out` must name a file. */
export const usage = (flags: Flags): Effect.Effect<void, UsageError> => {
  const refuse = (detail: string) => Effect.fail(new UsageError({ detail: `--out: ${detail}` }))
  if (flags.out === "") return refuse(`got an empty path, expected a file path or ${stdoutOut} for standard output`)
  if (flags.check && flags.out === stdoutOut) return Effect.fail(new UsageError({ detail: `--check compares a file with the store; --out ${stdoutOut} names none` }))
  if (flags.out === stdoutOut) return Effect.void
  const inside = join(flags.out, defaultOut)
  if (flags.out.endsWith("/") || flags.out.endsWith(sep))
    return refuse(`${JSON.stringify(flags.out)} ends in a path separator, so it names a directory; name the file, e.g. ${inside}`)
  if (isDirectory(flags.out)) return refuse(`${resolve(flags.out)} is a directory; name the file, e.g. ${inside}`)
  return Effect.void
}

/**
 * The store the header names: the one `Lineage.connect(url)` opens (`url`, else `LINEAGE_STORE`, else the
 * default), its password and secret options redacted.
 */
export const sourceOf = (url: string | undefined): string => Lineage.redactUrl(url ?? process.env["LINEAGE_STORE"] ?? Lineage.defaultUrl)

/** Why `path` could not be written or read, in words. */
const reasonOf = (error: unknown, path: string): string => {
  const code = (error as { readonly code?: unknown }).code
  switch (code) {
    case "ENOENT":
      return `its directory ${dirname(resolve(path))} does not exist`
    case "ENOTDIR":
      return "a part of its directory path is not a directory"
    case "EISDIR":
      return "it is a directory"
    case "EACCES":
    case "EPERM":
      return "permission denied"
    case "ELOOP":
      return "too many symbolic links"
    default:
      return error instanceof Error ? error.message : String(error)
  }
}

/** Symbolic links followed from one path at most, as the system's own limit (ELOOP) is about this. */
const maxLinks = 40

/**
 * The file a write replaces: `path` resolved and followed through symbolic links to the file the last one
 * names, which may not exist yet (a dangling link is written through, so the link stays one and its target is
 * created). The directories on the way are left to the system to resolve.
 */
const targetOf = (path: string): string => {
  let current = resolve(path)
  for (let links = 0; links < maxLinks; links++) {
    let next: string
    try {
      next = readlinkSync(current)
    } catch (error) {
      // EINVAL: not a link; ENOENT: nothing there yet. Either way `current` is the file to write.
      const code = (error as { readonly code?: unknown }).code
      if (code === "EINVAL" || code === "ENOENT") return current
      throw error
    }
    current = resolve(dirname(current), next)
  }
  throw Object.assign(new Error(`more than ${maxLinks} symbolic links`), { code: "ELOOP" })
}

/** The permission bits of the file at `path`, or undefined when there is none. */
const modeOf = (path: string): number | undefined => {
  try {
    return statSync(path).mode & 0o777
  } catch {
    return undefined
  }
}

/** Replaces `target` with a file holding `text` (see the module doc). */
const replace = (target: string, text: string): void => {
  const mode = modeOf(target)
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`)
  const fd = openSync(temporary, "wx", 0o644)
  try {
    try {
      // The replaced file's permissions, which `openSync`'s mode (narrowed by the umask) need not give.
      if (mode !== undefined) fchmodSync(fd, mode)
      writeFileSync(fd, text)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temporary, target)
  } catch (error) {
    rmSync(temporary, { force: true })
    throw error
  }
}

/** Writes `text` to `path` whole or not at all (see the module doc); succeeds with the file written. */
export const writeAtomically = (path: string, text: string): Effect.Effect<string, FeatureTypesError> =>
  Effect.suspend(() => {
    const shown = resolve(path)
    const unwritable = (target: string) => (error: unknown) =>
      new FeatureTypesError({
        reason: "Unwritable",
        detail: `cannot write ${shown}${target === shown ? "" : ` (a link to ${target})`}: ${reasonOf(error, target)}`
      })
    return Effect.try({ try: () => targetOf(path), catch: unwritable(shown) }).pipe(
      Effect.flatMap((target) =>
        Effect.try({
          try: () => {
            replace(target, text)
            return target
          },
          catch: unwritable(target)
        })
      )
    )
  })

/** Leading comment lines: the header, which names the store. */
const header = /^(?:\/\/[^\n]*\n)*/

/** Where `found` first differs from `expected` below their headers (1-based line of `found`), or undefined. */
export const firstDifference = (expected: string, found: string): number | undefined => {
  const skipped = header.exec(found)![0].split("\n").length - 1
  const want = expected.replace(header, "").split("\n")
  const have = found.replace(header, "").split("\n")
  for (let i = 0; i < Math.max(want.length, have.length); i++) if (want[i] !== have[i]) return skipped + i + 1
  return undefined
}

/**
 * Succeeds when `path` declares what `expected` declares. The headers are not compared: they name the store,
 * which may be reached under another URL (another user, host or password) and still hold the same features.
 */
export const check = (path: string, expected: string): Effect.Effect<void, FeatureTypesError> =>
  Effect.gen(function* () {
    const shown = resolve(path)
    const found = yield* Effect.try({
      // Line breaks as written here, whatever a checkout made of them (Git's autocrlf), and no byte order mark
      // (which some editors add on saving).
      try: () => readFileSync(shown, "utf8").replace(/^\ufeff/, "").replaceAll("\r\n", "\n"),
      catch: (error) =>
        (error as { readonly code?: unknown }).code === "ENOENT"
          ? new FeatureTypesError({ reason: "Missing", detail: `${shown} does not exist: run \`lineage types\` to write it` })
          : new FeatureTypesError({ reason: "Unreadable", detail: `cannot read ${shown}: ${reasonOf(error, shown)}` })
    })
    const line = firstDifference(expected, found)
    if (line !== undefined)
      return yield* new FeatureTypesError({
        reason: "OutOfDate",
        detail: `${shown} does not declare the store's features (first difference at line ${line}): run \`lineage types\` to update it, and keep code formatters off it`
      })
  })

const counted = (declared: FeatureTypes.Declaration): string =>
  `${declared.count} feature${declared.count === 1 ? "" : "s"}${declared.untyped === 0 ? "" : `, ${declared.untyped} as unknown (their dtype does not parse)`}`

const tell = (line: string) => Effect.sync(() => void process.stderr.write(`lineage: ${printable(line)}\n`))

/** The warning for a file that declares more features than the compiler handles quickly (see `FeatureTypes.advisedMax`), if it does. */
export const tooMany = (declared: Pick<FeatureTypes.Declaration, "count" | "json">): string | undefined => {
  const { features, json } = FeatureTypes.advisedMax
  const over =
    declared.count > features
      ? `${declared.count.toLocaleString("en-US")} features declared, more than the ${features} typed filters compile quickly with`
      : declared.json > json
        ? `${declared.json} dict or object features declared, more than the ${json} typed filters compile quickly with`
        : undefined
  return over === undefined ? undefined : `warning: ${over}; declare those your code names with --filter (see "Typed features" in the README)`
}

/** What `types` does with the declarations: print them, write them, or compare them with the file (`--check`). */
export const deliver = (flags: Flags, declared: FeatureTypes.Declaration) =>
  Effect.gen(function* () {
    const warning = tooMany(declared)
    if (warning !== undefined) yield* tell(warning)
    if (flags.check) {
      yield* check(flags.out, declared.text)
      return yield* tell(`${resolve(flags.out)} is up to date (${counted(declared)})`)
    }
    if (flags.out === stdoutOut) {
      yield* print(declared.text)
      return yield* tell(`printed ${counted(declared)}`)
    }
    const written = yield* writeAtomically(flags.out, declared.text)
    yield* tell(`wrote ${written} (${counted(declared)})`)
  })
