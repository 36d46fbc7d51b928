/**
 * What differs per SQL engine, as pieces of SQL text the compiler and the generic driver assemble. Every piece
 * built from a user string (a table name, a path segment, a constraint name) is an identifier or a JSON path
 * literal the dialect escapes; values are never spliced in: they are bound parameters (`placeholder`).
 *
 * This interface may grow: re-read it after a change (members are only ever added).
 *
 * The storage layout every dialect serves (see `Layout`): one SQL table per declared table,
 * `(id <idType> PRIMARY KEY, doc <docType> NOT NULL)`, `doc` holding the document's canonical JSON text
 * (`Evaluator.canonical`: keys sorted, numbers as `JSON.stringify` writes them), so a sub-value's JSON text is
 * its canonical text and equal values have equal text.
 */
import type { Ast } from "@lineage/core"
import type { Fragment } from "./Sql.js"

/**
 * SQL expressions over one JSON path of the `doc` column. Ranks are the evaluator's type order: 0 null or
 * missing, 1 boolean, 2 number, 3 string, 4 array, 5 object. Within one rank, the expression named for that
 * type orders its values exactly as `Evaluator.compareJson` does.
 */
export interface PathSql {
  /** The value's rank, an integer 0–5. */
  readonly rank: string
  /** The value as a number, meaningful when `rank` is 2 (compared with a bound number). */
  readonly number: string
  /** The value as text ordered by code point (byte order of UTF-8), meaningful when `rank` is 3. */
  readonly string: string
  /**
   * The value's canonical JSON text (`true`, `[1,"a"]`, `{"a":1}`), meaningful when `rank` is 1, 4 or 5,
   * compared by code point; NULL when the path is missing or null. Unique keys are built on it.
   */
  readonly json: string
  /**
   * What to `ORDER BY` after `rank` so rows of one rank come in the evaluator's order (SQLite: the one
   * `json_extract`; PostgreSQL: number, string, json). An index on `[rank, ...sortKey]` serves equality,
   * ranges and order on the path, so the compiler always filters with these same expressions.
   */
  readonly sortKey: ReadonlyArray<string>
}

export interface Dialect {
  /** For messages: `sqlite`, `postgres`. */
  readonly name: string
  /** The placeholder of the `n`-th bound parameter, from 1: `?` (SQLite), `$n` (PostgreSQL). */
  readonly placeholder: (n: number) => string
  /** An identifier quoted so any string without U+0000 (quotes, dots, spaces) is one identifier. */
  readonly quote: (identifier: string) => string
  /**
   * The SQL name of the store's table for a driver table or a bookkeeping table (`kind` "data" or "meta"),
   * quoted and, where the engine has schemas, qualified. One-to-one: two different names never collide.
   */
  readonly table: (kind: "data" | "meta", name: string) => string
  /**
   * The name of an index, unquoted (the driver quotes it): `parts` (kind, table, constraint or path) identify
   * it, and two different `parts` lists give different names (an engine with a length limit hashes them). The
   * driver records the name it made, so it can tell which constraint a violation names.
   */
  readonly indexName: (parts: ReadonlyArray<string>) => string
  /** The SQL type of the `id` column (a 64-bit integer). */
  readonly idType: string
  /** The SQL type of the `doc` column; it must hold U+0000 in strings (PostgreSQL's `jsonb` cannot). */
  readonly docType: string
  /** The expressions over `path` inside the `doc` column named `doc`; undefined when the engine cannot address it (then the evaluator answers). */
  readonly path: (doc: string, path: Ast.Path) => PathSql | undefined
  /**
   * What ends a `SELECT` of a row the transaction then writes, so no other transaction changes the row in
   * between (a compare-and-set holds): ` FOR UPDATE` in PostgreSQL; empty in SQLite, whose write transactions
   * (`BEGIN IMMEDIATE`) run one at a time.
   */
  readonly lockRow: string
  /** The greater of two integers: `max(a, b)` in SQLite, `GREATEST(a, b)` in PostgreSQL. */
  readonly greatest: (a: Fragment, b: Fragment) => Fragment
  /**
   * Whether the string `text` contains the string `needle` (exact, by code point, U+0000 included). The
   * string operators take and give `Fragment`s: a dialect may use an argument twice (`Sql.render` binds its
   * value twice).
   */
  readonly contains: (text: Fragment, needle: Fragment) => Fragment
  /** Whether the string `text` starts with the string `prefix` (exact). */
  readonly startsWith: (text: Fragment, prefix: Fragment) => Fragment
  /** Whether the string `text` ends with the string `suffix` (exact). */
  readonly endsWith: (text: Fragment, suffix: Fragment) => Fragment
  /**
   * `text` lower-cased exactly as JavaScript's `toLowerCase` does, or undefined when the engine has no such
   * function (then the `i…` operators are answered by the evaluator over the strings the engine finds).
   */
  readonly lower: ((text: Fragment) => Fragment) | undefined
  /**
   * Whether `text` matches the RE2 `pattern` exactly as `Evaluator` matches it (unanchored, by code point),
   * or undefined when the engine cannot (then the evaluator answers `regex`).
   */
  readonly regex: ((text: Fragment, pattern: Fragment) => Fragment) | undefined
  /**
   * Whether a path's `json` expression gives a string's `JSON.stringify` text, compared byte-wise: then a
   * string prefix is also a range of that text, which a unique index (on `json`) serves.
   */
  readonly jsonTextRanges?: boolean | undefined
  /**
   * The text after a table name that makes the engine read it through the named index (SQLite `INDEXED BY`,
   * the name quoted here), for an engine whose planner has no statistics to see that a broad filter's page in
   * an indexed order is cheapest along that order's index; undefined: the planner chooses.
   */
  readonly indexedBy?: ((index: string) => string) | undefined
  /**
   * For an engine that gathers planner statistics only when told or in the background: the statements that
   * ask whether the data table `table` (as `table("data", …)` names it) has none (one row when it has none)
   * and gather them, skipping (not waiting for) a table another transaction locks. Undefined: the engine or
   * the store's connection sees to statistics.
   */
  readonly statistics?: ((table: string) => { readonly missing: string; readonly gather: string }) | undefined
  /**
   * What a unique violation thrown by the engine names: the index (as `indexName` made it, unquoted), or
   * "primary" for the `id` primary key; undefined when `cause` is no unique violation.
   */
  readonly uniqueViolation: (cause: unknown) => { readonly index: string } | "primary" | undefined
  /**
   * Whether a failure the engine or its client threw may pass when the request is sent again (the server is
   * unreachable, restarting or out of connections, a lock wait timed out, the transaction lost a serialization
   * race): the driver reports it `Unavailable`, the retryable reason. Any other failure is `Invalid`.
   */
  readonly transient: (cause: unknown) => boolean
  /** Whether a failure says the statement named a table that does not exist (PostgreSQL 42P01, SQLite "no such table"). */
  readonly missingTable: (cause: unknown) => boolean
}
