/**
 * The SQLite dialect (SQLite 3.45+, with its JSON functions). Paths become JSON path literals with every
 * segment quoted and escaped (`$."a\"b"."c"`), so any key is one key, never an array index. Two functions the
 * SQLite store registers on each connection make the `i…` operators and `regex` exact: `lineage_lower`
 * (JavaScript's `toLowerCase`) and `lineage_regex` (the evaluator's RE2 engine).
 */
import type { Ast } from "@lineage/core"
import type { Dialect, PathSql } from "./Dialect.js"
import { type Fragment, sql } from "./Sql.js"

/** The SQL functions a SQLite connection must provide, by name. */
export const functions = { lower: "lineage_lower", regex: "lineage_regex" } as const

/** Table names may hold any string; U+0000 (which ends SQLite's text) and `%` are escaped injectively. */
const identifier = (name: string): string => name.replace(/[%\u0000]/g, (c) => (c === "%" ? "%25" : "%00"))

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`

/** A SQL string literal. */
const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`

/** A JSON path literal: each segment a quoted key, escaped as JSON escapes it (`\u0000` included). */
const jsonPath = (path: Ast.Path): string => literal(`$${path.map((s) => `.${JSON.stringify(s)}`).join("")}`)

/**
 * Undefined for a key holding U+0000: SQLite's path parser ends a quoted key there (`$."\u0000"` reads as
 * `$.""`), so no path literal names it and the evaluator answers.
 */
const path = (doc: string, p: Ast.Path): PathSql | undefined => {
  if (p.some((s) => s.includes("\u0000"))) return undefined
  const at = jsonPath(p)
  const value = `json_extract(${doc}, ${at})`
  return {
    rank:
      `CASE json_type(${doc}, ${at}) WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 2 WHEN 'real' THEN 2 ` +
      `WHEN 'text' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 0 END`,
    number: value,
    string: value,
    json: `(${doc} -> ${at})`,
    // Within one rank `json_extract` orders as the evaluator: false (0) < true (1), numbers, strings by bytes
    // (BINARY collation: UTF-8 order is code point order), arrays and objects by their canonical text.
    sortKey: [value]
  }
}

/** Byte-wise, so U+0000 inside strings counts (`length` of text stops at it). */
const bytes = (f: Fragment): Fragment => sql`CAST(${f} AS BLOB)`

export const dialect: Dialect = {
  name: "sqlite",
  placeholder: () => "?",
  quote,
  table: (kind, name) => quote(identifier(kind === "data" ? `t:${name}` : `lineage:${name}`)),
  // JSON text has no U+0000 (it escapes it), so it is an identifier as it is.
  indexName: (parts) => JSON.stringify(parts),
  idType: "INTEGER",
  docType: "TEXT",
  path,
  lockRow: "",
  greatest: (a, b) => sql`max(${a}, ${b})`,
  contains: (text, needle) => sql`instr(${bytes(text)}, ${bytes(needle)}) > 0`,
  startsWith: (text, prefix) => sql`substr(${bytes(text)}, 1, length(${bytes(prefix)})) = ${bytes(prefix)}`,
  endsWith: (text, suffix) =>
    sql`(length(${bytes(suffix)}) = 0 OR substr(${bytes(text)}, -length(${bytes(suffix)})) = ${bytes(suffix)})`,
  lower: (text) => sql`${functions.lower}(${text})`,
  regex: (text, pattern) => sql`${functions.regex}(${text}, ${pattern}) = 1`,
  // `->` gives a sub-value's JSON text as the canonical document holds it, in BINARY (byte) order.
  jsonTextRanges: true,
  indexedBy: (index) => ` INDEXED BY ${quote(index)}`,
  uniqueViolation: (cause) => {
    const e = cause as { readonly code?: unknown; readonly message?: unknown }
    if (e?.code !== "SQLITE_CONSTRAINT_UNIQUE" && e?.code !== "SQLITE_CONSTRAINT_PRIMARYKEY") return undefined
    const message = String(e.message)
    const index = /^UNIQUE constraint failed: index '(.*)'$/s.exec(message)
    return index === null ? "primary" : { index: index[1]! }
  },
  // Another process holds the lock past the busy timeout, or the disk failed or filled: it may pass later.
  transient: (cause) =>
    /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM)/.test(String((cause as { readonly code?: unknown } | null)?.code ?? "")),
  missingTable: (cause) => cause instanceof Error && /^no such table: /.test(cause.message)
}
