/**
 * Feature values on runs and artifacts: lamindb's `features.add / set / get / remove / describe`.
 *
 * Values live in the record's `featureValues` (by feature name, encoded for the feature's dtype), which every
 * store indexes per feature; there is no second copy that could disagree with it. Every write validates all
 * values first and writes nothing if one fails; concurrent writers to one record never lose each other's
 * values (compare-and-set, retried).
 */
import { Effect, Schedule } from "effect"
import * as Ast from "./Ast.js"
import * as Records from "./Records.js"
import * as Dtype from "./Dtype.js"
import { InvalidQuery, showValue, StoreError, type UniqueViolation, ValidationError } from "./Errors.js"
import { expectedNesting, listNames, showName, unfitTogether } from "./Limits.js"
import { featureValues, type Model } from "./Model.js"
import { available } from "./Query.js"
import { type Entity, entity, Store } from "./Store.js"

export type WithFeatures = Records.Run | Records.Artifact

const runEntity = entity(Records.RunModel, Records.Run)
const artifactEntity = entity(Records.ArtifactModel, Records.Artifact)
const featureEntity = entity(Records.FeatureModel, Records.Feature)

const entityOf = (record: WithFeatures): Entity<WithFeatures> =>
  (record instanceof Records.Artifact ? artifactEntity : runEntity) as Entity<WithFeatures>

type Values = { readonly [name: string]: Ast.Json }

const storedValues = (record: WithFeatures): Values => (record.featureValues ?? {}) as Values

/**
 * A value by feature name, own properties only. Names are data: `constructor` or `__proto__` must never
 * reach `Object.prototype`, so values are read with this and objects of values are built with
 * `Object.fromEntries` (which defines own properties), never by assignment.
 */
const own = <V>(values: { readonly [name: string]: V }, name: string): V | undefined =>
  Object.hasOwn(values, name) ? values[name] : undefined

const createHint = (name: string) => `Feature.create({ name: ${showName(name)}, dtype: "float" })`

/** The Feature records for `names`, or a ValidationError listing those that do not exist and how to make them. */
const featuresNamed = (registry: string, names: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const store = yield* Store
    const found = yield* store.find(featureEntity, Ast.field(["name"], "in", [...names]))
    const byName = new Map(found.map((f) => [f.name, f]))
    const missing = names.filter((n) => !byName.has(n))
    return { byName, missing, registry }
  })

/** Validates and encodes `values`, all of them, before anything is written: what `add` and `set` store. */
export const validate = (registry: string, values: { readonly [name: string]: unknown }) =>
  Effect.gen(function* () {
    // lamindb skips None values.
    const names = Object.keys(values).filter((n) => own(values, n) !== null && own(values, n) !== undefined)
    const { byName, missing } = yield* featuresNamed(registry, names)
    if (missing.length > 0)
      return yield* new ValidationError({
        registry,
        field: "features",
        value: missing,
        expected: `names of existing features. These keys could not be validated: ${listNames(missing)}; create each with e.g. ${createHint(missing[0]!)}`
      })
    // Sized before any is encoded: encoding copies a value whole, with no bound of its own.
    const unfit = unfitTogether(names.map((name) => [name, own(values, name)] as const), 0)
    if (unfit !== undefined)
      return yield* new ValidationError({
        registry,
        field: unfit.name,
        value: unfit.value,
        expected: `${expectedNesting(unfit.found)}${unfit.together ? ", all features together" : ""}`
      })
    const encoded: Array<readonly [string, Ast.Json]> = []
    const categorical = new Map<string, Set<string>>()
    for (const name of names) {
      const feature = byName.get(name)!
      const dtype = Dtype.parse(feature.dtype)
      const value = dtype === undefined ? undefined : Dtype.encode(dtype, own(values, name))
      if (dtype === undefined || value === undefined)
        return yield* new ValidationError({
          registry,
          field: name,
          value: own(values, name),
          expected: `a value of dtype ${feature.dtype} (feature "${name}")`
        })
      encoded.push([name, value])
      const cat = dtype._tag === "cat" ? dtype : dtype._tag === "list" && dtype.item._tag === "cat" ? dtype.item : undefined
      if (cat !== undefined) {
        const labels = categorical.get(cat.registry) ?? new Set<string>()
        for (const v of Array.isArray(value) ? value : [value]) labels.add(v as string)
        categorical.set(cat.registry, labels)
      }
    }
    // Categorical values must name existing records (lamindb: "These values could not be validated").
    const store = yield* Store
    for (const [target, labels] of categorical) {
      const model = Records.modelOf(target)
      const field = Dtype.categoricalRegistries[target]!
      const rows = yield* store.driver.find(model.table, { where: Ast.field([field], "in", [...labels]), orderBy: [] })
      const known = new Set(rows.map((r) => r[field]))
      const unknown = [...labels].filter((l) => !known.has(l))
      if (unknown.length > 0)
        return yield* new ValidationError({
          registry,
          field: "features",
          value: unknown,
          expected: `names of existing ${target} records. These values could not be validated: ${listNames(unknown)}; create them with ${target}.create({ ${field}: ${showName(unknown[0]!)} })`
        })
    }
    return Object.fromEntries(encoded) as Values
  })

const retryConflicts = { while: (e: unknown) => e instanceof StoreError && e.reason._tag === "Conflict", schedule: Schedule.spaced("2 millis"), times: 100 }

/** Applies `change` to the stored values by compare-and-set, so concurrent writers never lose updates. */
const modify = <A extends WithFeatures>(
  record: A,
  change: (current: Values) => Effect.Effect<Values, ValidationError>
): Effect.Effect<A, ValidationError | UniqueViolation | StoreError, Store> => {
  const ent = entityOf(record)
  return Effect.gen(function* () {
    const store = yield* Store
    const [stored] = yield* store.get(ent, [record.id])
    if (stored === undefined) return yield* StoreError.notFound(ent.model.table, record.id)
    const before = storedValues(stored)
    const after = yield* change(before)
    return (yield* store.update(ent, stored, { [featureValues]: after }, { [featureValues]: before })) as A
  }).pipe(Effect.retry(retryConflicts))
}

/** `list` followed by the `items` it does not already hold (by JSON text): one pass over each. */
const appendNew = (list: ReadonlyArray<Ast.Json>, items: ReadonlyArray<Ast.Json>): Array<Ast.Json> => {
  const held = new Set(list.map((v) => JSON.stringify(v)))
  return [...list, ...items.filter((v) => !held.has(JSON.stringify(v)))]
}

/**
 * Why a second value for a feature is refused, and what to do instead. lamindb keeps both values (queries then
 * match either, and reading returns a set); here a feature holds one value on a record, because every store
 * indexes `featureValues.<name>` as one value: exact and range lookups and ordering by a feature compare that
 * value, and `get` returns it as is. A `list[...]` feature holds several values, and `add` appends to it.
 */
const secondValue = (registry: string, name: string, held: Ast.Json, given: unknown) =>
  new ValidationError({
    registry,
    field: name,
    value: given,
    expected:
      `one value per feature: ${showName(name)} already holds ${showValue(held)} on this ${registry}. ` +
      `To replace it, remove ${showName(name)} and add the new value, or set() all of the record's values ` +
      `(set replaces every value); to keep several values, use a feature of dtype list[...], to which add appends`
  })

/**
 * Adds values. A feature that already holds a different value is refused (see `secondValue`): `set` replaces
 * all values, `remove` then `add` replaces one; `list[...]` features append.
 */
export const add = <A extends WithFeatures>(record: A, values: { readonly [name: string]: unknown }) =>
  Effect.flatMap(validate(entityOf(record).model.name, values), (encoded) =>
    modify(record, (current) =>
      Effect.gen(function* () {
        const next = new Map(Object.entries(current))
        for (const [name, value] of Object.entries(encoded)) {
          const old = own(current, name)
          if (old === undefined || old === null) next.set(name, value)
          else if (Array.isArray(old) && Array.isArray(value)) next.set(name, appendNew(old, value))
          else if (JSON.stringify(old) !== JSON.stringify(value))
            return yield* secondValue(entityOf(record).model.name, name, old, own(values, name))
        }
        return Object.fromEntries(next) as Values
      })
    )
  )

/** Replaces all values with `values`. */
export const set = <A extends WithFeatures>(record: A, values: { readonly [name: string]: unknown }) =>
  Effect.flatMap(validate(entityOf(record).model.name, values), (encoded) => modify(record, () => Effect.succeed(encoded)))

/** Removes the named features' values (all values without names). */
export const remove = <A extends WithFeatures>(record: A, names?: string | ReadonlyArray<string>) =>
  modify(record, (current) => {
    if (names === undefined) return Effect.succeed({})
    const drop = new Set(typeof names === "string" ? [names] : names)
    return Effect.succeed(Object.fromEntries(Object.entries(current).filter(([n]) => !drop.has(n))))
  })

/** The record as stored now: another writer may have changed its values since it was read. */
const fresh = <A extends WithFeatures>(record: A) =>
  Store.use((store) => Effect.map(store.get(entityOf(record), [record.id]), ([row]) => (row ?? record) as A))

/** The record's values by feature name, as readers expect them (datetimes as `Date`). */
export const get = (given: WithFeatures) =>
  Effect.gen(function* () {
    const record = yield* fresh(given)
    const stored = storedValues(record)
    const { byName } = yield* featuresNamed(entityOf(record).model.name, Object.keys(stored))
    return Object.fromEntries(
      Object.entries(stored).map(([name, v]) => {
        const dtype = Dtype.parse(byName.get(name)?.dtype ?? "object")
        return [name, dtype === undefined ? v : Dtype.decode(dtype, v)]
      })
    ) as { readonly [name: string]: unknown }
  })

/** lamindb's `describe()`: the record, then one line per feature with its dtype and value. */
export const describe = (given: WithFeatures) =>
  Effect.gen(function* () {
    const store = yield* Store
    const record = yield* fresh(given)
    const stored = storedValues(record)
    const { byName } = yield* featuresNamed(entityOf(record).model.name, Object.keys(stored))
    let title = `${entityOf(record).model.name}: ${record.uid.slice(0, 7)}`
    if (record instanceof Records.Run) {
      const [transform] = yield* store.get(entity(Records.TransformModel, Records.Transform), [record.transformId])
      if (transform !== undefined) title += ` (${transform.key})`
    } else if (record.key !== null) title += ` (${record.key})`
    const rows = Object.keys(stored)
      .sort()
      .map((name) => `  ${name.padEnd(24)} ${(byName.get(name)?.dtype ?? "?").padEnd(16)} ${JSON.stringify(own(stored, name))}`)
    return [title, "Features", ...(rows.length === 0 ? ["  (none)"] : rows)].join("\n")
  })

// ---------------------------------------------------------------------------------------------------------
// Queries

/** `[featureName, path]` for every condition on a feature of `model` (directly, not through relations). */
const featurePaths = (model: Model, cond: Ast.Cond): Array<Ast.Field> =>
  Object.hasOwn(model.fields, featureValues)
    ? (function collect(c: Ast.Cond): Array<Ast.Field> {
        switch (c._tag) {
          case "Field":
            return c.path[0] === featureValues && c.path.length >= 2 ? [c] : []
          case "Not":
            return collect(c.cond)
          default:
            return c.conds.flatMap(collect)
        }
      })(cond)
    : []

/**
 * Checks a query's feature conditions against the Feature registry before the query runs: every named
 * feature exists, and values compared with a feature's top-level value fit its dtype.
 */
export const checkQuery = (model: Model, cond: Ast.Cond): Effect.Effect<void, InvalidQuery | StoreError, Store> =>
  Effect.gen(function* () {
    const fields = featurePaths(model, cond)
    if (fields.length === 0) return
    const names = [...new Set(fields.map((f) => f.path[1]!))]
    const { byName, missing } = yield* featuresNamed(model.name, names)
    if (missing.length > 0)
      return yield* new InvalidQuery({
        registry: model.name,
        field: missing[0]!,
        expected: `a field or relation of ${model.name} (${available(model)}), or the name of a feature; no feature is named ${listNames(missing)} (create one with ${createHint(missing[0]!)})`
      })
    for (const f of fields) {
      if (f.path.length !== 2 || f.op === "isNull") continue
      const dtype = Dtype.parse(byName.get(f.path[1]!)!.dtype)
      const operands = f.op === "in" || f.op === "notIn" || f.op === "range" ? (f.value as ReadonlyArray<Ast.Json>) : [f.value]
      if (dtype !== undefined && !operands.every((v) => Dtype.fitsOperand(dtype, v)))
        return yield* new InvalidQuery({
          registry: model.name,
          field: f.path[1]!,
          operator: f.op,
          value: f.value,
          expected: `a value that fits the feature's dtype ${Dtype.format(dtype)}`
        })
    }
  })
