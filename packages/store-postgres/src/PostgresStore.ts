/**
 * The PostgreSQL store: the SQL driver of `@lineage/sql` with the PostgreSQL dialect, on a `pg.Pool` the
 * store opens (and ends on `close`) or one the caller owns. Every table lives in one schema, created when
 * missing under the schema lock. See the package README for the layout, the locking and what is exact.
 */
import pg from "pg"
import { Config, Effect, Layer, Redacted } from "effect"
import { type Driver, Store, StoreError } from "@lineage/core"
import { Postgres, SqlDriver } from "@lineage/sql"
import { failure } from "./Failures.js"
import { type PostgresStoreOptions, type Resolved, resolve, secretsOf } from "./Options.js"
import * as PgConnection from "./PgConnection.js"

export interface PostgresDriver extends Driver.Driver {
  readonly pool: pg.Pool
  /** The schema holding the store's tables. */
  readonly schema: string
  /** Drops the schema with every table of the store. For tests and teardown. */
  readonly drop: () => Effect.Effect<void, StoreError>
}

/** How long a new connection may take before a request fails as `Unavailable`, unless the URL or options say. */
export const defaultConnectTimeoutMs = 10_000

/**
 * A pool for `r`. An idle client whose server goes away (a restart, a failover, an idle timeout) emits
 * `error` on the pool, and an `error` event nobody listens to ends the process: the pool has already dropped
 * that client and connects afresh on the next request, which reports its own failure if the server is still
 * gone, so the event itself is ignored.
 */
const openPool = (r: Resolved): pg.Pool => {
  const pool = new pg.Pool({
    connectionTimeoutMillis: defaultConnectTimeoutMs,
    application_name: "lineage",
    ...r.pool,
    ...(r.password === undefined ? {} : { password: Redacted.value(r.password) })
  })
  pool.on("error", () => undefined)
  return pool
}

/** Creates the schema if missing, under the schema lock: `CREATE SCHEMA IF NOT EXISTS` alone races. */
const prepare = (pool: pg.Pool, schema: string, r: Resolved): Effect.Effect<void, StoreError> => {
  const secrets = secretsOf(r)
  const connection = PgConnection.make({ pool, schema, owned: false })
  const quoted = Postgres.dialect(schema).quote(schema)
  return connection
    .transaction((s) => s.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`, []), { schema: true })
    .pipe(Effect.mapError((e) => failure(`opening schema ${JSON.stringify(schema)}`, e.cause, r.description, secrets)))
}

/** The driver on `pool`, with its schema created when missing. */
const assemble = (pool: pg.Pool, owned: boolean, r: Resolved): Effect.Effect<PostgresDriver, StoreError> =>
  Effect.gen(function* () {
    yield* prepare(pool, r.schema, r)
    const connection = PgConnection.make({ pool, schema: r.schema, owned })
    const dialect = Postgres.dialect(r.schema)
    const secrets = secretsOf(r).flatMap((s) => (s === undefined ? [] : [Redacted.isRedacted(s) ? Redacted.value(s) : s]))
    const driver = SqlDriver.make({ name: "postgres", dialect, connection, secrets })
    const drop = () =>
      connection
        .query(`DROP SCHEMA IF EXISTS ${dialect.quote(r.schema)} CASCADE`, [])
        .pipe(Effect.mapError((e) => failure("drop", e.cause, r.description, secretsOf(r))))
    return { ...driver, pool, schema: r.schema, drop }
  }).pipe(Effect.tapError(() => (owned ? Effect.promise(() => pool.end().catch(() => undefined)) : Effect.void)))

/**
 * The store on a pool the caller passes (`pool`, never ended by `close`), or on one it opens from `url` and
 * the other options (ended by `close`). Fails with `Unavailable` when the server cannot be reached, `Invalid`
 * when it refuses the login or the database does not exist; no message holds the password.
 */
export const makeDriver = (options: PostgresStoreOptions & { readonly pool?: pg.Pool | undefined } = {}): Effect.Effect<PostgresDriver, StoreError> =>
  Effect.gen(function* () {
    const r = yield* resolve(options)
    return options.pool === undefined ? yield* assemble(openPool(r), true, r) : yield* assemble(options.pool, false, r)
  })

/** `makeDriver({ ...options, url })`; with one argument, what `Lineage.connect("postgres://…")` calls. */
export const fromUrl = (url: string | Redacted.Redacted<string>, options: Omit<PostgresStoreOptions, "url"> = {}): Effect.Effect<PostgresDriver, StoreError> =>
  makeDriver({ ...options, url })

/** The `Store` service on a PostgreSQL driver the layer opens and closes. */
export const layer = (options: PostgresStoreOptions & { readonly pool?: pg.Pool | undefined } = {}): Layer.Layer<Store.Store, StoreError> =>
  Store.layer(makeDriver(options))

/**
 * The `Store` service from configuration, e.g.
 * `layerConfig({ url: Config.Redacted("DATABASE_URL"), schema: Config.String("LINEAGE_SCHEMA") })`.
 */
export const layerConfig = (config: Config.Wrap<PostgresStoreOptions>): Layer.Layer<Store.Store, StoreError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.unwrap(config), layer))
