/**
 * The SQL driver's `Connection` on a `pg.Pool`: each statement on any pooled client, each transaction on one
 * client of its own (`BEGIN` … `COMMIT`, rolled back on failure), the schema lock as a transaction-level
 * advisory lock. Every bound string is put in the text form PostgreSQL can hold and every string read back
 * is restored (`Postgres.encodeText`: U+0000 cannot cross otherwise).
 */
import type { Pool, PoolClient } from "pg"
import { Effect, Schedule } from "effect"
import { Connection, Postgres } from "@lineage/sql"

type Param = Connection.Param
type Row = Connection.Row

const encodeParams = (params: ReadonlyArray<Param>): Array<Param> => params.map((p) => (typeof p === "string" ? Postgres.encodeText(p) : p))

const decodeRow = (row: { readonly [column: string]: unknown }): Row => {
  const out: { [column: string]: unknown } = {}
  for (const [k, v] of Object.entries(row)) out[k] = typeof v === "string" ? Postgres.decodeText(v) : v
  return out
}

/**
 * One statement on a pool or a checked-out client, unnamed: the server parses and plans it anew each run and
 * keeps nothing of it in the session. A named prepared statement would live in a session that a transaction
 * pooler (PgBouncer) hands to other clients and that `DISCARD ALL` or `DEALLOCATE ALL` empties, and would hold
 * a plan per statement text (one per length of an `IN` list) in every server process.
 */
const query =
  (client: Pool | PoolClient) =>
  (sql: string, params: ReadonlyArray<Param>): Effect.Effect<ReadonlyArray<Row>, Connection.SqlError> =>
    Effect.tryPromise({
      try: async () => (await client.query(sql, encodeParams(params))).rows.map(decodeRow),
      catch: (cause) => new Connection.SqlError({ cause, sql })
    })

export interface PgConnectionOptions {
  readonly pool: Pool
  readonly schema: string
  /** Whether `close` ends the pool: only one the store opened. */
  readonly owned: boolean
}

/** A checked-out client, whether its connection must be dropped rather than reused, and its `error` listener. */
interface Checkout {
  readonly client: PoolClient
  broken: Error | undefined
  readonly onError: (e: Error) => void
}

/**
 * A checked-out client whose connection dies (a server restart, a fast shutdown) emits `error`, and an `error`
 * event nobody listens to ends the process (the pool listens only while the client is idle). The failure
 * reaches the running statement anyway, so the listener only marks the connection to be dropped.
 */
const checkout = (pool: Pool): Effect.Effect<Checkout, Connection.SqlError> =>
  Effect.tryPromise({
    try: async () => {
      const c: Checkout = { client: await pool.connect(), broken: undefined, onError: (e) => void (c.broken = e) }
      c.client.on("error", c.onError)
      return c
    },
    catch: (cause) => new Connection.SqlError({ cause, sql: "connect" })
  })

const release = (c: Checkout) =>
  Effect.sync(() => {
    c.client.removeListener("error", c.onError)
    c.client.release(c.broken)
  })

/**
 * Runs `body` between `BEGIN` and `COMMIT` on the checked-out client; any failure or interruption rolls back.
 * Read committed, named so a server or role defaulting to another level cannot turn every concurrent update
 * into a serialization failure: the driver locks each row it reads to update (`FOR UPDATE`), and a statement
 * blocked on another transaction's row sees that row as committed.
 */
const inTransaction = <A, E>(c: Checkout, schema: string, body: (session: Connection.Session) => Effect.Effect<A, E>, lock: boolean) => {
  const run = query(c.client)
  // A failed ROLLBACK means the connection is gone (the server aborts the transaction with it): drop it.
  const rollback = run("ROLLBACK", []).pipe(Effect.catch((e) => Effect.sync(() => void (c.broken = new Error(`ROLLBACK failed: ${String(e.cause)}`)))))
  return Effect.gen(function* () {
    yield* run("BEGIN ISOLATION LEVEL READ COMMITTED", [])
    if (lock) yield* run("SELECT pg_advisory_xact_lock($1::bigint)", [Postgres.lockKey(schema)])
    const out = yield* body({ query: run })
    yield* run("COMMIT", [])
    return out
  }).pipe(Effect.onError(() => rollback))
}

/**
 * A deadlock (40P01), as the body or the commit reported it: PostgreSQL rolled the transaction back to let
 * another go on (two batches locking rows in opposite orders), and it may run again.
 */
const isDeadlock = (e: unknown): boolean => {
  const code = (x: unknown) => String((x as { readonly code?: unknown } | null)?.code ?? "")
  const cause = (e as { readonly cause?: unknown } | null)?.cause
  return code(cause) === "40P01" || code((cause as { readonly cause?: unknown } | null)?.cause) === "40P01"
}

/** Runs of a transaction that keeps deadlocking, before its failure is reported (`Unavailable`, retryable). */
const maxRuns = 5
const rerun = Schedule.jittered(Schedule.spaced("5 millis"))

export const make = ({ pool, schema, owned }: PgConnectionOptions): Connection.Connection => ({
  query: query(pool),
  transaction: <A, E>(body: (session: Connection.Session) => Effect.Effect<A, E>, options?: Connection.TransactionOptions) =>
    Effect.acquireUseRelease(
      checkout(pool),
      (c) => inTransaction(c, schema, body, options?.schema === true),
      release
    ).pipe(Effect.retry({ while: isDeadlock, schedule: rerun, times: maxRuns - 1 })),
  close: () => (owned ? Effect.promise(() => pool.end().catch(() => undefined)) : Effect.void)
})
