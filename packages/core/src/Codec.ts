/**
 * Records ⇄ documents for each registry. The registry's `Schema.Class` is the authority; fast paths handle
 * the values it is sure the Schema accepts and produce exactly what it would, because decoding and encoding
 * are on every read and write (the Schema's own codecs cost several times more per record).
 */
import { Exit, Schema, SchemaIssue } from "effect"
import type { Doc } from "./Driver.js"
import { ValidationError } from "./Errors.js"
import { expectedNesting, isPlainObject, maxDepth, nesting, unfitTogether } from "./Limits.js"
import { deriveAll, featureValues, type FieldDef, type Model, Natural } from "./Model.js"
import { expectedWellFormed, illFormed } from "./Text.js"

/** A registry's model with the codecs of its `Schema.Class`. */
export interface Entity<A> {
  readonly model: Model
  /** Encoded document → record. */
  readonly decode: (doc: Doc) => A
  /** Record-shaped plain values → record, or the first field that does not fit. */
  readonly validate: (values: unknown) => A | ValidationError
  readonly encode: (record: A) => Doc
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

// ---------------------------------------------------------------------------------------------------------
// Fast paths. Each handles only values it is sure the field's Schema accepts, producing exactly what the
// Schema would (the same references, fields in declaration order); anything else, and every error, goes
// through the Schema itself, so results and messages are the Schema's.

/**
 * What a `Schema.Class`'s constructor makes of fields it accepts, without its parse: an object on the
 * class's prototype holding the fields as own enumerable properties, in the order given, and nothing else.
 * Effect builds its instances so but offers no public constructor that skips the parse (its own,
 * `makeClassTrusted`, is internal; the public ones parse again, at several times the cost), so the fast
 * paths build records on this layout. packages/core/test/record-instance.test.ts checks it against the
 * constructor, naming what differs if Effect changes it.
 */
export const recordInstance = (schema: { readonly prototype: object }, fields: object): unknown =>
  Object.assign(Object.create(schema.prototype) as object, fields)

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** Plain JSON as `Schema.Json` accepts it, within `maxDepth` (conservatively: anything unusual takes the Schema's path). */
const isJson = (v: unknown, depth: number): boolean => {
  if (v === null) return true
  switch (typeof v) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(v)
    case "object": {
      if (depth >= maxDepth) return false
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) return false
        for (let i = 0; i < v.length; i++) if (!(i in v) || !isJson(v[i], depth + 1)) return false
        return true
      }
      if (Object.getPrototypeOf(v) !== Object.prototype) return false
      for (const key in v) {
        if (!Object.hasOwn(v, key)) return false
        if (!isJson((v as Record<string, unknown>)[key], depth + 1)) return false
      }
      return Object.getOwnPropertySymbols(v).length === 0
    }
    default:
      return false
  }
}

/** Checks for a field's type-side value (records), by kind. */
const typeCheck = (def: FieldDef): ((v: unknown) => boolean) => {
  const base = ((): ((v: unknown) => boolean) => {
    switch (def.kind) {
      case "int":
        return def.natural === true
          ? (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0
          : (v) => typeof v === "number" && Number.isSafeInteger(v)
      case "ref":
        return (v) => typeof v === "number" && Number.isSafeInteger(v)
      case "float":
        return (v) => typeof v === "number" && Number.isFinite(v)
      case "string":
        return (v) => typeof v === "string"
      case "bool":
        return (v) => typeof v === "boolean"
      case "datetime":
        return (v) => v instanceof Date && !Number.isNaN(v.getTime())
      case "json":
        return (v) => isJson(v, 0)
      case "enum": {
        const values = new Set(def.values ?? [])
        return (v) => typeof v === "string" && values.has(v)
      }
    }
  })()
  return def.nullable ? (v) => v === null || base(v) : base
}

/**
 * One function checking every field named by `fields` (indexes into `defs`) with `checks` (`typeCheck`'s), as
 * generated code: a chain of inline tests instead of a closure call per field, since it runs on every
 * record read and written. Without code generation, the same through the closures.
 */
const checker = (
  names: ReadonlyArray<string>,
  defs: ReadonlyArray<FieldDef>,
  checks: ReadonlyArray<(v: unknown) => boolean>,
  fields: ReadonlyArray<number>
): ((s: Record<string, unknown>) => boolean) => {
  const slow = (s: Record<string, unknown>) => fields.every((i) => checks[i]!(s[names[i]!]))
  const test = (def: FieldDef, v: string, i: number): string => {
    switch (def.kind) {
      case "int":
        return def.natural === true ? `(Number.isSafeInteger(${v}) && ${v} >= 0)` : `Number.isSafeInteger(${v})`
      case "ref":
        return `Number.isSafeInteger(${v})`
      case "float":
        return `Number.isFinite(${v})`
      case "string":
        return `typeof ${v} === "string"`
      case "bool":
        return `typeof ${v} === "boolean"`
      case "datetime":
        return `(${v} instanceof Date && !Number.isNaN(${v}.getTime()))`
      case "json":
      case "enum":
        return `checks[${i}](${v})`
    }
  }
  try {
    const body = fields.map((i) => {
      const def = defs[i]!
      const v = `s[${JSON.stringify(names[i]!)}]`
      return def.nullable && def.kind !== "json" && def.kind !== "enum" ? `(${v} === null || ${test(def, v, i)})` : test(def, v, i)
    })
    const fast = new Function("checks", `return (s) => ${body.length === 0 ? "true" : body.join(" &&\n")}`)(checks) as (s: Record<string, unknown>) => boolean
    // Proves the generated code against the closures on a sample before trusting it.
    const sample = Object.fromEntries(names.map((n) => [n, null]))
    if (fast(sample) !== slow(sample)) throw new Error("unexpected")
    return fast
  } catch {
    return slow
  }
}

/** The field schemas the fast paths understand: what `F` builds for each kind. */
const knownSchema = (def: FieldDef): boolean => {
  const inner = ((): Schema.Top | undefined => {
    switch (def.kind) {
      case "int":
        return def.natural === true ? Natural : Schema.Int
      case "ref":
        return Schema.Int
      case "float":
        return Schema.Finite
      case "string":
        return Schema.String
      case "bool":
        return Schema.Boolean
      case "datetime":
        return Schema.Date
      case "json":
        return Schema.Json
      case "enum":
        return undefined
    }
  })()
  const schema = def.schema as Schema.Top & { readonly members?: ReadonlyArray<Schema.Top>; readonly literals?: ReadonlyArray<unknown> }
  if (def.kind === "enum") {
    const values = def.values ?? []
    return !def.nullable && schema.literals !== undefined && schema.literals.length === values.length && values.every((v, i) => schema.literals![i] === v)
  }
  if (!def.nullable) return schema === inner
  return schema.members?.length === 2 && schema.members[0] === inner && schema.members[1] === Schema.Null
}

interface FastCodec {
  readonly decode: (doc: Doc) => unknown
  readonly validate: (values: unknown) => unknown
  readonly encode: (record: unknown) => Doc | undefined
}

type Build = (source: Record<string, unknown>) => unknown
/** Decoding takes the datetime fields already parsed, as epoch milliseconds, in declaration order. */
type BuildDecoded = (source: Record<string, unknown>, times: ReadonlyArray<number | null>) => unknown

/** The number written by `n` decimal digits at `i`, or -1. */
const digits = (s: string, i: number, n: number): number => {
  let v = 0
  for (let k = i; k < i + n; k++) {
    const d = s.charCodeAt(k) - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return v
}

/**
 * Epoch milliseconds of a canonical timestamp (`toISOString`'s form, years 1000-9999, a real calendar day),
 * computed without the general date parser; undefined for anything else. For every string it accepts this
 * equals `new Date(s).getTime()`.
 */
const parseIso = (s: string): number | undefined => {
  if (s.length !== 24) return undefined
  // "-", "-", "T", ":", ":", ".", "Z" at their fixed places.
  if (s[4] !== "-" || s[7] !== "-" || s[10] !== "T" || s[13] !== ":" || s[16] !== ":" || s[19] !== "." || s[23] !== "Z") return undefined
  const year = digits(s, 0, 4)
  const month = digits(s, 5, 2)
  const day = digits(s, 8, 2)
  const hour = digits(s, 11, 2)
  const minute = digits(s, 14, 2)
  const second = digits(s, 17, 2)
  const ms = digits(s, 20, 3)
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59) return undefined
  if (second < 0 || second > 59 || ms < 0) return undefined
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  const days = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
  return day > days ? undefined : Date.UTC(year, month - 1, day, hour, minute, second, ms)
}

// A one-entry cache, one pair for both directions: a record's createdAt and updatedAt, and records written
// together, share a timestamp, and either conversion costs far more than comparing a string or a number.
// The pair always holds a canonical text (what `toISOString` gives) and its milliseconds, whichever
// direction filled it last.
let cachedText = "1970-01-01T00:00:00.000Z"
let cachedMillis = 0

/** Milliseconds of a stored timestamp the Schema would accept (NaN: it would not), or undefined for a shape it does not take here. */
const millisOf = (text: string): number | undefined => {
  if (text === cachedText) return cachedMillis
  const ms = parseIso(text)
  // Matches the pattern but is no canonical day (say February 30): exactly what the Schema's `new Date` makes
  // of it, and not cached, since that text is not what `toISOString` would give back for it.
  if (ms === undefined) return isoPattern.test(text) ? new Date(text).getTime() : undefined
  cachedText = text
  cachedMillis = ms
  return ms
}

/** `toISOString` of a valid date. */
const isoText = (date: Date): string => {
  const ms = date.getTime()
  if (ms !== cachedMillis) {
    cachedText = date.toISOString()
    cachedMillis = ms
  }
  return cachedText
}

/**
 * Per-model copying functions, generated once: `new Ctor(source)` gives exactly what `recordInstance` gives
 * (the fields in declaration order) at a fraction of the cost. Where code generation is unavailable, the
 * same through `recordInstance`.
 */
const builders = (
  schema: { readonly prototype: object },
  names: ReadonlyArray<string>,
  defs: ReadonlyArray<FieldDef>
): { readonly make: Build; readonly decode: BuildDecoded; readonly encode: Build } => {
  const key = (n: string) => JSON.stringify(n)
  const dateIndex = new Map(names.filter((_, i) => defs[i]!.kind === "datetime").map((n, j) => [n, j]))
  const date = (n: string) => `t[${dateIndex.get(n)}] === null ? null : new Date(t[${dateIndex.get(n)}])`
  const iso = (n: string, d: FieldDef) => (d.nullable ? `s[${key(n)}] === null ? null : iso(s[${key(n)}])` : `iso(s[${key(n)}])`)
  try {
    const proto = schema.prototype
    const ctor = (body: string) => {
      const C = new Function("s", "t", body) as unknown as {
        new (s: Record<string, unknown>, t?: ReadonlyArray<number | null>): unknown
        prototype: object
      }
      C.prototype = proto
      return (s: Record<string, unknown>, t?: ReadonlyArray<number | null>) => new C(s, t)
    }
    const make = ctor(names.map((n) => `this[${key(n)}] = s[${key(n)}];`).join("\n"))
    const decode = ctor(names.map((n, i) => `this[${key(n)}] = ${defs[i]!.kind === "datetime" ? date(n) : `s[${key(n)}]`};`).join("\n"))
    const encodeWith = new Function(
      "iso",
      `return (s) => ({${names.map((n, i) => `${key(n)}: ${defs[i]!.kind === "datetime" ? iso(n, defs[i]!) : `s[${key(n)}]`}`).join(",\n")}});`
    ) as (iso: (d: Date) => string) => Build
    // Proves the generated code against `recordInstance` on a sample before trusting it.
    const fields = Object.fromEntries(names.map((n) => [n, null]))
    const sample = make(fields) as object
    const expected = recordInstance(schema, fields) as object
    if (Object.getPrototypeOf(sample) !== Object.getPrototypeOf(expected) || Object.keys(sample).join() !== Object.keys(expected).join())
      throw new Error("unexpected")
    return { make, decode: decode as BuildDecoded, encode: encodeWith(isoText) }
  } catch {
    const copy = (s: Record<string, unknown>, f: (n: string, d: FieldDef) => unknown) => {
      const out: Record<string, unknown> = {}
      names.forEach((n, i) => (out[n] = f(n, defs[i]!)))
      return out
    }
    const toDate = (t: number | null | undefined) => (t === null || t === undefined ? null : new Date(t))
    const toIso = (v: unknown) => (v === null ? null : isoText(v as Date))
    return {
      make: (s) => recordInstance(schema, copy(s, (n) => s[n])),
      decode: (s, t) => recordInstance(schema, copy(s, (n, d) => (d.kind === "datetime" ? toDate(t[dateIndex.get(n)!]) : s[n]))),
      encode: (s) => copy(s, (n, d) => (d.kind === "datetime" ? toIso(s[n]) : s[n]))
    }
  }
}

/** Fast codecs for `schema`, or undefined when its fields are not exactly the model's `F` fields. */
const fastCodec = (model: Model, schema: unknown): FastCodec | undefined => {
  if (typeof schema !== "function") return undefined
  const schemaFields = (schema as { readonly fields?: { readonly [k: string]: unknown } }).fields
  const names = Object.keys(model.fields)
  if (schemaFields === undefined || Object.keys(schemaFields).length !== names.length) return undefined
  const defs = names.map((n) => model.fields[n]!)
  if (!names.every((n, i) => schemaFields[n] === defs[i]!.schema && knownSchema(defs[i]!))) return undefined
  const checks = defs.map(typeCheck)
  const checkAll = checker(names, defs, checks, names.map((_, i) => i))
  // Stored documents hold text where records hold dates: those are checked as they are parsed.
  const checkStored = checker(
    names,
    defs,
    checks,
    names.flatMap((_, i) => (defs[i]!.kind === "datetime" ? [] : [i]))
  )
  const dates = names.filter((_, i) => defs[i]!.kind === "datetime")
  const dateNullable = defs.filter((d) => d.kind === "datetime").map((d) => d.nullable)
  const build = builders(schema, names, defs)
  // Decoding is synchronous and never re-entered, so one scratch array per model serves every call.
  const times: Array<number | null> = dates.map(() => null)
  const proto = (schema as { readonly prototype: object }).prototype
  const isPlain = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype
  return {
    validate: (values) => {
      if (!isPlain(values)) return undefined
      if (!checkAll(values)) return undefined
      return build.make(values)
    },
    decode: (doc) => {
      if (!isPlain(doc)) return undefined
      if (!checkStored(doc)) return undefined
      for (let j = 0; j < dates.length; j++) {
        const v = doc[dates[j]!]
        if (v === null && dateNullable[j]) {
          times[j] = null
          continue
        }
        const ms = typeof v === "string" ? millisOf(v) : undefined
        if (ms === undefined || Number.isNaN(ms)) return undefined
        times[j] = ms
      }
      return build.decode(doc, times)
    },
    encode: (record) => {
      // Records this module built (any other object, subclasses included, takes the Schema's path).
      if (record === null || typeof record !== "object" || Object.getPrototypeOf(record) !== proto) return undefined
      const r = record as Record<string, unknown>
      if (!checkAll(r)) return undefined
      const doc = build.encode(r) as Record<string, unknown>
      // Years outside 0000-9999 are written with a sign: leave those to the Schema.
      for (const name of dates) {
        const v = doc[name]
        if (v !== null && (v as string).length !== 24) return undefined
      }
      return doc as Doc
    }
  }
}

/**
 * The first JSON value of `values` that `Limits.nesting` refuses (too deep, cyclic, too large), as a
 * ValidationError naming its field, checked before anything walks the value with no bound of its own. Feature
 * values count from their own top, as params do, and are named by feature; then all of them together count
 * against `maxValues` too, since every store and check walks them as one value (a thousand features sharing
 * one value just under the limit are a billion values once expanded).
 */
const jsonNesting = (model: Model) => {
  const json = Object.entries(model.fields).flatMap(([name, def]) => (def.kind === "json" ? [name] : []))
  return (values: unknown): ValidationError | undefined => {
    if (values === null || typeof values !== "object") return undefined
    for (const name of json) {
      const value = (values as Record<string, unknown>)[name]
      if (name !== featureValues || !isPlainObject(value)) {
        const found = nesting(value)
        if (found !== undefined) return new ValidationError({ registry: model.name, field: name, value, expected: expectedNesting(found) })
        continue
      }
      // The object holding the feature values counts as one value besides them.
      const unfit = unfitTogether(Object.entries(value), 1)
      if (unfit === undefined) continue
      return unfit.together
        ? new ValidationError({ registry: model.name, field: name, value, expected: `${expectedNesting("tooLarge")}, all features together` })
        : new ValidationError({ registry: model.name, field: unfit.name, value: unfit.value, expected: expectedNesting(unfit.found) })
    }
    return undefined
  }
}

/**
 * Fills the fields a stored document lacks that have an `absent` value (`FieldDef.absent`): documents written
 * before those fields existed. A document holding them all is returned as it is.
 */
const absentFiller = (model: Model): ((doc: Doc) => Doc) => {
  const fields = Object.entries(model.fields).flatMap(([name, def]) => (def.absent === undefined ? [] : [[name, def.absent] as const]))
  if (fields.length === 0) return (doc) => doc
  return (doc) => {
    if (doc === null || typeof doc !== "object") return doc
    let filled: Record<string, unknown> | undefined
    for (const [name, absent] of fields) if (!Object.hasOwn(doc, name)) (filled ??= { ...doc })[name] = absent()
    return (filled ?? doc) as Doc
  }
}

export const entity = <S extends Schema.Top & Schema.Codec<unknown, unknown>>(model: Model, schema: S): Entity<S["Type"]> => {
  const json = Schema.toCodecJson(schema)
  const decodeJson = Schema.decodeUnknownSync(json)
  const encodeJson = Schema.encodeUnknownSync(json)
  const decodeType = Schema.decodeUnknownExit(schema)
  const fast = fastCodec(model, schema)
  const nested = jsonNesting(model)
  const validateSlow = (values: unknown): S["Type"] | ValidationError => {
    const exit = decodeType(values)
    if (Exit.isSuccess(exit)) return exit.value
    const cause = exit.cause
    const error = cause.reasons.find((r) => r._tag === "Fail")
    const issue = error?._tag === "Fail" ? formatter((error.error as Schema.SchemaError).issue).issues[0] : undefined
    const field = String(issue?.path?.[0] ?? "(record)")
    return new ValidationError({
      registry: model.name,
      field,
      value: (values as Record<string, unknown>)[field],
      expected: issue?.message.replace(/^Expected /, "") ?? "a valid record"
    })
  }
  const wellFormed = wellFormedText(model)
  // A document holds the model's derived fields too (`Model.derivations`).
  const derive = deriveAll(model)
  const fill = absentFiller(model)
  if (fast === undefined)
    return {
      model,
      decode: (doc) => decodeJson(fill(doc)),
      encode: (record) => derive(encodeJson(record) as Doc),
      validate: (values) => wellFormed(nested(values) ?? validateSlow(values))
    }
  return {
    model,
    decode: (stored) => {
      const doc = fill(stored)
      return (fast.decode(doc) as S["Type"] | undefined) ?? decodeJson(doc)
    },
    encode: (record) => derive(fast.encode(record) ?? (encodeJson(record) as Doc)),
    // The nesting check comes first: both validators walk JSON fields whole, with no bounds of their own.
    validate: (values) => wellFormed(nested(values) ?? (fast.validate(values) as S["Type"] | undefined) ?? validateSlow(values))
  }
}

/**
 * Refuses a valid record that holds text a UTF-8 store cannot keep (an unpaired surrogate, see `Text`) in a
 * string or JSON field, keys included, naming the field. Every record written passes through `validate`.
 */
const wellFormedText = (model: Model) => {
  const text = Object.entries(model.fields).flatMap(([name, def]) => (def.kind === "string" || def.kind === "json" ? [name] : []))
  return <A>(record: A | ValidationError): A | ValidationError => {
    if (record instanceof ValidationError) return record
    for (const field of text) {
      const value = (record as Record<string, unknown>)[field]
      const at = illFormed(value)
      if (at !== undefined) return new ValidationError({ registry: model.name, field, value, expected: expectedWellFormed(at) })
    }
    return record
  }
}

