/**
 * The SQL driver's `Connection` on a `pg.Pool`: each statement on any pooled client, each transaction on one
 * client of its own (`BEGIN` … `COMMIT`, rolled back on failure), the schema lock as a transaction-level
 * advisory lock. Every bound string is put in the text form PostgreSQL can hold and every string read back
 * is restored (`Postgres.encodeText`: U+0000 cannot cross otherwise).
 */
import { createHash } from "node:crypto"
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

/** The most statement texts a handle runs as named prepared statements (each kept by every client that runs it). */
export const maxPrepared = 64

/**
 * The name to prepare a statement text under, or undefined to run it unnamed. PostgreSQL plans an unnamed
 * statement anew each time, and planning one over a table whose indexes are large expressions costs more
 * than running it (copying and matching every index's expressions: ~1 ms for a lookup by key); a named one is
 * parsed once per client and, after a few runs, reuses a generic plan. A text is named on its second run, so
 * one-off statements (schema changes, unusual `IN` lists) take no place; at most `maxPrepared` texts are (and
 * 16 times as many remembered as seen once), so the memory each client's plans hold on the server stays
 * bounded. Only plannable statements are named.
 */
const naming = () => {
  const seen = new Set<string>()
  const names = new Map<string, string>()
  return (sql: string): string | undefined => {
    const name = names.get(sql)
    if (name !== undefined || names.size >= maxPrepared || !/^(SELECT|INSERT|UPDATE|DELETE) /.test(sql)) return name
    if (!seen.has(sql)) {
      if (seen.size < 16 * maxPrepared) seen.add(sql)
      return undefined
    }
    const made = `lineage_${createHash("sha256").update(sql).digest("hex").slice(0, 40)}`
    names.set(sql, made)
    return made
  }
}

type Naming = ReturnType<typeof naming>

/** One statement on a pool or a checked-out client. */
const query =
  (client: Pool | PoolClient, name: Naming) =>
  (sql: string, params: ReadonlyArray<Param>): Effect.Effect<ReadonlyArray<Row>, Connection.SqlError> =>
    Effect.tryPromise({
      try: async () => (await client.query({ name: name(sql), text: sql, values: encodeParams(params) })).rows.map(decodeRow),
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
const inTransaction = <A, E>(c: Checkout, schema: string, name: Naming, body: (session: Connection.Session) => Effect.Effect<A, E>, lock: boolean) => {
  const run = query(c.client, name)
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

export const make = ({ pool, schema, owned }: PgConnectionOptions): Connection.Connection => {
  const name = naming()
  return {
    query: query(pool, name),
    transaction: <A, E>(body: (session: Connection.Session) => Effect.Effect<A, E>, options?: Connection.TransactionOptions) =>
      Effect.acquireUseRelease(
        checkout(pool),
        (c) => inTransaction(c, schema, name, body, options?.schema === true),
        release
      ).pipe(Effect.retry({ while: isDeadlock, schedule: rerun, times: maxRuns - 1 })),
    close: () => (owned ? Effect.promise(() => pool.end().catch(() => undefined)) : Effect.void)
  }
}
