/**
 * The typed `Store` service: a driver lifted into domain terms. It owns what every driver would otherwise
 * repeat: Schema validation and encoding, ids, uids, timestamps and defaults, relation planning, and the
 * mapping of driver failures onto the domain's errors.
 */
import { Context, Effect, Layer } from "effect"
import * as Ast from "./Ast.js"
import type { Entity } from "./Codec.js"
import { FeatureModel, models } from "./Records.js"
import { type Doc, type Driver, type TableSpec, type WriteOp, fromPromises, type PromiseDriver, validated } from "./Driver.js"
import { StoreError, StoreUniqueViolation, UniqueViolation, ValidationError } from "./Errors.js"
import { derivations, featureValues, type Model, recordField, tableSpec } from "./Model.js"
import * as Relations from "./Relations.js"
import * as StorageFormat from "./StorageFormat.js"
import * as Uid from "./Uid.js"
import { newUid } from "./Versioning.js"

export { type Entity, entity } from "./Codec.js"

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
const byField = (model: Model, input: { readonly [k: string]: unknown }): { readonly [k: string]: unknown } | ValidationError => {
  const shape = insertShape(model)
  const entries = Object.entries(input).map(([name, value]) => fieldOf(shape, name, value))
  const given = new Set<string>()
  for (const [i, [field, value]] of entries.entries()) {
    if (value === undefined) continue
    if (given.has(field)) return givenTwice(model, shape, input, Object.keys(input)[i]!, field, value)
    given.add(field)
  }
  // fromEntries defines own properties: a key like "__proto__" stays a key (and is refused as unknown).
  return Object.fromEntries(entries)
}

/**
 * The field an input name sets, with the value it stores there: a forward relation's reference field (the
 * related record's id), the field a model alias stands for (`version` → `versionTag`), or the name itself.
 */
const fieldOf = (shape: InsertShape, name: string, value: unknown): readonly [string, unknown] => {
  const reference = shape.forward.get(name)
  return reference === undefined ? [shape.aliases.get(name) ?? name, value] : [reference, idOf(value)]
}

/** An input naming one field twice (by a relation or an alias and by its own name) is ambiguous: the error names both. */
const givenTwice = (
  model: Model,
  shape: InsertShape,
  input: { readonly [k: string]: unknown },
  name: string,
  field: string,
  value: unknown
) => {
  const first = Object.keys(input).find((k) => k !== name && input[k] !== undefined && fieldOf(shape, k, undefined)[0] === field)
  return new ValidationError({
    registry: model.name,
    field: name,
    value,
    expected: `no value: ${first} and ${name} both set ${field}, give one`
  })
}

/** A related record's id, or the value itself (an id already), as the store reads a relation value. */
export const idOf = (value: unknown): unknown =>
  value !== null && typeof value === "object" && "id" in value ? (value as { readonly id: unknown }).id : value

/** Fields the store sets itself: ids, timestamps, and every registry's derived fields. */
const managed = new Set([
  "id",
  "createdAt",
  "updatedAt",
  ...Object.values(models).flatMap((m) => derivations(m).flatMap((d) => d.fields))
])

/** What inserting into a model needs to know, worked out once per model. */
interface InsertShape {
  /** Forward relation name → its reference field. */
  readonly forward: ReadonlyMap<string, string>
  /** The model's aliases: alias → field. */
  readonly aliases: ReadonlyMap<string, string>
  /** Fields an input may leave out, with what fills them. */
  readonly fill: ReadonlyArray<readonly [string, () => unknown]>
  readonly hasUpdatedAt: boolean
}

const insertShapes = new WeakMap<Model, InsertShape>()

const insertShape = (model: Model): InsertShape => {
  let shape = insertShapes.get(model)
  if (shape === undefined) {
    shape = {
      forward: new Map(
        Object.entries(model.relations).flatMap(([name, r]) => (r.kind === "forward" ? [[name, r.field] as const] : []))
      ),
      // A field of the alias's name wins, as in queries.
      aliases: new Map(Object.entries(model.aliases ?? {}).filter(([alias]) => !Object.hasOwn(model.fields, alias))),
      fill: Object.entries(model.fields).flatMap(([name, def]) =>
        def.default !== undefined ? [[name, def.default] as const] : def.nullable ? [[name, () => null] as const] : []
      ),
      hasUpdatedAt: Object.hasOwn(model.fields, "updatedAt")
    }
    insertShapes.set(model, shape)
  }
  return shape
}

/** One input as the record `insert` writes, or the first field that does not fit. Plain code: it runs per row. */
const prepareOne = <A>(
  entity: Entity<A>,
  shape: InsertShape,
  input: { readonly [k: string]: unknown },
  id: number,
  now: Date
): A | ValidationError => {
  const { model } = entity
  const values: Record<string, unknown> = {}
  for (const key in input) {
    if (!Object.hasOwn(input, key)) continue
    const [name, value] = fieldOf(shape, key, input[key])
    if (!Object.hasOwn(model.fields, name) || managed.has(name))
      return new ValidationError({
        registry: model.name,
        field: name,
        value,
        expected: managed.has(name) ? "no value (the store sets it)" : `a field of ${model.name}`
      })
    // Only model fields get here, so no key can be "__proto__"; undefined means "not given".
    if (value === undefined) continue
    if (Object.hasOwn(values, name)) return givenTwice(model, shape, input, key, name, value)
    values[name] = value
  }
  for (const [name, fill] of shape.fill) if (!Object.hasOwn(values, name)) values[name] = fill()
  values["id"] = id
  values["uid"] ??= newUid(model)
  values["createdAt"] = now
  if (shape.hasUpdatedAt) values["updatedAt"] = now
  const uid = values["uid"]
  if (typeof uid !== "string" || uid.length !== model.uidLength || !Uid.isBase62(uid))
    return new ValidationError({
      registry: model.name,
      field: "uid",
      value: uid,
      expected: `${model.uidLength} base62 characters (0-9A-Za-z)`
    })
  return entity.validate(values)
}

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
  /** The write `update` would make, derived fields and guard included, for callers that put it into a `batch`. */
  readonly prepareUpdate: <A extends { readonly id: number }>(
    entity: Entity<A>,
    record: A,
    patch: { readonly [k: string]: unknown },
    expect?: Doc
  ) => Effect.Effect<WriteOp, ValidationError>
  readonly find: <A>(entity: Entity<A>, where: Ast.Cond, options?: FindOptions) => Effect.Effect<ReadonlyArray<A>, StoreError>
  readonly count: (model: Model, where: Ast.Cond) => Effect.Effect<number, StoreError>
  readonly get: <A>(entity: Entity<A>, ids: ReadonlyArray<number>) => Effect.Effect<ReadonlyArray<A>, StoreError>
  readonly remove: (model: Model, ids: ReadonlyArray<number>) => Effect.Effect<number, StoreError>
  /** Atomic where the driver has transactions; otherwise the writes apply in order. */
  readonly batch: (ops: ReadonlyArray<WriteOp>) => Effect.Effect<void, UniqueViolation | StoreError>
}

export class Store extends Context.Service<Store, StoreShape>()("@lineage/Store") {}

const modelByTable = new Map(Object.values(models).map((m) => [m.table, m]))

/**
 * Driver unique violations become the domain's `UniqueViolation`, named after the registry and its fields: a
 * live-scoped constraint's live copies are reported as the fields they copy.
 */
const domainErrors = <A, E>(effect: Effect.Effect<A, E | StoreError>): Effect.Effect<A, E | UniqueViolation | StoreError> =>
  Effect.catchIf(
    effect,
    (e): e is StoreError & { readonly reason: StoreUniqueViolation } => e instanceof StoreError && e.reason instanceof StoreUniqueViolation,
    ({ reason: r }) => {
      const model = modelByTable.get(r.table)
      return Effect.fail(
        new UniqueViolation({
          registry: model?.name ?? r.table,
          constraint: r.constraint,
          fields: model === undefined ? r.fields : r.fields.map((f) => recordField(model, f)),
          values: r.values
        })
      )
    }
  )

const corrupt = (model: Model, doc: Doc, e: unknown) =>
  StoreError.invalid(`stored ${model.name} ${String(doc["uid"])} does not decode: ${String(e)}`)

/** Every table with its own constraints and indexes. */
const tableSpecs = (): ReadonlyArray<TableSpec> => Object.values(models).map(tableSpec)

const registryTables = Object.values(models).map((m) => m.table)

/**
 * The marker table and every registry table, the latter bare (no constraint, no index): enough to read them,
 * and nothing a namespace in another format could refuse (`declare` is additive: the full specs add the rest).
 */
const bareSpecs = (): ReadonlyArray<TableSpec> => [
  StorageFormat.tableSpec,
  ...registryTables.map((name) => ({ name, unique: [], indexes: [] }))
]

/**
 * A sorted index per feature on each registry that holds feature values, so a query on a feature is served
 * by an index on every store. Only the features named: `declare` adds to what a table has.
 */
const featureSpecs = (features: ReadonlyArray<string>): ReadonlyArray<TableSpec> =>
  Object.values(models).flatMap((model) =>
    Object.hasOwn(model.fields, featureValues)
      ? [{ name: model.table, unique: [], indexes: features.map((name) => ({ path: [featureValues, name], kind: "sorted" as const })) }]
      : []
  )

/**
 * Lifts a driver, behind the contract's checks (`validated`), into the typed service. Tables are declared here,
 * once the namespace is known to be in this version's storage format (`StorageFormat.ensure`): one in another
 * format fails with `StoreError` (`Invalid`) before any constraint or document is written to it.
 */
export const make = (unchecked: Driver): Effect.Effect<StoreShape, StoreError> =>
  Effect.gen(function* () {
    const driver = validated(unchecked)
    yield* driver.declare(bareSpecs())
    yield* StorageFormat.ensure(driver, registryTables)
    yield* driver.declare(tableSpecs())
    const indexFeatures = featureIndexer(driver)
    yield* indexFeatures(yield* storedFeatureNames(driver))
    return service(driver, indexFeatures)
  })

/** Declares the indexes of the features named, each feature's once: creating N features declares N features' indexes in all. */
const featureIndexer = (driver: Driver): StoreShape["indexFeatures"] => {
  const indexed = new Set<string>()
  return (names) =>
    Effect.suspend(() => {
      const fresh = [...new Set(names)].filter((n) => !indexed.has(n))
      if (fresh.length === 0) return Effect.void
      return Effect.andThen(
        driver.declare(featureSpecs(fresh)),
        Effect.sync(() => {
          for (const n of fresh) indexed.add(n)
        })
      )
    })
}

const storedFeatureNames = (driver: Driver): Effect.Effect<ReadonlyArray<string>, StoreError> =>
  Effect.map(driver.find(FeatureModel.table, { where: Ast.always, orderBy: [] }), (docs) => docs.map((f) => String(f["name"])))

/** The service's operations on a driver whose tables are declared. */
const service = (driver: Driver, indexFeatures: StoreShape["indexFeatures"]): StoreShape => {
  const prepare = preparer(driver)
  return {
    driver,
    indexFeatures,
    prepare,
    insert: (entity, inputs) =>
      Effect.gen(function* () {
        const records = yield* prepare(entity, inputs)
        yield* domainErrors(driver.insert(entity.model.table, records.map(entity.encode)))
        return records
      }),
    update: updater(driver),
    prepareUpdate,
    find: (entity, where, options = {}) =>
      Effect.gen(function* () {
        const planned = yield* Relations.resolve(driver, entity.model, where)
        const docs = yield* driver.find(entity.model.table, {
          where: planned,
          orderBy: options.orderBy ?? [],
          limit: options.limit,
          offset: options.offset,
          after: options.after
        })
        return yield* decodeAll(entity, docs)
      }),
    count: (model, where) => Effect.flatMap(Relations.resolve(driver, model, where), (planned) => driver.count(model.table, planned)),
    get: (entity, ids) => Effect.flatMap(driver.get(entity.model.table, ids), (docs) => decodeAll(entity, docs)),
    remove: (model, ids) => driver.remove(model.table, ids),
    batch: (ops) =>
      domainErrors(
        driver.batch !== undefined && driver.capabilities.transactions
          ? driver.batch(ops)
          : Effect.forEach(ops, (op) => applyOne(driver, op), { discard: true })
      )
  }
}

const decodeAll = <A>(entity: Entity<A>, docs: ReadonlyArray<Doc>) =>
  Effect.try({ try: () => docs.map(entity.decode), catch: (e) => corrupt(entity.model, docs[0] ?? {}, e) })

const preparer =
  (driver: Driver): StoreShape["prepare"] =>
  (entity, inputs) =>
    Effect.gen(function* () {
      const { model } = entity
      const now = new Date()
      const first = inputs.length === 0 ? 0 : yield* driver.reserveIds(model.table, inputs.length)
      const shape = insertShape(model)
      const records = []
      for (let i = 0; i < inputs.length; i++) {
        const record = prepareOne(entity, shape, inputs[i]!, first + i, now)
        if (record instanceof ValidationError) return yield* record
        records.push(record)
      }
      return records
    })

const updater =
  (driver: Driver): StoreShape["update"] =>
  (entity, record, patch, expect) =>
    Effect.gen(function* () {
      const op = yield* prepareUpdate(entity, record, patch, expect)
      const stored = yield* domainErrors(driver.update(op.table, op.id, op.patch, op.expect))
      return yield* Effect.try({ try: () => entity.decode(stored), catch: (e) => corrupt(entity.model, stored, e) })
    })

/** The write an update makes: the patch validated, with `updatedAt` and the derived fields it changes, under its guard. */
const prepareUpdate = <A extends { readonly id: number }>(
  entity: Entity<A>,
  record: A,
  patch: { readonly [k: string]: unknown },
  expect?: Doc
): Effect.Effect<WriteOp & { readonly _tag: "Update" }, ValidationError> =>
  Effect.gen(function* () {
    const { model } = entity
    const fields = byField(model, patch)
    if (fields instanceof ValidationError) return yield* fields
    const refused = refusedChange(model, fields)
    if (refused !== undefined) return yield* refused
    const next = entity.validate({
      ...record,
      ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
      ...("updatedAt" in model.fields ? { updatedAt: new Date() } : {})
    })
    if (next instanceof ValidationError) return yield* next
    const { changed, guard } = updateWrite(model, fields, entity.encode(next), expect)
    return { _tag: "Update" as const, table: model.table, id: record.id, patch: changed, expect: guard }
  })

/** The first field of `patch` an update may not change: one the registry lacks, one the store sets, or the uid. */
const refusedChange = (model: Model, patch: { readonly [k: string]: unknown }): ValidationError | undefined => {
  for (const [name, value] of Object.entries(patch)) {
    if (!Object.hasOwn(model.fields, name) || managed.has(name) || name === "uid")
      return new ValidationError({
        registry: model.name,
        field: name,
        value,
        expected: Object.hasOwn(model.fields, name) ? "no change (it is fixed)" : `a field of ${model.name}`
      })
  }
  return undefined
}

/**
 * The fields an update writes (those `patch` names, and `updatedAt`, from the `encoded` next record) and the
 * guard it writes them under. Each part of the model's derived fields (`derivations`) is rewritten only when
 * `patch` changes what it follows from, and then only while the stored record still holds the rest of it as
 * this copy does: a stale copy must not write derived values (a claim on a key, see `Versioning`, or a live
 * copy of a unique name) worked out from what it believes.
 */
const updateWrite = (
  model: Model,
  patch: { readonly [k: string]: unknown },
  encoded: Doc,
  expect: Doc | undefined
): { readonly changed: Doc; readonly guard: Doc | undefined } => {
  const touched = derivations(model).filter((d) => d.from.some((k) => k in patch))
  const pick = (names: ReadonlyArray<string>): Doc =>
    Object.fromEntries(names.filter((k) => k in encoded).map((k) => [k, encoded[k]!]))
  const changed = pick([...Object.keys(patch), "updatedAt", ...touched.flatMap((d) => d.fields)])
  if (touched.length === 0) return { changed, guard: expect }
  return { changed, guard: { ...pick(touched.flatMap((d) => d.from).filter((k) => !(k in patch))), ...expect } }
}

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

const releaseHooks = new WeakMap<StoreShape, Set<{ readonly hook: Effect.Effect<void> }>>()

/**
 * Runs `hook` when the layer that built `store` is released, before the layer closes its driver (tracking
 * ends the run the store still tracks there); returns what cancels it. A store made without a layer (`make`)
 * is never released: its owner ends what it started. `hook` must not fail, and must bound its own time.
 */
export const onRelease = (store: StoreShape, hook: Effect.Effect<void>): (() => void) => {
  let hooks = releaseHooks.get(store)
  if (hooks === undefined) {
    hooks = new Set()
    releaseHooks.set(store, hooks)
  }
  const entry = { hook }
  hooks.add(entry)
  return () => void releaseHooks.get(store)?.delete(entry)
}

/** A layer's store, whose release hooks run when the layer is released. */
const released = <E, R>(made: Effect.Effect<StoreShape, E, R>) =>
  Effect.tap(made, (store) =>
    Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const hooks = [...(releaseHooks.get(store) ?? [])]
        releaseHooks.delete(store)
        return Effect.forEach(hooks, (h) => h.hook, { discard: true })
      })
    )
  )

/** A store on a driver the layer opens and closes. */
export const layer = <E, R>(acquire: Effect.Effect<Driver, E, R>): Layer.Layer<Store, E | StoreError, R> =>
  Layer.effect(
    Store,
    // Finalizers run in reverse: the release hooks, then the driver's close.
    released(
      Effect.flatMap(
        Effect.acquireRelease(acquire, (driver) => driver.close()),
        make
      )
    )
  )

/** A store on a driver the caller keeps (and closes). */
export const layerFromDriver = (driver: Driver): Layer.Layer<Store, StoreError> => Layer.effect(Store, released(make(driver)))

/** A store on a driver written with async functions (see `PromiseDriver`). */
export const layerFromPromises = (driver: PromiseDriver): Layer.Layer<Store, StoreError> =>
  layer(Effect.succeed(fromPromises(driver)))
