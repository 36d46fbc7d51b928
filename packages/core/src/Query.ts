/**
 * The query language's front end: typed objects, lamindb keyword lookups and `Q` combinators, normalised
 * into one AST (`Ast.Cond`) and checked against the registry's model before any store is touched.
 *
 * Paths in the normalised tree may cross relations (`["transform", "key"]`); `Relations` turns those into
 * single-table conditions for a driver. Every value is validated for its field and copied as plain JSON, so
 * nothing a user passes can become an operator.
 */
import * as Ast from "./Ast.js"
import { categoricalRegistries } from "./Dtype.js"
import * as Records from "./Records.js"
import { modelOf } from "./Records.js"
import { InvalidQuery } from "./Errors.js"
import { F, type FieldDef, featureValues, type Model } from "./Model.js"
import { cutName, isPlainObject, maxDepth, maxListValues, maxQueryValues, maxShownNameLength } from "./Limits.js"
import * as Regex from "./Regex.js"
import * as Suggestions from "./Suggestions.js"
import { expectedWellFormed, illFormed, isWellFormed } from "./Text.js"
import type { Filter } from "./Filter.js"

export type Expression = { readonly [key: string]: unknown }

type QNode =
  | { readonly _tag: "and" | "or"; readonly parts: ReadonlyArray<QueryInput> }
  | { readonly _tag: "not"; readonly part: QueryInput }
  | { readonly _tag: "where"; readonly path: ReadonlyArray<string>; readonly op: Ast.Operator; readonly value: unknown }

/**
 * A combinator node. A class, so plain data (e.g. parsed JSON) can never pass for one.
 *
 * `N` is the registry whose filters (`Filter<N>`) the parts are checked against, taken from where the `Q` is
 * used: inside `Run.filter(Q.or(…))` every part is checked as a Run filter; away from a filter call, name it
 * (`Q.or<"Run">(…)`). A `Q` made with no registry named or in sight (`const q = Q.and(expression)`) is
 * `Q<unknown>`: accepted by every registry and checked only when the query runs, the way for code that builds
 * queries at run time. `Q.where` is `Q<never>`: it fits every registry too, but, its parts taking no part in
 * the inference of `N` (`NoInfer`), it leaves its siblings checked (`Q.or(Q.where(…), { status: … })`).
 */
export class Q<N = unknown> {
  /** Types only: `N`, compared both ways, so `Q<unknown>` and `Q<never>` fit every registry and `Q<"Run">` only Run. */
  declare private readonly registry?: { bivariant(registry: N): void }["bivariant"]
  private constructor(readonly node: QNode) {}
  static and<N = unknown>(...parts: ReadonlyArray<NoInfer<QueryInput<N>>>): Q<N> {
    return new Q({ _tag: "and", parts: parts as ReadonlyArray<QueryInput> })
  }
  static or<N = unknown>(...parts: ReadonlyArray<NoInfer<QueryInput<N>>>): Q<N> {
    return new Q({ _tag: "or", parts: parts as ReadonlyArray<QueryInput> })
  }
  static not<N = unknown>(part: NoInfer<QueryInput<N>>): Q<N> {
    return new Q({ _tag: "not", part: part as QueryInput })
  }
  /** One predicate on an explicit path, for keys that would otherwise read as operators, or that no type declares. */
  static where(path: string | ReadonlyArray<string>, op: Ast.Operator, value: unknown): Q<never> {
    return new Q({ _tag: "where", path: typeof path === "string" ? segments(path) : path, op, value })
  }
}

/** What `filter` and `get` take for registry `N`: a filter object or a `Q`; without a registry, any of them. */
export type QueryInput<N = unknown> = Filter<N> | Q<N>

// lamindb / Django spell some operators in lower case.
const operatorAliases: { readonly [k: string]: Ast.Operator } = {
  exact: "eq",
  startswith: "startsWith",
  istartswith: "istartsWith",
  endswith: "endsWith",
  iendswith: "iendsWith",
  isnull: "isNull",
  notin: "notIn",
  not_in: "notIn",
  neq: "ne"
}

/**
 * The operator a key segment names: an operator's own name (`startsWith`, `isNull`) or one of lamindb's lower-case
 * spellings (`startswith`, `isnull`, `not_in`, `exact`); undefined for anything else, which is a field or path
 * segment. No other folding: `IsNull` or `is_null` is a path segment, so every reader of keyword keys (this
 * module, `FilterText`) reads the same key the same way.
 */
export const asOperator = (s: string): Ast.Operator | undefined =>
  Ast.isOperator(s) ? s : Object.hasOwn(operatorAliases, s) ? operatorAliases[s] : undefined

/**
 * A keyword key's segments, split at `__`, with one exception so that names like `__proto__` stay reachable:
 * a segment written `__name__` (double underscores around a name) is one segment, so `__proto____gte` is
 * `__proto__` then `gte`, and `params____proto____x` is `params`, `__proto__`, `x`. Other names with `__`
 * are reached with `Q.where` and an array path.
 */
export const segments = (key: string): Array<string> => {
  const parts = key.split("__")
  const out: Array<string> = []
  for (let i = 0; i < parts.length; i++) {
    const dunder = parts[i] === "" && i + 2 < parts.length && parts[i + 1] !== "" && parts[i + 2] === ""
    if (dunder) {
      out.push(`__${parts[i + 1]}__`)
      i += 2
    } else out.push(parts[i]!)
  }
  return out
}

const snakeToCamel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())

/** A saved record of any registry: what a relation value or `in` list may hold instead of an id. */
const recordId = (v: unknown): number | undefined =>
  v !== null && typeof v === "object" && !isPlainObject(v) && typeof (v as { id?: unknown }).id === "number"
    ? (v as { id: number }).id
    : undefined

type Resolved =
  | { readonly _tag: "field"; readonly model: Model; readonly prefix: ReadonlyArray<string>; readonly name: string; readonly def: FieldDef }
  | { readonly _tag: "relation"; readonly model: Model; readonly prefix: ReadonlyArray<string>; readonly name: string }

class Fail {
  constructor(readonly error: InvalidQuery) {}
}

interface Ctx {
  /** The registry the whole query is on: errors name it. */
  readonly root: Model
}

const fail = (ctx: Ctx, field: string, expected: string, operator?: string, value?: unknown): never => {
  throw new Fail(new InvalidQuery({ registry: ctx.root.name, field, operator, value, expected }))
}

/** The field or relation a path segment names: as written, in camelCase, or through the model's aliases. */
export const lookupName = (model: Model, seg: string): string | undefined => {
  for (const candidate of [seg, snakeToCamel(seg)]) {
    if (Object.hasOwn(model.fields, candidate) || Object.hasOwn(model.relations, candidate)) return candidate
  }
  for (const candidate of [seg, snakeToCamel(seg)]) {
    if (model.aliases !== undefined && Object.hasOwn(model.aliases, candidate)) return model.aliases[candidate]
  }
  return undefined
}

export const available = (model: Model) => [...Object.keys(model.fields), ...Object.keys(model.relations)].join(", ")

/**
 * Where `path` names a feature: the index of the segment holding feature values, on `model` or on a registry
 * its relations reach (`inputArtifacts__featureValues__accuracy`), and that registry; the feature's name is
 * the segment after it. Undefined for any other path, one inside a JSON field (`params__featureValues__x`)
 * included.
 */
export const featureSegment = (model: Model, path: ReadonlyArray<string>): { readonly index: number; readonly model: Model } | undefined => {
  let current = model
  for (let i = 0; i + 1 < path.length; i++) {
    const segment = path[i]!
    if (segment === featureValues && Object.hasOwn(current.fields, featureValues)) return { index: i, model: current }
    if (!Object.hasOwn(current.relations, segment)) return undefined
    current = modelOf(current.relations[segment]!.to)
  }
  return undefined
}

/** A path as its key was written: without the segment holding feature values (`featureValues__accuracy` is `accuracy`). */
const writtenPath = (model: Model, path: ReadonlyArray<string>): string => {
  const at = featureSegment(model, path)
  return (at === undefined ? path : [...path.slice(0, at.index), ...path.slice(at.index + 1)]).join("__")
}

/** The record classes a categorical feature's value may be given as (see `Dtype.categoricalRegistries`). */
const categoricalRecords: ReadonlyArray<readonly [registry: string, record: abstract new (...args: never) => object]> = [
  ["ULabel", Records.ULabel],
  ["Project", Records.Project],
  ["Feature", Records.Feature],
  ["User", Records.User],
  ["Transform", Records.Transform],
  ["Artifact", Records.Artifact],
  ["Run", Records.Run]
]

/**
 * A feature's filter value as `features.add` reads it: a record stands for its name (the field its registry
 * is named by: a ULabel's `name`, a Transform's `key`, …); anything else, a record without a name included
 * (an artifact without a key), is itself, and is refused as no JSON value.
 */
const asFeatureValue = (v: unknown): unknown => {
  const found = categoricalRecords.find(([, record]) => v instanceof record)
  const name = found === undefined ? undefined : (v as { readonly [field: string]: unknown })[categoricalRegistries[found[0]]!]
  return typeof name === "string" && name !== "" ? name : v
}

// ---------------------------------------------------------------------------------------------------------
// Values

const isoOf = (ctx: Ctx, field: string, op: string, v: unknown): string => {
  const d = v instanceof Date ? v : typeof v === "string" ? new Date(v) : undefined
  if (d === undefined || Number.isNaN(d.getTime())) return fail(ctx, field, "a Date or an ISO 8601 date string", op, v)
  return d.toISOString()
}

/** Copies a user value into plain JSON, refusing what JSON cannot hold. */
const toJson = (ctx: Ctx, field: string, op: string, v: unknown): Ast.Json => {
  const copied = Ast.toJson(v)
  return "json" in copied ? copied.json : fail(ctx, field, copied.expected, op, copied.value)
}

/** One operand, checked against the field's kind. */
const scalar = (ctx: Ctx, fieldName: string, def: FieldDef | undefined, op: Ast.Operator, v: unknown): Ast.Json => {
  // `def === undefined`: a path inside a JSON field.
  if (def === undefined || def.kind === "json") {
    const j = toJson(ctx, fieldName, op, v)
    if (Ast.stringOperators.has(op) && typeof j !== "string") return fail(ctx, fieldName, "a string", op, v)
    if (Ast.orderOperators.has(op) && typeof j !== "number" && typeof j !== "string")
      return fail(ctx, fieldName, "a number or a string", op, v)
    return j
  }
  if (Ast.stringOperators.has(op) && def.kind !== "string" && def.kind !== "enum")
    return fail(ctx, fieldName, Suggestions.expectedOperator(def.kind), op, v)
  if (Ast.orderOperators.has(op) && def.kind === "bool")
    return fail(ctx, fieldName, Suggestions.expectedOperator(def.kind), op, v)
  switch (def.kind) {
    case "int":
      return Number.isSafeInteger(v) ? (v as number) : fail(ctx, fieldName, "an integer", op, v)
    case "ref": {
      const id = recordId(v) ?? v
      return Number.isSafeInteger(id) ? (id as number) : fail(ctx, fieldName, "a record or an integer id", op, v)
    }
    case "float":
      return typeof v === "number" && Number.isFinite(v) ? v : fail(ctx, fieldName, "a finite number", op, v)
    case "bool":
      return typeof v === "boolean" ? v : fail(ctx, fieldName, "a boolean", op, v)
    case "datetime":
      return isoOf(ctx, fieldName, op, v)
    case "string":
      return typeof v === "string" ? v : fail(ctx, fieldName, "a string", op, v)
    case "enum":
      if (typeof v !== "string") return fail(ctx, fieldName, `one of ${def.values?.join(", ")}`, op, v)
      if ((op === "eq" || op === "ne" || op === "in" || op === "notIn") && !def.values?.includes(v))
        return fail(ctx, fieldName, `one of ${def.values?.join(", ")}`, op, v)
      return v
  }
}

const operand = (ctx: Ctx, fieldName: string, def: FieldDef | undefined, op: Ast.Operator, v: unknown): Ast.Field["value"] => {
  switch (op) {
    case "isNull":
      return typeof v === "boolean" ? v : fail(ctx, fieldName, "true or false", op, v)
    case "in":
    case "notIn":
      if (!Array.isArray(v)) return fail(ctx, fieldName, "an array of values", op, v)
      if (v.length > maxListValues)
        return fail(ctx, fieldName, `an array of at most ${maxListValues} values (maxListValues), got ${v.length}`, op, v)
      return v.map((x) => scalar(ctx, fieldName, def, "eq", x))
    case "range":
      if (!Array.isArray(v) || v.length !== 2) return fail(ctx, fieldName, "[low, high]", op, v)
      return [scalar(ctx, fieldName, def, "gte", v[0]), scalar(ctx, fieldName, def, "lte", v[1])]
    case "regex": {
      const pattern = scalar(ctx, fieldName, def, op, v) as string
      const compiled = Regex.compile(pattern)
      return "refused" in compiled ? fail(ctx, fieldName, `a regular expression in RE2 syntax (${compiled.refused})`, op, v) : pattern
    }
    default:
      return scalar(ctx, fieldName, def, op, v)
  }
}

/** `eq null` means `isNull`: the one place a value picks the operator, and only for null. */
const leaf = (ctx: Ctx, path: ReadonlyArray<string>, def: FieldDef | undefined, op: Ast.Operator, v: unknown): Ast.Cond => {
  const name = writtenPath(ctx.root, path)
  if (v === null && (op === "eq" || op === "ne")) return Ast.field(path, "isNull", op === "eq")
  if (v === undefined) return fail(ctx, name, "a value (got undefined)", op, v)
  // A feature's own value (not a path inside it): records stand for their names, in a list too (a list too
  // long is refused by its length below, before any element is read).
  const feature = featureSegment(ctx.root, path)?.index === path.length - 2
  const given = !feature ? v : Array.isArray(v) && v.length <= maxListValues ? v.map(asFeatureValue) : asFeatureValue(v)
  return Ast.field(path, op, operand(ctx, name, def, op, given))
}

// ---------------------------------------------------------------------------------------------------------
// Keys

const resolveKey = (ctx: Ctx, model: Model, prefix: ReadonlyArray<string>, segs: ReadonlyArray<string>): Ast.Cond | ((v: unknown) => Ast.Cond) => {
  const [head, ...rest] = segs
  const shown = writtenPath(ctx.root, [...prefix, ...segs])
  if (head === undefined || head === "") return fail(ctx, shown, "a field name")
  const name = lookupName(model, head)
  // Not a field or relation: on a registry with features, a feature name (checked against the Feature
  // registry when the query runs).
  if (name === undefined && Object.hasOwn(model.fields, featureValues)) return resolveKey(ctx, model, prefix, [featureValues, ...segs])
  if (name === undefined) {
    // Right after a relation, the last segment may also be a misspelt operator on it (`transform__inn`).
    const operators = prefix.length > 0 && rest.length === 0 ? Suggestions.relationOperators : []
    const near = Suggestions.nearest(head, [...Suggestions.queryNames(model), ...operators]).map((n) => [...prefix, n].join("__"))
    return fail(ctx, [...prefix, head].join("__"), Suggestions.withSuggestion(`a field or relation of ${model.name} (${available(model)})`, near))
  }
  const path = [...prefix, name]
  if (Object.hasOwn(model.relations, name)) {
    const target = modelOf(model.relations[name]!.to)
    if (rest.length === 0) return (v) => relationValue(ctx, target, path, v)
    const op = rest.length === 1 ? asOperator(rest[0]!) : undefined
    if (op !== undefined && !lookupName(target, rest[0]!)) return (v) => relationOperator(ctx, path, op, v)
    return resolveKey(ctx, target, path, rest)
  }
  const def = model.fields[name]!
  if (def.kind === "json") {
    const last = rest.at(-1)
    const op = last === undefined ? undefined : asOperator(last)
    const jsonPath = [...path, ...(op === undefined ? rest : rest.slice(0, -1))]
    if (jsonPath.some((s) => s === "")) return fail(ctx, shown, "non-empty path segments")
    if (op !== undefined) return (v) => leaf(ctx, jsonPath, jsonPath.length === path.length ? def : undefined, op, v)
    return (v) => fieldValue(ctx, jsonPath, jsonPath.length === path.length ? def : undefined, v)
  }
  if (rest.length === 0) return (v) => fieldValue(ctx, path, def, v)
  const op = rest.length === 1 ? asOperator(rest[0]!) : undefined
  if (op === undefined) {
    const near = rest.length === 1 ? Suggestions.nearest(rest[0]!, Suggestions.fittingOperators(def.kind)) : []
    return fail(ctx, shown, Suggestions.withSuggestion(`${Suggestions.expectedOperator(def.kind)} after ${name}`, near.map((o) => [...path, o].join("__"))))
  }
  return (v) => leaf(ctx, path, def, op, v)
}

/** The value of a field without an operator in its key: a scalar (eq) or an operator object. */
const fieldValue = (ctx: Ctx, path: ReadonlyArray<string>, def: FieldDef | undefined, v: unknown): Ast.Cond => {
  if (!isPlainObject(v)) return leaf(ctx, path, def, "eq", v)
  const keys = Object.keys(v)
  const ops = keys.map(asOperator)
  if (keys.length > 0 && ops.every((o) => o !== undefined)) return Ast.and(keys.map((k, i) => leaf(ctx, path, def, ops[i]!, v[k])))
  // Inside JSON, a plain object that is not an operator object walks further down the path.
  if (def === undefined || def.kind === "json") {
    if (keys.length === 0) return leaf(ctx, path, def, "eq", v)
    return Ast.and(keys.map((k) => fieldValue(ctx, [...path, k], undefined, v[k])))
  }
  const bad = keys.find((k) => asOperator(k) === undefined) ?? "{}"
  const near = Suggestions.nearest(bad, Suggestions.fittingOperators(def.kind))
  return fail(ctx, writtenPath(ctx.root, path), Suggestions.withSuggestion(Suggestions.expectedOperator(def.kind), near), bad, v)
}

/** The id of a related record: a record or an integer. */
const F_ID: FieldDef = F.ref("(related)", "protect")

const relationOperator = (ctx: Ctx, path: ReadonlyArray<string>, op: Ast.Operator, v: unknown): Ast.Cond =>
  op === "isNull" ? leaf(ctx, path, undefined, op, v) : leaf(ctx, [...path, "id"], F_ID, op, v)

/** `transform: record | id | null | { key: … } | { in: [...] }` */
const relationValue = (ctx: Ctx, target: Model, path: ReadonlyArray<string>, v: unknown): Ast.Cond => {
  if (v === null) return Ast.field(path, "isNull", true)
  if (isPlainObject(v)) {
    const keys = Object.keys(v)
    if (keys.length > 0 && keys.every((k) => asOperator(k) !== undefined && lookupName(target, k) === undefined))
      return Ast.and(keys.map((k) => relationOperator(ctx, path, asOperator(k)!, v[k])))
    return expression(ctx, target, path, v)
  }
  return leaf(ctx, [...path, "id"], F_ID, "eq", v)
}

const expression = (ctx: Ctx, model: Model, prefix: ReadonlyArray<string>, e: Expression): Ast.Cond => {
  const conds: Array<Ast.Cond> = []
  for (const [key, value] of Object.entries(e)) {
    const resolved = resolveKey(ctx, model, prefix, segments(key))
    conds.push(typeof resolved === "function" ? resolved(value) : resolved)
  }
  return Ast.and(conds)
}

const input = (ctx: Ctx, model: Model, q: unknown): Ast.Cond => {
  if (q instanceof Q) {
    const node = q.node
    switch (node._tag) {
      case "and":
        return Ast.and(node.parts.map((p) => input(ctx, model, p)))
      case "or":
        return node.parts.length === 0 ? Ast.never : Ast.or(node.parts.map((p) => input(ctx, model, p)))
      case "not":
        return Ast.not(input(ctx, model, node.part))
      case "where": {
        if (!Ast.isOperator(node.op)) return fail(ctx, node.path.join("__"), `an operator (one of ${Ast.operators.join(", ")})`, String(node.op))
        const resolved = resolveKey(ctx, model, [], [...node.path, node.op])
        return typeof resolved === "function" ? resolved(node.value) : resolved
      }
    }
  }
  if (!isPlainObject(q)) return fail(ctx, "(query)", "an object of field lookups or a Q combinator", undefined, q)
  return expression(ctx, model, [], q)
}

// ---------------------------------------------------------------------------------------------------------
// Text no UTF-8 store can keep (see `Text`): refused in queries as in records, so no store compares it.

/** A name as an error shows it: an unpaired surrogate escaped, so the message itself is well-formed. */
const shownName = (name: string): string => (isWellFormed(name) ? name : JSON.stringify(name).slice(1, -1))

/** The first predicate whose path or value holds an unpaired surrogate, as an InvalidQuery. */
const illFormedPredicate = (ctx: Ctx, cond: Ast.Cond): InvalidQuery | undefined => {
  for (const c of Ast.predicates(cond)) {
    const at = illFormed(c.value)
    if (at === undefined && c.path.every(isWellFormed)) continue
    const path = c.path[0] === featureValues && Object.hasOwn(ctx.root.fields, featureValues) ? c.path.slice(1) : c.path
    return new InvalidQuery({
      registry: ctx.root.name,
      field: path.map(shownName).join("__"),
      operator: c.op,
      value: c.value,
      expected: expectedWellFormed(at ?? [])
    })
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------
// Nesting: checked before normalising, whose recursion follows the input's.

/** A node's children, each with the path segments it adds (arrays and combinators add a level but no name). */
const childrenOf = (v: object): ReadonlyArray<readonly [levels: number, segments: ReadonlyArray<string>, child: unknown]> | undefined => {
  if (v instanceof Q) {
    const node = v.node
    switch (node._tag) {
      case "and":
      case "or":
        return node.parts.map((p) => [1, [], p] as const)
      case "not":
        return [[1, [], node.part]]
      case "where":
        // At least one level, as for every other node: an empty path must not let a chain of `Q.where`
        // nest without bound (and recurse past the stack's end here).
        return Array.isArray(node.path)
          ? [[Math.max(1, node.path.length), node.path, node.value]]
          : [[1, [String(node.path)], node.value]]
    }
  }
  // Only the elements an array holds: a hole nests nothing, and an array made with a huge `length` and few
  // elements must cost what it holds (its length is refused later where a length is bounded).
  if (Array.isArray(v)) return Object.values(v).map((x) => [1, [], x] as const)
  if (!isPlainObject(v)) return undefined
  return Object.entries(v).map(([k, x]) => {
    const segs = segments(k)
    return [segs.length, segs, x] as const
  })
}

/**
 * Where the filter arguments nest deeper than `maxDepth` levels, or back into themselves, or `"tooLarge"`
 * once they are sure to hold more than `maxQueryValues` values; undefined when none of these. Each Q
 * combinator, array and field path segment (of a key, a nested object's key or a `Q.where` path) is one
 * level. It never descends past the limit, and walks a subtree shared by several parents once per depth it
 * is met at, listing at most `maxQueryValues` children in all.
 */
type TooDeep = { readonly at: ReadonlyArray<string>; readonly cycle: boolean }

const nestingOf = (inputs: ReadonlyArray<unknown>): TooDeep | "tooLarge" | undefined => {
  // The deepest level each node was found acceptable at: met again no deeper, it is acceptable again.
  const fits = new Map<object, number>()
  const onPath = new Set<object>()
  // Every walk below is reached along its own path, so the children listed never exceed what `querySize`
  // counts: past `maxQueryValues` of them, the query is too large, however many depths a node is met at.
  let listed = 0
  const walk = (v: unknown, level: number, at: ReadonlyArray<string>): TooDeep | "tooLarge" | undefined => {
    // Known acceptable first, before listing children: a node met again costs a lookup, not its size.
    if (v === null || typeof v !== "object" || (fits.get(v) ?? -1) >= level) return undefined
    const children = childrenOf(v)
    if (children === undefined) return undefined
    listed += children.length
    if (listed > maxQueryValues) return "tooLarge"
    if (onPath.has(v as object)) return { at, cycle: true }
    onPath.add(v as object)
    try {
      for (const [levels, segs, child] of children) {
        const where = segs.length === 0 ? at : [...at, ...segs]
        if (level + levels > maxDepth) return { at: where, cycle: false }
        const found = walk(child, level + levels, where)
        if (found !== undefined) return found
      }
    } finally {
      onPath.delete(v as object)
    }
    fits.set(v as object, level)
    return undefined
  }
  // One walk for all the inputs, each from level 0: what they share is walked once, as within one of them.
  for (const q of inputs) {
    const found = walk(q, 0, [])
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * The values of a query `nestingOf` accepted (every combinator, object, array slot and scalar; a shared one
 * each time it appears), or `cap + 1` once past `cap`.
 */
const querySize = (q: unknown, cap: number): number => {
  const counted = new Map<object, number>()
  const size = (v: unknown): number => {
    if (v === null || typeof v !== "object") return 1
    const known = counted.get(v)
    if (known !== undefined) return known
    let n = 1
    let held = 0
    for (const [, , child] of childrenOf(v) ?? []) {
      n += size(child)
      held++
      if (n > cap) break
    }
    // An array's holes count too, since an operand's copy visits every slot (an `in` list of one shared array
    // of a million holes would cost a million steps per element), up to `maxListValues + 1` slots: a longer
    // list is refused by its length, and must be told so rather than that the query is too large.
    if (Array.isArray(v) && n <= cap) n += Math.max(0, Math.min(v.length, maxListValues + 1) - held)
    n = Math.min(n, cap + 1)
    counted.set(v, n)
    return n
  }
  return size(q)
}

/** A path in an error: its first segments, cut at `maxShownNameLength` characters. */
const shownPath = (at: ReadonlyArray<string>): string => {
  if (at.length === 0) return "(query)"
  return cutName(at.slice(0, maxShownNameLength).map((s) => shownName(s.slice(0, maxShownNameLength + 1))).join("__"))
}

const expectedQuerySize = `a query of at most ${maxQueryValues.toLocaleString("en-US")} values (each combinator, object, array slot and scalar counts, a shared one each time it appears)`

const expectedQueryNesting = `a query nested at most ${maxDepth} levels deep (each Q combinator, array and field path segment is a level)`

/** Normalises `filter(...)` arguments into one condition, or explains what is wrong with them. */
export const normalize = (model: Model, inputs: ReadonlyArray<QueryInput>): Ast.Cond | InvalidQuery => {
  const ctx: Ctx = { root: model }
  try {
    const deep = nestingOf(inputs)
    if (deep === "tooLarge") return fail(ctx, "(query)", expectedQuerySize)
    if (deep !== undefined) return fail(ctx, shownPath(deep.at), deep.cycle ? "JSON without cycles" : expectedQueryNesting)
    if (querySize(inputs, maxQueryValues) > maxQueryValues) return fail(ctx, "(query)", expectedQuerySize)
    const cond = Ast.and(inputs.map((q) => input(ctx, model, q)))
    return illFormedPredicate(ctx, cond) ?? cond
  } catch (e) {
    if (e instanceof Fail) return e.error
    throw e
  }
}

/** `"-startedAt"`, `"started_at"`, `"params__lr"`: ordering on the registry's own fields. */
export const orderKeys = (model: Model, keys: ReadonlyArray<string>): ReadonlyArray<Ast.OrderKey> | InvalidQuery => {
  const ctx: Ctx = { root: model }
  try {
    return keys.map((raw) => {
      if (typeof raw !== "string") return fail(ctx, String(raw), "a field name, optionally prefixed by '-'")
      const direction: Ast.Direction = raw.startsWith("-") ? "desc" : "asc"
      if (!isWellFormed(raw)) return fail(ctx, shownName(raw), expectedWellFormed([]))
      const segs = segments(direction === "desc" ? raw.slice(1) : raw)
      if (segs.length > maxDepth) return fail(ctx, shownPath(segs), `a path of at most ${maxDepth} segments`)
      const found = lookupName(model, segs[0] ?? "")
      // On a registry with features, an unknown name orders by that feature's value.
      if (found === undefined && Object.hasOwn(model.fields, featureValues) && segs[0] !== "")
        segs.unshift(featureValues)
      const name = found ?? (segs[0] === featureValues ? featureValues : undefined)
      if (name === undefined || !Object.hasOwn(model.fields, name))
        return fail(
          ctx,
          raw,
          Suggestions.withSuggestion(
            `a field of ${model.name} to order by (${Object.keys(model.fields).join(", ")})`,
            Suggestions.nearest(segs[0] ?? "", Suggestions.orderNames(model)).map((n) => [direction === "desc" ? `-${n}` : n, ...segs.slice(1)].join("__"))
          )
        )
      if (segs.length > 1 && model.fields[name]!.kind !== "json")
        return fail(ctx, raw, `a plain field (ordering across relations is not supported)`)
      if (segs.slice(1).some((s) => s === "")) return fail(ctx, raw, "non-empty path segments")
      return { path: [name, ...segs.slice(1)], direction }
    })
  } catch (e) {
    if (e instanceof Fail) return e.error
    throw e
  }
}
