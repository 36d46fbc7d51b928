/**
 * Indexes over one path of a table's documents. Every document is indexed, a missing path as `null`, so a
 * sorted index can also walk a whole table in order.
 *
 * An index only proposes candidates; the executor re-checks each with the reference evaluator. So an index
 * lookup may return too much but must never miss a document the evaluator would accept.
 */
import { Evaluator } from "@lineage/core"
import type { Ast } from "@lineage/core"
import { BTree } from "./BTree.js"
import { distinct, hashKey, type HashKey } from "./Values.js"

type Json = Ast.Json
type Path = Ast.Path

/** Serves `eq`, `in` and `isNull: true` by exact value. */
export interface EqualityIndex {
  readonly kind: "primary" | "hash"
  readonly count: (value: Json) => number
  readonly ids: (value: Json) => Iterable<number>
}

/** The values an equality lookup must fetch for a predicate, or undefined when it cannot serve it. */
export const equalityValues = (op: Ast.Operator, arg: Json): ReadonlyArray<Json> | undefined => {
  switch (op) {
    case "eq":
      return [arg]
    case "in":
      return Array.isArray(arg) ? distinct(arg) : []
    case "isNull":
      return arg === true ? [null] : undefined
    default:
      return undefined
  }
}

export class HashIndex implements EqualityIndex {
  readonly kind = "hash"
  // Most values of an indexed field are held by one document: store its id bare and upgrade to a Set on the
  // second, which saves a Set per entry on unique-ish fields.
  private readonly entries = new Map<HashKey, number | Set<number>>()

  constructor(readonly path: Path) {}

  add(id: number, value: Json): void {
    const key = hashKey(value)
    const held = this.entries.get(key)
    if (held === undefined) this.entries.set(key, id)
    else if (typeof held === "number") this.entries.set(key, new Set([held, id]))
    else held.add(id)
  }

  remove(id: number, value: Json): void {
    const key = hashKey(value)
    const held = this.entries.get(key)
    if (held === undefined) return
    if (typeof held === "number") {
      if (held === id) this.entries.delete(key)
      return
    }
    held.delete(id)
    if (held.size === 1) this.entries.set(key, held.values().next().value!)
  }

  count(value: Json): number {
    const held = this.entries.get(hashKey(value))
    return held === undefined ? 0 : typeof held === "number" ? 1 : held.size
  }

  ids(value: Json): Iterable<number> {
    const held = this.entries.get(hashKey(value))
    return held === undefined ? [] : typeof held === "number" ? [held] : held
  }
}

/** Equality on `id`, answered by the table's own id map. */
export const primaryIndex = (docs: ReadonlyMap<number, unknown>): EqualityIndex => ({
  kind: "primary",
  count: (value) => (typeof value === "number" && docs.has(value) ? 1 : 0),
  ids: (value) => (typeof value === "number" && docs.has(value) ? [value] : [])
})

/** A sorted index entry. The id makes keys unique and orders documents with equal values by ascending id. */
export class Key {
  /** Holds a string with a UTF-16 unit at or above 0xD800; set on the prototype to cost nothing per key. */
  declare readonly wide: boolean
  constructor(
    readonly value: Json,
    readonly id: number
  ) {}
}
Object.defineProperty(Key.prototype, "wide", { value: false })
class WideKey extends Key {}
Object.defineProperty(WideKey.prototype, "wide", { value: true })

const hasWideUnit = /[\ud800-\uffff]/

export const keyOf = (value: Json, id: number): Key =>
  typeof value === "string" && hasWideUnit.test(value) ? new WideKey(value, id) : new Key(value, id)

export const compareKeys = (a: Key, b: Key): number => {
  const x = a.value
  const y = b.value
  // The common cases first, without `compareJson`'s rank dispatch.
  if (typeof x === "number" && typeof y === "number") {
    if (x !== y) return x < y ? -1 : 1
  } else if (typeof x === "string" && typeof y === "string") {
    // Native comparison is by UTF-16 unit, which differs from code point order only where a surrogate meets a
    // unit in 0xE000-0xFFFF: impossible unless both strings hold a unit at or above 0xD800.
    if (x !== y) return a.wide && b.wide ? Evaluator.compareStrings(x, y) : x < y ? -1 : 1
  } else {
    const c = Evaluator.compareJson(x, y)
    if (c !== 0) return c
  }
  return a.id - b.id
}

/**
 * A contiguous run of the index: from the first key at or after `start`, while `within` holds. Probes use
 * ids of `-Infinity`/`Infinity` to land before or after every document holding a value.
 */
export interface ValueRange {
  readonly start: Key
  readonly within: (value: Json) => boolean
}

const before = (value: Json) => keyOf(value, -Infinity)
const after = (value: Json) => keyOf(value, Infinity)
/** Sorting puts null, then booleans, then numbers, then strings: these probes start each type's run. */
const firstNumber = after(true)
const firstString = before("")
const firstNonNull = after(null)

const isNumber = (v: Json): v is number => typeof v === "number"
const isString = (v: Json): v is string => typeof v === "string"

/** Order operators match only a value of the argument's own type, and each type sorts as one contiguous run. */
const sameType = (arg: Json): ((v: Json) => boolean) | undefined =>
  isNumber(arg) ? isNumber : isString(arg) ? isString : undefined

const runStart = (arg: number | string): Key => (isNumber(arg) ? firstNumber : firstString)

const equalRange = (arg: Json): ValueRange => ({
  start: before(arg),
  within: (v) => Evaluator.compareJson(v, arg) === 0
})

/**
 * The ranges holding every document a predicate can match, or undefined when a sorted index cannot serve
 * it. An empty list means nothing can match.
 */
export const rangesFor = (op: Ast.Operator, arg: Json): ReadonlyArray<ValueRange> | undefined => {
  switch (op) {
    case "eq":
      return [equalRange(arg)]
    case "in":
      return Array.isArray(arg) ? distinct(arg).map(equalRange) : []
    case "isNull":
      return arg === true ? [equalRange(null)] : [{ start: firstNonNull, within: () => true }]
    case "gt":
    case "gte": {
      const type = sameType(arg)
      if (type === undefined) return []
      return [{ start: op === "gt" ? after(arg) : before(arg), within: type }]
    }
    case "lt":
    case "lte": {
      const type = sameType(arg)
      if (type === undefined || !(isNumber(arg) || isString(arg))) return []
      const below = op === "lt" ? (c: number) => c < 0 : (c: number) => c <= 0
      return [{ start: runStart(arg), within: (v) => type(v) && below(Evaluator.compareJson(v, arg)) }]
    }
    case "range": {
      if (!Array.isArray(arg) || arg.length !== 2) return []
      const low: Json = arg[0]!
      const high: Json = arg[1]!
      const type = sameType(low)
      if (type === undefined || !type(high)) return []
      return [{ start: before(low), within: (v) => type(v) && Evaluator.compareJson(v, high) <= 0 }]
    }
    case "startsWith":
      // Strings sharing a prefix are contiguous in any lexicographic order, code point order included.
      return isString(arg) ? [{ start: before(arg), within: (v) => isString(v) && v.startsWith(arg) }] : []
    default:
      return undefined
  }
}

export class SortedIndex {
  private readonly tree: BTree<Key, undefined> = new BTree<Key, undefined>(undefined, compareKeys)

  constructor(readonly path: Path) {}

  add(id: number, value: Json): void {
    this.tree.set(keyOf(value, id), undefined)
  }

  /** Adds in key order: consecutive inserts then land in the same few leaves, which is much faster. */
  addAll(entries: ReadonlyArray<Key>): void {
    for (const key of [...entries].sort(compareKeys)) this.tree.set(key, undefined)
  }

  remove(id: number, value: Json): void {
    this.tree.delete(keyOf(value, id))
  }

  *ids(range: ValueRange): Generator<number> {
    for (const key of this.tree.keys(range.start)) {
      if (!range.within(key.value)) return
      yield key.id
    }
  }

  /** How many documents lie in `range`, counting no further than just past `cap`. */
  count(range: ValueRange, cap: number): number {
    let n = 0
    for (const key of this.tree.keys(range.start)) {
      if (n > cap || !range.within(key.value)) break
      n++
    }
    return n
  }

  /**
   * Every key in the order of a query sorted on this path: by value in `direction`, equal values by ascending
   * id. With `from`, skips values that come before it in that direction.
   */
  walk(direction: Ast.Direction, from?: Json): Iterable<Key> {
    if (direction === "asc") return this.tree.keys(from === undefined ? undefined : before(from))
    return this.descending(from)
  }

  // The tree orders equal values by ascending id, so walking it backwards would reverse the tie-break: step
  // down from one distinct value to the next and read each run forwards.
  private *descending(from: Json | undefined): Generator<Key> {
    let top = from === undefined ? this.tree.maxKey() : this.tree.nextLowerKey(after(from))
    while (top !== undefined) {
      const value = top.value
      const start = before(value)
      for (const key of this.tree.keys(start)) {
        if (Evaluator.compareJson(key.value, value) !== 0) break
        yield key
      }
      top = this.tree.nextLowerKey(start)
    }
  }
}
