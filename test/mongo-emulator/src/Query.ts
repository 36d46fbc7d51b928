/**
 * Query semantics through mingo, with mingo's errors turned into mongod's codes and messages.
 */
import type { Document } from "bson"
import { Aggregator, Query } from "mingo"
import type { CollationSpec } from "mingo/types"
import { CommandError } from "./Errors.js"
import { isPlainObject } from "./Documents.js"

export type Options = NonNullable<ConstructorParameters<typeof Query>[1]>
export type CollectionResolver = (name: string) => Array<Document>

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Maps an exception thrown by mingo (or our own CommandError) to a CommandError. */
export const fromMingo = (e: unknown): CommandError => {
  if (e instanceof CommandError) return e
  const message = messageOf(e)
  let m: RegExpMatchArray | null
  if ((m = /unknown top level operator:? (\S+)/i.exec(message))) {
    return CommandError.of(
      "BadValue",
      `unknown top level operator: ${m[1] ?? ""}. If you have a field name that starts with a '$' symbol, consider using $getField or $setField.`
    )
  }
  if ((m = /unknown query operator:? (\S+)/i.exec(message))) {
    return CommandError.of("BadValue", `unknown operator: ${m[1] ?? ""}`)
  }
  if ((m = /Unknown update operator: '([^']+)'/i.exec(message))) {
    return CommandError.of(
      "FailedToParse",
      `Unknown modifier: ${m[1] ?? ""}. Expected a valid update modifier or pipeline-style update specified as an array`
    )
  }
  if ((m = /updating the path '([^']+)' would create a conflict at '([^']+)'/i.exec(message))) {
    return CommandError.of("ConflictingUpdateOperators", `Updating the path '${m[1] ?? ""}' would create a conflict at '${m[2] ?? ""}'`)
  }
  if (/would modify the immutable field '_id'/.test(message)) {
    return CommandError.of("ImmutableField", "Performing an update on the path '_id' would modify the immutable field '_id'")
  }
  if ((m = /unregistered pipeline operator (\$[A-Za-z0-9_]+)/i.exec(message))) {
    return new CommandError(40324, `Unrecognized pipeline stage name: '${m[1] ?? ""}'`, {}, "Location40324")
  }
  if (/Cannot do exclusion and inclusion/i.test(message)) {
    return new CommandError(31254, "Cannot do exclusion in inclusion projection", {}, "Location31254")
  }
  if ((m = /unknown (?:expression )?operator:? (\$\S+)/i.exec(message)) || (m = /operator (\$\S+) .*not (?:registered|found)/i.exec(message))) {
    return new CommandError(168, `Unrecognized expression '${m[1] ?? ""}'`, {}, "InvalidPipelineOperator")
  }
  return CommandError.of("BadValue", message)
}

export const guard = <A>(f: () => A): A => {
  try {
    return f()
  } catch (e) {
    throw fromMingo(e)
  }
}

const toCollation = (u: unknown): CollationSpec | undefined => {
  if (!isPlainObject(u)) return undefined
  const locale: unknown = u["locale"]
  if (typeof locale !== "string") throw CommandError.of("FailedToParse", "Collation spec must contain a 'locale' string")
  if (locale === "simple") return undefined
  const spec: { -readonly [K in keyof CollationSpec]: CollationSpec[K] } = { locale }
  const strength: unknown = u["strength"]
  if (strength === 1 || strength === 2 || strength === 3) spec.strength = strength
  const caseFirst: unknown = u["caseFirst"]
  if (caseFirst === "upper" || caseFirst === "lower" || caseFirst === "off") spec.caseFirst = caseFirst
  if (typeof u["caseLevel"] === "boolean") spec.caseLevel = u["caseLevel"]
  if (typeof u["numericOrdering"] === "boolean") spec.numericOrdering = u["numericOrdering"]
  if (typeof u["alternate"] === "string") spec.alternate = u["alternate"]
  return spec
}

export const baseOptions = (resolver?: CollectionResolver, collation?: unknown): Options => {
  const options: { collectionResolver?: CollectionResolver; collation?: CollationSpec } = {}
  if (resolver !== undefined) options.collectionResolver = resolver
  const spec = toCollation(collation)
  if (spec !== undefined) options.collation = spec
  return options
}

/** A compiled filter: throws BadValue (code 2) on unknown operators, like mongod does at parse time. */
export const compileFilter = (filter: unknown, options: Options = {}): ((doc: Document) => boolean) => {
  if (filter === undefined || filter === null) return () => true
  if (!isPlainObject(filter)) throw CommandError.of("TypeMismatch", "BSON field 'filter' is the wrong type, expected type 'object'")
  const query = guard(() => new Query(filter, options))
  return (doc) => guard(() => query.test(doc))
}

/** A string or number an equality can be looked up by (see `PathLookup`). */
export type LookupValue = string | number

const isLookupValue = (u: unknown): u is LookupValue => typeof u === "string" || typeof u === "number"

/** What a filter's first predicate requires: the value at `path` equal to one of `values`. */
export interface Equality {
  readonly path: string
  readonly values: ReadonlyArray<LookupValue>
}

/**
 * The equality a filter tests first, when it is on a path and compares with strings or numbers (`{ f: v }`,
 * `{ f: { $eq: v, … } }`, `{ f: { $in: [v, …] }, … }`, or the same as the first condition of a leading
 * `$and`). mingo compiles a filter into predicates in key order and stops at the first that fails, and such
 * an equality neither throws nor depends on anything but the value at its path: a document it rejects is
 * rejected whatever follows, so testing only the documents a lookup files under `values` answers exactly
 * as testing them all, errors included. Undefined when the first predicate is anything else.
 */
export const firstEquality = (filter: unknown): Equality | undefined => {
  if (!isPlainObject(filter)) return undefined
  const [path] = Object.keys(filter)
  if (path === undefined) return undefined
  const condition: unknown = filter[path]
  if (path === "$and") return Array.isArray(condition) ? firstEquality(condition[0]) : undefined
  // Operators, and selectors mingo refuses as it tests each document.
  if (path.startsWith("$") || path.split(".").includes("__proto__")) return undefined
  if (isLookupValue(condition)) return { path, values: [condition] }
  if (!isPlainObject(condition)) return undefined
  const [operator] = Object.keys(condition)
  const operand: unknown = operator === undefined ? undefined : condition[operator]
  if (operator === "$eq" && isLookupValue(operand)) return { path, values: [operand] }
  if (operator === "$in" && Array.isArray(operand) && operand.every(isLookupValue)) return { path, values: operand }
  return undefined
}

export const validateSort = (sort: unknown): Document | undefined => {
  if (sort === undefined || sort === null) return undefined
  if (!isPlainObject(sort)) throw CommandError.of("TypeMismatch", "Expected field sort to be of type object")
  for (const value of Object.values(sort)) {
    if (isPlainObject(value)) continue // { $meta: ... }
    if (value !== 1 && value !== -1) {
      throw new CommandError(15975, "$sort key ordering must be 1 (for ascending) or -1 (for descending)", {}, "Location15975")
    }
  }
  return Object.keys(sort).length === 0 ? undefined : sort
}

/** Sorts views with MongoDB's ordering (mingo's comparator). `$natural` keeps insertion order. */
export const sortViews = (views: Array<Document>, sort: Document | undefined, options: Options = {}): Array<Document> => {
  if (sort === undefined) return views
  const natural = sort["$natural"]
  if (natural !== undefined) return natural === -1 ? [...views].reverse() : views
  return guard(() => new Query({}, options).find(views).sort(sort).all() as Array<Document>)
}

/** Applies a find projection. Runs on exact documents so untouched values keep their BSON types. */
export const project = (docs: Array<Document>, projection: unknown, options: Options = {}): Array<Document> => {
  if (projection === undefined || projection === null) return docs
  if (!isPlainObject(projection)) throw CommandError.of("TypeMismatch", "Expected field projection to be of type object")
  if (Object.keys(projection).length === 0) return docs
  return guard(() => new Query({}, options).find(docs, projection).all() as Array<Document>)
}

export const runPipeline = (pipeline: Array<Document>, input: Array<Document>, options: Options = {}): Array<Document> =>
  guard(() => new Aggregator(pipeline, options).run(input))
