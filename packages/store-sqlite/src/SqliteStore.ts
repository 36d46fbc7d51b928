/**
 * The SQLite store: `@lineage/sql`'s driver with the SQLite dialect on better-sqlite3. One database file holds
 * every table (see the package README for the layout); several processes share it through WAL, a busy timeout
 * and immediate write transactions.
 */
import type BetterSqlite3 from "better-sqlite3"
import { Config, Effect, Layer, Redacted } from "effect"
import { Driver, Store, StoreError } from "@lineage/core"
import { Sqlite, SqlDriver } from "@lineage/sql"
import { fromDatabase, memory, open } from "./Connection.js"

export interface SqliteStoreOptions {
  /** A file path (created with its parent directories on first use), or `:memory:`. */
  readonly filename: string
  /** How long a write waits for another process's write lock before failing `unavailable`; 5000 ms unless given. */
  readonly busyTimeoutMs?: number | undefined
}

export interface SqliteDriver extends Driver.Driver {
  /** The database file (or `:memory:`). */
  readonly filename: string
}

export const defaultBusyTimeoutMs = 5_000

/** The SQL functions that make `regex` and the `i…` operators exact are registered on every handle. */
export const nativeOperators = SqlDriver.nativeOperators(Sqlite.dialect)

const build = (db: BetterSqlite3.Database, filename: string, owned: boolean): SqliteDriver => ({
  ...SqlDriver.make({ name: "sqlite", dialect: Sqlite.dialect, connection: fromDatabase(db, owned) }),
  filename
})

/** Opens (creating) the database; the driver's `close` closes it. */
export const make = (options: SqliteStoreOptions): Effect.Effect<SqliteDriver, StoreError> =>
  Effect.gen(function* () {
    if (typeof options.filename !== "string" || options.filename === "")
      return yield* Effect.fail(StoreError.invalid(`a SQLite store needs a filename (a path or ":memory:"), got ${JSON.stringify(options.filename)}`))
    const busyTimeoutMs = options.busyTimeoutMs ?? defaultBusyTimeoutMs
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0)
      return yield* Effect.fail(StoreError.invalid(`busyTimeoutMs must be a non-negative integer of milliseconds, got ${String(busyTimeoutMs)}`))
    const db = yield* open({ filename: options.filename, busyTimeoutMs })
    return build(db, options.filename, true)
  })


const urlOptionNames = ["busyTimeoutMs"] as const

/**
 * A store URL's options: `sqlite:./path.db` (relative to the working directory), `sqlite:/abs/path.db`,
 * `sqlite::memory:`, with an optional `?busyTimeoutMs=…`. The path is percent-decoded, so `%3F`, `%23` and
 * `%25` write `?`, `#` and `%`. Refusals show the URL without its query, and of the query only option names.
 */
export const parseUrl = (url: string): SqliteStoreOptions | { readonly refused: string } => {
  const shown = Driver.urlWithoutQuery(url)
  if (!url.startsWith("sqlite:")) return { refused: `not a sqlite: URL: ${shown}` }
  const rest = url.slice("sqlite:".length)
  const cut = rest.indexOf("?")
  const path = cut < 0 ? rest : rest.slice(0, cut)
  const forms = "sqlite:./relative/path.db, sqlite:/abs/path.db or sqlite::memory:"
  if (path === "") return { refused: `a sqlite: URL needs a path (${forms}), got ${shown}` }
  if (path.startsWith("//")) return { refused: `a sqlite: URL names no host: write ${forms}, got ${shown}` }
  if (path.startsWith("~"))
    return { refused: `a sqlite: URL's path is not expanded: write the home directory out (sqlite:/home/me/x.db), got ${shown}` }
  if (rest.includes("#")) return { refused: `a sqlite: URL has no fragment: write "#" in a path as %23, got ${shown}` }
  const filename = Driver.decodeUrlPart(path)
  if (filename === undefined) return { refused: `a sqlite: URL's path has a malformed %-escape (write "%" as %25), got ${shown}` }
  const taken = Driver.onlyUrlOptions(new URLSearchParams(cut < 0 ? "" : rest.slice(cut + 1)), urlOptionNames)
  if ("refused" in taken) return taken
  const timeout = taken.options.get("busyTimeoutMs")
  if (timeout !== undefined && !/^\d{1,9}$/.test(timeout))
    return { refused: `option "busyTimeoutMs" must be a whole number of milliseconds (at most 9 digits)` }
  return { filename, busyTimeoutMs: timeout === undefined ? undefined : Number(timeout) }
}

/** A driver for a `sqlite:` URL (see `parseUrl`). */
export const fromUrl = (url: string | Redacted.Redacted<string>): Effect.Effect<SqliteDriver, StoreError> =>
  Effect.suspend(() => {
    const parsed = parseUrl(Driver.urlText(url))
    return "refused" in parsed ? Effect.fail(StoreError.invalid(parsed.refused)) : make(parsed)
  })

/** The `Store` service on a SQLite database the layer opens and closes. */
export const layer = (options: SqliteStoreOptions): Layer.Layer<Store.Store, StoreError> => Store.layer(make(options))

/** The `Store` service from configuration, e.g. `layerConfig({ filename: Config.String("LINEAGE_SQLITE") })`. */
export const layerConfig = (config: Config.Wrap<SqliteStoreOptions>): Layer.Layer<Store.Store, StoreError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.unwrap(config), layer))

export { memory }
