/**
 * Update semantics: operator updates through mingo's updater (validated first, as mongod validates),
 * replacement documents, pipeline updates, and the document an upsert inserts.
 */
import { BSONRegExp, Double, Int32, Long, ObjectId, deserialize, serialize, type Document } from "bson"
import { update as mingoUpdate } from "mingo"
import { CommandError } from "./Errors.js"
import { canonical, formatValue, getPath, idFirst, isNumeric, isPlainObject, retype, setPath } from "./Documents.js"
import { guard, runPipeline } from "./Query.js"

/** The `u` of an update statement (or findAndModify's `update`) in both decoded forms. */
export interface UpdateInput {
  readonly view: unknown
  readonly exact: unknown
}

const OPERATORS = new Set([
  "$set", "$unset", "$inc", "$mul", "$push", "$addToSet", "$pull", "$pullAll", "$pop",
  "$min", "$max", "$rename", "$currentDate", "$bit", "$setOnInsert"
])
const ARRAY_OPERATORS = new Set(["$push", "$addToSet", "$pull", "$pullAll", "$pop"])
const PIPELINE_STAGES = new Set(["$addFields", "$set", "$project", "$unset", "$replaceRoot", "$replaceWith"])

export type UpdateKind = "replacement" | "operators" | "pipeline"

export const classify = (u: unknown): UpdateKind => {
  if (Array.isArray(u)) return "pipeline"
  if (!isPlainObject(u)) throw CommandError.of("FailedToParse", "Update argument must be either an object or an array")
  const first = Object.keys(u)[0]
  return first !== undefined && first.startsWith("$") ? "operators" : "replacement"
}

export const typeName = (u: unknown): string => {
  if (u === undefined) return "missing"
  if (u === null) return "null"
  if (typeof u === "string") return "string"
  if (typeof u === "boolean") return "bool"
  if (typeof u === "number") return Number.isInteger(u) && Math.abs(u) < 2 ** 31 ? "int" : "double"
  if (u instanceof Int32) return "int"
  if (u instanceof Double) return "double"
  if (u instanceof Long) return "long"
  if (u instanceof Date) return "date"
  if (u instanceof ObjectId) return "objectId"
  if (Array.isArray(u)) return "array"
  if (isPlainObject(u)) return "object"
  return "unknown"
}

const compact = (doc: Document): string => formatValue({ _id: doc["_id"] }).replace(/^\{ (.*) \}$/, "{$1}")

const validateOperators = (ops: Document, current: Document | undefined, inserting: boolean): void => {
  for (const [op, arg] of Object.entries(ops)) {
    if (!op.startsWith("$") || !OPERATORS.has(op)) {
      throw CommandError.of(
        "FailedToParse",
        `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`
      )
    }
    if (!isPlainObject(arg)) {
      throw CommandError.of(
        "FailedToParse",
        `Modifiers operate on fields but we found type ${typeName(arg)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${formatValue(arg)}}`
      )
    }
    for (const [path, value] of Object.entries(arg)) {
      if (path.length === 0) throw CommandError.of("BadValue", "An empty update path is not valid.")
      if (!inserting && path.split(".")[0]?.startsWith("$") === true) {
        throw CommandError.of("DollarPrefixedFieldName", `The dollar ($) prefixed field '${path}' in '${path}' is not valid for storage.`)
      }
      if (op === "$inc" || op === "$mul") {
        if (!isNumeric(value)) {
          const verb = op === "$inc" ? "increment" : "multiply"
          throw CommandError.of("TypeMismatch", `Cannot ${verb} with non-numeric argument: {${path}: ${formatValue(value)}}`)
        }
      }
      if (current === undefined || path.includes("$")) continue
      const existing = getPath(current, path)
      if (existing === undefined) continue
      if ((op === "$inc" || op === "$mul") && !isNumeric(existing)) {
        throw CommandError.of(
          "TypeMismatch",
          `Cannot apply ${op} to a value of non-numeric type. ${compact(current)} has the field '${path}' of non-numeric type ${typeName(existing)}`
        )
      }
      if (ARRAY_OPERATORS.has(op) && !Array.isArray(existing)) {
        const message =
          op === "$pull" || op === "$pullAll"
            ? "Cannot apply $pull to a non-array value"
            : `The field '${path}' must be an array but is of type ${typeName(existing)} in document ${compact(current)}`
        throw CommandError.of("BadValue", message)
      }
    }
  }
}

/** Exact values the update names explicitly, laid out as a document: they give results their BSON types. */
const overlayOf = (ops: Document, inserting: boolean): Document => {
  const overlay: Document = {}
  for (const op of ["$set", "$min", "$max", ...(inserting ? ["$setOnInsert"] : [])]) {
    const arg: unknown = ops[op]
    if (!isPlainObject(arg)) continue
    for (const [path, value] of Object.entries(arg)) if (!path.includes("$")) setPath(overlay, path, value)
  }
  return overlay
}

/** Keeps the first of equal values (BSON equality), as `$addToSet` does. */
const unique = (values: ReadonlyArray<unknown>): Array<unknown> => {
  const seen = new Set<string>()
  return values.filter((v) => {
    const k = canonical(v)
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

/**
 * What mingo is given: `$setOnInsert` merged into `$set` when inserting (dropped otherwise), `$addToSet`'s
 * `$each` de-duplicated (mingo keeps duplicates when the array does not exist yet), and `_id` taken out of
 * `$set` (mingo refuses any `_id` path; mongod accepts setting it to its current value, or on insert).
 */
const effectiveOperators = (ops: Document, inserting: boolean): { ops: Document; id: { value: unknown } | undefined } => {
  const out: Document = {}
  for (const [op, arg] of Object.entries(ops)) {
    if (op !== "$setOnInsert") out[op] = arg
  }
  const onInsert: unknown = ops["$setOnInsert"]
  if (inserting && isPlainObject(onInsert)) {
    const set: unknown = out["$set"]
    out["$set"] = { ...(isPlainObject(set) ? set : {}), ...onInsert }
  }
  const addToSet: unknown = out["$addToSet"]
  if (isPlainObject(addToSet)) {
    const fixed: Document = {}
    for (const [path, value] of Object.entries(addToSet)) {
      const each: unknown = isPlainObject(value) ? value["$each"] : undefined
      fixed[path] = Array.isArray(each) ? { ...(value as Document), $each: unique(each) } : value
    }
    out["$addToSet"] = fixed
  }
  let id: { value: unknown } | undefined
  const set: unknown = out["$set"]
  if (isPlainObject(set) && "_id" in set) {
    id = { value: set["_id"] }
    const rest: Document = {}
    for (const [path, value] of Object.entries(set)) if (path !== "_id") rest[path] = value
    if (Object.keys(rest).length === 0) delete out["$set"]
    else out["$set"] = rest
  }
  return { ops: out, id }
}

const checkId = (before: Document, after: Document): void => {
  if (canonical(before["_id"]) !== canonical(after["_id"])) {
    throw CommandError.of("ImmutableField", "Performing an update on the path '_id' would modify the immutable field '_id'")
  }
}

const applyOperators = (
  view: Document,
  exact: Document,
  u: UpdateInput,
  inserting: boolean,
  arrayFilters: Array<Document> | undefined,
  condition: Document | undefined
): Document => {
  const opsView = u.view as Document
  const opsExact = u.exact as Document
  validateOperators(opsView, inserting ? undefined : view, inserting)
  const { ops, id } = effectiveOperators(opsView, inserting)
  if (id !== undefined) {
    if (!inserting && canonical(id.value) !== canonical(view["_id"])) {
      throw CommandError.of("ImmutableField", "Performing an update on the path '_id' would modify the immutable field '_id'")
    }
    if (inserting) view["_id"] = id.value
  }
  const modified = Object.keys(ops).length === 0 ? [] : guard(() => mingoUpdate(view, ops, arrayFilters, inserting ? undefined : condition, { cloneMode: "deep" }))
  if (modified.length === 0 && !(inserting && id !== undefined)) return exact
  const result = retype(view, [overlayOf(opsExact, inserting), exact]) as Document
  return result["_id"] === undefined ? result : idFirst(result, result["_id"])
}

const applyPipeline = (view: Document, exact: Document, u: UpdateInput): Document => {
  const pipeline = u.view as Array<unknown>
  for (const stage of pipeline) {
    const name = isPlainObject(stage) ? Object.keys(stage)[0] : undefined
    if (name === undefined || !PIPELINE_STAGES.has(name)) {
      throw CommandError.of("InvalidOptions", `${name ?? "stage"} is not allowed to be used within an update`)
    }
  }
  const [result] = runPipeline(pipeline as Array<Document>, [view])
  if (result === undefined) throw CommandError.of("InternalError", "pipeline update produced no document")
  return retype(result, [exact]) as Document
}

/** The new exact document for an update of an existing one. */
export const applyUpdate = (
  current: { readonly exact: Document; readonly bytes: Uint8Array },
  u: UpdateInput,
  arrayFilters: Array<Document> | undefined,
  condition: Document | undefined
): Document => {
  const kind = classify(u.view)
  const view = deserialize(current.bytes)
  if (kind === "replacement") {
    const replacement = u.exact as Document
    const id: unknown = replacement["_id"]
    if (id !== undefined && canonical(id) !== canonical(current.exact["_id"])) {
      throw CommandError.of(
        "ImmutableField",
        `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${formatValue(id)}`
      )
    }
    return idFirst(replacement, current.exact["_id"])
  }
  const after = kind === "pipeline" ? applyPipeline(view, current.exact, u) : applyOperators(view, current.exact, u, false, arrayFilters, condition)
  checkId(current.exact, after)
  return after
}

const seedFrom = (filter: Document, seed: Document): void => {
  for (const [key, value] of Object.entries(filter)) {
    if (key === "$and" && Array.isArray(value)) {
      for (const clause of value) if (isPlainObject(clause)) seedFrom(clause, seed)
      continue
    }
    if (key.startsWith("$")) continue
    if (value instanceof RegExp || value instanceof BSONRegExp) continue
    if (isPlainObject(value)) {
      const first = Object.keys(value)[0]
      if (first !== undefined && first.startsWith("$")) {
        if ("$eq" in value) setPath(seed, key, value["$eq"])
        continue
      }
    }
    setPath(seed, key, value)
  }
}

/** The document an upsert inserts: equality fields of the filter, then the update applied as an insert. */
export const buildUpsert = (filterExact: unknown, u: UpdateInput, arrayFilters: Array<Document> | undefined): Document => {
  const kind = classify(u.view)
  const seed: Document = {}
  if (isPlainObject(filterExact)) seedFrom(filterExact, seed)
  let doc: Document
  if (kind === "replacement") {
    doc = u.exact as Document
    if (doc["_id"] === undefined && seed["_id"] !== undefined) doc = idFirst(doc, seed["_id"])
  } else {
    const bytes = serialize(seed)
    const view = deserialize(bytes)
    const exact = deserialize(bytes, { promoteValues: false })
    doc = kind === "pipeline" ? applyPipeline(view, exact, u) : applyOperators(view, exact, u, true, arrayFilters, undefined)
    if (seed["_id"] !== undefined) checkId(seed, doc)
  }
  const id: unknown = doc["_id"]
  return idFirst(doc, id === undefined ? new ObjectId() : id)
}
