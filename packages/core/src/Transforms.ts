/**
 * What the Transform registry does beyond every registry's operations. A transform's `hash` is its source
 * code's, whatever writes the source: secrets never reach a record or an error, so the source is stored
 * redacted (see `Redaction`), the hash is of what is stored, and an error shows a source only redacted. And
 * a transform declared again by its key and source (as lamindb's `Transform(key=…, source_code=…)` and
 * `track()` do) is the version recording that source, or the key's next version when the source changed
 * (`getOrCreate`, and `transformFor` for tracking).
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import { UniqueViolation, ValidationError } from "./Errors.js"
import * as Hints from "./Hints.js"
import { mainBranch } from "./Model.js"
import type { Expression } from "./Query.js"
import * as Redaction from "./Redaction.js"
import type { DefaultsArgument, Lookup, NoExtra } from "./Inputs.js"
import type { Transform, TransformKind } from "./Records.js"
import type * as Registry from "./Registry.js"
import { Store } from "./Store.js"
import * as Versioning from "./Versioning.js"

/** lamindb's transform hash: md5, base64url, cut to 22 characters. */
export const hashSource = (source: string | Uint8Array): string =>
  createHash("md5").update(source).digest("base64url").slice(0, 22)

/** A transform declared by what identifies it: its key, and its source when it has one. */
export interface TransformSpec {
  readonly key: string
  /** The version tag (`versionTag`) to find or give: a tag whose recorded source differs is refused. */
  readonly version?: string | undefined
  readonly kind?: TransformKind | undefined
  readonly description?: string | undefined
  /** Stored with its secrets redacted (see Redaction), and hashed as stored. */
  readonly sourceCode?: string | undefined
  /** `false` records the source's hash but not the source (default: `LINEAGE_STORE_SOURCE`, else true). */
  readonly storeSource?: boolean | undefined
}

type Input = Registry.Input

/**
 * A `ValidationError` on a Transform field. A value given for `sourceCode` may hold secrets: an error holds
 * it redacted when it is text, and only its kind and size otherwise (a buffer of source bytes, say).
 */
const invalid = (field: string, value: unknown, expected: string) =>
  new ValidationError({ registry: "Transform", field, value: field === "sourceCode" ? shownSource(value) : value, expected })

const shownSource = (value: unknown): unknown => {
  if (value === null || value === undefined) return value
  if (typeof value === "string") return Redaction.text(value)
  if (ArrayBuffer.isView(value)) return `<${value.byteLength} bytes>`
  return `<${Array.isArray(value) ? "array" : typeof value}>`
}

// ---------------------------------------------------------------------------------------------------------
// Source code and its hash

export const storeSourceVariable = "LINEAGE_STORE_SOURCE"

const switches: ReadonlyMap<string, boolean> = new Map([
  ["1", true],
  ["true", true],
  ["yes", true],
  ["0", false],
  ["false", false],
  ["no", false]
])

/** Whether to store source code: `given`, else `LINEAGE_STORE_SOURCE`, else true. A value it cannot read is refused. */
const storeSourceOf = (given: boolean | undefined): Effect.Effect<boolean, ValidationError> => {
  const raw = process.env[storeSourceVariable]?.trim().toLowerCase()
  if (given !== undefined || raw === undefined || raw === "") return Effect.succeed(given ?? true)
  const value = switches.get(raw)
  return value !== undefined
    ? Effect.succeed(value)
    : Effect.fail(invalid("storeSource", raw, `one of ${[...switches.keys()].join(", ")} in ${storeSourceVariable}`))
}

const hashMismatch = (given: unknown, hash: string) =>
  invalid("hash", given, `${hash}, the hash of the sourceCode as stored (secrets redacted), or no hash`)

/**
 * `input` with its source code redacted and its hash set from it, or why not: a source that is not a string,
 * or a given `hash` that disagrees. The hash is of the redacted source: a hash of the original would let
 * anyone holding the stored source test guesses of a short secret in it offline.
 */
const withSourceHash = (input: Input): Effect.Effect<Input, ValidationError> => {
  const source = input["sourceCode"]
  if (source === undefined || source === null) return Effect.succeed(input)
  if (typeof source !== "string") return Effect.fail(invalid("sourceCode", source, "a string or null"))
  const sourceCode = Redaction.text(source)
  const hash = hashSource(sourceCode)
  const given = input["hash"]
  if (given !== undefined && given !== hash) return Effect.fail(hashMismatch(given, hash))
  return Effect.succeed({ ...input, sourceCode, hash })
}

/**
 * An update's patch with the same rule: a new source brings its hash, and a hash alone may be set only on a
 * transform that stores no source. Whether it does is read from the store, not from `record`: a stale copy
 * must not set a hash that disagrees with the source stored since.
 */
const patchWithSourceHash = (entity: Registry.Untyped<Transform>["entity"], record: Transform, patch: Input) => {
  if (patch["sourceCode"] !== undefined) return withSourceHash(patch)
  const given = patch["hash"]
  if (given === undefined) return Effect.succeed(patch)
  return Store.use((store) => store.get(entity, [record.id])).pipe(
    Effect.flatMap(([stored]) =>
      stored === undefined || stored.sourceCode === null
        ? Effect.succeed(patch)
        : Effect.fail(invalid("hash", given, "no hash without sourceCode: the hash is the stored source's (give both to change them)"))
    )
  )
}

// ---------------------------------------------------------------------------------------------------------
// Declaring a transform

/** The names that identify a declared transform, given in the lookup (`versionTag` is `version`'s field). */
const identifying: ReadonlySet<string> = new Set(["key", "sourceCode", "version", "versionTag"])

/** What a declaration may add: used only when it creates, so they may come as defaults too. */
const creating: ReadonlySet<string> = new Set(["kind", "description", "storeSource"])

const declarable = (name: string): boolean => identifying.has(name) || creating.has(name)

const namesOf = (o: Input): ReadonlyArray<string> => Object.keys(o).filter((name) => o[name] !== undefined)

/**
 * Whether a `getOrCreate` lookup declares a transform: it gives its source (or says whether to store it), or
 * a key's version tag and nothing a declaration cannot hold. Any other lookup (a key alone, a uid, a hash,
 * operators) is an ordinary get-or-create.
 */
const isDeclaration = (lookup: Expression): boolean => {
  const named = namesOf(lookup)
  if (named.includes("sourceCode") || named.includes("storeSource")) return true
  const tagged = named.includes("version") || named.includes("versionTag")
  return tagged && typeof lookup["key"] === "string" && named.every(declarable)
}

/** A lookup of a key alone: `kind` and `description` beside it only describe a transform created for the key. */
const isKeyOnly = (lookup: Expression): boolean =>
  typeof lookup["key"] === "string" && namesOf(lookup).every((name) => name === "key" || name === "kind" || name === "description")

const refuse = (field: string, value: unknown, expected: string) => Effect.fail(invalid(field, value, expected))

/** `given[name]`, if it is absent or passes `is`. */
const valueOf = <T>(given: Input, name: string, is: (v: unknown) => v is T, expected: string): Effect.Effect<T | undefined, ValidationError> => {
  const value = given[name]
  return value === undefined || is(value) ? Effect.succeed(value as T | undefined) : refuse(name, value, expected)
}

const isString = (v: unknown): v is string => typeof v === "string"
const isBoolean = (v: unknown): v is boolean => typeof v === "boolean"

/**
 * A declaring lookup and its defaults as a spec and the other fields to create with, or the first name given
 * where it does not belong and the first value of the wrong type. `kind` and `description` are checked by the
 * create that uses them.
 */
const specOf = (lookup: Expression, defaults: Input): Effect.Effect<{ readonly spec: TransformSpec; readonly extra: Input }, ValidationError> =>
  Effect.gen(function* () {
    const unknown = namesOf(lookup).find((name) => !declarable(name))
    if (unknown !== undefined)
      return yield* refuse(unknown, lookup[unknown], `no value: a transform is declared by ${[...identifying, ...creating].join(", ")} (give other fields as defaults)`)
    const misplaced = namesOf(defaults).find((name) => identifying.has(name) || name === "hash")
    if (misplaced !== undefined)
      return yield* refuse(misplaced, defaults[misplaced], "no default: it identifies the declared transform (the hash through its source), so it belongs in the lookup")
    if (lookup["version"] !== undefined && lookup["versionTag"] !== undefined)
      return yield* refuse("versionTag", lookup["versionTag"], "no value: version and versionTag both set versionTag, give one")
    const given: Input = { ...Object.fromEntries([...creating].map((name) => [name, defaults[name]])), ...lookup }
    const key = yield* valueOf(given, "key", isString, "a string")
    if (key === undefined) return yield* refuse("key", key, "a string")
    const spec: TransformSpec = {
      key,
      sourceCode: yield* valueOf(given, "sourceCode", isString, "a string"),
      version: (yield* valueOf(given, "version", isString, "a string")) ?? (yield* valueOf(given, "versionTag", isString, "a string")),
      kind: given["kind"] as TransformKind | undefined,
      description: given["description"] as string | undefined,
      storeSource: yield* valueOf(given, "storeSource", isBoolean, "true or false")
    }
    return { spec, extra: Object.fromEntries(Object.entries(defaults).filter(([name]) => !creating.has(name))) }
  })

/** The operations a declaration reads and writes through: the Transform registry's, source hashing included. */
type Operations = Pick<Registry.Untyped<Transform>, "entity" | "filter" | "create" | "restore">

/** Where the transform recording each (key, hash) was last seen: unique across the trash (see `Hints`). */
const sourceIds = Hints.make()

/**
 * The transform recording `hash` as a source of `key`, on any branch: read by id where one was seen recording
 * it, and kept if it still does.
 */
const sameSource = (transforms: Operations, key: string, hash: string) =>
  Effect.gen(function* () {
    const store = yield* Store
    const value = JSON.stringify([key, hash])
    const hinted = sourceIds.get(store, value)
    if (hinted !== undefined) {
      const [seen] = yield* store.get(transforms.entity, [hinted])
      if (seen !== undefined && seen.key === key && seen.hash === hash) return seen
      sourceIds.forget(store, value)
    }
    const found = yield* transforms.filter({ key, hash, branchId: null }).first()
    if (found !== undefined) sourceIds.set(store, value, found.id)
    return found
  })

/** Remembers where `transform` records its source (see `sameSource`). */
const seenSource = (transform: Transform) =>
  Store.useSync((store) => {
    if (transform.hash !== null) sourceIds.set(store, JSON.stringify([transform.key, transform.hash]), transform.id)
    return transform
  })

const inTrash = (t: Transform) => (t.branchId === mainBranch ? "" : ` (${t.uid}, in the trash)`)

/** A declared source already recorded under another version tag than the declared one. */
const retagged = (spec: TransformSpec, same: Transform) =>
  invalid(
    "version",
    spec.version,
    same.versionTag === null
      ? `no version: this source of ${spec.key} is recorded without a version tag${inTrash(same)}`
      : `${same.versionTag}: this source of ${spec.key} is recorded as version ${same.versionTag}${inTrash(same)}`
  )

/**
 * The version holding the declared tag, if it is the declared one. A live one is, unless it recorded another
 * source; a trashed one comes back only if it records exactly the declared source (or neither has one): the
 * tag stays taken in the trash, and a declaration must not quietly restore a version it does not describe.
 */
const taggedVersion = (transforms: Operations, spec: TransformSpec, hash: string | undefined, tagged: Transform) => {
  if (tagged.branchId === mainBranch)
    return hash !== undefined && tagged.hash !== null && tagged.hash !== hash
      ? Effect.fail(
          invalid("version", spec.version, `a new version: the source of ${spec.key} ${spec.version} changed since it was recorded`)
        )
      : Effect.succeed(tagged)
  if (tagged.hash === (hash ?? null)) return transforms.restore(tagged)
  const recorded = tagged.hash === null ? "no source" : hash === undefined ? "a source" : "another source"
  return Effect.fail(
    invalid(
      "version",
      spec.version,
      `another version: ${spec.key} ${spec.version} is ${tagged.uid}, in the trash, which records ${recorded} ` +
        "(restore it, or delete it permanently to free the tag)"
    )
  )
}

/** Unique (key, hash) and (key, versionTag): violated when another writer declared the same transform first. */
const declaredTogether: ReadonlyArray<ReadonlyArray<string>> = [["key", "hash"], ["key", "versionTag"]]

const violates = (e: UniqueViolation, fields: ReadonlyArray<string>) =>
  fields.length === e.fields.length && fields.every((f) => e.fields.includes(f))

/** Lost to another writer: its record is there to find when looking again. */
const lostToAnotherWriter = (e: unknown): boolean =>
  Versioning.isRace(e) || (e instanceof UniqueViolation && declaredTogether.some((fields) => violates(e, fields)))

/**
 * The transform `spec` declares: the version with the same key and source is reused (from the trash too);
 * otherwise the version with the given tag (see `taggedVersion`), the first version of a new key, or the next
 * version of the key's family (moving `isLatest`). Without source or tag, the key's latest version, whatever
 * it records. `extra` holds fields for a transform it creates. Racing callers (parallel steps, several
 * processes) end on one record: the store's unique (key, hash), (key, versionTag) and the family claims make
 * the losers look again; any other failure is final.
 */
const declare = (transforms: Operations, spec: TransformSpec, extra: Input = {}) => {
  const hash = spec.sourceCode === undefined ? undefined : hashSource(Redaction.text(spec.sourceCode))
  const attempt = Effect.gen(function* () {
    const storeSource = yield* storeSourceOf(spec.storeSource)
    // A key without a live version starts its family with `revise: false`: of callers racing to start it, one
    // wins and the others, refused by the family claims, look again and find its record.
    let revise = true
    if (hash !== undefined) {
      // Unique (key, hash) spans the trash: a trashed version with this source comes back (lamindb's
      // "returning transform from trash with same hash & key").
      const same = yield* sameSource(transforms, spec.key, hash)
      if (same !== undefined) {
        if (spec.version !== undefined && same.versionTag !== spec.version) return yield* retagged(spec, same)
        return same.branchId === mainBranch ? same : yield* transforms.restore(same)
      }
    }
    if (spec.version !== undefined) {
      // Unique (key, versionTag) spans the trash too.
      const tagged = yield* transforms.filter({ key: spec.key, versionTag: spec.version, branchId: null }).first()
      if (tagged !== undefined) return yield* taggedVersion(transforms, spec, hash, tagged)
    } else if (hash === undefined) {
      const latest = yield* transforms.filter({ key: spec.key, isLatest: true }).first()
      if (latest !== undefined) return latest
      revise = false
    }
    const created = yield* transforms.create(
      {
        ...extra,
        key: spec.key,
        versionTag: spec.version ?? null,
        kind: spec.kind ?? "pipeline",
        description: spec.description ?? null,
        sourceCode: storeSource ? (spec.sourceCode ?? null) : null,
        hash: hash ?? null
      },
      { revise }
    )
    return yield* seenSource(created)
  })
  return Effect.retry(attempt, { while: lostToAnotherWriter, times: 5 })
}

// ---------------------------------------------------------------------------------------------------------
// The registry

/**
 * The Transform registry with its source rules on every write it offers, and `getOrCreate` declaring a
 * transform as lamindb's `Transform(key=…, source_code=…)` does when the lookup is a declaration (`key` with
 * `sourceCode`, `storeSource` or `version`, and perhaps `kind` and `description`): the version recording that
 * source, else the key's next version; a given `version` whose recorded source differs is a
 * `ValidationError`. A key alone (perhaps with `kind` and `description`, which only describe a transform it
 * creates) gets the key's latest version, whatever it records, and creates one from the defaults (a
 * `sourceCode` among them too) only when the key has none. Other lookups get or create the record matching
 * them. `create` always creates: the same source under the same key again is a `UniqueViolation` on
 * `transform_key_hash`.
 */
export const guard = <Reg extends Registry.Untyped<Transform>>(registry: Reg) => {
  const create = (input: Input, options?: { readonly revise?: boolean }) =>
    Effect.flatMap(withSourceHash(input), (sourced) => registry.create(sourced, options))
  const transforms = { entity: registry.entity, filter: registry.filter, create, restore: registry.restore }
  /** An ordinary get-or-create, the source among the defaults hashed for the create. */
  const getOrCreate = (lookup: Expression, defaults: Input) =>
    Effect.flatMap(withSourceHash({ ...lookup, ...defaults }), (sourced) =>
      registry.getOrCreate(lookup, { ...defaults, ...pickSource(sourced) })
    )
  return Object.assign({}, registry, {
    create,
    createMany: (inputs: ReadonlyArray<Input>) => Effect.flatMap(Effect.forEach(inputs, withSourceHash), registry.createMany),
    update: (record: Transform, patch: Input) =>
      Effect.flatMap(patchWithSourceHash(registry.entity, record, patch), (sourced) => registry.update(record, sourced)),
    getOrCreate: (lookup: TransformSpec | Expression, defaults: Input = {}) => {
      const expression = lookup as Expression
      if (isDeclaration(expression))
        return Effect.flatMap(specOf(expression, defaults), ({ spec, extra }) => declare(transforms, spec, extra))
      if (!isKeyOnly(expression)) return getOrCreate(expression, defaults)
      const described = Object.fromEntries(namesOf(expression).map((name) => [name, expression[name]]))
      return getOrCreate({ key: expression["key"] }, { ...defaults, ...described })
    }
  })
}

/** What a transform's `getOrCreate` takes beyond every registry's: `storeSource`, for a declared transform. */
export type Declaring = Pick<TransformSpec, "storeSource">

/**
 * The Transform registry: `getOrCreate` also declares a transform by its key and source (`storeSource` among
 * the lookup or the defaults), as `guard` says.
 */
export interface TransformRegistry extends Omit<Registry.Of<"Transform", typeof Transform>, "getOrCreate"> {
  getOrCreate<const L extends Lookup<"Transform"> & Declaring>(
    lookup: L & NoExtra<L, Lookup<"Transform"> & Declaring>,
    ...defaults: DefaultsArgument<"Transform", L, Declaring>
  ): Effect.Effect<Transform, Registry.GetError | Registry.CreateError, Store>
}

/** The source fields of a hashed input, to create with. */
const pickSource = (input: Input): Input =>
  input["sourceCode"] === undefined ? {} : { sourceCode: input["sourceCode"], hash: input["hash"] }
