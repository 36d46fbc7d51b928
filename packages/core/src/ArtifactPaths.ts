/**
 * What an artifact record may say about where its bytes are. Bytes live at `<root>/<uid><suffix>`, so the
 * uid and suffix become a file name and `storage` names the root. Every write through the registry checks
 * `suffix`, `key` and `storage`; reading checks the record again, since another client may have written it
 * straight into a shared store.
 */
import { Effect } from "effect"
import { urlWithoutQuery } from "./Driver.js"
import { ValidationError } from "./Errors.js"
import type { Artifact } from "./Records.js"
import type { Expression } from "./Query.js"
import type * as Registry from "./Registry.js"
import * as Uid from "./Uid.js"

/** lamindb's `Artifact.suffix` column width. */
export const maxSuffixLength = 30

/** lamindb's `Artifact.key` column width. */
export const maxKeyLength = 1024

/** Longest `storage` URL accepted. */
export const maxStorageLength = 1024

/** Schemes a `storage` URL may have: local files and lamindb's cloud stores. Only `file:` can be read here. */
export const storageSchemes: ReadonlyArray<string> = ["file:", "s3:", "gs:", "hf:", "http:", "https:"]

/** Dot-separated alphanumeric parts (`.csv`, `.tar.gz`, `.ome.zarr`) or none: never a separator, `..` or a control. */
const suffixPattern = /^(\.[A-Za-z0-9_+-]+)*$/

const controlCharacter = /[\u0000-\u001f\u007f]/

export const isSuffix = (value: string): boolean => value.length <= maxSuffixLength && suffixPattern.test(value)

const expectedSuffix = `"" or a suffix of at most ${maxSuffixLength} characters: dot-led letters, digits, "_", "+" or "-" (".csv", ".tar.gz")`

export const checkSuffix = (value: unknown): ValidationError | undefined =>
  typeof value === "string" && !isSuffix(value)
    ? new ValidationError({ registry: "Artifact", field: "suffix", value, expected: expectedSuffix })
    : undefined

/** Why `key` is not a relative path of named segments, or undefined. */
const keyProblem = (key: string): string | undefined => {
  if (key.trim().length === 0) return "it is blank"
  if (key.length > maxKeyLength) return `it is ${key.length} characters long`
  if (controlCharacter.test(key)) return "it holds a control character"
  if (key.includes("\\")) return 'it holds "\\"'
  if (key.startsWith("/") || /^[A-Za-z]:/.test(key)) return "it is absolute"
  if (key.split("/").some((s) => s === "" || s === "." || s === "..")) return 'it has an empty, "." or ".." segment'
  return undefined
}

export const checkKey = (value: unknown): ValidationError | undefined => {
  const problem = typeof value === "string" ? keyProblem(value) : undefined
  return problem === undefined
    ? undefined
    : new ValidationError({
        registry: "Artifact",
        field: "key",
        value,
        expected: `a non-empty relative path of at most ${maxKeyLength} characters such as "data/raw.csv", without "\\", control characters, or empty, "." or ".." segments (${problem})`
      })
}

/** Why `url` is not a storage root, or undefined. */
const storageProblem = (url: string): string | undefined => {
  if (url.length > maxStorageLength) return `it is ${url.length} characters long`
  if (controlCharacter.test(url)) return "it holds a control character"
  if (!URL.canParse(url)) return "it is not a URL"
  const parsed = new URL(url)
  if (!storageSchemes.includes(parsed.protocol)) return `its scheme is ${parsed.protocol}`
  // Credentials and signed query strings are secrets, which a record never holds.
  if (parsed.username !== "" || parsed.password !== "") return "it holds credentials"
  if (url.includes("?") || url.includes("#")) return "it has a query or fragment"
  if (parsed.protocol === "file:") {
    if (parsed.host !== "") return "a file URL names a host"
    // The canonical form has no "..", "." or encoded separators left to mean another directory.
    if (parsed.href !== url) return `it is not written as ${parsed.href}`
    return undefined
  }
  if (parsed.hostname === "") return "it names no bucket or host"
  if (url.split("/").some((s) => s === "." || s === "..")) return 'it has a "." or ".." segment'
  return undefined
}

export const checkStorage = (value: unknown): ValidationError | undefined => {
  const problem = typeof value === "string" ? storageProblem(value) : undefined
  return problem === undefined
    ? undefined
    : new ValidationError({
        registry: "Artifact",
        field: "storage",
        value: urlWithoutQuery(String(value)),
        expected: `null or a URL of at most ${maxStorageLength} characters with scheme ${storageSchemes.join(", ")}, no credentials, query or fragment, a file: URL in canonical form without host (${problem})`
      })
}

/** The first of an input's `suffix`, `key` and `storage` that is refused. */
export const checkInput = (input: { readonly [field: string]: unknown }): ValidationError | undefined =>
  (Object.hasOwn(input, "suffix") ? checkSuffix(input["suffix"]) : undefined) ??
  (Object.hasOwn(input, "key") ? checkKey(input["key"]) : undefined) ??
  (Object.hasOwn(input, "storage") ? checkStorage(input["storage"]) : undefined)

/** The name of an artifact's file in its root, or undefined when its uid or suffix could be path syntax. */
export const fileName = (artifact: { readonly uid: string; readonly suffix: string }, uidLength: number): string | undefined =>
  artifact.uid.length === uidLength && Uid.isBase62(artifact.uid) && isSuffix(artifact.suffix)
    ? `${artifact.uid}${artifact.suffix}`
    : undefined

const guarded = <A, E, R>(error: ValidationError | undefined, effect: () => Effect.Effect<A, E, R>) =>
  error === undefined ? effect() : Effect.fail(error)

/** The Artifact registry with `suffix`, `key` and `storage` checked on every write it offers. */
export const guard = <Reg extends Registry.Untyped<Artifact>>(registry: Reg): Reg =>
  Object.assign({}, registry, {
    create: (input: Registry.Input, options?: { readonly revise?: boolean }) =>
      guarded(checkInput(input), () => registry.create(input, options)),
    createMany: (inputs: ReadonlyArray<Registry.Input>) =>
      guarded(inputs.map(checkInput).find((e) => e !== undefined), () => registry.createMany(inputs)),
    getOrCreate: (lookup: Expression, defaults: Registry.Input = {}) =>
      guarded(checkInput({ ...lookup, ...defaults }), () => registry.getOrCreate(lookup, defaults)),
    update: (record: Artifact, patch: Registry.Input) => guarded(checkInput(patch), () => registry.update(record, patch))
  })
