/**
 * Indexes over one path of a table's documents. Every document is indexed, a missing path as `null`, so a
 * sorted index can also walk a whole table in order.
 *
 * Lookups are exact: an index holds the value `Evaluator.read` gives and compares values as the evaluator
 * does, so a lookup returns the documents the evaluator accepts for its predicate, no more and no fewer
 * (the executor skips re-checking that predicate; the differential tests hold both to it).
 */
import { Evaluator, IndexPlanner } from "@lineage/core"
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
export const primaryIndex = (docs: { readonly has: (id: number) => boolean }): EqualityIndex => ({
  kind: "primary",
  count: (value) => (typeof value === "number" && docs.has(value) ? 1 : 0),
  ids: (value) => (typeof value === "number" && docs.has(value) ? [value] : [])
})

/**
 * The ids holding one value of a sorted index, ascending: a bare id (most values have one holder), an
 * array, and past `manyHolders` a tree of ids, so removing one of a million (a run leaving the `null` of
 * `finishedAt`) stays cheap.
 */
type Holders = number | Array<number> | BTree<number, undefined>

const manyHolders = 512

const holderIds = (held: Holders): Iterable<number> => (typeof held === "number" ? [held] : Array.isArray(held) ? held : held.keys())

/** The first position in ascending `ids` at or after `id`. */
const position = (ids: ReadonlyArray<number>, id: number): number => {
  let lo = 0
  let hi = ids.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ids[mid]! < id) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** `held` with `id` added: the same array or tree changed in place, or a new representation. */
const withHolder = (held: Holders, id: number): Holders => {
  if (typeof held === "number") return held === id ? held : held < id ? [held, id] : [id, held]
  if (!Array.isArray(held)) {
    held.set(id, undefined)
    return held
  }
  // Ids are handed out in ascending order, so new holders almost always go at the end.
  if (id > held[held.length - 1]!) held.push(id)
  else {
    const at = position(held, id)
    if (held[at] !== id) held.splice(at, 0, id)
  }
  return held.length > manyHolders ? new BTree<number, undefined>(held.map((i) => [i, undefined])) : held
}

/** `held` without `id`, or undefined when no holder is left. */
const withoutHolder = (held: Holders, id: number): Holders | undefined => {
  if (typeof held === "number") return held === id ? undefined : held
  if (!Array.isArray(held)) {
    held.delete(id)
    return held.size > manyHolders / 4 ? held : [...held.keys()]
  }
  const at = position(held, id)
  if (held[at] === id) held.splice(at, 1)
  return held.length === 0 ? undefined : held.length === 1 ? held[0]! : held
}

/** One pair array for every iteration: each walk reads its pair before asking for the next. */
const reused: Array<Json | Holders> = []

/** Holds a string with a UTF-16 unit at or above 0xD800: native string comparison may then differ from code point order. */
const hasWideUnit = /[\ud800-\uffff]/

/**
 * A contiguous run of the index: from `from` (the first value at or after it; after it when `exclusive`),
 * while `within` holds. No `from` starts at the lowest value.
 */
export interface ValueRange {
  readonly from?: Json
  readonly exclusive: boolean
  readonly within: (value: Json) => boolean
}

const atOrAfter = (from: Json, within: (v: Json) => boolean): ValueRange => ({ from, exclusive: false, within })
const after = (from: Json, within: (v: Json) => boolean): ValueRange => ({ from, exclusive: true, within })

const isString = (v: Json): v is string => typeof v === "string"

const ofType = { number: (v: Json): v is number => typeof v === "number", string: isString } as const

/** Sorting puts null, then booleans, then numbers, then strings: where each type's run starts. */
const runStart = (type: "number" | "string", within: (v: Json) => boolean): ValueRange =>
  type === "number" ? after(true, within) : atOrAfter("", within)

/** Within a `Between` interval: of its type, and not past its high bound. */
const inBetween = (type: "number" | "string", high: IndexPlanner.Endpoint | undefined): ((v: Json) => boolean) => {
  const sameType = ofType[type]
  if (high === undefined) return sameType
  const { value, inclusive } = high
  return inclusive ? (v) => sameType(v) && Evaluator.compareJson(v, value) <= 0 : (v) => sameType(v) && Evaluator.compareJson(v, value) < 0
}

const valueRange = (interval: IndexPlanner.Interval): ValueRange => {
  switch (interval._tag) {
    case "Equal": {
      const value = interval.value
      return atOrAfter(value, (v) => Evaluator.compareJson(v, value) === 0)
    }
    case "NotNull":
      return after(null, () => true)
    case "Between": {
      const within = inBetween(interval.type, interval.high)
      const low = interval.low
      if (low === undefined) return runStart(interval.type, within)
      return low.inclusive ? atOrAfter(low.value, within) : after(low.value, within)
    }
    case "Prefix": {
      const prefix = interval.prefix
      return atOrAfter(prefix, (v) => isString(v) && v.startsWith(prefix))
    }
  }
}

/**
 * The ranges holding every document a predicate can match, or undefined when a sorted index cannot serve
 * it. An empty list means nothing can match.
 */
export const rangesFor = (op: Ast.Operator, arg: Json): ReadonlyArray<ValueRange> | undefined =>
  IndexPlanner.intervalsFor(op, arg)?.map(valueRange)

/** One distinct value of a sorted index and the documents holding it, by ascending id. */
export interface ValueRun {
  readonly value: Json
  readonly ids: Iterable<number>
}

/**
 * Values in the evaluator's order, each with its holders. Keying the tree by value (not by value and id)
 * makes a value shared by many documents (a `null`, a batch's `createdAt`) one entry, and costs no object
 * per indexed document.
 */
export class SortedIndex {
  private readonly tree: BTree<Json, Holders>
  /** Set once a string with a unit at or above 0xD800 is indexed; until then native comparison is exact. */
  private exactStrings = false

  constructor(readonly path: Path) {
    this.tree = new BTree<Json, Holders>(undefined, (x, y) => this.compare(x, y))
  }

  private compare(x: Json, y: Json): number {
    // The common cases first, without `compareJson`'s rank dispatch.
    if (typeof x === "number" && typeof y === "number") return x < y ? -1 : x > y ? 1 : 0
    if (typeof x === "string" && typeof y === "string") {
      if (x === y) return 0
      return this.exactStrings ? Evaluator.compareStrings(x, y) : x < y ? -1 : 1
    }
    return Evaluator.compareJson(x, y)
  }

  add(id: number, value: Json): void {
    this.noteWide(value)
    this.put(id, value)
  }

  /**
   * Adds many (id, value) entries, sorted by value first so that consecutive inserts walk the same path
   * down the tree; batches already in order (ids, timestamps) skip the sort.
   */
  addAll(ids: ReadonlyArray<number>, values: ReadonlyArray<Json>): void {
    let ordered = true
    for (let i = 0; i < values.length; i++) {
      this.noteWide(values[i]!)
      if (ordered && i > 0 && this.compare(values[i - 1]!, values[i]!) > 0) ordered = false
    }
    if (ordered) {
      for (let i = 0; i < values.length; i++) this.put(ids[i]!, values[i]!)
      return
    }
    const order = ids.map((_, i) => i)
    order.sort((a, b) => this.compare(values[a]!, values[b]!) || ids[a]! - ids[b]!)
    for (const i of order) this.put(ids[i]!, values[i]!)
  }

  /** Switches to exact string comparison before a value that needs it goes in: the values already in agree under both. */
  private noteWide(value: Json): void {
    if (!this.exactStrings && typeof value === "string" && hasWideUnit.test(value)) this.exactStrings = true
  }

  private put(id: number, value: Json): void {
    if (this.tree.set(value, id, false)) return
    const held = this.tree.get(value)!
    const next = withHolder(held, id)
    if (next !== held) this.tree.set(value, next)
  }

  remove(id: number, value: Json): void {
    const held = this.tree.get(value)
    if (held === undefined) return
    const next = withoutHolder(held, id)
    if (next === undefined) this.tree.delete(value)
    else if (next !== held) this.tree.set(value, next)
  }

  /**
   * Calls `f` with each value's holders in `range`, in order, until it returns false. A plain loop over
   * the tree's iterator: lookups run it per query over thousands of values, so no generator per level.
   */
  private forEachIn(range: ValueRange, f: (held: Holders) => boolean): void {
    let first = true
    for (const entry of this.tree.entries(range.from, reused)) {
      // Only the first entry can equal an exclusive start.
      if (first) {
        first = false
        if (range.exclusive && range.from !== undefined && this.compare(entry[0], range.from) === 0) continue
      }
      if (!range.within(entry[0]) || !f(entry[1])) return
    }
  }

  /** Appends the ids in `range` to `out`, stopping once it has added more than `cap`. */
  collect(range: ValueRange, out: Array<number>, cap = Infinity): void {
    const limit = out.length + cap
    this.forEachIn(range, (held) => {
      if (typeof held === "number") out.push(held)
      else for (const id of holderIds(held)) out.push(id)
      return out.length <= limit
    })
  }

  /**
   * Every value in the order of a query sorted on this path, in `direction`, each with its holders by
   * ascending id (the tie-break of every order). With `from`, starts at that value.
   */
  *walk(direction: Ast.Direction, from?: Json): Generator<ValueRun> {
    const entries = direction === "asc" ? this.tree.entries(from) : this.tree.entriesReversed(from)
    for (const [value, held] of entries) yield { value, ids: holderIds(held) }
  }
}
