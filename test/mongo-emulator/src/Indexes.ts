/**
 * Index catalog entries. Uniqueness is enforced (with `sparse` and `partialFilterExpression`); every index
 * also gives its first field a `PathLookup`, which only narrows the documents a filter is tested on and never
 * changes a query's result.
 */
import type { Document } from "bson"
import { CommandError } from "./Errors.js"
import { canonical, formatValue, getPath, isPlainObject, type StoredDoc } from "./Documents.js"
import { compileFilter, type LookupValue } from "./Query.js"

export interface IndexSpec {
  readonly name: string
  readonly key: Document
  readonly unique: boolean
  readonly sparse: boolean
  readonly partialFilterExpression: Document | undefined
  /** What listIndexes reports: `{ v: 2, key, name, ...options }`. */
  readonly description: Document
}

/** Operators mongod accepts in a partialFilterExpression (7.0). */
const PARTIAL_OPERATORS = new Set(["$eq", "$exists", "$gt", "$gte", "$lt", "$lte", "$type", "$and", "$or", "$in"])

const validatePartial = (expr: unknown, top: boolean): void => {
  if (!isPlainObject(expr)) throw CommandError.of("BadValue", "partialFilterExpression must be an object")
  for (const [key, value] of Object.entries(expr)) {
    if (key.startsWith("$")) {
      if (!PARTIAL_OPERATORS.has(key) || !top) {
        throw new CommandError(67, `Expression not supported in partial index: ${key}`, {}, "CannotCreateIndex")
      }
      if (!Array.isArray(value)) throw CommandError.of("BadValue", `${key} must be an array`)
      for (const sub of value) validatePartial(sub, false)
    } else if (isPlainObject(value) && Object.keys(value).some((k) => k.startsWith("$"))) {
      for (const [op, arg] of Object.entries(value)) {
        if (!PARTIAL_OPERATORS.has(op) || op === "$and" || op === "$or") {
          throw new CommandError(67, `Expression not supported in partial index: ${key} ${op}`, {}, "CannotCreateIndex")
        }
        if (op === "$exists" && arg !== true) {
          throw new CommandError(67, `Expression not supported in partial index: ${key} $exists: ${String(arg)}`, {}, "CannotCreateIndex")
        }
      }
    }
  }
}

export const defaultName = (key: Document): string =>
  Object.entries(key).map(([field, dir]) => `${field}_${String(dir)}`).join("_")

export const ID_INDEX: IndexSpec = {
  name: "_id_",
  key: { _id: 1 },
  unique: true,
  sparse: false,
  partialFilterExpression: undefined,
  description: { v: 2, key: { _id: 1 }, name: "_id_" }
}

const KEY_STRINGS = new Set(["text", "2d", "2dsphere", "hashed", "geoHaystack"])

/** mongod's `IndexCatalogImpl::kMaxNumIndexesAllowed`: indexes per collection, `_id_` included. */
export const MAX_INDEXES_PER_COLLECTION = 64

const cannotCreate = (message: string): CommandError => new CommandError(67, message, {}, "CannotCreateIndex")

/** `$**` or `<path>.$**`: a wildcard component. */
const isWildcardField = (field: string): boolean => field === "$**" || field.endsWith(".$**")

/**
 * mongod's rules for wildcard keys (jstests/core/wildcard_index_validindex.js and
 * compound_wildcard_index_validation.js): `$**` only as the last path component, one wildcard component per
 * key, numeric values (non-zero, checked with every key; 7.0 accepts a descending wildcard since compound
 * wildcard indexes), and no unique, sparse or TTL option.
 */
const validateWildcard = (key: Document, raw: Document): void => {
  const fields = Object.keys(key)
  const wildcards = fields.filter(isWildcardField)
  for (const field of fields) {
    if (field.includes("$**") && !isWildcardField(field)) throw cannotCreate(`Index key contains an illegal field name: '${field}': '$**' must be the last path component`)
    if (field.split(".").filter((part) => part === "$**").length > 1) throw cannotCreate(`Index key contains an illegal field name: '${field}'`)
  }
  if (wildcards.length === 0) return
  if (wildcards.length > 1) throw new CommandError(7246201, "A compound wildcard index must have exactly one wildcard component", {}, "Location7246201")
  for (const [field, dir] of Object.entries(key)) {
    if (typeof dir !== "number") throw cannotCreate(`Values in a wildcard index key pattern must be numeric: ${field}: ${formatValue(dir)}`)
  }
  for (const option of ["unique", "sparse", "expireAfterSeconds"]) {
    if (raw[option] !== undefined && raw[option] !== false) throw cannotCreate(`Index type 'wildcard' does not support the '${option}' option`)
  }
}

/** Validates a createIndexes entry (view form) and normalises it. */
export const parseIndexSpec = (raw: unknown): IndexSpec => {
  if (!isPlainObject(raw)) throw CommandError.of("TypeMismatch", "indexes must be objects")
  const key: unknown = raw["key"]
  if (!isPlainObject(key) || Object.keys(key).length === 0) {
    throw new CommandError(67, "Index keys cannot be an empty field", {}, "CannotCreateIndex")
  }
  for (const [field, dir] of Object.entries(key)) {
    const ok = (typeof dir === "number" && dir !== 0 && Number.isFinite(dir)) || (typeof dir === "string" && KEY_STRINGS.has(dir))
    if (!ok) throw new CommandError(67, `Values in the index key pattern can only be numbers or strings: ${field}: ${formatValue(dir)}`, {}, "CannotCreateIndex")
  }
  validateWildcard(key, raw)
  const nameValue: unknown = raw["name"]
  if (nameValue !== undefined && typeof nameValue !== "string") throw CommandError.of("TypeMismatch", "The field 'name' must be a string")
  const name = nameValue ?? defaultName(key)
  const unique = raw["unique"] === true
  const sparse = raw["sparse"] === true
  const partial: unknown = raw["partialFilterExpression"]
  if (partial !== undefined) {
    validatePartial(partial, true)
    if (sparse) throw CommandError.of("BadValue", "cannot mix \"partialFilterExpression\" and \"sparse\" options")
  }
  if (unique && Object.values(key).some((d) => d === "hashed")) {
    throw CommandError.of("BadValue", "Currently hashed indexes cannot guarantee uniqueness. Use a regular index.")
  }
  const description: Document = { v: 2, key, name }
  for (const [k, v] of Object.entries(raw)) if (k !== "key" && k !== "name" && k !== "v" && k !== "ns") description[k] = v
  return {
    name,
    key,
    unique,
    sparse,
    partialFilterExpression: isPlainObject(partial) ? partial : undefined,
    description
  }
}

const sameOptions = (a: IndexSpec, b: IndexSpec): boolean =>
  a.unique === b.unique && a.sparse === b.sparse && canonical(a.partialFilterExpression) === canonical(b.partialFilterExpression)

/** `"same"` when an identical index exists; throws mongod's conflict errors; `"new"` otherwise. */
export const compareWithExisting = (spec: IndexSpec, existing: ReadonlyArray<IndexSpec>): "same" | "new" => {
  for (const other of existing) {
    const sameKey = canonical(other.key) === canonical(spec.key)
    if (other.name === spec.name) {
      if (sameKey && sameOptions(other, spec)) return "same"
      if (!sameKey) {
        throw new CommandError(
          86,
          `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${formatValue(spec.description)}, existing index: ${formatValue(other.description)}`,
          {},
          "IndexKeySpecsConflict"
        )
      }
      throw new CommandError(85, `An existing index has the same name as the requested index but different options. Requested index: ${formatValue(spec.description)}, existing index: ${formatValue(other.description)}`, {}, "IndexOptionsConflict")
    }
    if (sameKey && canonical(other.partialFilterExpression) === canonical(spec.partialFilterExpression)) {
      throw new CommandError(85, `Index already exists with a different name: ${other.name}`, {}, "IndexOptionsConflict")
    }
  }
  return "new"
}

/** A unique index's live key table. */
export class UniqueIndex {
  private readonly table = new Map<string, number>()
  private readonly applies: (doc: StoredDoc) => boolean

  constructor(
    readonly spec: IndexSpec,
    private readonly ns: string
  ) {
    const fields = Object.keys(spec.key)
    const partial = spec.partialFilterExpression
    const test = partial === undefined ? undefined : compileFilter(partial)
    this.applies = (doc) => {
      if (spec.sparse && fields.every((f) => getPath(doc.view, f) === undefined)) return false
      return test === undefined ? true : test(doc.view)
    }
  }

  private keyOf(doc: StoredDoc): { canonical: string; keyValue: Document } {
    const keyValue: Document = {}
    for (const field of Object.keys(this.spec.key)) {
      const v = getPath(doc.exact, field)
      keyValue[field] = v === undefined ? null : v
    }
    return { canonical: canonical(Object.values(keyValue)), keyValue }
  }

  /** Throws E11000 if `doc` would collide with a record other than `self`. */
  check(doc: StoredDoc, self: number | undefined): void {
    if (!this.applies(doc)) return
    const { canonical: k, keyValue } = this.keyOf(doc)
    const holder = this.table.get(k)
    if (holder !== undefined && holder !== self) {
      const shown = Object.entries(keyValue).map(([f, v]) => `${f}: ${formatValue(v)}`).join(", ")
      throw new CommandError(
        11000,
        `E11000 duplicate key error collection: ${this.ns} index: ${this.spec.name} dup key: { ${shown} }`,
        { keyPattern: this.spec.key, keyValue },
        "DuplicateKey"
      )
    }
  }

  add(doc: StoredDoc, record: number): void {
    if (this.applies(doc)) this.table.set(this.keyOf(doc).canonical, record)
  }

  remove(doc: StoredDoc, record: number): void {
    if (!this.applies(doc)) return
    const k = this.keyOf(doc).canonical
    if (this.table.get(k) === record) this.table.delete(k)
  }
}

/** The path a lookup serves for an index: its first field, unless that is a wildcard or special path. */
export const lookupPath = (spec: IndexSpec): string | undefined => {
  const [path] = Object.keys(spec.key)
  if (path === undefined || path.includes("$") || path.split(".").includes("__proto__")) return undefined
  return path
}

/** Keys a string or a number apart from each other and from the one key of every other value. */
const lookupKey = (u: unknown): string => {
  if (typeof u === "string") return `s${u}`
  if (typeof u === "number") return `n${Object.is(u, -0) ? 0 : u}`
  return "o"
}

/**
 * Records filed by the value one path reaches in their promoted view, for equalities with strings and
 * numbers (see `firstEquality`). mingo's equality on such a value is `===` (0 and -0 equal, NaN equal to
 * NaN), after walking the path through documents and arrays; where the walk meets an array or an object that
 * is not a plain document (a Long, a Binary, a Date, …), the record is kept `unfiled` and is a candidate for
 * every lookup; a primitive or null along the path reaches no value and is filed as missing. So
 * `records` is a superset of the records whose value equals one asked for: the filter still decides.
 */
export class PathLookup {
  private readonly filed = new Map<string, Set<number>>()
  private readonly unfiled = new Set<number>()
  private readonly segments: ReadonlyArray<string>

  constructor(readonly path: string) {
    this.segments = path.split(".")
  }

  /** The key of `view`'s value at the path, undefined when the record must stay unfiled. */
  private keyOf(view: Document): string | undefined {
    let current: unknown = view
    for (const segment of this.segments) {
      if (Array.isArray(current)) return undefined
      if (isPlainObject(current)) current = Object.prototype.hasOwnProperty.call(current, segment) ? current[segment] : undefined
      else if (current === undefined || current === null || typeof current !== "object") return "o"
      else return undefined
    }
    return Array.isArray(current) ? undefined : lookupKey(current)
  }

  add(doc: StoredDoc, record: number): void {
    const key = this.keyOf(doc.view)
    if (key === undefined) {
      this.unfiled.add(record)
      return
    }
    const records = this.filed.get(key)
    if (records === undefined) this.filed.set(key, new Set([record]))
    else records.add(record)
  }

  remove(doc: StoredDoc, record: number): void {
    const key = this.keyOf(doc.view)
    if (key === undefined) {
      this.unfiled.delete(record)
      return
    }
    const records = this.filed.get(key)
    records?.delete(record)
    if (records?.size === 0) this.filed.delete(key)
  }

  /** How many records no lookup can rule out. */
  get unfiledCount(): number {
    return this.unfiled.size
  }

  /** Every record whose value may equal one of `values`, ascending (natural order). */
  records(values: ReadonlyArray<LookupValue>): Array<number> {
    const out = new Set(this.unfiled)
    for (const value of values) for (const record of this.filed.get(lookupKey(value)) ?? []) out.add(record)
    return [...out].sort((a, b) => a - b)
  }
}
