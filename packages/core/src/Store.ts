/**
 * The typed `Store` service: a driver lifted into domain terms. It owns what every driver would otherwise
 * repeat: Schema validation and encoding, ids, uids, timestamps and defaults, relation planning, and the
 * mapping of driver failures onto the domain's errors.
 */
import { Context, Effect, Exit, Layer, Schema, SchemaIssue } from "effect"
import * as Ast from "./Ast.js"
import { FeatureModel, models } from "./Domain.js"
import { type Doc, type Driver, type WriteOp, fromPromises, type PromiseDriver } from "./Driver.js"
import { StoreError, UniqueViolation, ValidationError } from "./Errors.js"
import { featureValues, type FieldDef, latestKey, type Model, tableSpec, withLatestKey } from "./Model.js"
import * as Planner from "./Planner.js"
import * as Uid from "./Uid.js"

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

/** The `Schema.makeClassTrusted` of effect 4.1 (runtime export, marked internal): an instance without re-parsing. */
const makeClassTrusted = (Schema as unknown as { readonly makeClassTrusted?: (self: unknown, fields: object) => unknown })
  .makeClassTrusted

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** Plain JSON as `Schema.Json` accepts it (conservatively: anything unusual takes the Schema's path). */
const isJson = (v: unknown, depth: number): boolean => {
  if (v === null) return true
  switch (typeof v) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(v)
    case "object": {
      if (depth > 64) return false
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

/** The field schemas the fast paths understand: what `F` builds for each kind. */
const knownSchema = (def: FieldDef): boolean => {
  const inner = ((): Schema.Top | undefined => {
    switch (def.kind) {
      case "int":
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

/**
 * Per-model copying functions, generated once: `new Ctor(source)` gives exactly what `makeClassTrusted`
 * gives (an instance of the class with the fields as own enumerable properties, in declaration order) at a
 * fraction of the cost. Where code generation is unavailable, the same through `makeClassTrusted`.
 */
const builders = (
  schema: unknown,
  names: ReadonlyArray<string>,
  defs: ReadonlyArray<FieldDef>
): { readonly make: Build; readonly decode: Build; readonly encode: Build } => {
  const key = (n: string) => JSON.stringify(n)
  const date = (n: string, d: FieldDef) =>
    d.nullable ? `s[${key(n)}] === null ? null : new Date(s[${key(n)}])` : `new Date(s[${key(n)}])`
  const iso = (n: string, d: FieldDef) =>
    d.nullable ? `s[${key(n)}] === null ? null : s[${key(n)}].toISOString()` : `s[${key(n)}].toISOString()`
  try {
    const proto = (schema as { readonly prototype: object }).prototype
    const ctor = (body: string) => {
      const C = new Function("s", body) as unknown as { new (s: Record<string, unknown>): unknown; prototype: object }
      C.prototype = proto
      return (s: Record<string, unknown>) => new C(s)
    }
    const make = ctor(names.map((n) => `this[${key(n)}] = s[${key(n)}];`).join("\n"))
    const decode = ctor(names.map((n, i) => `this[${key(n)}] = ${defs[i]!.kind === "datetime" ? date(n, defs[i]!) : `s[${key(n)}]`};`).join("\n"))
    const encode = new Function(
      "s",
      `return {${names.map((n, i) => `${key(n)}: ${defs[i]!.kind === "datetime" ? iso(n, defs[i]!) : `s[${key(n)}]`}`).join(",\n")}};`
    ) as Build
    // Proves the generated code on a sample before trusting it.
    const sample = make(Object.fromEntries(names.map((n) => [n, null])))
    if (!(sample instanceof (schema as new () => unknown)) || Object.keys(sample as object).join() !== names.join()) throw new Error("unexpected")
    return { make, decode, encode }
  } catch {
    const copy = (s: Record<string, unknown>, f: (n: string, d: FieldDef) => unknown) => {
      const out: Record<string, unknown> = {}
      names.forEach((n, i) => (out[n] = f(n, defs[i]!)))
      return out
    }
    const toDate = (v: unknown) => (v === null ? null : new Date(v as string))
    const toIso = (v: unknown) => (v === null ? null : (v as Date).toISOString())
    return {
      make: (s) => makeClassTrusted!(schema, copy(s, (n) => s[n])),
      decode: (s) => makeClassTrusted!(schema, copy(s, (n, d) => (d.kind === "datetime" ? toDate(s[n]) : s[n]))),
      encode: (s) => copy(s, (n, d) => (d.kind === "datetime" ? toIso(s[n]) : s[n]))
    }
  }
}

/** Fast codecs for `schema`, or undefined when its fields are not exactly the model's `F` fields. */
const fastCodec = (model: Model, schema: unknown): FastCodec | undefined => {
  if (makeClassTrusted === undefined || typeof schema !== "function") return undefined
  const schemaFields = (schema as { readonly fields?: { readonly [k: string]: unknown } }).fields
  const names = Object.keys(model.fields)
  if (schemaFields === undefined || Object.keys(schemaFields).length !== names.length) return undefined
  const defs = names.map((n) => model.fields[n]!)
  if (!names.every((n, i) => schemaFields[n] === defs[i]!.schema && knownSchema(defs[i]!))) return undefined
  const checks = defs.map(typeCheck)
  const count = names.length
  const dates = names.filter((_, i) => defs[i]!.kind === "datetime")
  const others = names.flatMap((n, i) => (defs[i]!.kind === "datetime" ? [] : [i]))
  const dateNullable = defs.filter((d) => d.kind === "datetime").map((d) => d.nullable)
  const build = builders(schema, names, defs)
  const proto = (schema as { readonly prototype: object }).prototype
  const isPlain = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype
  return {
    validate: (values) => {
      if (!isPlain(values)) return undefined
      for (let i = 0; i < count; i++) if (!checks[i]!(values[names[i]!])) return undefined
      return build.make(values)
    },
    decode: (doc) => {
      if (!isPlain(doc)) return undefined
      for (const i of others) if (!checks[i]!(doc[names[i]!])) return undefined
      for (let j = 0; j < dates.length; j++) {
        const v = doc[dates[j]!]
        if (!(typeof v === "string" ? isoPattern.test(v) : v === null && dateNullable[j])) return undefined
      }
      const record = build.decode(doc) as Record<string, unknown>
      for (const name of dates) {
        const v = record[name]
        if (v !== null && Number.isNaN((v as Date).getTime())) return undefined
      }
      return record
    },
    encode: (record) => {
      // Records this module built (any other object, subclasses included, takes the Schema's path).
      if (record === null || typeof record !== "object" || Object.getPrototypeOf(record) !== proto) return undefined
      const r = record as Record<string, unknown>
      for (let i = 0; i < count; i++) if (!checks[i]!(r[names[i]!])) return undefined
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

export const entity = <S extends Schema.Top & Schema.Codec<unknown, unknown>>(model: Model, schema: S): Entity<S["Type"]> => {
  const json = Schema.toCodecJson(schema)
  const decodeJson = Schema.decodeUnknownSync(json)
  const encodeJson = Schema.encodeUnknownSync(json)
  const decodeType = Schema.decodeUnknownExit(schema)
  const fast = fastCodec(model, schema)
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
  if (fast === undefined)
    return {
      model,
      decode: (doc) => decodeJson(doc),
      encode: (record) => withLatestKey(model, encodeJson(record) as Doc),
      validate: validateSlow
    }
  return {
    model,
    decode: (doc) => (fast.decode(doc) as S["Type"] | undefined) ?? decodeJson(doc),
    encode: (record) => withLatestKey(model, fast.encode(record) ?? (encodeJson(record) as Doc)),
    validate: (values) => (fast.validate(values) as S["Type"] | undefined) ?? validateSlow(values)
  }
}

export interface FindOptions {
  readonly orderBy?: ReadonlyArray<Ast.OrderKey> | undefined
  readonly limit?: number | undefined
  readonly offset?: number | undefined
  readonly after?: Ast.Cursor | undefined
}

/**
 * Lets callers name a reference by its relation: `{ transform: record }` (or an id) for `{ transformId: id }`,
 * as in lamindb's `Run(transform)`.
 */
const byField = (model: Model, input: { readonly [k: string]: unknown }): { readonly [k: string]: unknown } =>
  // fromEntries defines own properties: a key like "__proto__" stays a key (and is refused as unknown).
  Object.fromEntries(
    Object.entries(input).map(([name, value]) => {
      const relation = Object.hasOwn(model.relations, name) ? model.relations[name] : undefined
      if (relation?.kind !== "forward") return [name, value]
      const id = value !== null && typeof value === "object" && "id" in value ? (value as { readonly id: unknown }).id : value
      return [relation.field, id]
    })
  )

/** Fields the store sets itself. */
const managed = new Set(["id", "createdAt", "updatedAt", latestKey])

export interface StoreShape {
  readonly driver: Driver
  /** Declares the indexes that serve queries on these features (idempotent). */
  readonly indexFeatures: (names: ReadonlyArray<string>) => Effect.Effect<void, StoreError>
  /** Validates, fills defaults, ids, uids and timestamps, and inserts all or none. */
  readonly insert: <A>(
    entity: Entity<A>,
    inputs: ReadonlyArray<{ readonly [k: string]: unknown }>
  ) => Effect.Effect<ReadonlyArray<A>, ValidationError | UniqueViolation | StoreError>
  /** The documents `insert` would write, for callers that put them into a `batch`. */
  readonly prepare: <A>(
    entity: Entity<A>,
    inputs: ReadonlyArray<{ readonly [k: string]: unknown }>
  ) => Effect.Effect<ReadonlyArray<A>, ValidationError | StoreError>
  readonly update: <A extends { readonly id: number }>(
    entity: Entity<A>,
    record: A,
    patch: { readonly [k: string]: unknown },
    expect?: Doc
  ) => Effect.Effect<A, ValidationError | UniqueViolation | StoreError>
  readonly find: <A>(entity: Entity<A>, where: Ast.Cond, options?: FindOptions) => Effect.Effect<ReadonlyArray<A>, StoreError>
  readonly count: (model: Model, where: Ast.Cond) => Effect.Effect<number, StoreError>
  readonly get: <A>(entity: Entity<A>, ids: ReadonlyArray<number>) => Effect.Effect<ReadonlyArray<A>, StoreError>
  readonly remove: (model: Model, ids: ReadonlyArray<number>) => Effect.Effect<number, StoreError>
  /** Atomic where the driver has transactions; otherwise the writes apply in order. */
  readonly batch: (ops: ReadonlyArray<WriteOp>) => Effect.Effect<void, UniqueViolation | StoreError>
}

export class Store extends Context.Service<Store, StoreShape>()("@lineage/Store") {}

const modelByTable = new Map(Object.values(models).map((m) => [m.table, m]))

/** Driver unique violations become the domain's `UniqueViolation`, named after the registry. */
const domainErrors = <A, E>(effect: Effect.Effect<A, E | StoreError>): Effect.Effect<A, E | UniqueViolation | StoreError> =>
  Effect.catchIf(
    effect,
    (e): e is StoreError => e instanceof StoreError && e.reason._tag === "UniqueViolation",
    (e) => {
      const r = e.reason as Extract<StoreError["reason"], { _tag: "UniqueViolation" }>
      return Effect.fail(
        new UniqueViolation({
          registry: modelByTable.get(r.table)?.name ?? r.table,
          constraint: r.constraint,
          fields: r.fields,
          values: r.values
        })
      )
    }
  )

const corrupt = (model: Model, doc: Doc, e: unknown) =>
  StoreError.invalid(`stored ${model.name} ${String(doc["uid"])} does not decode: ${String(e)}`)

/**
 * Every table, with a sorted index per feature on the registries that hold feature values, so a query on
 * a feature is served by an index on every store.
 */
const tableSpecs = (features: Iterable<string>) =>
  Object.values(models).map((model) => {
    const spec = tableSpec(model)
    if (!Object.hasOwn(model.fields, featureValues)) return spec
    const indexes = [...features].map((name) => ({ path: [featureValues, name], kind: "sorted" as const }))
    return { ...spec, indexes: [...spec.indexes, ...indexes] }
  })

/** Lifts a driver into the typed service. Tables are declared once, here. */
export const make = (driver: Driver): Effect.Effect<StoreShape, StoreError> =>
  Effect.gen(function* () {
    yield* driver.declare(tableSpecs([]))
    const indexedFeatures = new Set<string>()
    const indexFeatures = (names: ReadonlyArray<string>) =>
      Effect.suspend(() => {
        const fresh = names.filter((n) => !indexedFeatures.has(n))
        if (fresh.length === 0) return Effect.void
        for (const n of fresh) indexedFeatures.add(n)
        return driver.declare(tableSpecs(indexedFeatures))
      })
    const existing = yield* driver.find(FeatureModel.table, { where: Ast.always, orderBy: [] })
    yield* indexFeatures(existing.map((f) => String(f["name"])))

    const decodeAll = <A>(entity: Entity<A>, docs: ReadonlyArray<Doc>) =>
      Effect.try({ try: () => docs.map(entity.decode), catch: (e) => corrupt(entity.model, docs[0] ?? {}, e) })

    const prepare: StoreShape["prepare"] = (entity, inputs) =>
      Effect.gen(function* () {
        const { model } = entity
        const now = new Date()
        const first = inputs.length === 0 ? 0 : yield* driver.reserveIds(model.table, inputs.length)
        const records = []
        for (const [i, input] of inputs.entries()) {
          const values: Record<string, unknown> = {}
          for (const [name, value] of Object.entries(byField(model, input))) {
            if (!Object.hasOwn(model.fields, name) || managed.has(name))
              return yield* new ValidationError({
                registry: model.name,
                field: name,
                value,
                expected: managed.has(name) ? "no value (the store sets it)" : `a field of ${model.name}`
              })
            if (value !== undefined) values[name] = value
          }
          for (const [name, def] of Object.entries(model.fields)) {
            if (name in values) continue
            if (def.default !== undefined) values[name] = def.default()
            else if (def.nullable) values[name] = null
          }
          values["id"] = first + i
          // A new family of a versioned registry starts at suffix 0000.
          values["uid"] ??= model.versioned
            ? Uid.random(model.uidLength - Uid.suffixLength) + Uid.firstSuffix
            : Uid.random(model.uidLength)
          values["createdAt"] = now
          if ("updatedAt" in model.fields) values["updatedAt"] = now
          const uid = values["uid"]
          if (typeof uid !== "string" || uid.length !== model.uidLength || !Uid.isBase62(uid))
            return yield* new ValidationError({
              registry: model.name,
              field: "uid",
              value: uid,
              expected: `${model.uidLength} base62 characters (0-9A-Za-z)`
            })
          const record = entity.validate(values)
          if (record instanceof ValidationError) return yield* record
          records.push(record)
        }
        return records
      })

    const store: StoreShape = {
      driver,
      indexFeatures,
      prepare,
      insert: (entity, inputs) =>
        Effect.gen(function* () {
          const records = yield* prepare(entity, inputs)
          yield* domainErrors(driver.insert(entity.model.table, records.map(entity.encode)))
          return records
        }),
      update: (entity, record, patch, expect) =>
        Effect.gen(function* () {
          const { model } = entity
          patch = byField(model, patch)
          for (const [name, value] of Object.entries(patch)) {
            if (!Object.hasOwn(model.fields, name) || managed.has(name) || name === "uid")
              return yield* new ValidationError({
                registry: model.name,
                field: name,
                value,
                expected: Object.hasOwn(model.fields, name) ? "no change (it is fixed)" : `a field of ${model.name}`
              })
          }
          const next = entity.validate({
            ...record,
            ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
            ...("updatedAt" in model.fields ? { updatedAt: new Date() } : {})
          })
          if (next instanceof ValidationError) return yield* next
          const encoded = entity.encode(next)
          const changed = Object.fromEntries(
            [...Object.keys(patch), "updatedAt", latestKey].filter((k) => k in encoded).map((k) => [k, encoded[k]!])
          )
          const stored = yield* domainErrors(driver.update(model.table, record.id, changed, expect))
          return yield* Effect.try({ try: () => entity.decode(stored), catch: (e) => corrupt(model, stored, e) })
        }),
      find: (entity, where, options = {}) =>
        Effect.gen(function* () {
          const planned = yield* Planner.plan(driver, entity.model, where)
          const docs = yield* driver.find(entity.model.table, {
            where: planned,
            orderBy: options.orderBy ?? [],
            limit: options.limit,
            offset: options.offset,
            after: options.after
          })
          return yield* decodeAll(entity, docs)
        }),
      count: (model, where) =>
        Effect.flatMap(Planner.plan(driver, model, where), (planned) => driver.count(model.table, planned)),
      get: (entity, ids) => Effect.flatMap(driver.get(entity.model.table, ids), (docs) => decodeAll(entity, docs)),
      remove: (model, ids) => driver.remove(model.table, ids),
      batch: (ops) =>
        domainErrors(
          driver.batch !== undefined && driver.capabilities.transactions
            ? driver.batch(ops)
            : Effect.forEach(ops, (op) => applyOne(driver, op), { discard: true })
        )
    }
    return store
  })

const applyOne = (driver: Driver, op: WriteOp): Effect.Effect<void, StoreError> => {
  switch (op._tag) {
    case "Insert":
      return driver.insert(op.table, op.docs)
    case "Update":
      return Effect.asVoid(driver.update(op.table, op.id, op.patch, op.expect))
    case "Delete":
      return Effect.asVoid(driver.remove(op.table, op.ids))
  }
}

/** A store on a driver the layer opens and closes. */
export const layer = <E, R>(acquire: Effect.Effect<Driver, E, R>): Layer.Layer<Store, E | StoreError, R> =>
  Layer.effect(
    Store,
    Effect.flatMap(
      Effect.acquireRelease(acquire, (driver) => driver.close()),
      make
    )
  )

/** A store on a driver the caller keeps (and closes). */
export const layerFromDriver = (driver: Driver): Layer.Layer<Store, StoreError> => Layer.effect(Store, make(driver))

/** A store on a driver written with async functions (see `PromiseDriver`). */
export const layerFromPromises = (driver: PromiseDriver): Layer.Layer<Store, StoreError> =>
  layer(Effect.succeed(fromPromises(driver)))
