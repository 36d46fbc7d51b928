/**
 * Feature names and dtypes as TypeScript declarations: what `lineage types` writes, so that the compiler checks
 * feature keys and values in `features.add` and in filters.
 *
 * A dtype's type is the one its values have in both places: a value `features.add` accepts (`Dtype.encode`) and a
 * filter on the feature compares correctly (the query copies it as JSON, with no dtype of its own). Where the two
 * accept different things, the type is what both accept, so that code the compiler passes does what it says:
 *
 * | dtype | type | why |
 * |---|---|---|
 * | `int`, `float`, `num` | `number` | `int` is checked to be a safe integer at run time |
 * | `str`, `url`, `path` | `string` | a path's `\` is stored as `/` |
 * | `bool` | `boolean` | |
 * | `date` | `Date \| string` | stored as `"YYYY-MM-DD"`: a `Date` is its UTC day, a string must be that form; a filter's operand is normalised the same way |
 * | `datetime` | `Date \| string` | stored as ISO 8601 in UTC (`toISOString()`): a `Date`, or any date-time string `Date.parse` reads (`add` refuses a bare day, which a filter reads as its UTC midnight); a filter's operand is normalised the same way |
 * | `dict` | `FeatureTypes.JsonObject` | a plain object of JSON values |
 * | `object` | `FeatureTypes.Json` | any JSON value |
 * | `cat[Registry]` | `string` | the record's name (`ULabel.name`, `User.handle`, `Transform.key`, …). `add` also takes the record, but a filter refuses a record |
 * | `list[<dtype>]` | `ReadonlyArray<item type>` | `add` appends the items; a filter compares the whole list |
 * | a dtype that does not parse | `unknown` | written by another tool. A filter compares any value with it, but `features.add` refuses every value until the dtype is fixed; the file says so beside the name. Not `never`: one type serves both, and `never` would refuse the filters that work |
 *
 * Every declared feature costs the compiler: a registry's filter type holds each feature's keys, and a `dict`
 * or `object` feature's keys include every JSON path below it. `advisedMax` says how many compile quickly
 * (measured: see its doc); declare a subset beyond it (`declaration`'s `filter`).
 */
import { Effect } from "effect"
import type * as Ast from "./Ast.js"
import * as Dtype from "./Dtype.js"
import * as FilterText from "./FilterText.js"
import { modelOf } from "./Records.js"
import { Feature } from "./Registry.js"

/**
 * Feature names are data, so the compiler knows them only when told: `LineageFeatures` maps each declared
 * feature's name to the TypeScript type of its values. It is empty until augmented, most often by the file
 * `lineage types` writes from the Feature registry:
 *
 * ```ts
 * declare module "@lineage/core" {
 *   interface LineageFeatures { "accuracy": number }
 * }
 * ```
 */
export interface LineageFeatures {}

/** A JSON value: the values of an `object` feature. */
export type Json = Ast.Json

/** A plain object of JSON values: the values of a `dict` feature. */
export type JsonObject = { readonly [key: string]: Ast.Json }

/** A feature as the declarations need it: its name and its dtype as stored (which may not parse). */
export interface Declared {
  readonly name: string
  readonly dtype: string
}

/**
 * Characters that would end a line, or hide, reorder or disguise text in an editor, beyond those
 * `JSON.stringify` escapes: controls (DEL, C1), format characters (bidirectional controls, zero-width
 * characters, the byte order mark, tag characters), line and paragraph separators, every default-ignorable
 * code point (variation selectors, Hangul fillers, the soft hyphen) and every space but U+0020.
 */
const hidden = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]|(?! )\p{Zs}/gu

/** `c` as `\uXXXX` escapes, one per UTF-16 code unit (both halves of an astral character): still a JSON string. */
const escaped = (c: string): string => Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, "0")}`).join("")

/**
 * `s` as a TypeScript string literal (and a JSON string) that stays on its line and shows what it holds:
 * `JSON.stringify` escapes quotes, backslashes, C0 controls and lone surrogates, then every `hidden` character
 * becomes `\uXXXX` escapes, which read back as the same characters.
 */
const quote = (s: string): string => JSON.stringify(s).replace(hidden, escaped)

const json = `import("@lineage/core").FeatureTypes`

/** The TypeScript type of a dtype's values (see the module doc), as declaration text. */
export const typeOf = (dtype: Dtype.Dtype): string => {
  switch (dtype._tag) {
    case "list":
      return `ReadonlyArray<${typeOf(dtype.item)}>`
    case "cat":
      return "string"
    case "simple":
      switch (dtype.name) {
        case "int":
        case "float":
        case "num":
          return "number"
        case "str":
        case "url":
        case "path":
          return "string"
        case "bool":
          return "boolean"
        case "date":
        case "datetime":
          return "Date | string"
        case "dict":
          return `${json}.JsonObject`
        case "object":
          return `${json}.Json`
      }
  }
}

/** The innermost dtype under `list[…]` wrappers. */
const itemOf = (dtype: Dtype.Dtype): Dtype.Dtype => (dtype._tag === "list" ? itemOf(dtype.item) : dtype)

/** What the type alone does not say about a dtype's values. */
const noteOf = (dtype: Dtype.Dtype): string => {
  const item = itemOf(dtype)
  if (item._tag === "cat") return `: the name of a ${item.registry} (its ${Dtype.categoricalRegistries[item.registry]})`
  if (item._tag === "simple" && item.name === "date") return `: a Date (its UTC day) or "YYYY-MM-DD"`
  if (item._tag === "simple" && item.name === "datetime") return ": a Date or a date-time string, stored in UTC"
  return ""
}

/** Orders by UTF-16 code units: the same order on every machine, whatever its locale. */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Sorted, without repeats. */
const distinct = (xs: ReadonlyArray<string>): Array<string> =>
  [...xs].sort(byCodeUnits).filter((x, i, all) => i === 0 || all[i - 1] !== x)

/**
 * One property of `LineageFeatures`, on one line: its dtype as a doc comment the editor shows, or why it has no
 * type. A name with several dtypes (see `render`) takes the union of their types.
 */
const property = (name: string, dtypes: ReadonlyArray<string>): string => {
  const key = quote(name)
  const unparsed = dtypes.find((d) => Dtype.parse(d) === undefined)
  if (unparsed !== undefined)
    return `${key}: unknown // dtype ${quote(unparsed)} does not parse: filters compare any value, features.add refuses every value`
  const parsed = dtypes.map((d) => Dtype.parse(d)!)
  const doc = parsed.map((d) => `${Dtype.format(d)}${noteOf(d)}`).join(" or ")
  return `/** ${doc} */ ${key}: ${distinct(parsed.map(typeOf)).join(" | ")}`
}

export interface RenderOptions {
  /** The store the features were read from, as the header names it (pass a URL with its password redacted). */
  readonly source: string
  /** The keyword filter terms that chose the features (`FilterText`), when not all were declared. */
  readonly filter?: ReadonlyArray<string> | undefined
}

/** The header: where the file comes from and how to make it again, as comment lines. */
const header = (options: RenderOptions): ReadonlyArray<string> => [
  `// Generated by \`lineage types\` from ${quote(options.source)}. Do not edit: run \`lineage types\` again when features change.`,
  ...(options.filter === undefined || options.filter.length === 0
    ? []
    : [`// Declares only the features matching ${options.filter.map(quote).join(" and ")}: run it with the same --filter.`]),
  `// Each property maps a feature's name to the type of its values (see FeatureTypes in @lineage/core).`
]

/**
 * The declaration file for `features`: a header (see `RenderOptions`; names quoted and escaped), then one
 * property per name, sorted. No timestamp: the same features give the same text, so a checked-in file can be
 * compared with a fresh one. A name given twice (the registry keeps names unique) is declared once, with the
 * union of its dtypes' types, so the file always compiles.
 */
export const render = (features: Iterable<Declared>, options: RenderOptions): string => {
  const byName = new Map<string, Array<string>>()
  for (const f of features) {
    const dtypes = byName.get(f.name)
    if (dtypes === undefined) byName.set(f.name, [f.dtype])
    else dtypes.push(f.dtype)
  }
  const lines = [...byName.keys()].sort(byCodeUnits).map((name) => `    ${property(name, distinct(byName.get(name)!))}`)
  return [...header(options), `export {}`, `declare module "@lineage/core" {`, `  interface LineageFeatures {`, ...lines, `  }`, `}`, ``].join("\n")
}

/**
 * Declared features past which a typed filter compiles slowly, in all and of them `dict` or `object` (see the
 * module doc). Measured with TypeScript 5.9 checking a two-line `Run.filter` consumer of the built package:
 * 300 features of the other dtypes take about 6 s of CPU (3.4 s with none), 1,000 take 13 s; 30 `dict`
 * features take 9 s, 100 take 56 s (see the CLI's README). `lineage types` warns past either.
 */
export const advisedMax = { features: 300, json: 15 } as const

/** Whether a dtype's values are JSON, whose paths are filter keys too (see the module doc). */
const isJson = (dtype: string): boolean => {
  const parsed = Dtype.parse(dtype)
  return parsed?._tag === "simple" && (parsed.name === "dict" || parsed.name === "object")
}

/** Features read per page: a registry of tens of thousands is read in bounded pieces. */
const defaultPageSize = 1_000

export interface DeclarationOptions extends RenderOptions {
  readonly pageSize?: number | undefined
}

/**
 * Every live feature (the trash and other branches left out: a trashed feature is not offered) that `filter`
 * selects (keyword terms, as `FilterText` reads them; all when none), page by page.
 */
const live = (options: DeclarationOptions) =>
  Effect.gen(function* () {
    const all = Feature.filter()
    const selected = options.filter === undefined || options.filter.length === 0 ? all : all.filter(yield* FilterText.parse(modelOf("Feature"), options.filter))
    const features: Array<Declared> = []
    let after: string | undefined
    do {
      const page = yield* selected.page({ size: options.pageSize ?? defaultPageSize, after })
      for (const f of page.items) features.push({ name: f.name, dtype: f.dtype })
      after = page.next
    } while (after !== undefined)
    return features
  })

export interface Declaration {
  /** The declaration file's text (see `render`). */
  readonly text: string
  /** Features declared. */
  readonly count: number
  /** Of them, those declared `unknown`: their dtype does not parse. */
  readonly untyped: number
  /** Of them, those whose values are JSON (`dict`, `object`): the costliest to compile (see `advisedMax`). */
  readonly json: number
}

/** The declaration file for the store's live features that `filter` selects, naming `source` (see `render`). */
export const declaration = (options: DeclarationOptions) =>
  Effect.map(
    live(options),
    (features): Declaration => ({
      text: render(features, options),
      count: new Set(features.map((f) => f.name)).size,
      untyped: features.filter((f) => Dtype.parse(f.dtype) === undefined).length,
      json: new Set(features.filter((f) => isJson(f.dtype)).map((f) => f.name)).size
    })
  )
