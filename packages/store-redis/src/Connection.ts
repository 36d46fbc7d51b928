/**
 * How the store reaches Redis: options or a URL (`redis://`, `rediss://`, user and password, db number,
 * `?prefix=`), an ioredis client opened with bounded reconnects, and the mapping of client failures onto
 * `StoreError`. Passwords are held as `Redacted` and never written into an error or a log line.
 */
import { Redis } from "ioredis"
import { Effect, Redacted, Schedule } from "effect"
import { Driver, StoreError } from "@lineage/core"
import { invalidPrefix } from "./Keys.js"

/** Where to connect, with the password kept out of sight. */
export interface Connection {
  readonly host: string
  readonly port: number
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly db: number
  readonly tls: boolean
}

/** A parsed URL: the connection, and the namespace prefix when `?prefix=` gives one. */
export interface ParsedUrl extends Connection {
  readonly prefix?: string | undefined
}

export interface RetryOptions {
  /** Attempts after the first, for a request that failed because Redis was unreachable. */
  readonly times: number
  /** First delay; each next one doubles, with jitter. */
  readonly baseDelayMs: number
}

export interface RedisStoreOptions {
  /** `redis://[user[:password]@]host[:port][/db][?prefix=name]`, or `rediss://` for TLS. */
  readonly url?: string | Redacted.Redacted<string> | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly username?: string | undefined
  readonly password?: string | Redacted.Redacted<string> | undefined
  readonly db?: number | undefined
  readonly tls?: boolean | undefined
  /** Namespace of every key (a Redis Cluster hash tag): `lineage` unless given here or in the URL. */
  readonly prefix?: string | undefined
  readonly connectTimeoutMs?: number | undefined
  /** `CLIENT SETNAME` of the connection, to find it in `CLIENT LIST`; `lineage` unless given. */
  readonly connectionName?: string | undefined
  readonly retry?: RetryOptions | undefined
  /** How long a write remembers it was applied, so a resend after a lost reply is not applied twice. */
  readonly writeTokenTtlMs?: number | undefined
}

export const defaultPrefix = "lineage"
export const defaultRetry: RetryOptions = { times: 4, baseDelayMs: 50 }

export const redactUrl = Driver.redactUrl

const invalid = (url: string, why: string) => StoreError.invalid(`invalid Redis URL ${redactUrl(url)}: ${why}`)

/** Parses a Redis URL; the password comes back `Redacted`, and errors show the URL without it. */
export const parseUrl = (input: string | Redacted.Redacted<string>): Effect.Effect<ParsedUrl, StoreError> =>
  Effect.suspend(() => {
    const url = Redacted.isRedacted(input) ? Redacted.value(input) : input
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return Effect.fail(invalid(url, "not a URL"))
    }
    const scheme = parsed.protocol
    if (scheme !== "redis:" && scheme !== "rediss:")
      return Effect.fail(invalid(url, `expected redis:// or rediss://, got ${scheme}//`))
    const port = parsed.port === "" ? 6379 : Number(parsed.port)
    const dbText = parsed.pathname.replace(/^\//, "")
    const db = dbText === "" ? 0 : Number(dbText)
    if (!Number.isInteger(db) || db < 0) return Effect.fail(invalid(url, "the path must be a database number (/0, /1, …)"))
    const prefix = parsed.searchParams.get("prefix") ?? undefined
    const why = prefix === undefined ? undefined : invalidPrefix(prefix)
    if (why !== undefined) return Effect.fail(invalid(url, why))
    let username: string
    let password: string
    try {
      username = decodeURIComponent(parsed.username)
      password = decodeURIComponent(parsed.password)
    } catch {
      return Effect.fail(invalid(url, "the user name or password is not valid percent-encoding"))
    }
    return Effect.succeed({
      host: parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
      port,
      username: username === "" ? undefined : username,
      password: password === "" ? undefined : Redacted.make(password, { label: "redis password" }),
      db,
      tls: scheme === "rediss:",
      prefix
    })
  })

/** Options and URL merged: explicit options win over what the URL says. */
export const resolve = (options: RedisStoreOptions): Effect.Effect<{ readonly connection: Connection; readonly prefix: string }, StoreError> =>
  Effect.gen(function* () {
    const fromUrl: ParsedUrl | undefined = options.url === undefined ? undefined : yield* parseUrl(options.url)
    const password = options.password ?? fromUrl?.password
    const prefix = options.prefix ?? fromUrl?.prefix ?? defaultPrefix
    const why = invalidPrefix(prefix)
    if (why !== undefined) return yield* StoreError.invalid(`invalid Redis store prefix: ${why}`)
    return {
      prefix,
      connection: {
        host: options.host ?? fromUrl?.host ?? "127.0.0.1",
        port: options.port ?? fromUrl?.port ?? 6379,
        username: options.username ?? fromUrl?.username,
        password: password === undefined ? undefined : Redacted.isRedacted(password) ? password : Redacted.make(password),
        db: options.db ?? fromUrl?.db ?? 0,
        tls: options.tls ?? fromUrl?.tls ?? false
      }
    }
  })

/** `redis://host:port/db`, with no credentials: what errors name. */
export const describe = (c: Connection): string =>
  `${c.tls ? "rediss" : "redis"}://${c.username === undefined ? "" : `${c.username}@`}${c.host.includes(":") ? `[${c.host}]` : c.host}:${c.port}/${c.db}`

/** Removes a secret from a message, in case a client library quotes it. */
export const scrub = (text: string, secret: Redacted.Redacted<string> | undefined): string => {
  const value = secret === undefined ? "" : Redacted.value(secret)
  return value.length === 0 ? text : text.split(value).join("***")
}

/**
 * Client options: reconnect forever with a capped delay (Redis may come back), but fail each request after
 * two reconnect attempts, so a caller learns soon that Redis is gone; our own retry schedule is bounded.
 * Requests in flight when a connection drops are re-sent after reconnecting: writes carry a token that
 * makes a re-sent write a no-op.
 */
export const clientOptions = (c: Connection, connectTimeoutMs: number, connectionName: string) => ({
  host: c.host,
  port: c.port,
  ...(c.username === undefined ? {} : { username: c.username }),
  ...(c.password === undefined ? {} : { password: Redacted.value(c.password) }),
  db: c.db,
  ...(c.tls ? { tls: {} } : {}),
  connectionName,
  lazyConnect: true,
  connectTimeout: connectTimeoutMs,
  maxRetriesPerRequest: 2,
  retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
  autoResendUnfulfilledCommands: true,
  enableOfflineQueue: true
})

/** Opens a client; a failure to connect is `Unavailable`, naming the server but never the password. */
export const open = (c: Connection, connectTimeoutMs: number, connectionName = "lineage"): Effect.Effect<Redis, StoreError> =>
  Effect.tryPromise({
    try: async () => {
      const client = new Redis(clientOptions(c, connectTimeoutMs, connectionName))
      // Without a listener ioredis prints every reconnect failure; requests report failures themselves.
      client.on("error", () => {})
      try {
        await client.connect()
        return client
      } catch (e) {
        client.disconnect()
        throw e
      }
    },
    catch: (e) => StoreError.unavailable(`cannot connect to ${describe(c)}: ${scrub(errorText(e), c.password)}`, undefined)
  })

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Replies that mean "not now" rather than "never": the server is loading, read-only, out of memory, … */
const transientReply = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|OOM|NOREPLICAS)\b/

/** Maps a client failure: a reply error is a bad request, anything else means Redis could not be reached. */
export const failure = (what: string, e: unknown, secret?: Redacted.Redacted<string>): StoreError => {
  if (e instanceof StoreError) return e
  const text = scrub(errorText(e), secret)
  const isReply = e instanceof Error && e.name === "ReplyError"
  return isReply && !transientReply.test(text)
    ? StoreError.invalid(`${what}: Redis replied ${text}`)
    : StoreError.unavailable(`${what}: ${text}`)
}

/** Retries `Unavailable` failures on a bounded, jittered exponential schedule. */
export const withRetry = <A>(effect: Effect.Effect<A, StoreError>, retry: RetryOptions): Effect.Effect<A, StoreError> =>
  Effect.retry(effect, {
    while: (e) => e.isRetryable,
    schedule: Schedule.jittered(Schedule.exponential(`${retry.baseDelayMs} millis`)),
    times: retry.times
  })
