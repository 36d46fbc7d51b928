/**
 * Where the store lives: a URL (`postgres://user:pass@host:5432/db?schema=name`, `postgresql://` alike) or
 * options, turned into the settings of a `pg.Pool`. The password is held as `Redacted` until the pool is made,
 * and the pool is given discrete fields, never the URL, so no message of the client can quote it.
 */
import type { PoolConfig } from "pg"
import { Effect, Redacted } from "effect"
import { Driver, StoreError } from "@lineage/core"
import { Postgres } from "@lineage/sql"

export interface PostgresStoreOptions {
  /**
   * `postgres://[user[:password]@]host[:port][/database][?options]` or `postgresql://…`. Options: `schema`
   * (lineage's own), and `sslmode` (`disable`, `require`, `verify-ca`, `verify-full`: `allow` and `prefer` are
   * refused), `application_name`, `connect_timeout` (seconds) and `host` (a Unix socket directory), read as libpq
   * reads them, and `connection_limit` (the most connections the store's pool opens; `pg`'s default is 10). Any
   * other is refused, so a misspelling cannot go unnoticed. The host may be percent-encoded.
   */
  readonly url?: string | Redacted.Redacted<string> | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly user?: string | undefined
  readonly password?: string | Redacted.Redacted<string> | undefined
  readonly database?: string | undefined
  /** The PostgreSQL schema holding the store's tables, created when missing: `lineage` unless given. */
  readonly schema?: string | undefined
  /** Passed to `pg.Pool` as they are (`max`, `idleTimeoutMillis`, `ssl`, …), over what the URL says. */
  readonly poolOptions?: Omit<PoolConfig, "connectionString" | "password"> | undefined
}

/** A parsed URL: the connection fields, the schema when `?schema=` gives one, and the pool settings it implies. */
export interface ParsedUrl {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly user?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly database?: string | undefined
  readonly schema?: string | undefined
  readonly pool: Omit<PoolConfig, "connectionString" | "password" | "host" | "port" | "user" | "database">
}

/** What `makeDriver` connects with: the pool's settings, the secret apart, and how errors name the server. */
export interface Resolved {
  readonly pool: Omit<PoolConfig, "password">
  readonly password?: Redacted.Redacted<string> | undefined
  readonly schema: string
  /** `postgres://host:port/database`, without credentials: what messages name. */
  readonly description: string
}

export const defaultSchema = "lineage"

/** The options a URL's query may carry: lineage's `schema`, then those passed on to the client. */
export const urlOptions: ReadonlyArray<string> = ["schema", "sslmode", "application_name", "connect_timeout", "host", "connection_limit"]

/** The most connections `connection_limit` may ask of one pool: more than any PostgreSQL server's default allows. */
const maxConnectionLimit = 10_000

export const redactUrl = Driver.redactUrl

/** A refused URL, shown without its password or its query's values (see `Driver.urlWithoutQuery`). */
const invalid = (url: string, why: string) => StoreError.invalid(`invalid PostgreSQL URL ${Driver.urlWithoutQuery(url)}: ${why}`)

/** PostgreSQL truncates identifiers past 63 bytes (NAMEDATALEN - 1): two long names would become one. */
const maxIdentifierBytes = 63

/** Why `name` cannot be a schema of the store, or undefined. Any other name is used quoted, as it is. */
export const invalidSchema = (name: string): string | undefined => {
  if (name === "") return "the schema name is empty"
  if (name.includes("\u0000")) return `schema ${JSON.stringify(name)} holds U+0000, which PostgreSQL names cannot`
  // Measured as the database names it (`%` and `#` escaped to three bytes each), or PostgreSQL would cut it.
  const bytes = Buffer.byteLength(Postgres.identifier(name))
  if (bytes > maxIdentifierBytes)
    return `schema ${JSON.stringify(name)} has ${bytes} bytes of UTF-8 (with % and # as 3 each); PostgreSQL names hold at most ${maxIdentifierBytes}`
  if (name.toLowerCase().startsWith("pg_")) return `schema ${JSON.stringify(name)} starts with "pg_", which PostgreSQL reserves for its own`
  return undefined
}

/**
 * The `sslmode`s whose meaning `pg` can give as libpq does: off, encrypted without checking the certificate,
 * the certificate checked against the trusted CAs but not the host name (`verify-ca`), or both. `allow` and
 * `prefer` (try one, fall back to the other) have no `pg` equivalent, so they are refused rather than read as
 * another mode.
 */
const sslModes: ReadonlyMap<string, PoolConfig["ssl"]> = new Map<string, PoolConfig["ssl"]>([
  ["disable", false],
  ["require", { rejectUnauthorized: false }],
  ["verify-ca", { rejectUnauthorized: true, checkServerIdentity: () => undefined }],
  ["verify-full", true]
])

/** The client settings of a URL's query; a refusal names the option, and its value only when it is not secret. */
const clientSettings = (options: ReadonlyMap<string, string>): ParsedUrl["pool"] | { readonly refused: string } => {
  const settings: { -readonly [K in keyof ParsedUrl["pool"]]: ParsedUrl["pool"][K] } = {}
  const sslmode = options.get("sslmode")
  if (sslmode !== undefined) {
    if (!sslModes.has(sslmode)) return { refused: `sslmode ${JSON.stringify(sslmode)} is not one of ${[...sslModes.keys()].join(", ")}` }
    settings.ssl = sslModes.get(sslmode)
  }
  const timeout = options.get("connect_timeout")
  if (timeout !== undefined) {
    if (!/^\d{1,6}$/.test(timeout)) return { refused: `connect_timeout ${JSON.stringify(timeout)} is not a number of seconds` }
    // libpq reads 0 as "wait forever", and so does pg.
    settings.connectionTimeoutMillis = Number(timeout) * 1000
  }
  const name = options.get("application_name")
  if (name !== undefined) settings.application_name = name
  const limit = options.get("connection_limit")
  if (limit !== undefined) {
    if (!/^\d{1,5}$/.test(limit) || Number(limit) < 1 || Number(limit) > maxConnectionLimit)
      return { refused: `connection_limit ${JSON.stringify(limit)} is not a whole number of connections from 1 to ${maxConnectionLimit}` }
    settings.max = Number(limit)
  }
  return settings
}

/** Parses a PostgreSQL URL; the password comes back `Redacted`, and errors show the URL without it. */
export const parseUrl = (input: string | Redacted.Redacted<string>): Effect.Effect<ParsedUrl, StoreError> =>
  Effect.suspend(() => {
    const url = Driver.urlText(input)
    if (!URL.canParse(url))
      return Effect.fail(invalid(url, "not a URL (expected postgres://[user[:password]@]host[:port][/database][?schema=name])"))
    const parsed = new URL(url)
    if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")
      return Effect.fail(invalid(url, `expected postgres:// or postgresql://, got ${parsed.protocol}//`))
    const taken = Driver.onlyUrlOptions(parsed.searchParams, urlOptions)
    if ("refused" in taken) return Effect.fail(invalid(url, taken.refused))
    const settings = clientSettings(taken.options)
    if ("refused" in settings) return Effect.fail(invalid(url, settings.refused))
    const schema = taken.options.get("schema")
    const whySchema = schema === undefined ? undefined : invalidSchema(schema)
    if (whySchema !== undefined) return Effect.fail(invalid(url, whySchema))
    const port = parsed.port === "" ? undefined : Number(parsed.port)
    const user = Driver.decodeUrlPart(parsed.username)
    const password = Driver.decodeUrlPart(parsed.password)
    if (user === undefined || password === undefined) return Effect.fail(invalid(url, "the user name or password is not valid percent-encoding"))
    const path = parsed.pathname.replace(/^\//, "")
    const database = Driver.decodeUrlPart(path)
    if (database === undefined) return Effect.fail(invalid(url, "the database name is not valid percent-encoding"))
    if (database.includes("/")) return Effect.fail(invalid(url, "the path must be one database name"))
    // A socket directory written in the host's place is percent-encoded (`postgres://%2Fvar%2Frun%2Fpostgresql/db`).
    const urlHost = Driver.decodeUrlPart(parsed.hostname.replace(/^\[(.*)\]$/, "$1"))
    if (urlHost === undefined) return Effect.fail(invalid(url, "the host is not valid percent-encoding"))
    const host = taken.options.get("host") ?? (urlHost || undefined)
    return Effect.succeed({
      host,
      port,
      user: user === "" ? undefined : user,
      password: password === "" ? undefined : Redacted.make(password, { label: "postgres password" }),
      database: database === "" ? undefined : database,
      schema,
      pool: settings
    })
  })

/**
 * Options and URL merged: explicit options win over what the URL says. What neither gives, `pg` takes from
 * the libpq environment variables (`PGHOST`, `PGUSER`, `PGPASSWORD`, …) and then its own defaults.
 */
export const resolve = (options: PostgresStoreOptions): Effect.Effect<Resolved, StoreError> =>
  Effect.gen(function* () {
    const parsed = options.url === undefined ? undefined : yield* parseUrl(options.url)
    const schema = options.schema ?? parsed?.schema ?? defaultSchema
    const why = invalidSchema(schema)
    if (why !== undefined) return yield* StoreError.invalid(`invalid PostgreSQL store schema: ${why}`)
    const password = options.password ?? parsed?.password
    const pool: Omit<PoolConfig, "password"> = {
      ...parsed?.pool,
      ...defined({
        host: options.host ?? parsed?.host,
        port: options.port ?? parsed?.port,
        user: options.user ?? parsed?.user,
        database: options.database ?? parsed?.database
      }),
      ...options.poolOptions
    }
    return {
      pool,
      password: password === undefined ? undefined : Redacted.isRedacted(password) ? password : Redacted.make(password),
      schema,
      description: describe(pool)
    }
  })

/** The entries whose value is given: `pg` reads a present `undefined` as given, hiding the environment's. */
const defined = <A extends object>(fields: A): Partial<A> =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<A>

/** The server and database as messages name them, with `pg`'s defaults for what is not given. */
const describe = (pool: Omit<PoolConfig, "password">): string => {
  const host = pool.host ?? process.env["PGHOST"] ?? "localhost"
  const port = pool.port ?? (process.env["PGPORT"] === undefined ? 5432 : Number(process.env["PGPORT"]))
  const shownHost = host.includes(":") ? `[${host}]` : host
  return `postgres://${shownHost}:${port}/${pool.database ?? process.env["PGDATABASE"] ?? ""}`
}

/** Every secret a failure message could quote: the password given, and the one `pg` would read from the environment. */
export const secretsOf = (r: Resolved): ReadonlyArray<Redacted.Redacted<string> | string | undefined> => [r.password, process.env["PGPASSWORD"]]
