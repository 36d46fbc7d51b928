/**
 * The query language's keyword form written as text, as a command line or a query box takes it:
 * `status=errored transform__key__startswith=train learning_rate__gt=0.01 name="two words"`. Each term is
 * `key=value`; all terms are ANDed. The text becomes the keyword filter `QuerySet.filter` takes, so the query
 * language checks keys, operators and values as it checks any filter: this module only reads the text and
 * types each value. Keys are split and operators recognised by the query language's own functions
 * (`Query.segments`, `Query.asOperator`, `Query.lookupName`), so the text means what the same key means in an
 * object filter.
 *
 * A value is typed by what its key names. A field of the registry gets its declared type: numbers, `true` /
 * `false`, dates and times in ISO 8601 (UTC when no offset is written), and the bare word `null` (which the
 * query language reads as `isnull`). A feature, a param or any path inside a JSON field takes the literal's own
 * form: a number, `true` / `false`, `null`, else a string; a quoted value there is always a string. `__in`,
 * `__notIn` and `__range` take comma-separated values or a JSON array, each element typed as a scalar is (a
 * JSON string as a quoted value); `__isnull` takes `true` or `false`; string operators (`__contains`,
 * `__startswith`, `__regex`, …) take the text as it is.
 *
 * Refused here, as `InvalidQuery` naming the term: text that is not `key=value` terms, more terms than a query
 * may hold values (`maxQueryValues`), a number JavaScript cannot hold exactly (an integer past
 * `Number.MAX_SAFE_INTEGER`, a magnitude that rounds to infinity or to 0), and for a date or time field a text
 * that is not ISO 8601 or names a date or time that does not exist (2024-02-30, 25:00). Any other text that
 * does not fit a field's type (`id=abc`, `isLatest=maybe`) is passed on as a string, so the query language's
 * own error names the field and what it expected.
 */
import { Effect } from "effect"
import * as Ast from "./Ast.js"
import { InvalidQuery } from "./Errors.js"
import { cutName, maxQueryValues } from "./Limits.js"
import { featureValues, type FieldDef, type Model } from "./Model.js"
import { asOperator, type Expression, lookupName, Q, type QueryInput, segments } from "./Query.js"
import { modelOf } from "./Records.js"

/** One `key=value` term: the whole term as written (for errors), its key and value, and whether the value was quoted. */
interface Term {
  readonly text: string
  readonly key: string
  readonly value: string
  readonly quoted: boolean
}

/** A failure found while reading the text: the message names the term. */
class Refusal {
  constructor(
    readonly field: string,
    readonly term: string,
    readonly expected: string
  ) {}
}

/** A key as an error names it: escaped (so control characters and lone surrogates stay visible) and bounded. */
const shownKey = (key: string): string => cutName(JSON.stringify(key.slice(0, 1_000)).slice(1, -1))

const expectedTerm = 'a term key=value (quote a value with spaces: name="two words")'

/** Terms one text may hold: each is at least one value of the query, which holds at most `maxQueryValues`. */
const maxTerms = maxQueryValues

const tooMany = (term: string) =>
  new Refusal("(filter)", term, `at most ${maxTerms.toLocaleString("en-US")} terms (each is a value of the query)`)

// ---------------------------------------------------------------------------------------------------------
// Reading terms

/**
 * A double-quoted string is a JSON string (backslash escapes); a single-quoted one is taken literally. Returns
 * the text and the index after the closing quote.
 */
const quotedAt = (text: string, start: number, term: () => string): { readonly value: string; readonly end: number } => {
  const quote = text[start]!
  let i = start + 1
  while (i < text.length && text[i] !== quote) i += quote === '"' && text[i] === "\\" ? 2 : 1
  if (i >= text.length) throw new Refusal("(filter)", term(), `a closing ${quote} quote`)
  const raw = text.slice(start, i + 1)
  if (quote === "'") return { value: raw.slice(1, -1), end: i + 1 }
  try {
    return { value: JSON.parse(raw) as string, end: i + 1 }
  } catch {
    throw new Refusal("(filter)", term(), 'a double-quoted value with JSON escapes (\\", \\\\, \\n, \\u00e9)')
  }
}

const isQuote = (c: string | undefined): boolean => c === '"' || c === "'"

/** Sticky patterns: each matches at `lastIndex` only, so a scan costs one pass over the text. */
const spaces = /\s*/y
const bareKey = /[^\s=]*/y
const bareValue = /\S*/y

/** The end of what `pattern` matches at `from` in `text`. */
const scan = (pattern: RegExp, text: string, from: number): number => {
  pattern.lastIndex = from
  pattern.exec(text)
  return pattern.lastIndex
}

/** A key or a value at `start`: quoted (to its closing quote) or bare (to `bare`'s end). */
const tokenAt = (line: string, start: number, bare: RegExp, term: () => string) => {
  if (!isQuote(line[start])) {
    const end = scan(bare, line, start)
    return { value: line.slice(start, end), end, quoted: false }
  }
  return { ...quotedAt(line, start, term), quoted: true }
}

/** The term at `start` (not whitespace): its key, `=`, its value; a closing quote must end the term. */
const termAt = (line: string, start: number): Term => {
  const sofar = () => line.slice(start, Math.min(line.length, start + 300)).split(/\s/, 1)[0]!
  const key = tokenAt(line, start, bareKey, sofar)
  if (line[key.end] !== "=") throw new Refusal(shownKey(key.value), sofar(), expectedTerm)
  const value = tokenAt(line, key.end + 1, bareValue, sofar)
  if (value.quoted && value.end < line.length && scan(spaces, line, value.end) === value.end)
    throw new Refusal(shownKey(key.value), line.slice(start, value.end + 1), "whitespace after a closing quote")
  return { text: line.slice(start, value.end), key: key.value, value: value.value, quoted: value.quoted }
}

/**
 * The terms of one line: separated by whitespace; a key or a value that starts with a quote runs to its
 * closing quote, which must end it. A quote elsewhere (`name=it's`) is an ordinary character.
 */
const lineTerms = (line: string): ReadonlyArray<Term> => {
  const terms: Array<Term> = []
  for (let i = scan(spaces, line, 0); i < line.length; i = scan(spaces, line, i)) {
    const term = termAt(line, i)
    if (terms.length === maxTerms) throw tooMany(term.text.slice(0, 300))
    terms.push(term)
    i += term.text.length
  }
  return terms
}

/**
 * One term as a shell passes it (quotes already removed by the shell): split at the first `=`; a value
 * still wholly in quotes (`name='"42"'` in the shell) is quoted.
 */
const argTerm = (arg: string): Term => {
  const eq = arg.indexOf("=")
  if (eq < 0) throw new Refusal(shownKey(arg), arg, expectedTerm)
  const key = arg.slice(0, eq)
  const raw = arg.slice(eq + 1)
  const wrapped = raw.length >= 2 && isQuote(raw[0]) && raw.at(-1) === raw[0]
  if (!wrapped) return { text: arg, key, value: raw, quoted: false }
  const q = quotedAt(raw, 0, () => arg)
  if (q.end !== raw.length) return { text: arg, key, value: raw, quoted: false }
  return { text: arg, key, value: q.value, quoted: true }
}

/** Terms as a shell passes them, one per argument (see `argTerm`). */
const argTerms = (args: ReadonlyArray<string>): ReadonlyArray<Term> => {
  if (args.length > maxTerms) throw tooMany(String(args[maxTerms]).slice(0, 300))
  return args.map(argTerm)
}

// ---------------------------------------------------------------------------------------------------------
// What a key names

/**
 * What a key's value is typed by: a declared field, a related record's id, or the literal's own form (a
 * feature, a param, a path inside JSON, or a key the query language will refuse with its own message).
 */
type Target = { readonly _tag: "field"; readonly def: FieldDef } | { readonly _tag: "id" } | { readonly _tag: "literal" }

interface Lookup {
  readonly target: Target
  readonly op: Ast.Operator
}

const literal: Target = { _tag: "literal" }

/** The operator a key ends with (`eq` without one) and what it compares, following relations as the query language does. */
const lookup = (root: Model, key: string): Lookup => {
  const segs = segments(key)
  const last = segs.length > 1 ? asOperator(segs.at(-1)!) : undefined
  const op = last ?? "eq"
  let model = root
  for (let i = 0; i < segs.length; i++) {
    const rest = segs.length - i - 1
    const name = lookupName(model, segs[i]!)
    if (name === undefined) return { target: literal, op }
    const relation = model.relations[name]
    if (relation !== undefined) {
      const target = modelOf(relation.to)
      if (rest === 0) return { target: { _tag: "id" }, op }
      if (rest === 1 && last !== undefined && lookupName(target, segs[i + 1]!) === undefined) return { target: { _tag: "id" }, op }
      model = target
      continue
    }
    const def = model.fields[name]!
    if (def.kind === "json" || name === featureValues) return { target: literal, op }
    return { target: { _tag: "field", def }, op: rest === 0 ? "eq" : op }
  }
  return { target: literal, op }
}

// ---------------------------------------------------------------------------------------------------------
// Values

const numberPattern = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

const expectedNumber =
  `a number JavaScript holds exactly (an integer of at most ${Number.MAX_SAFE_INTEGER}, no magnitude that rounds to ` +
  "infinity or to 0); quote it to compare it as text"

/** A numeric literal's value, refused when JavaScript cannot hold it: too large an integer, infinity, or underflow to 0. */
const checkedNumber = (text: string, key: string, term: string): number => {
  const n = Number(text)
  const integral = /^[+-]?\d+$/.test(text)
  const underflows = n === 0 && /[1-9]/.test(text.split(/[eE]/, 1)[0]!)
  if (!Number.isFinite(n) || (integral && !Number.isSafeInteger(n)) || underflows) throw new Refusal(shownKey(key), term, expectedNumber)
  return n
}

/** A numeric literal as a number (see `checkedNumber`); undefined for other text. */
const numberOf = (text: string, key: string, term: string): number | undefined =>
  numberPattern.test(text) ? checkedNumber(text, key, term) : undefined

/** JSON number tokens: digits appear nowhere else in JSON once its strings are set aside. */
const jsonNumber = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g
const jsonString = /"(?:[^"\\]|\\.)*"/g

/** Checks every number of a JSON text as `checkedNumber` checks a literal: `JSON.parse` would round it silently. */
const checkJsonNumbers = (json: string, key: string, term: string): void => {
  for (const token of json.replace(jsonString, '""').match(jsonNumber) ?? []) checkedNumber(token, key, term)
}

/** Date and time fields as written: year, month, day, then optional hour, minute, second, fraction and offset. */
const isoPattern = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-](\d{2}):?(\d{2}))?)?$/i

const expectedDate = "an ISO 8601 date or time (2024-05-01, 2024-05-01T12:00:00Z; UTC without an offset)"
const expectedRealDate =
  "a date that exists, in ISO 8601 (month 01-12, a day of that month, hour 00-23, minute and second 00-59, an offset up to 23:59)"

/** Days in `month` (1-12) of `year`, leap years counted. */
const daysIn = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate()

/** Whether the fields a date pattern matched name a date and time that exist (JavaScript rolls 02-30 over to March). */
const exists = (m: RegExpExecArray): boolean => {
  const [year, month, day, hour, minute, second, , offsetHours, offsetMinutes] = m.slice(1).map((f) => (f === undefined ? 0 : Number(f)))
  const within = (v: number | undefined, low: number, high: number) => v !== undefined && v >= low && v <= high
  return (
    within(month, 1, 12) &&
    within(day, 1, daysIn(year!, month!)) &&
    within(hour, 0, 23) &&
    within(minute, 0, 59) &&
    within(second, 0, 59) &&
    within(offsetHours, 0, 23) &&
    within(offsetMinutes, 0, 59)
  )
}

/** An ISO 8601 date or time that exists; a time without an offset is UTC (a date alone is UTC in JavaScript already). */
const dateOf = (text: string, key: string, term: string): Date => {
  const m = isoPattern.exec(text)
  if (m === null) throw new Refusal(shownKey(key), term, expectedDate)
  if (!exists(m)) throw new Refusal(shownKey(key), term, expectedRealDate)
  const zone = m[7]
  const base = (zone === undefined ? text : text.slice(0, -zone.length)).replace(" ", "T")
  // `+0200` as `+02:00`, which every JavaScript engine parses.
  const offset = zone === undefined ? (text.length > 10 ? "Z" : "") : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone
  return new Date(`${base}${offset}`)
}

/** The literal's own form: number, true/false, null, else the text; quoted, always the text. */
const literalOf = (text: string, quoted: boolean, key: string, term: string): unknown => {
  if (quoted) return text
  if (text === "null") return null
  if (text === "true") return true
  if (text === "false") return false
  return numberOf(text, key, term) ?? text
}

/** One operand for `target`; text that does not fit a field's type stays text for the query language to refuse. */
const scalarOf = (target: Target, op: Ast.Operator, text: string, quoted: boolean, key: string, term: string): unknown => {
  if (Ast.stringOperators.has(op)) return text
  if (target._tag === "literal") return literalOf(text, quoted, key, term)
  if (text === "null" && !quoted) return null
  const kind = target._tag === "id" ? "ref" : target.def.kind
  switch (kind) {
    case "int":
    case "float":
    case "ref":
      return numberOf(text, key, term) ?? text
    case "bool":
      return text === "true" ? true : text === "false" ? false : text
    case "datetime":
      return dateOf(text, key, term)
    default:
      return text
  }
}

const expectedList = "a JSON array ([1, 2]) or comma-separated values (1,2)"

/**
 * A JSON array, its numbers checked and its strings typed as quoted scalars (a date field's strings become
 * dates, as in the comma form); other elements as JSON has them.
 */
const jsonListOf = (target: Target, text: string, key: string, term: string): unknown => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new Refusal(shownKey(key), term, expectedList)
  }
  checkJsonNumbers(text, key, term)
  return Array.isArray(parsed) ? parsed.map((item: unknown) => (typeof item === "string" ? scalarOf(target, "eq", item, true, key, term) : item)) : parsed
}

/** `a,b,c` (each typed as a scalar) or a JSON array (see `jsonListOf`). */
const listOf = (target: Target, text: string, quoted: boolean, key: string, term: string): unknown => {
  if (text.trimStart().startsWith("[")) return jsonListOf(target, text, key, term)
  if (text === "") return []
  return text.split(",").map((item) => scalarOf(target, "eq", item.trim(), quoted, key, term))
}

const valueOf = (root: Model, term: Term): unknown => {
  const { target, op } = lookup(root, term.key)
  switch (op) {
    case "isNull":
      return term.value === "true" ? true : term.value === "false" ? false : term.value
    case "in":
    case "notIn":
    case "range":
      return listOf(target, term.value, term.quoted, term.key, term.text)
    default:
      return scalarOf(target, op, term.value, term.quoted, term.key, term.text)
  }
}

// ---------------------------------------------------------------------------------------------------------

/**
 * A keyword filter from terms: one object, or (when a key repeats, as `tag__contains=a tag__contains=b`) an AND
 * of one per term. Keys are defined as own properties, so `__proto__` is a key like any other.
 */
const filterOf = (root: Model, terms: ReadonlyArray<Term>): QueryInput => {
  const filter: { [key: string]: unknown } = {}
  for (const term of terms) {
    if (Object.hasOwn(filter, term.key)) return Q.and(...terms.map((t) => keyword(t.key, valueOf(root, t))))
    Object.defineProperty(filter, term.key, { value: valueOf(root, term), enumerable: true, writable: true, configurable: true })
  }
  return filter
}

const keyword = (key: string, value: unknown): Expression => Object.fromEntries([[key, value]]) as Expression

/**
 * Parses filter text for `model`'s registry: argv-style terms (one `key=value` each, as a shell passes them)
 * or one line of whitespace-separated terms (quotes group a key or value with spaces). The result goes to
 * `QuerySet.filter` (or `Registry.filter`), which validates it; an empty text matches everything.
 */
export const parse = (model: Model, terms: string | ReadonlyArray<string>): Effect.Effect<QueryInput, InvalidQuery> =>
  Effect.suspend(() => {
    try {
      const read = typeof terms === "string" ? lineTerms(terms) : argTerms(terms)
      return Effect.succeed(filterOf(model, read))
    } catch (e) {
      if (!(e instanceof Refusal)) throw e
      return Effect.fail(new InvalidQuery({ registry: model.name, field: e.field, value: e.term, expected: e.expected }))
    }
  })
