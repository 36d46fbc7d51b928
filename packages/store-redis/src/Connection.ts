/**
 * How the store reaches Redis: options or a URL (`redis://`, `rediss://`, user and password, db number,
 * `?prefix=` and no other option), an ioredis client opened with bounded reconnects that holds the process
 * only while a command is pending, and the mapping of client failures onto `StoreError`. Passwords are held
 * as `Redacted` and never written into an error or a log line.
 */
import { type Command, Redis } from "ioredis"
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

/** The options a Redis URL's query may carry; any other is refused, so a misspelling cannot go unnoticed. */
export const urlOptions: ReadonlyArray<string> = ["prefix"]

export const redactUrl = Driver.redactUrl

/** A refused URL, shown without its password or its query's values (see `Driver.urlWithoutQuery`). */
const invalid = (url: string, why: string) => StoreError.invalid(`invalid Redis URL ${Driver.urlWithoutQuery(url)}: ${why}`)

/** Why a database number cannot be one, or undefined. */
const invalidDb = (db: number): string | undefined =>
  Number.isSafeInteger(db) && db >= 0 ? undefined : `db ${db} is not a database number (0, 1, …)`

/** Parses a Redis URL; the password comes back `Redacted`, and errors show the URL without it. */
export const parseUrl = (input: string | Redacted.Redacted<string>): Effect.Effect<ParsedUrl, StoreError> =>
  Effect.suspend(() => {
    const url = Driver.urlText(input)
    if (!URL.canParse(url)) return Effect.fail(invalid(url, "not a URL"))
    const parsed = new URL(url)
    const scheme = parsed.protocol
    if (scheme !== "redis:" && scheme !== "rediss:")
      return Effect.fail(invalid(url, `expected redis:// or rediss://, got ${scheme}//`))
    const port = parsed.port === "" ? 6379 : Number(parsed.port)
    const dbText = parsed.pathname.replace(/^\//, "")
    const db = dbText === "" ? 0 : /^\d+$/.test(dbText) ? Number(dbText) : Number.NaN
    if (invalidDb(db) !== undefined) return Effect.fail(invalid(url, "the path must be a database number (/0, /1, …)"))
    const taken = Driver.onlyUrlOptions(parsed.searchParams, urlOptions)
    if ("refused" in taken) return Effect.fail(invalid(url, taken.refused))
    const prefix = taken.options.get("prefix")
    const why = prefix === undefined ? undefined : invalidPrefix(prefix)
    if (why !== undefined) return Effect.fail(invalid(url, why))
    const username = Driver.decodeUrlPart(parsed.username)
    const password = Driver.decodeUrlPart(parsed.password)
    if (username === undefined || password === undefined)
      return Effect.fail(invalid(url, "the user name or password is not valid percent-encoding"))
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
    const db = options.db ?? fromUrl?.db ?? 0
    const whyDb = invalidDb(db)
    if (whyDb !== undefined) return yield* StoreError.invalid(`invalid Redis database: ${whyDb}`)
    return {
      prefix,
      connection: {
        host: options.host ?? fromUrl?.host ?? "127.0.0.1",
        port: options.port ?? fromUrl?.port ?? 6379,
        username: options.username ?? fromUrl?.username,
        password: password === undefined ? undefined : Redacted.isRedacted(password) ? password : Redacted.make(password),
        db,
        tls: options.tls ?? fromUrl?.tls ?? false
      }
    }
  })

/** `redis://host:port/db`, with no credentials: what errors name. */
export const describe = (c: Connection): string =>
  `${c.tls ? "rediss" : "redis"}://${c.username === undefined ? "" : `${c.username}@`}${c.host.includes(":") ? `[${c.host}]` : c.host}:${c.port}/${c.db}`

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

/**
 * An ioredis client with two guarantees ioredis lacks. It keeps the process alive only while a command is
 * pending, as the memory store does: its own sockets and reconnect timer never hold it. And once the server
 * refused the database (`SELECT` fails during a connection's handshake, which ioredis only reports as an
 * `error` event before going on in database 0), it refuses every command with that refusal, so none reaches
 * the wrong database.
 */
class StoreClient extends Redis {
  #pending = 0
  #keepAlive: ReturnType<typeof setInterval> | undefined
  #refusal: StoreError | undefined

  constructor(options: ReturnType<typeof clientOptions>) {
    super(options)
    this.on("connect", () => this.stream.unref())
    // ioredis holds its reconnect timer in a private field: unref'ing it is the only way to let an idle
    // process exit while Redis is down. The timer is set in the tick that schedules this event. Read by name
    // through the type ioredis declares, so an ioredis without the field fails to compile here.
    this.on("reconnecting", () => (this["reconnectTimeout"] as ReturnType<typeof setTimeout> | null | undefined)?.unref())
  }

  get refusal(): StoreError | undefined {
    return this.#refusal
  }

  /** Ends the client for good: every command from now on fails with `refusal`. */
  refuse(refusal: StoreError): void {
    if (this.#refusal !== undefined) return
    this.#refusal = refusal
    this.disconnect()
  }

  override sendCommand(command: Command, stream?: Parameters<Redis["sendCommand"]>[1]): unknown {
    if (this.#refusal !== undefined) {
      command.reject(this.#refusal)
      return command.promise
    }
    // ioredis may send one command several times (offline queue, resend after a reconnect): each send is
    // counted and uncounted once, when the command settles.
    if (this.#pending++ === 0) this.#keepAlive = setInterval(() => {}, 2 ** 31 - 1)
    const settled = () => {
      if (--this.#pending === 0) clearInterval(this.#keepAlive)
    }
    command.promise.then(settled, settled)
    return super.sendCommand(command, stream)
  }
}

/** A handshake's failed `SELECT`: ioredis reports it only as an `error` event. */
const isSelectRefusal = (e: unknown): e is Error =>
  e instanceof Error && e.name === "ReplyError" && (e as { command?: { name?: unknown } }).command?.name === "select"

/**
 * Opens a client. A database the server refuses is `Invalid` (at connect, or at any later reconnect); any
 * other failure to connect is `Unavailable`. Errors name the server but never the password.
 */
export const open = (c: Connection, connectTimeoutMs: number, connectionName = "lineage"): Effect.Effect<Redis, StoreError> =>
  Effect.tryPromise({
    try: async () => {
      const client = new StoreClient(clientOptions(c, connectTimeoutMs, connectionName))
      // Without a listener ioredis prints every reconnect failure; requests report failures themselves.
      client.on("error", (e) => {
        if (isSelectRefusal(e))
          client.refuse(StoreError.invalid(`database ${c.db} of ${describe(c)} refused: Redis replied ${Driver.failureText(e, [c.password])}`))
      })
      try {
        await client.connect()
        return client
      } catch (e) {
        client.disconnect()
        throw client.refusal ?? e
      }
    },
    catch: (e) =>
      e instanceof StoreError ? e : StoreError.unavailable(`cannot connect to ${describe(c)}: ${Driver.failureText(e, [c.password])}`, undefined)
  })

/** Replies that mean "not now" rather than "never": the server is loading, read-only, out of memory, … */
const transientReply = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|OOM|NOREPLICAS)\b/

/** Maps a client failure: a reply error is a bad request, anything else means Redis could not be reached. */
export const failure = (what: string, e: unknown, secret?: Redacted.Redacted<string>): StoreError => {
  if (e instanceof StoreError) return e
  const text = Driver.failureText(e, [secret])
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
