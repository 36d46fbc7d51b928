/**
 * Index entries as bytes whose order is the reference evaluator's order. Every index is one sorted set with
 * all scores 0, read with ZRANGEBYLEX; a member is `value \0 id`:
 *
 * - `value` is a type rank (`0` null, `1` boolean, `2` number, `3` string, `4` array, `5` object: the order
 *   of `Evaluator.compareJson`) and an order-preserving payload: a number as the 16 hex digits of its IEEE
 *   754 bits, sign-folded so byte order is numeric order; a string as its UTF-8 bytes (byte order is code
 *   point order, the evaluator's string order); arrays and objects as their canonical JSON text.
 * - payload bytes 0x00 and 0x01 are escaped (`01 01`, `01 02`), so `\0` ends the value and a value sorts
 *   before every longer value it prefixes: `startsWith` is one contiguous range.
 * - `id` is 14 hex digits of `id + 2^53`: fixed width, so equal values come out by ascending id.
 *
 * So one structure serves equality (`eq`, `in`, `isNull`), ranges on numbers and on strings (ISO dates are
 * strings), prefixes and ordered walks, and the value of an entry is exact: two values share a `value`
 * part exactly when `Evaluator.equalJson` holds (strings are assumed well-formed UTF-16: no lone surrogates).
 */
import { Evaluator, IndexPlanner } from "@lineage/core"
import type { Ast } from "@lineage/core"

type Json = Ast.Json

const escapeBytes = (s: string): string => s.replace(/\u0001/g, "\u0001\u0002").replace(/\u0000/g, "\u0001\u0001")

const view = new DataView(new ArrayBuffer(8))

/** 16 hex digits whose byte order is the numeric order of finite doubles; -0 reads as 0, as JSON does. */
export const numberKey = (x: number): string => {
  view.setFloat64(0, x === 0 ? 0 : x)
  let hi = view.getUint32(0)
  let lo = view.getUint32(4)
  if ((hi & 0x80000000) !== 0) {
    hi = ~hi >>> 0
    lo = ~lo >>> 0
  } else hi = (hi | 0x80000000) >>> 0
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0")
}

/** The `value` part of an index member. */
export const valueKey = (v: Json): string => {
  if (v === null) return "0"
  switch (typeof v) {
    case "boolean":
      return v ? "11" : "10"
    case "number":
      return `2${numberKey(v)}`
    case "string":
      return `3${escapeBytes(v)}`
    default:
      return `${Array.isArray(v) ? "4" : "5"}${escapeBytes(Evaluator.canonical(v))}`
  }
}

const idOffset = 2n ** 53n
const idWidth = 14

export const idKey = (id: number): string =>
  // 2^53 is hex 2 followed by 13 zeros, so an id in [0, 2^52) only needs its own 13 digits behind a "2".
  id >= 0 && id < 2 ** 52 ? `2${id.toString(16).padStart(idWidth - 1, "0")}` : (BigInt(id) + idOffset).toString(16).padStart(idWidth, "0")

/** An index member from the value and the id's `idKey` (worked out once per document, not per index). */
export const memberOf = (value: Json, idPart: string): string => `${valueKey(value)}\u0000${idPart}`

export const member = (value: Json, id: number): string => memberOf(value, idKey(id))

export const idOfMember = (m: string): number => Number(BigInt(`0x${m.slice(-idWidth)}`) - idOffset)

/** The `value` part of a member: members with equal value parts hold equal values. */
export const valueOfMember = (m: string): string => m.slice(0, -(idWidth + 1))

/** A ZRANGEBYLEX bound: `[x` inclusive, `(x` exclusive, `-`/`+` the ends. */
export type Bound = string | Buffer

export interface LexRange {
  readonly min: Bound
  readonly max: Bound
}

/** Every member holding `v` lies in [lo, hi). */
const lo = (v: Json) => `${valueKey(v)}\u0000`
const hi = (v: Json) => `${valueKey(v)}\u0001`

/** The range of the members whose value part is `key`. */
const keyRange = (key: string): LexRange => ({ min: `[${key}\u0000`, max: `(${key}\u0001` })

/** The part of the index each type occupies: ranks are single characters. */
const typeRun = { number: { first: "[2", end: "(3" }, string: { first: "[3", end: "(4" } } as const

/** Every member after null's: the type ranks above 0. */
const notNull: LexRange = { min: "[1", max: "+" }

const lowBound = (type: "number" | "string", low: IndexPlanner.Endpoint | undefined): Bound =>
  low === undefined ? typeRun[type].first : `[${low.inclusive ? lo(low.value) : hi(low.value)}`

const highBound = (type: "number" | "string", high: IndexPlanner.Endpoint | undefined): Bound =>
  high === undefined ? typeRun[type].end : `(${high.inclusive ? hi(high.value) : lo(high.value)}`

const prefixRange = (prefix: string): LexRange => {
  const head = `3${escapeBytes(prefix)}`
  // 0xFF never occurs in UTF-8, so it bounds every string that starts with `prefix`.
  return { min: `[${head}`, max: Buffer.concat([Buffer.from(`(${head}`), Buffer.from([0xff])]) }
}

const lexRange = (interval: IndexPlanner.Interval): LexRange => {
  switch (interval._tag) {
    case "Equal":
      return keyRange(valueKey(interval.value))
    case "NotNull":
      return notNull
    case "Between":
      return { min: lowBound(interval.type, interval.low), max: highBound(interval.type, interval.high) }
    case "Prefix":
      return prefixRange(interval.prefix)
  }
}

/**
 * The ranges of an index holding exactly the documents a predicate matches, or undefined when an index
 * cannot answer it. An empty list means nothing can match.
 */
export const rangesFor = (op: Ast.Operator, arg: Json): ReadonlyArray<LexRange> | undefined =>
  IndexPlanner.intervalsFor(op, arg)?.map(lexRange)

/** Where an ordered walk resumes for a cursor whose first key holds `v`: the whole run of `v` included. */
export const walkStart = (direction: Ast.Direction, v: Json): Bound => (direction === "asc" ? `[${lo(v)}` : `(${hi(v)}`)
