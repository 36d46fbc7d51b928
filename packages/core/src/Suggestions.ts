/**
 * What an error suggests instead of a name it cannot use: the nearest names a registry or the Feature registry
 * offers ("did you mean "status"?"), and the operators that fit a field's kind or a feature's dtype. A
 * suggestion is text built from names the code or the store holds, each shown bounded and escaped like every
 * other name in an error; finding one costs a bounded amount of work (`maxSuggestionSteps`).
 */
import { Effect } from "effect"
import * as Ast from "./Ast.js"
import * as DamerauLevenshtein from "./DamerauLevenshtein.js"
import * as Dtype from "./Dtype.js"
import { UniqueViolation } from "./Errors.js"
import { maxShownNameLength, showName } from "./Limits.js"
import type { FieldKind, Model } from "./Model.js"

/** Names one suggestion offers at most. */
export const maxSuggested = 3

/** Most edits a name may be from a suggested one, however long it is. */
const maxEdits = 3

/**
 * Feature names read for one suggestion at most (on the error path only): past them, a registry of more
 * features suggests from the first ones by id. The store reads whole Feature records (a driver offers no
 * projection), each a few hundred bytes.
 */
export const maxFeatureCandidates = 5_000

/**
 * Steps of the distance table one suggestion may take at most, over all its candidates: each candidate costs
 * at most `(2 × edits + 1) × name length` steps (see `DamerauLevenshtein.distance`), counted before it is
 * measured, and the candidates past the budget are not measured. About 20 ms on one core.
 */
export const maxSuggestionSteps = 2_000_000

/** Case and underscores aside: `STARTED_AT` is one edit from nothing, `startedAt` itself. */
const fold = (name: string): string => name.toLowerCase().replaceAll("_", "")

/**
 * The candidates nearest `name` by `DamerauLevenshtein` distance, case and underscores aside, within a third of
 * the name's length (at least 1, at most `maxEdits`): every one at the nearest distance, in the candidates'
 * order, at most `maxSuggested`, among those measured within `maxSuggestionSteps`. A name longer than
 * `maxShownNameLength` is no typo of a name: it gets none, unmeasured, and so does an empty one.
 */
export const nearest = (name: string, candidates: Iterable<string>): ReadonlyArray<string> => {
  if (name.length > maxShownNameLength) return []
  const folded = fold(name)
  if (folded.length === 0) return []
  let best = Math.min(maxEdits, Math.max(1, Math.floor(folded.length / 3)))
  let found: Array<string> = []
  let steps = 0
  for (const candidate of new Set(candidates)) {
    if (candidate === name || candidate.length > maxShownNameLength + maxEdits) continue
    const other = fold(candidate)
    // Lengths further apart than the edits allowed cost nothing to rule out.
    if (Math.abs(other.length - folded.length) > best) continue
    steps += (2 * best + 1) * folded.length
    if (steps > maxSuggestionSteps) break
    const d = DamerauLevenshtein.distance(folded, other, best)
    if (d > best) continue
    if (d < best) found = []
    best = d
    if (found.length < maxSuggested) found.push(candidate)
  }
  return found
}

/** `"a"`, `"a" or "b"`, `"a", "b" or "c"`: names as an error shows them. */
const listed = (names: ReadonlyArray<string>): string => {
  const shown = names.map(showName)
  return shown.length <= 1 ? shown.join("") : `${shown.slice(0, -1).join(", ")} or ${shown.at(-1)}`
}

/** `did you mean "status"?`, the names as `what` words them (`the feature `, say); "" for none. */
export const didYouMean = (names: ReadonlyArray<string>, what = ""): string =>
  names.length === 0 ? "" : `did you mean ${what}${listed(names)}?`

/** `expected`, then what it suggests of `names` (`expected; did you mean "status"?`). */
export const withSuggestion = (expected: string, names: ReadonlyArray<string>, what = ""): string =>
  names.length === 0 ? expected : `${expected}; ${didYouMean(names, what)}`

/** What a query may name on `model`: its fields, relations and aliases (`version`). */
export const queryNames = (model: Model): ReadonlyArray<string> => [
  ...Object.keys(model.fields),
  ...Object.keys(model.relations),
  ...Object.keys(model.aliases ?? {})
]

/** What `orderBy` may name on `model`: its fields and their aliases (no relation orders). */
export const orderNames = (model: Model): ReadonlyArray<string> => [
  ...Object.keys(model.fields),
  ...Object.keys(model.aliases ?? {})
]

/**
 * The operators that fit a field of `kind`, as the query's values are checked: strings and enums take every
 * operator; numbers, dates and references all but the string ones; booleans neither those nor the order
 * comparisons. A JSON field takes every operator (its values say which fit).
 */
export const fittingOperators = (kind: FieldKind): ReadonlyArray<Ast.Operator> =>
  Ast.operators.filter((op) => {
    if (kind === "string" || kind === "enum" || kind === "json") return true
    if (Ast.stringOperators.has(op)) return false
    return kind !== "bool" || !Ast.orderOperators.has(op)
  })

/** `a int` → `an int`: the article a word takes (its first letter a vowel). */
const article = (word: string): string => (/^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`)

const oneOf = (operators: ReadonlyArray<Ast.Operator>): string => `one of ${operators.join(", ")}`

/** What a query expects of an operator on a field of `kind`: one of those that fit. */
export const expectedOperator = (kind: FieldKind): string => `an operator that fits ${article(kind)} field (${oneOf(fittingOperators(kind))})`

/** The operators a relation's key takes directly (`transform__in`, `transform__isNull`): those of its id. */
export const relationOperators: ReadonlyArray<Ast.Operator> = fittingOperators("ref")

/** The field kind whose operators fit a feature of a simple or categorical dtype (a value stored as that kind). */
const featureKinds: { readonly [D in Dtype.SimpleDtype]: FieldKind } = {
  int: "int",
  float: "float",
  num: "float",
  str: "string",
  url: "string",
  path: "string",
  bool: "bool",
  date: "datetime",
  datetime: "datetime",
  dict: "json",
  object: "json"
}

/** Comparisons of a whole value: what fits a `list[…]` or `dict` feature, whose value is one JSON value. */
const wholeValueOperators: ReadonlyArray<Ast.Operator> = ["eq", "ne", "in", "notIn", "isNull"]

/**
 * The operators that fit a feature of `dtype`, as its stored values compare: those of the field kind that
 * stores the same values (a `cat[…]` value is a record's name, a string; `date` and `datetime` values are ISO
 * text, compared as dates), and for a `list[…]` or `dict` value, whole-value comparisons only (an `object`
 * value may be anything, so every operator fits it).
 */
export const featureOperators = (dtype: Dtype.Dtype): ReadonlyArray<Ast.Operator> => {
  if (dtype._tag === "list" || (dtype._tag === "simple" && dtype.name === "dict")) return wholeValueOperators
  return fittingOperators(dtype._tag === "cat" ? "string" : featureKinds[dtype.name])
}

/** What a query expects of an operator on a feature of `dtype`: one of those that fit. */
export const expectedFeatureOperator = (dtype: Dtype.Dtype): string =>
  `an operator that fits the feature's dtype ${Dtype.format(dtype)} (${oneOf(featureOperators(dtype))})`

/**
 * `create` whose `UniqueViolation` points to `getOrCreate` (see `UniqueViolation.byCreate`): for the `create`
 * a registry offers its callers, never the one its own `getOrCreate` calls, whose refusal that would not help.
 */
export const pointingToGetOrCreate =
  <Args extends ReadonlyArray<unknown>, A, E, R>(create: (...args: Args) => Effect.Effect<A, E, R>) =>
  (...args: Args): Effect.Effect<A, E, R> =>
    Effect.mapError(create(...args), (e) =>
      e instanceof UniqueViolation && e.byCreate !== true
        ? (new UniqueViolation({ registry: e.registry, constraint: e.constraint, fields: e.fields, values: e.values, detail: e.detail, byCreate: true }) as E)
        : e
    )
