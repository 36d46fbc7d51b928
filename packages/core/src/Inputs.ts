/**
 * The types of what `create`, `createMany`, `update` and `getOrCreate` take, derived from the registries'
 * models (`Records`) as `Store` reads an input: every field but those the store sets itself (`id`,
 * `createdAt`, `updatedAt`; a create may give a `uid`, an update may not change it), a field required unless
 * it is nullable or has a default, each forward relation by name as a record or an id besides its `<name>Id`
 * field (`{ transform }` or `{ transformId }`, one of them), and the model's aliases (`version` for
 * `versionTag`). Types only: the store checks the same at run time, for every caller.
 *
 * The types ask a little more than the store in one place: a relation takes a record of its target registry
 * (the store reads the `id` of any object), so a run given for a transform is a compile error. They ask less
 * in others, which only the run time refuses: a field named twice, by its relation or alias and by its own
 * name (`{ version, versionTag }`), where the field is optional; values beyond their type (a string that is
 * no `dtype`, a negative size); and what a transform's declaring `getOrCreate` may hold (see `Transforms`).
 */
import type { LineageFeatures } from "./FeatureTypes.js"
import type { Defaulted } from "./Model.js"
import type { ModelOf, RecordOrId, RegistryName } from "./Records.js"

/** Fields the store sets itself (`Store`'s managed fields): an input never names them. */
type Managed = "id" | "createdAt" | "updatedAt"

type Fields<N extends RegistryName> = ModelOf<N>["fields"]
type Relations<N extends RegistryName> = ModelOf<N>["relations"]
type Aliases<N extends RegistryName> = NonNullable<ModelOf<N>["aliases"]>

/** The value a field stores (its Schema's type: `Date` for datetimes, an enum's literals, `null` when nullable). */
type Value<N extends RegistryName, F> = F extends keyof Fields<N> ? (Fields<N>[F] extends { readonly schema: { readonly Type: infer V } } ? V : never) : never

/** A field an input may leave out: nullable (null then) or with a default. */
type Optional<D> = D extends { readonly nullable: true } | Defaulted ? true : false

/** The fields an input may set. */
type Settable<N extends RegistryName> = Exclude<keyof Fields<N> & string, Managed>

/** Forward relations (`transform`, held in `transformId`): relation name → its field and target. */
type Forward<N extends RegistryName> = {
  [R in keyof Relations<N> & string]: Relations<N>[R] extends {
    readonly kind: "forward"
    readonly field: infer F extends string
    readonly to: infer T extends RegistryName
  }
    ? { readonly name: R; readonly field: F; readonly target: T }
    : never
}[keyof Relations<N> & string]

type ForwardField<N extends RegistryName> = Forward<N>["field"]

/** Fields a create must give (the uid the store makes when none is given). */
type Needed<N extends RegistryName> = {
  [F in Exclude<Settable<N>, "uid">]: Optional<Fields<N>[F]> extends true ? never : F
}[Exclude<Settable<N>, "uid">]

type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never

/** Every relation of `Rels` by name or by field, one of them each. */
type OneOfEach<Rels> = [Rels] extends [never]
  ? unknown
  : Intersection<Rels extends unknown ? { readonly each: OneOf<Rels> } : never> extends { readonly each: infer O }
    ? O
    : never

/** A required relation: by name or by field, one of them. */
type OneOf<Rel> = Rel extends { readonly name: infer R extends string; readonly field: infer F extends string; readonly target: infer T extends RegistryName }
  ?
      | ({ readonly [_ in R]: RecordOrId<T> } & { readonly [_ in F]?: undefined })
      | ({ readonly [_ in F]: number } & { readonly [_ in R]?: undefined })
  : never

/** An optional relation by name: a record, an id, or `null` where its field is nullable. */
type OptionalRelations<N extends RegistryName, Rel extends Forward<N>> = {
  readonly [R in Rel["name"]]?: RecordOrId<Extract<Rel, { readonly name: R }>["target"]> | Extract<Value<N, Extract<Rel, { readonly name: R }>["field"]>, null> | undefined
}

/** Aliases (`version`) take their field's values. */
type AliasInputs<N extends RegistryName> = {
  readonly [A in keyof Aliases<N> & string]?: Value<N, Aliases<N>[A]> | undefined
}

/** Every field an input may give, each optional: what a `getOrCreate` lookup and defaults hold. */
export type Lookup<N extends RegistryName> = { readonly [F in Settable<N>]?: Value<N, F> | undefined } & OptionalRelations<N, Forward<N>> & AliasInputs<N>

/** The input of `create` and `createMany` for registry `N`: required fields given, nothing unknown. */
export type CreateInput<N extends RegistryName> = { readonly [F in Exclude<Needed<N>, ForwardField<N>>]: Value<N, F> } & {
  readonly [F in Exclude<Settable<N>, Needed<N> | ForwardField<N>>]?: Value<N, F> | undefined
} & {
  readonly [F in Exclude<ForwardField<N>, Needed<N>>]?: Value<N, F> | undefined
} & OptionalRelations<N, Exclude<Forward<N>, { readonly field: Needed<N> }>> &
  AliasInputs<N> &
  OneOfEach<Extract<Forward<N>, { readonly field: Needed<N> }>>

/** The patch of `update` for registry `N`: any field but the uid and those the store sets, none required. */
export type UpdateInput<N extends RegistryName> = { readonly [F in Exclude<Settable<N>, "uid">]?: Value<N, F> | undefined } & OptionalRelations<
  N,
  Forward<N>
> &
  AliasInputs<N>

/** What a key no input has must hold: nothing does, and the compiler's message names it. */
export interface UnknownField {
  readonly "no field of this registry has this name": never
}

/**
 * The keys of `L` that `Allowed` lacks, each an `UnknownField`: a misspelt key of a lookup is an error at the
 * key (a lookup is inferred, to type its defaults, so the compiler's own check of unknown keys does not apply).
 */
export type NoExtra<L, Allowed> = { readonly [K in Exclude<keyof L, keyof Allowed>]: UnknownField }

/** What `getOrCreate`'s defaults must give beyond lookup `L`: the required fields `L` leaves out. */
type Missing<N extends RegistryName, L> = CreateInput<N> extends infer C ? (C extends unknown ? Omit<C, keyof L> : never) : never

/** `getOrCreate`'s defaults after lookup `L`: any field (and `Extra`), the required ones `L` leaves out among them. */
export type Defaults<N extends RegistryName, L = {}, Extra = {}> = Missing<N, L> & Lookup<N> & Extra

/** `getOrCreate`'s second argument: required when the lookup leaves a required field out. */
export type DefaultsArgument<N extends RegistryName, L, Extra = {}> = {} extends Missing<N, L>
  ? [defaults?: Defaults<N, L, Extra>]
  : [defaults: Defaults<N, L, Extra>]

/**
 * Feature values for `features.add` and `set`: any names while `LineageFeatures` declares none (the Feature
 * registry checks them when they are written), else only the declared ones, each of its declared type
 * (`null` skips it, as in lamindb).
 */
export type FeatureValues = [keyof LineageFeatures] extends [never]
  ? { readonly [name: string]: unknown }
  : { readonly [K in keyof LineageFeatures]?: LineageFeatures[K] | null | undefined }
