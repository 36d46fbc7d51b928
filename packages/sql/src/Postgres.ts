/**
 * The PostgreSQL dialect (PostgreSQL 12+): every table in one schema, `doc` as `text` (canonical JSON), paths
 * read through `jsonb`, strings compared and ordered `COLLATE "C"` (byte order of UTF-8, which is code point
 * order, as the evaluator; the database's own collation would order by language rules).
 *
 * PostgreSQL text cannot hold U+0000, and neither can `jsonb`, whose input refuses the JSON escape `\u0000`.
 * So strings cross the boundary in a form without it, which the store's connection applies to every bound
 * string and undoes in every string it reads (`encodeText`, `decodeText`): U+0000 becomes U+0001 U+0001 and
 * U+0001 becomes U+0001 U+0002. It is one-to-one and keeps code point order (as the escapes of a byte-string
 * key do); the documents, being JSON text, hold neither character and pass unchanged. The path expressions
 * apply the same change to the JSON escapes of `doc` before reading it (`jsonSafe`), so a string read from a
 * document and a bound string are in the same form, and equality, order and prefixes hold exactly.
 *
 * What is exact: every operator but the `i…` ones and `regex`. PostgreSQL's `lower` is not JavaScript's
 * `toLowerCase` (under `COLLATE "C"` it folds ASCII only; under the database's locale it depends on the
 * platform's tables and never maps one character to two as `İ` → `i̇`), and its regular expressions are not
 * RE2 (`\b` is a backspace, classes and `(?i)` follow the locale), so for those the compiler keeps every
 * string at the path as a candidate and the evaluator decides.
 *
 * Wanted from `Dialect` (worked around here): a way to say a string operator's SQL is a superset for one
 * argument (`contains` and `endsWith` of a needle that starts with U+0000, U+0001 or U+0002 may match inside
 * an encoded character: they use a slower regular expression for those needles instead), and a superset form
 * of `lower` (for an ASCII argument, `lower(text COLLATE "C")` with `İ` and `K` (Kelvin) mapped first is a
 * superset of JavaScript's matches, so an index could serve `iexact`).
 */
import { createHash } from "node:crypto"
import type { Ast } from "@lineage/core"
import type { Dialect, PathSql } from "./Dialect.js"
import { type Fragment, sql } from "./Sql.js"

// --- the text form ----------------------------------------------------------------------------------------

/** A string as PostgreSQL text holds it: U+0000 → U+0001 U+0001, U+0001 → U+0001 U+0002. */
export const encodeText = (s: string): string =>
  s.includes("\u0000") || s.includes("\u0001") ? s.replace(/[\u0000\u0001]/g, (c) => (c === "\u0000" ? "\u0001\u0001" : "\u0001\u0002")) : s

/** The string `encodeText` made; text that never went through it (no U+0001) comes back as it is. */
export const decodeText = (s: string): string =>
  s.includes("\u0001") ? s.replace(/\u0001([\u0001\u0002])/g, (_, c: string) => (c === "\u0001" ? "\u0000" : "\u0001")) : s

/**
 * `encodeText` applied to JSON text, in SQL: the escapes `\u0000` and `\u0001` become the escapes of their
 * encoded pairs. An escaped backslash (`\\`) is set aside first (as U+0001, which JSON text never holds raw),
 * so the `\u0000` of a string like `a\u0000` written out (`"a\\u0000"`) is left alone. Only documents that
 * hold one of these escapes pay for it. The literals are escape strings (`E'…'`), which read the same whatever
 * `standard_conforming_strings` a server, database or role sets.
 */
const jsonSafe = (doc: string): string =>
  `(CASE WHEN strpos(${doc}, E'\\\\u000') = 0 THEN ${doc} ELSE ` +
  `replace(replace(replace(replace(${doc}, E'\\\\\\\\', chr(1)), E'\\\\u0001', E'\\\\u0001\\\\u0002'), E'\\\\u0000', E'\\\\u0001\\\\u0001'), chr(1), E'\\\\\\\\') END)`

/** The inverse of `jsonSafe`, for a sub-value's JSON text: back to the document's canonical text. */
const jsonRestored = (text: string): string =>
  `replace(replace(replace(replace(${text}, E'\\\\\\\\', chr(1)), E'\\\\u0001\\\\u0001', E'\\\\u0000'), E'\\\\u0001\\\\u0002', E'\\\\u0001'), chr(1), E'\\\\\\\\')`

// --- names ------------------------------------------------------------------------------------------------

/** PostgreSQL cuts identifiers at 63 bytes: a longer name would silently become another's. */
const maxIdentifierBytes = 63

const digest = (text: string, hexChars: number): string => createHash("sha256").update(text).digest("hex").slice(0, hexChars)

/**
 * Any string as identifier text: `%`, U+0000 (which no identifier holds) and `#` (which starts the hashed form of
 * a long table name, `tableName`) escaped, one-to-one. PostgreSQL's 63-byte limit applies to this text.
 */
export const identifier = (name: string): string =>
  name.replace(/[%#\u0000]/g, (c) => (c === "%" ? "%25" : c === "#" ? "%23" : "%00"))

const quote = (name: string): string => `"${identifier(name).replace(/"/g, '""')}"`

/** A table's name in the schema: readable when it fits, else its prefix, `#` (no readable name holds one) and a digest of the whole name. */
const tableName = (prefix: string, name: string): string => {
  const full = `${prefix}${identifier(name)}`
  return Buffer.byteLength(full) <= maxIdentifierBytes ? full : `${prefix}#${digest(name, 40)}`
}

/** Index names are digests of their parts: fixed length, one-to-one for every practical purpose. */
const indexPrefix = "lineage_"
const indexName = (parts: ReadonlyArray<string>): string => `${indexPrefix}${digest(JSON.stringify(parts), 40)}`
const indexNamePattern = new RegExp(`^${indexPrefix}[0-9a-f]{40}$`)

// --- paths ------------------------------------------------------------------------------------------------

/** A SQL string literal (standard conforming strings: only `'` is special). */
const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`

/** A `text[]` path literal; each key encoded as `jsonb` holds keys (see `encodeText`), quoted as an array element. */
const pathLiteral = (path: Ast.Path): string =>
  `${literal(`{${path.map((s) => `"${encodeText(s).replace(/["\\]/g, (c) => `\\${c}`)}"`).join(",")}}`)}::text[]`

/**
 * The evaluator reads a path through objects only: `["tags", "0"]` is missing on an array, where `#>` would
 * index it. So every proper prefix must be an object; the whole document is one.
 */
const throughObjects = (jb: string, path: Ast.Path): string =>
  path
    .slice(1)
    .map((_, i) => `jsonb_typeof(${jb} #> ${pathLiteral(path.slice(0, i + 1))}) = 'object'`)
    .join(" AND ")

const path = (doc: string, p: Ast.Path): PathSql => {
  const jb = `(${jsonSafe(doc)})::jsonb`
  const guard = throughObjects(jb, p)
  const at = `${jb} #> ${pathLiteral(p)}`
  const value = guard === "" ? `(${at})` : `(CASE WHEN ${guard} THEN ${at} END)`
  const type = `jsonb_typeof(${value})`
  // Any value as its text in `doc`, which is canonical (jsonb's own text orders keys shortest first and writes
  // numbers its way): unique keys and equality of booleans, arrays and objects use it.
  const text = jsonRestored(`((${jsonSafe(doc)})::json #> ${pathLiteral(p)})::text`)
  const number = `(CASE WHEN ${type} = 'number' THEN (${value})::float8 END)`
  const string = `(CASE WHEN ${type} = 'string' THEN ${value} #>> '{}' END COLLATE "C")`
  const json = `(CASE WHEN ${type} <> 'null' THEN ${text} END COLLATE "C")`
  return {
    rank: `(CASE ${type} WHEN 'boolean' THEN 1 WHEN 'number' THEN 2 WHEN 'string' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 0 END)`,
    number,
    string,
    json,
    sortKey: [number, string, json]
  }
}

// --- string tests -----------------------------------------------------------------------------------------

/**
 * `needle` found in `text` where an encoded character starts: after an even run of U+0001 (each U+0001 starts
 * a pair). Needed only when the encoded needle starts with U+0001 or U+0002, which could match the second
 * half of a pair; every other character of the needle is escaped so the pattern reads it literally.
 */
const alignedMatch = (text: Fragment, needle: Fragment, anchor: string): Fragment =>
  sql`${text} ~ ('(^|[^' || chr(1) || '])(' || chr(1) || chr(1) || ')*' || regexp_replace(${needle}, '([^[:alnum:]])', '\\\\\\1', 'g') || ${literal(anchor)})`

/** Whether an encoded needle may begin inside a pair: it starts with U+0001 or U+0002. */
const mayMisalign = (needle: Fragment): Fragment => sql`(${needle} <> '' AND ascii(${needle}) <= 2)`

// --- failures ---------------------------------------------------------------------------------------------

/** A server error's SQLSTATE, or a socket error's code. */
const codeOf = (cause: unknown): string => String((cause as { readonly code?: unknown } | null)?.code ?? "")

/**
 * SQLSTATE codes and classes meaning "not now": connection exceptions (08), insufficient resources (53), a
 * shutdown, crash or start-up (57P01–57P03), a serialization failure or deadlock (40001, 40P01: the
 * transaction was rolled back), a lock wait past `lock_timeout` (55P03). Then what the socket says when the
 * server is gone, or the resolver cannot answer now (EAI_AGAIN); a host name that does not exist (ENOTFOUND)
 * is a mistake no retry mends. Every other failure (bad input 22xxx, a refused statement 42xxx, a read-only
 * server 25006) is not transient.
 */
export const isTransient = (cause: unknown): boolean => {
  const code = codeOf(cause)
  if (/^(08|53)|^57P0[123]$|^40001$|^40P01$|^55P03$/.test(code)) return true
  if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/.test(code)) return true
  if (cause instanceof AggregateError) return cause.errors.some(isTransient)
  const message = cause instanceof Error ? cause.message : ""
  return /Connection terminated|connection timeout|timeout expired|not queryable|Client was closed/i.test(message)
}

/** The dialect for the store whose tables live in `schema` (any name: it is quoted). */
export const dialect = (schema: string): Dialect => ({
  name: "postgres",
  placeholder: (n) => `$${n}`,
  quote,
  table: (kind, name) => `${quote(schema)}.${quote(tableName(kind === "data" ? "t:" : "lineage:", name))}`,
  indexName,
  idType: "bigint",
  docType: "text",
  path,
  lockRow: " FOR UPDATE",
  greatest: (a, b) => sql`GREATEST(${a}, ${b})`,
  contains: (text, needle) => sql`(CASE WHEN ${mayMisalign(needle)} THEN ${alignedMatch(text, needle, "")} ELSE strpos(${text}, ${needle}) > 0 END)`,
  startsWith: (text, prefix) => sql`left(${text}, length(${prefix})) = ${prefix}`,
  endsWith: (text, suffix) =>
    sql`(CASE WHEN ${mayMisalign(suffix)} THEN ${alignedMatch(text, suffix, "$")} ELSE right(${text}, length(${suffix})) = ${suffix} END)`,
  lower: undefined,
  regex: undefined,
  // `json` is the value's text in the canonical document (a string's is `JSON.stringify`'s), restored from the
  // `jsonSafe` form and compared `COLLATE "C"`: a uid prefix is a range of the unique index on `uid`.
  jsonTextRanges: true,
  // A table never analyzed has `reltuples` -1 (PostgreSQL 14+; an empty `CREATE INDEX` leaves it so).
  // `SKIP_LOCKED`: a table another transaction holds a conflicting lock on (VACUUM, ANALYZE, CREATE INDEX) is
  // skipped, with a warning, rather than waited for.
  statistics: (table) => ({
    missing: `SELECT 1 AS missing FROM pg_class WHERE oid = ${literal(table)}::regclass AND reltuples < 0`,
    gather: `ANALYZE (SKIP_LOCKED) ${table}`
  }),
  uniqueViolation: (cause) => {
    if (codeOf(cause) !== "23505") return undefined
    const constraint = (cause as { readonly constraint?: unknown }).constraint
    return typeof constraint === "string" && indexNamePattern.test(constraint) ? { index: constraint } : "primary"
  },
  transient: isTransient,
  missingTable: (cause) => codeOf(cause) === "42P01"
})

/**
 * The key of the schema lock (`pg_advisory_xact_lock`): 64 bits of a digest of the schema's name, as the
 * decimal text of a signed `bigint`, so stores in different schemas of one database do not wait on each other.
 */
export const lockKey = (schema: string): string => createHash("sha256").update(`lineage:${schema}`).digest().readBigInt64BE(0).toString()
