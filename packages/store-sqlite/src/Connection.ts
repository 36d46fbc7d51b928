/**
 * The SQL `Connection` on one better-sqlite3 handle: WAL (readers never wait for the writer, several processes
 * share the file), a busy timeout (a writer waits for another process's write instead of failing), every write
 * transaction `BEGIN IMMEDIATE` (it takes the write lock first, so two processes never deadlock upgrading a
 * read to a write). better-sqlite3 is synchronous, so one semaphore serialises this handle's transactions and
 * queries: no statement of another fiber runs inside a transaction.
 */
import { closeSync, mkdirSync, openSync } from "node:fs"
import { dirname } from "node:path"
import Database from "better-sqlite3"
import { Evaluator, StoreError } from "@lineage/core"
import { Connection as Sql, Sqlite } from "@lineage/sql"
import { Effect, Semaphore } from "effect"

/** Prepared statements kept per handle, by text: preparing costs more than running a small statement. */
const cachedStatements = 256

/**
 * Rows written by a handle between two `PRAGMA optimize`s. SQLite's planner weighs indexes by the statistics
 * `ANALYZE` gathers; without them it guesses every equality equally selective, and reads a million runs
 * through an index every run shares (`branchId`) rather than through a transform's. `optimize` analyzes only
 * the tables whose size changed manyfold since (each index sampled, `analysis_limit`): milliseconds.
 */
export const rowsBetweenOptimize = 10_000

export interface OpenOptions {
  /** A file path, or `:memory:` for a database that lives as long as the handle. */
  readonly filename: string
  /** How long a statement waits for another process's write lock before failing `unavailable`. */
  readonly busyTimeoutMs: number
}

export const memory = ":memory:"

/**
 * Creates the file, if missing, readable by its owner only (0600), and the directories it creates 0700: the
 * file holds every record. SQLite gives its `-wal` and `-shm` files the database file's permissions.
 */
const createPrivate = (filename: string): void => {
  mkdirSync(dirname(filename), { recursive: true, mode: 0o700 })
  closeSync(openSync(filename, "a", 0o600))
}

/** Opens the database, creating the file and its parent directories; a path that cannot be opened fails typed. */
export const open = (options: OpenOptions): Effect.Effect<Database.Database, StoreError> =>
  Effect.try({
    try: () => {
      if (options.filename !== memory) createPrivate(options.filename)
      const db = new Database(options.filename, { timeout: options.busyTimeoutMs })
      try {
        configure(db, options.filename !== memory)
      } catch (e) {
        db.close()
        throw e
      }
      return db
    },
    catch: (e) => StoreError.unavailable(`cannot open the SQLite database ${JSON.stringify(options.filename)}: ${e instanceof Error ? e.message : String(e)}`, e)
  })

const configure = (db: Database.Database, file: boolean) => {
  if (file) db.pragma("journal_mode = WAL")
  // With WAL, NORMAL loses no committed transaction when a process dies (only on power loss, the last ones).
  db.pragma("synchronous = NORMAL")
  // Statistics from a sample of each index, for tables that lack them or have grown since (see `rowsBetweenOptimize`).
  db.pragma("analysis_limit = 1000")
  db.pragma("optimize = 0x10002")
  db.function(Sqlite.functions.lower, { deterministic: true }, (text: unknown) => (typeof text === "string" ? text.toLowerCase() : null))
  db.function(Sqlite.functions.regex, { deterministic: true }, (text: unknown, pattern: unknown) =>
    typeof text === "string" && typeof pattern === "string" && Evaluator.compileRegex(pattern).test(text) ? 1 : 0
  )
}

/** The connection on an open handle; `close` closes it only when `owned`. */
export const fromDatabase = (db: Database.Database, owned: boolean): Sql.Connection => {
  const lock = Semaphore.makeUnsafe(1)
  const statements = new Map<string, Database.Statement>()
  const prepare = (text: string): Database.Statement => {
    let st = statements.get(text)
    if (st === undefined) {
      st = db.prepare(text)
      if (statements.size >= cachedStatements) statements.clear()
      statements.set(text, st)
    }
    return st
  }
  const raw = (text: string, params: ReadonlyArray<Sql.Param>): ReadonlyArray<Sql.Row> => {
    const st = prepare(text)
    if (st.reader) return st.all(...params) as ReadonlyArray<Sql.Row>
    st.run(...params)
    return []
  }
  const query = (text: string, params: ReadonlyArray<Sql.Param>) =>
    Effect.try({ try: () => raw(text, params), catch: (cause) => new Sql.SqlError({ cause, sql: text }) })
  const session: Sql.Session = { query }
  const control = (text: string) => query(text, [])
  const changes = db.prepare("SELECT total_changes() AS n").pluck()
  let optimizedAt = 0
  /** After a commit: the planner's statistics, once the handle wrote `rowsBetweenOptimize` rows since the last. */
  const optimize = Effect.try({
    try: () => {
      const written = changes.get() as number
      if (written - optimizedAt < rowsBetweenOptimize) return
      optimizedAt = written
      db.pragma("optimize")
    },
    // Statistics only guide the planner: a failure to gather them fails no write.
    catch: () => undefined
  })

  return {
    query: (text, params) => lock.withPermits(1)(query(text, params)),
    transaction: (body) =>
      lock.withPermits(1)(
        Effect.acquireUseRelease(
          control("BEGIN IMMEDIATE"),
          () => Effect.flatMap(body(session), (a) => Effect.as(Effect.andThen(control("COMMIT"), Effect.ignore(optimize)), a)),
          (_, exit) => (exit._tag === "Success" || !db.inTransaction ? Effect.void : Effect.ignore(control("ROLLBACK")))
        )
      ),
    close: () =>
      Effect.sync(() => {
        if (owned && db.open) db.close()
      })
  }
}
