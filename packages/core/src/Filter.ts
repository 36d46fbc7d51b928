/**
 * The types of queries, derived from the registries' models (`Records`): what `filter`, `get`, `Q` and
 * `orderBy` accept for each registry, so that a misspelt field, an operator that does not fit a field or a
 * value of the wrong type is a compile error. Types only: `Query` checks the same at run time, for every
 * caller, typed or not.
 *
 * `Filter<"Run">` holds, for each field, relation and declared feature of the registry:
 * - the name itself, with a value, `null`, or an object of operators: `{ status: "completed" }`,
 *   `{ startedAt: { gte: d, lt: e } }`; a relation also takes a record, an id, or a filter on the related
 *   registry (`{ transform: { key: { startsWith: "Cell" } } }`), nested as deep as wanted;
 * - lamindb's keyword keys, one per operator that fits the field's kind, in both spellings the runtime reads
 *   (`startedAt__gte`, `transform__key__startsWith` and `transform__key__startswith`);
 * - JSON fields by any path, the last segment perhaps an operator (`params__lr__gte: 0.01`).
 *
 * Keyword keys cross at most one relation (`transform__key__startswith`, `transform__runs`): each hop
 * multiplies the keys by the related registries' (a `Run` filter has some 6,300 keys with one hop; two hops
 * would make about 40,000, per registry, in every editor). Deeper paths are written as nested objects
 * (`{ run: { transform__key: "x" } }` or `{ run: { transform: { key: "x" } } }`), whose types are each
 * registry's filter again, built once however deep the nesting goes. lamindb's snake_case spellings
 * (`started_at__gte`), which the run time reads too, are left out for the same reason.
 *
 * What is checked, and what is not:
 * - a filter written in the call (`Run.filter({ … })`, `Run.get({ … })`, a part of a `Q` in the call) is
 *   checked whole, however deep it nests;
 * - a filter held in an unannotated variable is NOT checked for keys a filter does not know:
 *   `const where = { statsu: "completed" }; Run.filter(where)` compiles (the JSON paths' index signatures
 *   keep `Filter<"Run">` from being a weak type, so only the keys both share are compared), and its strings
 *   widen to `string` (`{ status: "completed" }` no longer fits the enum). Annotate it
 *   (`const where: Filter<"Run"> = { … }`) to have it checked whole, or write `as const` for its values;
 * - a `Q` takes its registry from the filter call it is written in; one built away from it is unchecked
 *   (`Q<unknown>`) unless its registry is named: `const q = Q.or<"Run">({ … })`;
 * - `Q.where(path, op, value)` is never checked (until the query runs), and leaves its siblings checked.
 *
 * Features: a filter on `Run` or `Artifact` names a feature only when `LineageFeatures` declares it; its
 * operators then fit its value type. A user chooses one of three:
 * - declared features (`lineage types` writes the declaration from the Feature registry): feature keys are
 *   typed like fields, in filters, `orderBy` and `features.add`/`set`;
 * - none declared (the default): a key that is no field is a compile error, so a misspelt field is never taken
 *   for a feature, and features are reached untyped: `Q.where("learning_rate", "gt", 0.01)` (beside typed
 *   parts, which stay checked), a `Q` made with no registry in sight (`Q<unknown>`: `const q =
 *   Q.and(expression)`, or `Q.and<unknown>(…)` in place), or an untyped query set (`QuerySet<Run>`, see
 *   `QuerySet`);
 * - every key open: `interface LineageFeatures { [name: string]: unknown }`; fields keep their types, any other
 *   key is a feature of any value, as at run time (a misspelt field then reads as a feature).
 */
import type { LineageFeatures } from "./FeatureTypes.js"
import type { FieldDef, FieldKind, Model, RefTo } from "./Model.js"
import type { Expression } from "./Query.js"
import type { ModelOf, RecordOrId, RegistryName } from "./Records.js"

// ---------------------------------------------------------------------------------------------------------
// Operators, in every spelling `Query.asOperator` reads

export type EqualityOperator = "eq" | "exact" | "ne" | "neq"
export type MembershipOperator = "in" | "notIn" | "notin" | "not_in"
export type NullOperator = "isNull" | "isnull"
export type OrderOperator = "gt" | "gte" | "lt" | "lte"
export type TextOperator =
  | "contains"
  | "icontains"
  | "startsWith"
  | "startswith"
  | "istartsWith"
  | "istartswith"
  | "endsWith"
  | "endswith"
  | "iendsWith"
  | "iendswith"
  | "iexact"
  | "regex"

/** What a value may be compared as: a field's kind, or for features the kind their value type implies. */
export type ValueKind = FieldKind | "list"

/** A key of a filter (or of an object of operators) and the values it takes. */
interface Entry<K extends string, V> {
  readonly key: K
  readonly value: V
}

/**
 * The operators that fit a kind, as `Query` rules, each with what it compares with: `V` for equality (`null`
 * asks for no value) and membership, `O` for order (`range` is `[low, high]`), a boolean for null checks, a
 * string for text. Order fits everything but booleans (and lists, whose order means nothing); text fits
 * strings, enums and JSON. One entry per group of operators, so a registry's keys cost a few types a field.
 */
type OperatorEntries<K extends ValueKind, V, O> =
  | Entry<EqualityOperator, V | null>
  | Entry<MembershipOperator, ReadonlyArray<V>>
  | Entry<NullOperator, boolean>
  | (K extends "bool" | "list" ? never : Entry<OrderOperator, O> | Entry<"range", readonly [O, O]>)
  | (K extends "string" | "enum" | "json" ? Entry<TextOperator, string> : never)

/** An object of operators for one field: `{ gte: d, lt: e }`. */
export type Operators<K extends ValueKind, V, O = V> = { readonly [E in OperatorEntries<K, V, O> as E["key"]]?: E["value"] }

/** A JSON value in a query: dates are compared as ISO strings. */
export type FilterJson = null | boolean | number | string | Date | ReadonlyArray<FilterJson> | { readonly [key: string]: FilterJson }

/** `entries` with their keys behind `prefix__`. */
type Prefixed<P extends string, E> = E extends Entry<infer K, infer V> ? Entry<`${P}__${K}`, V> : never

/** A name's keys: the name (a value, `null` or an object of operators) and `name__op` for each operator that fits. */
type KeyEntries<Name extends string, K extends ValueKind, V, O> =
  | Entry<Name, V | null | Operators<K, V, O>>
  | Prefixed<Name, OperatorEntries<K, V, O>>

/**
 * JSON's paths below `name`, the last segment perhaps an operator (`params__lr`, `params__lr__gte`): one
 * pattern, taking any JSON value or object of operators. A pattern per operator would check operands too,
 * but every key of a filter is matched against every pattern, and they would be some 300 for `Run`.
 */
type PathEntries<Name extends string> = Entry<`${Name}__${string}`, FilterJson | Operators<"json", FilterJson, number | string>>

type Target<D> = D extends RefTo<infer R> ? (R extends RegistryName ? R : never) : never

/** `T` without `null` (spelt out, so messages show the values rather than `NonNullable<…>`). */
type NotNull<T> = T extends null ? never : T

/** The values a field is compared with, by kind. */
type FieldValue<D extends FieldDef> = D["kind"] extends "datetime"
  ? Date | string
  : D["kind"] extends "json"
    ? FilterJson
    : D["kind"] extends "ref"
      ? RecordOrId<Target<D>>
      : NotNull<D["schema"]["Type"]>

/** Enums are equal to one of their values, but order and text operators take any string (as `Query` does). */
type FieldOrder<D extends FieldDef> = D["kind"] extends "enum" ? string : FieldValue<D>

type FieldEntries<Name extends string, D> = D extends FieldDef
  ? KeyEntries<Name, D["kind"], FieldValue<D>, FieldOrder<D>> | (D["kind"] extends "json" ? PathEntries<Name> : never)
  : never

type Fields<N extends RegistryName> = ModelOf<N>["fields"]
type RelationsOf<N extends RegistryName> = ModelOf<N>["relations"]
type AliasesOf<M> = M extends Model<infer _Fs, infer _Rs, infer _Name, infer As> ? As : never

type FieldEntriesOf<N extends RegistryName> = {
  [F in keyof Fields<N> & string]: FieldEntries<F, Fields<N>[F]>
}[keyof Fields<N> & string]

/** Aliases (`version` for `versionTag`) take their field's keys. */
type AliasEntriesOf<N extends RegistryName, As = AliasesOf<ModelOf<N>>> = {
  [A in keyof As & string]: As[A] extends keyof Fields<N> ? FieldEntries<A, Fields<N>[As[A]]> : never
}[keyof As & string]

/** The registry a relation leads to. */
type TargetOf<N extends RegistryName, R extends keyof RelationsOf<N>> = RelationsOf<N>[R] extends { readonly to: infer T extends RegistryName } ? T : never

declare const related: unique symbol

/**
 * A relation's value, kept as a reference to its target until a query reads it: registries' filters nest
 * each other's (`Run` → `Transform` → `Run` …), so building one must not build the next.
 */
interface Related<T extends RegistryName> {
  readonly [related]: T
}

/** A relation by name: a record, an id, `null`, operators on the related id, or a filter on the related registry. */
type RelationValue<T extends RegistryName> = RecordOrId<T> | null | Operators<"ref", RecordOrId<T>> | Filter<T>

/** A relation's keys: its name, and its operators on the related id (`transform__in`, `transform__isnull`). */
type RelationEntriesOf<N extends RegistryName> = {
  [R in keyof RelationsOf<N> & string]:
    | Entry<R, Related<TargetOf<N, R>>>
    | Prefixed<R, OperatorEntries<"ref", RecordOrId<TargetOf<N, R>>, RecordOrId<TargetOf<N, R>>>>
}[keyof RelationsOf<N> & string]

// ---------------------------------------------------------------------------------------------------------
// Features

/** Whether `LineageFeatures` declares nothing: then no filter key is a feature. */
type NoFeatures = [keyof LineageFeatures] extends [never] ? true : false

/** The kind a declared feature's value type implies. */
type FeatureKind<V> = 0 extends 1 & V
  ? "json"
  : [V] extends [boolean]
    ? "bool"
    : [V] extends [number]
      ? "float"
      : [V] extends [string]
        ? "string"
        : [V] extends [Date | string]
          ? "datetime"
          : [V] extends [ReadonlyArray<unknown>]
            ? "list"
            : "json"

/** What a feature's value is compared with: a list with a list or one of its items. */
type FeatureValue<V, K extends ValueKind = FeatureKind<V>> = K extends "json"
  ? FilterJson
  : K extends "list"
    ? V | (V extends ReadonlyArray<infer I> ? I : never)
    : K extends "datetime"
      ? Date | string
      : V

/**
 * A feature's keys. One of any value (`unknown`, as the generator declares a dtype it cannot read, or every
 * name of an open `LineageFeatures`) takes anything, as at run time: its keys may be index signatures that
 * every key of a filter must also fit, fields and records included.
 */
type FeatureKeyEntries<Name extends string, V> = unknown extends V
  ? KeyEntries<Name, "json", unknown, unknown>
  : FeatureKind<V> extends infer K extends ValueKind
    ? KeyEntries<Name, K, FeatureValue<V>, FeatureValue<V>> | (K extends "json" ? PathEntries<Name> : never)
    : never

type FeatureEntries = {
  [Name in keyof LineageFeatures & string]: FeatureKeyEntries<Name, LineageFeatures[Name]>
}[keyof LineageFeatures & string]

/** Registries that keep feature values (`Run`, `Artifact`), while `LineageFeatures` declares some. */
type HasFeatures<N extends RegistryName> = "featureValues" extends keyof Fields<N> ? (NoFeatures extends true ? false : true) : false

// ---------------------------------------------------------------------------------------------------------
// Filters

/** The keys a registry's filter takes without crossing a relation. */
type OwnEntries<N extends RegistryName> =
  | FieldEntriesOf<N>
  | AliasEntriesOf<N>
  | RelationEntriesOf<N>
  | (HasFeatures<N> extends true ? FeatureEntries : never)

/** Keys one relation away: each related registry's own keys behind the relation's name (`transform__key__startswith`). */
type HopEntries<N extends RegistryName> = {
  [R in keyof RelationsOf<N> & string]: Prefixed<R, OwnEntries<TargetOf<N, R>>>
}[keyof RelationsOf<N> & string]

type ValueOf<V> = V extends Related<infer T> ? RelationValue<T> : V

/**
 * A registry's filter: its own keys and those one relation away, in one object type (so that an index
 * signature, of JSON paths or of an open `LineageFeatures`, holds only for keys no property names).
 */
export type RegistryFilter<N extends RegistryName> = {
  readonly [E in OwnEntries<N> | HopEntries<N> as E["key"]]?: ValueOf<E["value"]>
}

/**
 * The filter objects `filter`, `get` and `Q` accept for registry `N` (see the module's documentation);
 * without a registry (`Filter<unknown>`), any `Expression`, unchecked until it runs.
 */
export type Filter<N = unknown> = unknown extends N ? Expression : N extends RegistryName ? RegistryFilter<N> : never

// ---------------------------------------------------------------------------------------------------------
// Ordering

type JsonFields<N extends RegistryName> = {
  [F in keyof Fields<N> & string]: Fields<N>[F] extends { readonly kind: "json" } ? F : never
}[keyof Fields<N> & string]

type FeatureOrder = {
  [Name in keyof LineageFeatures & string]: FeatureKind<LineageFeatures[Name]> extends "json" ? Name | `${Name}__${string}` : Name
}[keyof LineageFeatures & string]

/** The aliases of a registry's JSON fields (`metrics` for `Run.metricSummary`). */
type JsonAliases<N extends RegistryName, As = AliasesOf<ModelOf<N>>> = {
  [A in keyof As & string]: As[A] extends JsonFields<N> ? A : never
}[keyof As & string]

/** What a registry orders by: its fields (and their aliases), JSON paths (through aliases too) and declared features. */
type OrderName<N extends RegistryName> =
  | (keyof Fields<N> & string)
  | (keyof AliasesOf<ModelOf<N>> & string)
  | `${JsonFields<N> | JsonAliases<N>}__${string}`
  | (HasFeatures<N> extends true ? FeatureOrder : never)

/**
 * An `orderBy` key of registry `N`: a field, alias, JSON path or declared feature, `-` first for descending
 * (`"-startedAt"`, `"params__lr"`); without a registry (`OrderKey<unknown>`), any string.
 */
export type OrderKey<N = unknown> = unknown extends N ? string : N extends RegistryName ? OrderName<N> | `-${OrderName<N>}` : never
