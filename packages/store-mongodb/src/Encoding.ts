/**
 * How a driver document becomes a MongoDB document and back.
 *
 * A stored document is `{ _id: id, v: version, j: exact JSON text, o: { field: order key }, d: escaped copy }`:
 * - `j` gives the document back exactly (key order, `__proto__`-like keys, numbers as written);
 * - `o` holds, per top-level field that is not null, a string whose byte order (MongoDB's string order)
 *   is the reference evaluator's order over JSON values; equal strings mean JSON-equal values. Unique
 *   indexes, native sorts, keyset cursors and exact top-level filters all run on it;
 * - `d` is the document with every key escaped (no `.`, no `$`, never empty), so nested paths
 *   (`params.lr`, `featureValues.learning_rate`) can be queried and indexed natively with plain dotted paths;
 * - `v` counts updates: an update replaces the document only if `v` is unchanged (compare-and-set).
 */
import type { Driver } from "@lineage/core"

type Json = Driver.Json
type Doc = Driver.Doc

/**
 * `%`, `.`, `$` and NUL become `%XX`; the empty key becomes `%`; `__proto__` becomes `%5F_proto__`, since
 * servers and the JavaScript objects on the way treat that name specially (it would set a prototype, or be
 * refused in a filter). Reversible, and never an operator.
 */
export const escapeKey = (key: string): string =>
  key === "" ? "%" : key === "__proto__" ? "%5F_proto__" : key.replace(/[%.$\u0000]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)

export const unescapeKey = (key: string): string =>
  key === "%" ? "" : key.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))

/** A dotted MongoDB path for a driver path, each segment escaped. */
export const escapePath = (path: ReadonlyArray<string>): string => path.map(escapeKey).join(".")

/** A deep copy with escaped keys. Arrays stay arrays; scalars are unchanged. */
export const escapeValue = (v: Json): unknown => {
  if (v === null || typeof v !== "object") return v
  if (Array.isArray(v)) return v.map(escapeValue)
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v as { readonly [key: string]: Json })) out[escapeKey(k)] = escapeValue(x)
  return out
}

/**
 * Rewrites a string so that UTF-16 order, code point order and UTF-8 byte order agree: astral characters
 * (surrogate pairs) become U+FFFF + two BMP units, U+FFFF becomes U+FFFF U+0001. Without it a server (or an
 * emulator) comparing UTF-16 units would sort "🧬" before "\uFFFD". Concatenation is preserved, so a
 * prefix of a string maps to a prefix of its image. The image has no surrogates and no NUL it did not have.
 */
export const bmp = (s: string): string => {
  let out = ""
  for (const ch of s) {
    const cp = ch.codePointAt(0)!
    // A lone surrogate (possible in JS strings) gets its own escape, so the image stays one-to-one.
    if (cp >= 0xd800 && cp <= 0xdfff) out += `\uFFFF\u0002${String.fromCharCode(0x1000 + cp - 0xd800)}`
    else if (cp < 0xffff) out += ch
    else if (cp === 0xffff) out += "\uFFFF\u0001"
    else {
      const off = cp - 0x10000
      out += `\uFFFF${String.fromCharCode(0x1000 + (off >> 10))}${String.fromCharCode(0x1000 + (off & 0x3ff))}`
    }
  }
  return out
}

/** 16 hex digits whose string order is the numeric order of finite doubles (-0 is 0). */
const numberKey = (n: number): string => {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, n === 0 ? 0 : n)
  const hi = view.getUint32(0)
  const lo = view.getUint32(4)
  const negative = hi >>> 31 === 1
  const h = negative ? ~hi >>> 0 : (hi | 0x80000000) >>> 0
  const l = negative ? ~lo >>> 0 : lo
  return h.toString(16).padStart(8, "0") + l.toString(16).padStart(8, "0")
}

/** JSON text with object keys sorted (as the evaluator's `canonical`), strings through `bmp`. */
const canonicalText = (v: Json): string => {
  if (v === null || typeof v !== "object") return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map(canonicalText).join(",")}]`
  const obj = v as { readonly [key: string]: Json }
  return `{${Object.keys(obj)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalText(obj[k]!)}`)
    .join(",")}}`
}

/** Type ranks of the evaluator's order: null (stored as absent) < boolean < number < string < array < object. */
export const rank = { boolean: "1", number: "2", string: "3", array: "4", object: "5", end: "6" } as const

/**
 * The order key of a non-null value. `compareJson` orders arrays and objects by code-point order of their
 * canonical text; `bmp` keeps that order in bytes.
 */
export const orderKey = (v: Json): string | undefined => {
  if (v === null) return undefined
  switch (typeof v) {
    case "boolean":
      return rank.boolean + (v ? "1" : "0")
    case "number":
      return rank.number + numberKey(v)
    case "string":
      return rank.string + bmp(v)
    default:
      return (Array.isArray(v) ? rank.array : rank.object) + bmp(canonicalText(v))
  }
}

export interface Stored {
  readonly _id: number
  readonly v: number
  readonly j: string
  readonly o: Record<string, string>
  readonly d: unknown
}

/** The stored form of a document at version `v`. `id` lives in `_id` only. */
export const toStored = (doc: Doc, v: number): Stored => {
  const o: Record<string, string> = {}
  const d: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(doc)) {
    if (k === "id") continue
    const key = orderKey(x)
    if (key !== undefined) o[escapeKey(k)] = key
    d[escapeKey(k)] = escapeValue(x)
  }
  return { _id: doc["id"] as number, v, j: JSON.stringify(doc), o, d }
}

/** The document back, exactly as written. */
export const fromStored = (raw: { readonly j?: unknown }): Doc => {
  if (typeof raw.j !== "string") throw new Error("a stored document has no JSON text")
  return JSON.parse(raw.j) as Doc
}
