/**
 * The emulator as a mongos (topology "sharded"): `shardCollection` gives a collection a shard key, and what a
 * 7.0 cluster refuses on sharded collections is refused with mongos's (or its shards') codes and messages.
 *
 * One shard holds every document, so nothing is ever spread out; where mongos's answer depends on how the
 * chunks are spread, the emulator answers as for chunks spread over several shards: only an equality on the
 * whole shard key (or, where mongod accepts it, on `_id`) is sure to reach one shard. Code that passes here
 * passes whatever the chunk layout.
 *
 * The rules, from mongod 7.0's source: `shard_key_util.cpp` (shardCollection's index checks),
 * `create_indexes.cpp` (unique indexes on sharded collections), `chunk_manager_targeter.cpp` (which single
 * writes mongos can route), `cluster_find_and_modify_cmd.cpp`, and the update stage's shard key checks.
 */
import { BSONRegExp, type Document } from "bson"
import type { Collection } from "./Catalog.js"
import { canonical, formatValue, isPlainObject } from "./Documents.js"
import { CommandError } from "./Errors.js"
import { ID_INDEX, defaultName, parseIndexSpec, type IndexSpec } from "./Indexes.js"

export type Topology = "standalone" | "sharded"

/** A sharded collection's key, as `shardCollection` was given it. */
export interface ShardKey {
  readonly key: Document
  readonly unique: boolean
}

const invalidOptions = (message: string): CommandError => CommandError.of("InvalidOptions", message)
const shardKeyNotFound = (message: string): CommandError => new CommandError(61, message, {}, "ShardKeyNotFound")

const fields = (key: Document): Array<string> => Object.keys(key)

const isOne = (u: unknown): boolean => canonical(u) === canonical(1)

const badValue = (message: string): CommandError => CommandError.of("BadValue", message)

/**
 * mongod's `ShardKeyPattern` constructor, which `shardCollection` runs first (2): a non-empty key of paths
 * without empty or `$`-prefixed parts, each field ascending (`1`) or the one `"hashed"`. Which of its two
 * wordings 7.0 gives a bad value is not confirmed; the emulator gives the one up to 6.x.
 */
const checkPattern = (key: Document): void => {
  if (fields(key).length === 0) throw badValue("Shard key is empty")
  let hashed = 0
  for (const [field, value] of Object.entries(key)) {
    const parts = field.split(".")
    if (field === "") throw badValue(`Field ${field} is empty`)
    if (parts.some((part) => part === "")) throw badValue(`Field ${field} contains empty parts`)
    if (parts.some((part) => part.startsWith("$"))) throw badValue(`Field ${field} contains parts that start with '$'`)
    if (value === "hashed") hashed++
    if (!(isOne(value) || (value === "hashed" && hashed === 1))) {
      throw badValue(
        `Shard key ${formatValue(key)} can contain at most one 'hashed' field, and/or multiple numerical fields set to a value of 1. Failed to parse field ${field}`
      )
    }
  }
}

const isHashed = (key: Document): boolean => Object.values(key).includes("hashed")

/**
 * mongod's `isUniqueIndexCompatible`: a unique index is enforceable on a sharded collection when the shard
 * key's fields are a prefix of its fields, or when it starts with `_id` (unique per shard only).
 */
const isUniqueIndexCompatible = (shardKey: Document, indexKey: Document): boolean => {
  const index = fields(indexKey)
  if (index[0] === "_id") return true
  return fields(shardKey).every((f, i) => index[i] === f)
}

/** createIndexes on a sharded collection: a unique index the shard key does not prefix is refused (67). */
export const checkNewIndex = (shardKey: ShardKey | undefined, spec: IndexSpec): void => {
  if (shardKey === undefined || !spec.unique || isUniqueIndexCompatible(shardKey.key, spec.key)) return
  throw new CommandError(
    67,
    `cannot create unique index over ${formatValue(spec.key)} with shard key pattern ${formatValue(shardKey.key)}`,
    {},
    "CannotCreateIndex"
  )
}

/** An index key pattern starting with the shard key's fields and values (mongod's `isPrefixOf`). */
const startsWith = (indexKey: Document, shardKey: Document): boolean => {
  const index = Object.entries(indexKey)
  return Object.entries(shardKey).every(([f, v], i) => index[i]?.[0] === f && canonical(index[i]?.[1]) === canonical(v))
}

const hasCollation = (index: IndexSpec): boolean => index.description["collation"] !== undefined

/**
 * Why `shardCollection`'s first look at the indexes passes one over, as mongod's `validShardKeyIndexExists`
 * words it. It reads a partial filter from a field (`filter`) index specs do not have, so a partial index is
 * never passed over here.
 */
const firstLookReasons = (index: IndexSpec): string =>
  `${index.sparse ? " Index key is sparse." : ""}${hasCollation(index) ? " Index has a non-simple collation." : ""}`

/**
 * mongod's `checkShardingIndex` (`isCompatibleWithShardKey` on every index, in catalog order): an index
 * prefixed by the key, neither partial nor sparse nor with a collation, serves it (a key on `_id` alone is
 * always served); otherwise the refusal (72) names each index and why.
 */
const checkShardingIndex = (indexes: ReadonlyArray<IndexSpec>, key: Document): void => {
  if (canonical(key) === canonical({ _id: 1 })) return
  const reasons = (index: IndexSpec): string =>
    (index.partialFilterExpression !== undefined ? " Index key is partial." : "") +
    (index.sparse ? " Index key is sparse." : "") +
    (hasCollation(index) ? " Index has a non-simple collation." : "") +
    (startsWith(index.key, key) ? "" : " Shard key is not a prefix of index key.")
  if (indexes.some((index) => reasons(index) === "")) return
  const named = indexes.map((index) => `\nIndex ${index.name} cannot be used for sharding because:${reasons(index)}`)
  throw invalidOptions(`couldn't find valid index for shard key${named.join("")}`)
}

/**
 * What `shardCollection` does to a collection's indexes, or its refusal (72), following mongod's
 * `validateShardKeyIndexExistsOrCreateIfPossible`:
 * 1. every unique index must be compatible with the key;
 * 2. an index prefixed by the key, neither sparse nor with a collation, may serve it;
 * 3. with `unique`, an index exactly on the key must exist (else none serves) and be unique;
 * 4. if one may serve, `checkShardingIndex` must find one that does;
 * 5. without one, a collection with documents is refused, naming the last index step 2 passed over for
 *    being sparse or collated (whatever its key), and an empty one gets `{ key }`.
 * Returns the index to create, if any.
 */
const shardKeyIndex = (ns: string, indexes: ReadonlyArray<IndexSpec>, empty: boolean, shardKey: ShardKey): IndexSpec | undefined => {
  const { key, unique } = shardKey
  for (const index of indexes) {
    if (index.unique && !isUniqueIndexCompatible(key, index.key)) {
      throw invalidOptions(
        `can't shard collection '${ns}' with unique index on ${formatValue(index.key)} and proposed shard key ${formatValue(key)}. Uniqueness can't be maintained unless shard key is a prefix`
      )
    }
  }
  let useful = indexes.some((index) => startsWith(index.key, key) && !index.sparse && !hasCollation(index))
  if (useful && unique) {
    const exact = indexes.find((index) => canonical(index.key) === canonical(key))
    if (exact === undefined) useful = false
    else if (!exact.unique && fields(exact.key)[0] !== "_id") {
      throw invalidOptions(`can't shard collection ${ns}, ${formatValue(key)} index not unique, and unique index explicitly specified`)
    }
  }
  if (useful) {
    checkShardingIndex(indexes, key)
    return undefined
  }
  if (!empty) {
    const last = indexes.filter((index) => firstLookReasons(index) !== "").at(-1)
    const reasons = last === undefined ? "" : ` Index ${last.name} cannot be used for sharding because [${firstLookReasons(last)} ]`
    throw invalidOptions(`Please create an index that starts with the proposed shard key before sharding the collection. ${reasons}`)
  }
  return parseIndexSpec({ key, name: defaultName(key), ...(unique && fields(key)[0] !== "_id" ? { unique: true } : {}) })
}

/**
 * Validates a `shardCollection` request against an existing (or missing) collection: the pattern, the
 * options, and the indexes. Returns the shard key and the index to build; nothing is changed.
 */
export const planShardCollection = (
  ns: string,
  existing: Collection | undefined,
  key: Document,
  unique: boolean
): { readonly shardKey: ShardKey; readonly index: IndexSpec | undefined } => {
  checkPattern(key)
  if (isHashed(key) && unique) {
    throw invalidOptions(
      "Hashed shard keys cannot be declared unique. It's possible to ensure uniqueness on the hashed field by declaring an additional (non-hashed) unique index on the field."
    )
  }
  const shardKey = { key, unique }
  const current = existing?.shardKey
  if (current !== undefined) {
    if (canonical(current.key) === canonical(key) && current.unique === unique) return { shardKey: current, index: undefined }
    throw new CommandError(23, `sharding already enabled for collection ${ns} with options ${formatValue({ key: current.key, unique: current.unique })}`, {}, "AlreadyInitialized")
  }
  if (existing?.options["capped"] === true) throw invalidOptions("can't shard a capped collection")
  const indexes = existing?.indexes() ?? [ID_INDEX]
  return { shardKey, index: shardKeyIndex(ns, indexes, (existing?.size ?? 0) === 0, shardKey) }
}

// ------------------------------------------------------------------------------------------------- routing

/** An equality's value, unless the predicate is not a plain equality (an operator, a regex, an array). */
const equalityValue = (value: unknown): { readonly value: unknown } | undefined => {
  if (Array.isArray(value) || value instanceof RegExp || value instanceof BSONRegExp) return undefined
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
    if (!keys.some((k) => k.startsWith("$"))) return { value }
    return keys.length === 1 && keys[0] === "$eq" ? equalityValue(value["$eq"]) : undefined
  }
  return { value }
}

/** The equalities of a filter's top-level conjunction, by path (mongod's `extractFullEqualityMatches`). */
const equalities = (filter: unknown, out: Map<string, unknown> = new Map()): Map<string, unknown> => {
  if (!isPlainObject(filter)) return out
  for (const [path, predicate] of Object.entries(filter)) {
    if (path === "$and" && Array.isArray(predicate)) {
      for (const clause of predicate) equalities(clause, out)
      continue
    }
    if (path.startsWith("$")) continue
    const eq = equalityValue(predicate)
    if (eq !== undefined) out.set(path, eq.value)
  }
  return out
}

/** Whether a filter pins every shard key field to one value: then mongos routes it to one shard. */
const hasShardKey = (shardKey: ShardKey, filter: unknown): boolean => {
  const eq = equalities(filter)
  return fields(shardKey.key).every((f) => eq.has(f))
}

/** mongod's `isExactIdQuery`: an equality on `_id` (with the collection's default collation). */
const isExactIdQuery = (filter: unknown): boolean => equalities(filter).has("_id")

/** A single-document write's rendering in mongos's messages (the emulator's own layout). */
const shown = (statement: Document): string => formatValue(statement)

/**
 * An update statement as mongos 7.0 routes it: an upsert needs the whole shard key in its filter (61);
 * otherwise a filter on the whole shard key reaches one shard, a replacement is routed by the shard key of
 * the replacement document (missing fields count as null), and an operator update of one document needs an
 * equality on `_id` (72).
 */
export const routeUpdate = (shardKey: ShardKey, statement: Document, replacement: boolean): void => {
  const q: unknown = statement["q"]
  if (statement["upsert"] === true) {
    if (!hasShardKey(shardKey, q)) throw shardKeyNotFound("Failed to target upsert by query :: could not extract exact shard key")
    return
  }
  if (hasShardKey(shardKey, q) || replacement || statement["multi"] === true || isExactIdQuery(q)) return
  throw invalidOptions(
    `A {multi:false} update on a sharded collection must contain an exact match on _id (and have the collection default collation) or target a single shard (and have the simple collation), but this update may target several shards. Update request: ${shown(statement)}, shard key pattern: ${formatValue(shardKey.key)}`
  )
}

/** A delete of one document (`limit: 1`) needs the whole shard key or an exact `_id` in its filter (61). */
export const routeDelete = (shardKey: ShardKey, statement: Document): void => {
  const q: unknown = statement["q"]
  const limit: unknown = statement["limit"]
  if (!isOne(limit) || hasShardKey(shardKey, q) || isExactIdQuery(q)) return
  throw shardKeyNotFound(
    `A single delete on a sharded collection must contain an exact match on _id (and have the collection default collation) or contain the shard key (and have the simple collation). Delete request: ${shown(statement)}, shard key pattern: ${formatValue(shardKey.key)}`
  )
}

/** findAndModify needs the whole shard key in its query (61) in 7.0; 7.1 relaxed it. */
export const routeFindAndModify = (shardKey: ShardKey, query: unknown): void => {
  if (!hasShardKey(shardKey, query)) throw shardKeyNotFound("Query for sharded findAndModify must contain the shard key")
}

/**
 * A document's shard key values, in key order (missing → null), or undefined when an array lies on the path
 * of one (mongod refuses arrays in shard keys).
 */
const shardKeyOf = (shardKey: ShardKey, doc: Document): Array<unknown> | undefined => {
  const values: Array<unknown> = []
  for (const path of fields(shardKey.key)) {
    let current: unknown = doc
    for (const segment of path.split(".")) {
      if (Array.isArray(current)) return undefined
      current = isPlainObject(current) ? current[segment] : undefined
    }
    if (Array.isArray(current)) return undefined
    values.push(current ?? null)
  }
  return values
}

/** An insert into a sharded collection: mongos cannot route a document with an array in its shard key (61). */
export const checkInsert = (shardKey: ShardKey, doc: Document): void => {
  if (shardKeyOf(shardKey, doc) === undefined) throw shardKeyNotFound("Shard key cannot contain array values or array descendants.")
}

/**
 * The update stage's `_assertPathsNotArray`: the first shard key path (in mongod's path order) with an array
 * in or on the way to it (28).
 */
const arrayPath = (shardKey: ShardKey, doc: Document): string | undefined =>
  fields(shardKey.key)
    .sort()
    .find((path) => shardKeyOf({ key: { [path]: 1 }, unique: false }, doc) === undefined)

/**
 * An update that changes a document's shard key, as mongod 7.0's update stage allows it: never to an array
 * (28), only with the whole shard key in the filter (31025), for one document (72), and in a retryable write
 * or a transaction (20).
 */
export const checkShardKeyChange = (
  shardKey: ShardKey,
  before: Document,
  after: Document,
  filter: unknown,
  multi: boolean,
  retryable: boolean
): void => {
  const old = shardKeyOf(shardKey, before)
  const next = shardKeyOf(shardKey, after)
  if (next === undefined) {
    throw new CommandError(
      28,
      `After applying the update to the document, the field '${arrayPath(shardKey, after) ?? ""}' was found to be an array or array descendant.`,
      {},
      "NotSingleValueField"
    )
  }
  if (canonical(old) === canonical(next)) return
  if (!hasShardKey(shardKey, filter)) {
    throw new CommandError(31025, "Shard key update is not allowed without specifying the full shard key in the query", {}, "Location31025")
  }
  if (multi) throw invalidOptions("Multi-update operations are not allowed when updating the shard key field.")
  if (!retryable) {
    throw CommandError.of("IllegalOperation", "Must run update to shard key field in a multi-statement transaction or with retryWrites: true.")
  }
}
