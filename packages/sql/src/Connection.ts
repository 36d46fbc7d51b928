/**
 * What the generic SQL driver needs from an engine's client: run one statement with bound parameters, run a
 * body of statements in one transaction (all or none), take the schema lock, close. Each engine's store
 * (SQLite on better-sqlite3, PostgreSQL on pg) implements it; nothing here knows an engine.
 *
 * This interface may grow: re-read it after a change (members are only ever added).
 */
import { Data, type Effect } from "effect"

/** A bound value. Documents, JSON paths and order keys are bound as text; ids and numbers as numbers. */
export type Param = null | number | string

/** One result row, by column name (the driver names every column it selects with `AS`). */
export type Row = { readonly [column: string]: unknown }

/**
 * What the engine or its client threw, as it threw it, with the statement that failed. The driver asks the
 * `Dialect` what it means (`uniqueViolation`); a connection never interprets it.
 */
export class SqlError extends Data.TaggedError("SqlError")<{ readonly cause: unknown; readonly sql: string }> {}

/** Runs statements: the connection itself, or a transaction's session inside `transaction`. */
export interface Session {
  /**
   * Runs one statement with `params` bound to its placeholders (`Dialect.placeholder`) and returns its rows
   * (none for a statement that returns none). A value is never spliced into `sql`.
   */
  readonly query: (sql: string, params: ReadonlyArray<Param>) => Effect.Effect<ReadonlyArray<Row>, SqlError>
}

export interface TransactionOptions {
  /**
   * Also take the store's schema lock, held until the transaction ends, so two processes creating tables and
   * indexes at once take turns (SQLite: `BEGIN IMMEDIATE` already serialises writers; PostgreSQL: a
   * transaction-level advisory lock on a key fixed per schema).
   */
  readonly schema?: boolean | undefined
}

export interface Connection extends Session {
  /**
   * Runs `body` in one transaction on one session: committed when `body` succeeds, rolled back when it fails
   * (with its error, or a `SqlError` of the commit). Write transactions must not deadlock on upgrade: SQLite
   * begins them `IMMEDIATE`. A connection that is one handle (SQLite) serialises transactions and queries,
   * so no statement of another fiber runs inside `body`'s transaction; a pool (PostgreSQL) gives `body` a
   * client of its own. `body` runs only statements through the session it is given.
   */
  readonly transaction: <A, E>(
    body: (session: Session) => Effect.Effect<A, E>,
    options?: TransactionOptions
  ) => Effect.Effect<A, E | SqlError>
  /** Releases what the connection opened (never a client the user passed in). Never fails. */
  readonly close: () => Effect.Effect<void>
}
