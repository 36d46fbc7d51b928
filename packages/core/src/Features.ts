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
import * as Hints from "./Hints.js"
import { featureValues, type Model, trashBranch } from "./Model.js"
import type { FeatureValues } from "./Inputs.js"
import { available, featureSegment } from "./Query.js"
import { type Entity, entity, Store } from "./Store.js"
import * as Suggestions from "./Suggestions.js"

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

/** Where each feature was last seen by its name, which is unique across the trash (see `Hints`). */
const featureIds = Hints.make()

/**
 * The Feature records for `names` (on any branch), and the names no feature has. Features seen before are read
 * by id and kept only if they still hold their name; the other names are looked up by name.
 */
const featuresNamed = (registry: string, names: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const store = yield* Store
    const byName = new Map<string, Records.Feature>()
    const hinted = [...new Set(names.flatMap((n) => featureIds.get(store, n) ?? []))]
    if (hinted.length > 0)
      for (const f of yield* store.get(featureEntity, hinted)) if (featureIds.get(store, f.name) === f.id) byName.set(f.name, f)
    const unseen = names.filter((n) => !byName.has(n))
    if (unseen.length > 0) {
      for (const n of unseen) featureIds.forget(store, n)
      for (const f of yield* store.find(featureEntity, Ast.field(["name"], "in", unseen))) {
        byName.set(f.name, f)
        featureIds.set(store, f.name, f.id)
      }
    }
    const missing = names.filter((n) => !byName.has(n))
    return { byName, missing, registry }
  })

/** Names of features, for suggestions: at most `maxFeatureCandidates`, the first by id. */
const someFeatureNames = Store.use((store) =>
  Effect.map(
    store.driver.find(featureEntity.model.table, { where: Ast.always, orderBy: [], limit: Suggestions.maxFeatureCandidates }),
    (docs) => docs.flatMap((d) => (typeof d["name"] === "string" ? [d["name"]] : []))
  )
)

/** What to do about feature names no feature has: the nearest feature name to the first, else creating them. */
const missingFeaturesHint = (missing: ReadonlyArray<string>) =>
  Effect.map(someFeatureNames, (known) => {
    const near = Suggestions.nearest(missing[0]!, known)
    return near.length > 0 ? Suggestions.didYouMean(near, "the feature ") : `create each with e.g. ${createHint(missing[0]!)}`
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
        expected: `names of existing features. These keys could not be validated: ${listNames(missing)}; ${yield* missingFeaturesHint(missing)}`
      })
    // A trashed feature is hidden from queries, as lamindb hides it from the lookup of names: it takes no values.
    const trashed = names.map((n) => byName.get(n)!).find((f) => f.branchId === trashBranch)
    if (trashed !== undefined)
      return yield* new ValidationError({
        registry,
        field: trashed.name,
        value: own(values, trashed.name),
        expected:
          `a feature that is not in the trash (the feature ${showName(trashed.name)} is in the trash: ` +
          `restore it first with Feature.restore(await Feature.get("${trashed.uid}")))`
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
export const add = <A extends WithFeatures>(record: A, values: FeatureValues) =>
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
export const set = <A extends WithFeatures>(record: A, values: FeatureValues) =>
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

/** A condition on a feature, or an order key naming one. */
interface FeatureCondition {
  /** The registry holding the feature: the one queried, or one its relations reach. */
  readonly model: Model
  /** The relations leading to that registry (`inputArtifacts`). */
  readonly prefix: ReadonlyArray<string>
  readonly name: string
  /** The path inside the feature's value the condition reads; empty for the value itself. */
  readonly inner: ReadonlyArray<string>
  readonly field: Ast.Field
  /** An order key's direction; undefined for a filter's condition. */
  readonly order?: Ast.Direction | undefined
}

const featureCondition = (model: Model, field: Ast.Field, order?: Ast.Direction): FeatureCondition | undefined => {
  const at = featureSegment(model, field.path)
  if (at === undefined) return undefined
  const { index } = at
  return { model: at.model, prefix: field.path.slice(0, index), name: field.path[index + 1]!, inner: field.path.slice(index + 2), field, order }
}

/** Every condition on a feature in `cond` and every order key naming one, on `model` or a registry its relations reach. */
const featureConditions = (model: Model, cond: Ast.Cond, orderBy: ReadonlyArray<Ast.OrderKey>): Array<FeatureCondition> => {
  const found: Array<FeatureCondition> = []
  for (const c of Ast.predicates(cond)) {
    const feature = featureCondition(model, c)
    if (feature !== undefined) found.push(feature)
  }
  for (const key of orderBy) {
    const feature = featureCondition(model, Ast.field(key.path, "isNull", true), key.direction)
    if (feature !== undefined) found.push(feature)
  }
  return found
}

/** The feature's key as written, without the path inside its value. */
const written = (c: FeatureCondition): string => [...c.prefix, c.name].join("__")

/**
 * What to do about a feature name no feature has: the nearest field, relation or alias of the registry it was
 * looked up on (a misspelt field reads as a feature name; an order key, which names fields only, keeps its
 * `-`; right after a relation, an operator on it), else the nearest feature name, else creating it.
 */
const missingFeatureHint = (missing: FeatureCondition) =>
  Effect.gen(function* () {
    const directed = (key: string) => (missing.order === "desc" ? `-${key}` : key)
    const operators = missing.prefix.length > 0 && missing.inner.length === 0 ? Suggestions.relationOperators : []
    const names = missing.order === undefined ? [...Suggestions.queryNames(missing.model), ...operators] : Suggestions.orderNames(missing.model)
    const field = Suggestions.nearest(missing.name, names)
    if (field.length > 0) return Suggestions.didYouMean(field.map((n) => directed([...missing.prefix, n].join("__"))))
    const feature = Suggestions.nearest(missing.name, yield* someFeatureNames)
    if (feature.length > 0) return Suggestions.didYouMean(feature.map(directed), "the feature ")
    return `create one with ${createHint(missing.name)}`
  })

/** What a key naming no feature was expected to name, on the registry it was looked up on. */
const expectedName = (missing: FeatureCondition, names: ReadonlyArray<string>, hint: string): string => {
  const what =
    missing.order === undefined
      ? `a field or relation of ${missing.model.name} (${available(missing.model)})`
      : `a field of ${missing.model.name} to order by (${Object.keys(missing.model.fields).join(", ")})`
  return `${what}, or the name of a feature; no feature is named ${listNames(names)}: ${hint}`
}

const isDtype = (dtype: Dtype.Dtype, ...names: ReadonlyArray<Dtype.SimpleDtype>): boolean =>
  dtype._tag === "simple" && names.includes(dtype.name)

/** Text as `Date#toISOString` writes it: what a `Date` in a query arrives as. */
const isoInstant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/**
 * One operand as the feature stores values (`Dtype.encode`), or undefined when it cannot be one. Text matched
 * by a string operator is the dtype's text (a path with POSIX separators), a `regex` pattern as written; a
 * `Date` (an ISO instant here) on a `date` feature is its UTC date, as `add` stores it; text a `Date` parses
 * on a `datetime` feature is that instant's canonical ISO text, a date alone (`"2026-01-05"`, which `add`
 * refuses as a value) its UTC midnight, so that days bound a range; an `int` feature is ordered against any
 * number (`gt: 0.5`) but equal only to an integer.
 */
const scalarOperand = (dtype: Dtype.Dtype, op: Ast.Operator, v: Ast.Json): Ast.Json | undefined => {
  if (v === null) return null
  if (Ast.stringOperators.has(op)) return typeof v !== "string" ? undefined : op === "regex" ? v : Dtype.encode(dtype, v)
  if (isDtype(dtype, "date") && typeof v === "string" && isoInstant.test(v) && !Number.isNaN(Date.parse(v))) return v.slice(0, 10)
  if (isDtype(dtype, "datetime") && typeof v === "string") return Number.isNaN(Date.parse(v)) ? undefined : new Date(v).toISOString()
  if (isDtype(dtype, "int") && Ast.orderOperators.has(op)) return typeof v === "number" ? v : undefined
  return Dtype.encode(dtype, v)
}

/** A condition's operand as the feature stores values: a list's items and a range's bounds one by one. */
const operandOf = (dtype: Dtype.Dtype, op: Ast.Operator, value: Ast.Json): Ast.Json | undefined => {
  if (op !== "in" && op !== "notIn" && op !== "range") return scalarOperand(dtype, op, value)
  const items = (value as ReadonlyArray<Ast.Json>).map((v) => scalarOperand(dtype, op === "range" ? "gte" : "eq", v))
  return items.includes(undefined) ? undefined : (items as Array<Ast.Json>)
}

/** What an operand on a feature of `dtype` must be. */
const expectedOperand = (dtype: Dtype.Dtype): string => {
  if (isDtype(dtype, "date")) return "a Date or a YYYY-MM-DD string, as the feature's dtype date stores it"
  if (isDtype(dtype, "datetime")) return "a Date or a date and time string such as 2026-01-05T10:00:00Z (a date alone is its UTC midnight)"
  if (dtype._tag === "list")
    return `an array of values of dtype ${Dtype.format(dtype.item)}: a ${Dtype.format(dtype)} feature's value is compared whole`
  return `a value that fits the feature's dtype ${Dtype.format(dtype)}`
}

/**
 * `c` with its operand as a feature of `dtype` stores values, or why it cannot be asked of one: an operator
 * that does not fit the dtype, an operand that is no value of it, a path inside a value that has no fields
 * (`accuracy__gtt`, `{ accuracy: { gtt: … } }`: most often a misspelt operator, suggested).
 */
const checkedCondition = (registry: string, c: FeatureCondition, dtype: Dtype.Dtype): Ast.Field | InvalidQuery => {
  const refuse = (expected: string, operator: string | undefined = c.field.op, value: Ast.Json | undefined = c.field.value) =>
    new InvalidQuery({ registry, field: written(c), operator, value, expected })
  if (c.inner.length > 0) {
    if (isDtype(dtype, "dict", "object")) return c.field
    if (c.order !== undefined) {
      const expected = `a feature of dtype dict or object to order by a path inside its value (this one is ${Dtype.format(dtype)})`
      return refuse(expected, undefined, undefined)
    }
    const near = c.inner.length === 1 ? Suggestions.nearest(c.inner[0]!, Suggestions.featureOperators(dtype)) : []
    const expected = `${Suggestions.expectedFeatureOperator(dtype)}, not a path inside its value (only dict and object values have fields)`
    return refuse(Suggestions.withSuggestion(expected, near.map((op) => `${written(c)}__${op}`)), c.inner.join("__"))
  }
  if (c.order !== undefined || c.field.op === "isNull") return c.field
  const operators = Suggestions.featureOperators(dtype)
  if (!operators.includes(c.field.op)) return refuse(Suggestions.expectedFeatureOperator(dtype))
  const value = operandOf(dtype, c.field.op, c.field.value)
  return value === undefined ? refuse(expectedOperand(dtype)) : Ast.field(c.field.path, c.field.op, value)
}

/** `cond` with each condition `by` maps replaced, its shape kept. */
const replaced = (cond: Ast.Cond, by: ReadonlyMap<Ast.Field, Ast.Field>): Ast.Cond => {
  switch (cond._tag) {
    case "Field":
      return by.get(cond) ?? cond
    case "Not":
      return Ast.not(replaced(cond.cond, by))
    case "And":
    case "Or":
      return { _tag: cond._tag, conds: cond.conds.map((c) => replaced(c, by)) }
  }
}

/**
 * Checks a query's feature conditions and order keys against the Feature registry before the query runs, and
 * gives `where` with its feature operands as the features store values (see `scalarOperand`): every feature
 * named exists (on the registry or through its relations), each operator fits its feature's dtype and each
 * operand is a value of it, so no condition on a feature silently matches nothing for want of the stored form.
 */
export const checkQuery = (
  model: Model,
  where: Ast.Cond,
  orderBy: ReadonlyArray<Ast.OrderKey> = []
): Effect.Effect<Ast.Cond, InvalidQuery | StoreError, Store> =>
  Effect.gen(function* () {
    const conditions = featureConditions(model, where, orderBy)
    if (conditions.length === 0) return where
    const { byName, missing } = yield* featuresNamed(model.name, [...new Set(conditions.map((f) => f.name))])
    if (missing.length > 0) {
      const first = conditions.find((f) => f.name === missing[0])!
      const hint = yield* missingFeatureHint(first)
      return yield* new InvalidQuery({ registry: model.name, field: written(first), expected: expectedName(first, missing, hint) })
    }
    const checked = new Map<Ast.Field, Ast.Field>()
    for (const c of conditions) {
      const dtype = Dtype.parse(byName.get(c.name)!.dtype)
      if (dtype === undefined) continue
      const field = checkedCondition(model.name, c, dtype)
      if (field instanceof InvalidQuery) return yield* field
      if (field !== c.field) checked.set(c.field, field)
    }
    return checked.size === 0 ? where : replaced(where, checked)
  })
