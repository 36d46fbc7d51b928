/**
 * Bounds on what one input may ask of the process or a store. Each is stated in the error that enforces it
 * and listed in docs/security.md.
 */

/**
 * Deepest nesting accepted in a JSON value (params, dict fields, feature values) or a query. Each object or
 * array is one level (in a query, also each Q combinator and each field path segment). MongoDB refuses
 * documents and query trees nested more than 100 levels, and the stores add levels of their own around a
 * value (MongoDB keeps a field's value two levels down, a feature's value three), so 64 leaves every store
 * room to hold and query what core accepts. Checks recurse at most this deep, so no input can exhaust the
 * stack through them.
 */
export const maxDepth = 64

/** Names listed in one error message (unknown features, unknown fields); the rest are counted. */
export const maxListedNames = 20

/** Characters listed of one name in an error message; a longer name is cut there and marked with `…`. */
export const maxShownNameLength = 100

/** Characters of a `regex` pattern. */
export const maxRegexLength = 1_000

/**
 * Instructions of a `regex` pattern's compiled RE2 program. Matching time grows with text length times this
 * size, and the engine's state cache stops keeping up somewhere above 2,000: at 1,000 a 50,000-character text
 * takes under 0.1 s whatever the pattern. Counted repetitions multiply the size (`[ab]{1000}` alone is 1,000).
 */
export const maxRegexSize = 1_000

/**
 * Values in one JSON value of a record (params, a dict field, one feature's value, and a record's feature
 * values all together), counted as they would be encoded: every object, array slot and scalar, and a subtree
 * shared by several parents once for each. Every store and every check walks a value whole, so this bounds
 * one value's work (a million values take seconds to encode and validate, never longer) and keeps a value
 * built from a few shared objects (2^40 paths from 40 of them, or one shared by a thousand features) from
 * hanging the process.
 */
export const maxValues = 1_000_000

/** Values in one query, all its operands together, counted as `maxValues` counts: a full `in` list fits. */
export const maxQueryValues = 200_000

/**
 * Where a value goes wrong, if it does: nested deeper than `maxDepth`, back into itself, or more than
 * `maxValues` values once expanded.
 */
export type Nesting = "tooDeep" | "cycle" | "tooLarge" | undefined

/**
 * Checks that `value` nests at most `maxDepth` objects and arrays (the value itself counting as the first
 * level), contains no cycle and holds at most `maxValues` values once expanded. It descends only into arrays
 * and plain objects, never further than one level past the limit, and walks a subtree shared by several
 * parents once per depth it is met at, and never more than `maxValues` slots in all, so a value built to be
 * huge when expanded (or an array of a huge length and no elements) costs no more than that.
 */
export const nesting = (value: unknown): Nesting => {
  const size = valuesOf(value)
  return typeof size === "number" ? undefined : size
}

/**
 * The values `value` holds once expanded (at most `maxValues`, counted as `maxValues` counts them), or why
 * `nesting` refuses it; at the same cost. For values that count against one limit together, each checked
 * from its own top (a record's feature values).
 */
export const valuesOf = (value: unknown): number | Exclude<Nesting, undefined> => {
  if (value === null || typeof value !== "object") return 1
  const found = depthOf(value)
  if (found !== undefined) return found
  const size = expandedSize(value, maxValues)
  return size > maxValues ? "tooLarge" : size
}

/** Which of several values that count against `maxValues` together is refused, and why. */
export interface Unfit {
  readonly name: string
  readonly value: unknown
  readonly found: Exclude<Nesting, undefined>
  /** Refused for the sum, not for the value alone. */
  readonly together: boolean
}

/**
 * Checks values that count against `maxValues` together (one record's feature values), besides `counted`
 * values held already: each from its own top as `nesting` checks it, then their sum. Stopping once past the
 * limit, each costs at most its own size, and all of them together at most twice the limit.
 */
export const unfitTogether = (entries: Iterable<readonly [string, unknown]>, counted: number): Unfit | undefined => {
  let together = counted
  for (const [name, value] of entries) {
    const size = valuesOf(value)
    if (typeof size !== "number") return { name, value, found: size, together: false }
    together += size
    if (together > maxValues) return { name, value, found: "tooLarge", together: true }
  }
  return undefined
}

const depthOf = (value: unknown): Nesting => {
  // The deepest level each object was found acceptable at: met again no deeper, it is acceptable again.
  const fits = new Map<object, number>()
  const onPath = new Set<object>()
  // Every walk below is reached along its own path, so the slots walked never exceed the value's expanded
  // size: past `maxValues` of them, the value is too large, whatever is left to walk.
  let slots = 0
  const walk = (v: unknown, level: number): Nesting => {
    if (v === null || typeof v !== "object" || !isContainer(v)) return undefined
    if (onPath.has(v)) return "cycle"
    if (level > maxDepth) return "tooDeep"
    if ((fits.get(v) ?? 0) >= level) return undefined
    // An array's slots are counted before any is read: holes count (they are encoded as nulls), cost nothing.
    const children = Array.isArray(v) ? v : Object.values(v)
    slots += children.length
    if (slots > maxValues) return "tooLarge"
    onPath.add(v)
    try {
      for (const child of children) {
        const found = walk(child, level + 1)
        if (found !== undefined) return found
      }
    } finally {
      onPath.delete(v)
    }
    fits.set(v, level)
    return undefined
  }
  return walk(value, 1)
}

/**
 * The values of `value` as `maxValues` counts them, or `cap + 1` once past `cap`. Each object's count is kept,
 * so a shared subtree costs its size once. Only for a value `depthOf` accepted: no cycle, bounded depth.
 */
const expandedSize = (value: unknown, cap: number): number => {
  const counted = new Map<object, number>()
  const size = (v: unknown): number => {
    if (v === null || typeof v !== "object" || !isContainer(v)) return 1
    const known = counted.get(v)
    if (known !== undefined) return known
    // An array's slots count whether or not they hold anything: its holes are encoded as nulls.
    let n = 1 + (Array.isArray(v) ? v.length : 0)
    if (n <= cap)
      for (const child of Object.values(v)) {
        n += Array.isArray(v) ? size(child) - 1 : size(child)
        if (n > cap) break
      }
    n = Math.min(n, cap + 1)
    counted.set(v, n)
    return n
  }
  return size(value)
}

/** An object literal (or one made with a null prototype): the only objects, besides arrays, JSON is made of. */
export const isPlainObject = (v: unknown): v is { readonly [k: string]: unknown } => {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

const isContainer = (v: object): boolean => Array.isArray(v) || isPlainObject(v)

/** What a refusal of `nesting`'s finding says was expected. */
export const expectedNesting = (found: "tooDeep" | "cycle" | "tooLarge"): string =>
  found === "cycle"
    ? "JSON without cycles"
    : found === "tooLarge"
      ? `JSON of at most ${maxValues.toLocaleString("en-US")} values (each object, array slot and scalar counts, a shared one each time it appears)`
      : `JSON nested at most ${maxDepth} levels deep (each object or array is a level)`

/** `text` cut at `maxShownNameLength` characters (marked with `…`), never between the halves of a surrogate pair. */
export const cutName = (text: string): string => {
  if (text.length <= maxShownNameLength) return text
  const end = /[\uD800-\uDBFF]/.test(text[maxShownNameLength - 1]!) ? maxShownNameLength - 1 : maxShownNameLength
  return `${text.slice(0, end)}…`
}

/** A name quoted for an error message, through `cutName`. */
export const showName = (name: string): string => cutName(JSON.stringify(name.slice(0, maxShownNameLength + 1)))

/**
 * `names` for an error message: the first `maxListedNames`, each through `showName`, then how many more there
 * are. The text stays under 2,200 characters however many names are given.
 */
export const listNames = (names: ReadonlyArray<string>): string => {
  const shown = names.slice(0, maxListedNames).map(showName).join(", ")
  const more = names.length - maxListedNames
  return more > 0 ? `${shown} … and ${more} more` : shown
}

/**
 * Values of one `in` or `notIn` list in a query. Every store answers such a list in bounded steps (Redis
 * measures and reads at most 1,000 values' index ranges per script), so longer lists would only cost time
 * and memory in proportion: the limit keeps one query's work and its client memory bounded.
 */
export const maxListValues = 100_000
