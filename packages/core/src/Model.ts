/**
 * A registry's description as data: its fields (each once, giving both the Schema and what the query
 * language and the stores need to know), relations, unique constraints and indexes. Core derives the
 * `Schema.Class`, the driver's `TableSpec` and query validation from it, so they cannot disagree.
 */
import { Schema } from "effect"
import type { Doc, IndexSpec, TableSpec, UniqueSpec } from "./Driver.js"

export type FieldKind = "int" | "float" | "string" | "bool" | "datetime" | "json" | "enum" | "ref"

export type OnDelete = "cascade" | "protect" | "setNull"

export interface FieldDef<S extends Schema.Top = Schema.Top, K extends FieldKind = FieldKind, N extends boolean = boolean> {
  readonly schema: S
  readonly kind: K
  readonly nullable: N
  readonly index?: IndexSpec["kind"] | undefined
  /** Value given on create when the caller leaves the field out (nullable fields default to null). */
  readonly default?: (() => unknown) | undefined
  /**
   * The value a stored document without the field reads as: for a field added within a storage format, which
   * documents written before it lack (adding such a field is additive: no new format, no migration).
   */
  readonly absent?: (() => unknown) | undefined
  readonly values?: ReadonlyArray<string> | undefined
  /** For `int` fields holding a count or a size: never negative. */
  readonly natural?: boolean | undefined
  /** For `ref` fields: the registry whose integer id this holds, and what deleting that record does here. */
  readonly ref?: { readonly registry: string; readonly onDelete: OnDelete } | undefined
}

/** A field made with a `default`: the types (`Inputs`) let a create leave it out, as the store fills it. */
export interface Defaulted {
  readonly default: () => unknown
}

/** A `ref` field, its target registry as a literal type, so the types (`Filter`, `Inputs`) can follow it. */
export interface RefTo<R extends string> {
  readonly ref: { readonly registry: R; readonly onDelete: OnDelete }
}

type Options = { readonly index?: IndexSpec["kind"]; readonly default?: () => unknown; readonly absent?: () => unknown }

/** `Defaulted` when the options give a default. */
type DefaultOf<O extends Options> = O extends { readonly default: () => unknown } ? Defaulted : unknown

const make = <S extends Schema.Top, K extends FieldKind, N extends boolean, O extends Options>(
  schema: S,
  kind: K,
  nullable: N,
  options: O,
  more: Partial<FieldDef> = {}
): FieldDef<S, K, N> & DefaultOf<O> => ({ ...more, ...options, nullable, schema, kind }) as FieldDef<S, K, N> & DefaultOf<O>

/** Counts and sizes: whole numbers from 0 to `Number.MAX_SAFE_INTEGER`, the largest every store keeps exactly. */
export const Natural = Schema.Number.check(
  Schema.makeFilter((n: number) => Number.isSafeInteger(n) && n >= 0, {
    expected: `a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`
  })
)

/**
 * A constructor of fields of one schema and kind, and of their nullable variant: each keeps in its type the
 * kind, the nullability and whether a default was given, which the typed inputs and filters read.
 */
const scalar = <S extends Schema.Top, NS extends Schema.Top, K extends FieldKind>(schema: S, nullSchema: NS, kind: K, more: Partial<FieldDef> = {}) =>
  Object.assign(<const O extends Options = {}>(o: O = {} as O) => make(schema, kind, false, o, more), {
    nullable: <const O extends Options = {}>(o: O = {} as O) => make(nullSchema, kind, true, o, more)
  })

/** A constructor of `ref` fields (hash-indexed unless told otherwise), each keeping its target registry's name in its type. */
const reference =
  <S extends Schema.Top, N extends boolean>(schema: S, nullable: N) =>
  <const R extends string, const O extends Options = {}>(registry: R, onDelete: OnDelete, o: O = {} as O) =>
    make(schema, "ref", nullable, { index: "hash", ...o }, { ref: { registry, onDelete } }) as FieldDef<S, "ref", N> & RefTo<R> & DefaultOf<O>

/** Field constructors: `F.string()`, `F.string.nullable()`, … */
export const F = {
  int: scalar(Schema.Int, Schema.NullOr(Schema.Int), "int"),
  /** A count or a size: a safe integer, never negative. */
  natural: scalar(Natural, Schema.NullOr(Natural), "int", { natural: true }),
  float: scalar(Schema.Finite, Schema.NullOr(Schema.Finite), "float"),
  string: scalar(Schema.String, Schema.NullOr(Schema.String), "string"),
  bool: <const O extends Options = {}>(o: O = {} as O) => make(Schema.Boolean, "bool", false, o),
  datetime: scalar(Schema.Date, Schema.NullOr(Schema.Date), "datetime"),
  json: <const O extends Options = {}>(o: O = {} as O) => make(Schema.NullOr(Schema.Json), "json", true, o),
  enum: <const L extends ReadonlyArray<string>, const O extends Options = {}>(values: L, o: O = {} as O) =>
    make(Schema.Literals(values), "enum", false, o, { values }),
  ref: Object.assign(reference(Schema.Int, false), { nullable: reference(Schema.NullOr(Schema.Int), true) })
}

export type Fields = { readonly [name: string]: FieldDef }

export type SchemaFields<Fs extends Fields> = { readonly [K in keyof Fs]: Fs[K]["schema"] }

export const schemaFields = <Fs extends Fields>(fields: Fs): SchemaFields<Fs> =>
  Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.schema])) as SchemaFields<Fs>

/**
 * How a registry reaches another one, for queries like `transform__key` or `inputArtifacts__key`:
 * - `forward`: this record holds the other's id in `field` (many-to-one);
 * - `reverse`: the other record holds this record's id in `field` (one-to-many);
 * - `link`: a link registry holds both ids, this one in `self`, the other in `other` (many-to-many).
 */
export type Relation =
  | { readonly kind: "forward"; readonly to: string; readonly field: string }
  | { readonly kind: "reverse"; readonly to: string; readonly field: string }
  | { readonly kind: "link"; readonly to: string; readonly link: string; readonly self: string; readonly other: string }

/**
 * Fields a registry's documents hold beyond its records' own, worked out from the document (the claims of
 * `Versioning`, the live copies of `Unique`). The store never takes them from input and writes them with
 * every record it encodes; an update that changes a field in `from` rewrites them, and only while the stored
 * record still holds the rest of `from` as the updated copy does, so a stale copy cannot write what it alone
 * believes.
 */
export interface Derived {
  readonly fields: ReadonlyArray<string>
  /** The record fields they are worked out from. */
  readonly from: ReadonlyArray<string>
  /** `doc` with the derived fields set. */
  readonly derive: (doc: Doc) => Doc
}

/**
 * A unique constraint. `scope: "live"` leaves the trash out, as lamindb's constraints with
 * `condition=~Q(branch_id=-1)`: a trashed record frees its values for a new one, and gets them back on
 * restore only if no live record took them. The constraint holds on live copies of its fields (`liveCopy`),
 * derived fields that are null while the record is in the trash, so every store enforces it as it enforces
 * any unique constraint.
 */
export interface Unique extends UniqueSpec {
  readonly scope?: "all" | "live" | undefined
}

export type RelationMap = { readonly [name: string]: Relation }

export type AliasMap = { readonly [alias: string]: string }

/**
 * A registry's description. Its type parameters keep what `model()` in `Records` declares as literal types (the
 * fields' kinds, the relations' targets, the name, the aliases), from which `Filter` and `Inputs` derive the
 * types of queries and inputs; `Model` alone is any registry.
 */
export interface Model<Fs extends Fields = Fields, Rs extends RelationMap = RelationMap, Name extends string = string, As extends AliasMap = AliasMap> {
  readonly name: Name
  readonly table: string
  readonly fields: Fs
  readonly uidLength: number
  /** Versioned registries keep a family stem in the uid and move `isLatest` between versions (see `Versioning`). */
  readonly versioned: boolean
  /**
   * What its documents derive from its records beyond the live copies its live-scoped unique constraints
   * need (see `derivations`): `Versioning.claims` in versioned registries.
   */
  readonly derived?: Derived | undefined
  /** Soft delete moves records to the trash (`branchId = -1`); registries without it delete for good. */
  readonly trash: boolean
  /** The field a uid-prefix miss suggests instead (`Transform.get({ key: … })`). */
  readonly nameField: string
  readonly unique: ReadonlyArray<Unique>
  readonly relations: Rs
  /**
   * Other names of fields, by alias: accepted wherever a field is named, in inputs (resolved by `Store`) and
   * in queries (by `Query`), as lamindb keeps `version` for `version_tag`. A field or relation of that name wins.
   */
  readonly aliases?: As | undefined
}

export const tableSpec = (model: Model): TableSpec => ({
  name: model.table,
  unique: [
    { name: `${model.table}_uid`, fields: ["uid"] },
    ...model.unique.map((u) => (u.scope === "live" ? { name: u.name, fields: u.fields.map(liveCopy) } : { name: u.name, fields: u.fields }))
  ],
  indexes: Object.entries(model.fields).flatMap(([name, f]) =>
    f.index === undefined || name === "uid" ? [] : [{ path: [name], kind: f.index }]
  )
})

// ---------------------------------------------------------------------------------------------------------
// Derived fields

/** The derived field holding `field` while the record is live, null while it is in the trash: `name` → `liveName`. */
export const liveCopy = (field: string): string => `live${field.charAt(0).toUpperCase()}${field.slice(1)}`

/** The record fields live-scoped unique constraints cover, each once. */
const liveFields = (model: Model): ReadonlyArray<string> => [
  ...new Set(model.unique.flatMap((u) => (u.scope === "live" ? u.fields : [])))
]

const liveCopies = (fields: ReadonlyArray<string>): Derived => ({
  fields: fields.map(liveCopy),
  from: ["branchId", ...fields],
  derive: (doc) => {
    const live = doc["branchId"] === mainBranch
    const copies: Record<string, unknown> = {}
    for (const f of fields) copies[liveCopy(f)] = live ? (doc[f] ?? null) : null
    return { ...doc, ...copies } as Doc
  }
})

const derivationsOf = new WeakMap<Model, ReadonlyArray<Derived>>()

/**
 * Everything a registry's documents derive, each part with its own `from`: the model's `derived` and the
 * live copies of the fields its live-scoped unique constraints cover. Worked out once per model.
 */
export const derivations = (model: Model): ReadonlyArray<Derived> => {
  let parts = derivationsOf.get(model)
  if (parts === undefined) {
    const live = liveFields(model)
    parts = [...(model.derived === undefined ? [] : [model.derived]), ...(live.length === 0 ? [] : [liveCopies(live)])]
    derivationsOf.set(model, parts)
  }
  return parts
}

/** A document with every derived field of its registry set (`derivations`, applied in turn). */
export const deriveAll = (model: Model): ((doc: Doc) => Doc) => {
  const parts = derivations(model)
  return parts.length === 0 ? (doc) => doc : (doc) => parts.reduce((d, part) => part.derive(d), doc)
}

/**
 * The record field a derived field copies for a live-scoped unique constraint (`liveName` → `name`), so a
 * violation names the user's field; other fields are their own.
 */
export const recordField = (model: Model, field: string): string =>
  liveFields(model).find((f) => liveCopy(f) === field) ?? field

/** The JSON field where registries with features keep their values, by feature name. */
export const featureValues = "featureValues"

export const trashBranch = -1
export const mainBranch = 1
