/**
 * How the store reaches Redis: options or a URL (`redis://` or `rediss://` for one server, with user,
 * password and db number; `redis+cluster://` or `rediss+cluster://` with a list of seed nodes for a Redis
 * Cluster), the store's own URL options (`prefix`, `waitReplicas`, `waitTimeoutMs`, and no other), and the
 * mapping of client failures onto `StoreError`. Passwords are held as `Redacted` and never written into an
 * error or a log line.
 */
import { Effect, Redacted, Schedule } from "effect"
import { Driver, StoreError } from "@lineage/core"
import { type ClusterNode, invalidNodes, isClusterUrl, nodeName, parseClusterUrl } from "./ClusterUrl.js"
import { invalidPrefix } from "./Keys.js"

/** Where to connect, with the password kept out of sight. */
export interface Connection {
  /** The server; for a cluster, its first seed node. */
  readonly host: string
  readonly port: number
  /** The seed nodes of a Redis Cluster; absent for one server. */
  readonly cluster?: ReadonlyArray<ClusterNode> | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  /** Always 0 on a cluster. */
  readonly db: number
  readonly tls: boolean
}

/**
 * After each write, `WAIT replicas timeoutMs` on the primary that applied it: the write fails (`Unavailable`,
 * retryable) unless that many replicas acknowledged it within the time. See the README for what it guarantees.
 */
export interface WaitForReplicas {
  /** Replicas that must acknowledge each write: 1 or more. */
  readonly replicas: number
  /** How long a write waits for them: 1 to 60,000 ms; 1,000 unless given. */
  readonly timeoutMs: number
}

/** A parsed URL: the connection, and the namespace prefix and durability its query gives. */
export interface ParsedUrl extends Connection {
  readonly prefix?: string | undefined
  readonly waitForReplicas?: WaitForReplicas | undefined
}

export interface RetryOptions {
  /** Attempts after the first, for a request that failed because Redis was unreachable. */
  readonly times: number
  /** First delay; each next one doubles, with jitter. */
  readonly baseDelayMs: number
}

export interface RedisStoreOptions {
  /**
   * `redis://[user[:password]@]host[:port][/db][?prefix=name]`, `rediss://` for TLS; for a Redis Cluster,
   * `redis+cluster://[user[:password]@]host:port[,host:port…][?prefix=name]` (`rediss+cluster://` for TLS).
   * Also `&waitReplicas=N&waitTimeoutMs=T` (see `waitForReplicas`).
   */
  readonly url?: string | Redacted.Redacted<string> | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  /** Seed nodes of a Redis Cluster: connects to the cluster they belong to (as a `redis+cluster://` URL does). */
  readonly nodes?: ReadonlyArray<ClusterNode> | undefined
  readonly username?: string | undefined
  readonly password?: string | Redacted.Redacted<string> | undefined
  readonly db?: number | undefined
  readonly tls?: boolean | undefined
  /** Namespace of every key (a Redis Cluster hash tag): `lineage` unless given here or in the URL. */
  readonly prefix?: string | undefined
  readonly connectTimeoutMs?: number | undefined
  /**
   * How long a command may wait for its reply before it fails `Unavailable` (retryable), so a server that
   * stops answering without closing its connection (a paused process, a partition) cannot hang a request:
   * 5,000 ms unless given; a write's `WAIT` adds `waitForReplicas.timeoutMs`.
   */
  readonly commandTimeoutMs?: number | undefined
  /** `CLIENT SETNAME` of the connection, to find it in `CLIENT LIST`; `lineage` unless given. */
  readonly connectionName?: string | undefined
  readonly retry?: RetryOptions | undefined
  /**
   * How long a write remembers it was applied, so a resend after a lost reply is not applied twice: longer
   * than the write's retries can take (see `tokenTtlOf`); 2 minutes, or that span if longer, unless given.
   */
  readonly writeTokenTtlMs?: number | undefined
  /** Waits for replicas to acknowledge each write; see `WaitForReplicas`. No waiting unless given. */
  readonly waitForReplicas?: { readonly replicas: number; readonly timeoutMs?: number | undefined } | undefined
}

export const defaultPrefix = "lineage"
export const defaultRetry: RetryOptions = { times: 4, baseDelayMs: 50 }
export const defaultWaitTimeoutMs = 1_000
const maxWaitTimeoutMs = 60_000
export const defaultCommandTimeoutMs = 5_000
const defaultTokenTtlMs = 120_000

/** The options a Redis URL's query may carry; any other is refused, so a misspelling cannot go unnoticed. */
export const urlOptions: ReadonlyArray<string> = ["prefix", "waitReplicas", "waitTimeoutMs"]

export const redactUrl = Driver.redactUrl

/**
 * A URL as a refusal shows it, built from parts that cannot hold the password, however malformed the URL:
 * the scheme; the credentials, which run to the last `@`, as `user:***@` when they are unambiguous (no `/`,
 * `?` or `#`, a `:` ending the user name) and as `***@` otherwise; what follows them up to the query (shown
 * as `?…`: a query value may be a secret under a name no rule knows). Empty when there is no scheme.
 */
export const shownUrl = (url: string): string => {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:(?:\/\/)?/.exec(url)
  if (scheme === null) return ""
  const rest = url.slice(scheme[0].length)
  const at = rest.lastIndexOf("@")
  const userinfo = rest.slice(0, Math.max(at, 0))
  const colon = userinfo.indexOf(":")
  const credentials = at < 0 ? "" : colon >= 0 && !/[/?#]/.test(userinfo) ? `${userinfo.slice(0, colon)}:***@` : "***@"
  const after = rest.slice(at + 1)
  const query = after.search(/[?#]/)
  return `${scheme[0]}${credentials}${query < 0 ? after : `${after.slice(0, query)}?…`}`
}

/** A refused URL, shown by `shownUrl`. */
const invalid = (url: string, why: string) => {
  const shown = shownUrl(url)
  return StoreError.invalid(`invalid Redis URL${shown === "" ? "" : ` ${shown}`}: ${why}`)
}

/** Why a database number cannot be one, or undefined. */
const invalidDb = (db: number): string | undefined =>
  Number.isSafeInteger(db) && db >= 0 ? undefined : `db ${db} is not a database number (0, 1, …)`

const wholeIn = (n: unknown, min: number, max: number): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= min && n <= max

/** A value in a refusal: a string quoted and cut short, anything else as it prints. */
const shown = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v.slice(0, 20)) : String(v))

/** The durability option from its two values, named as the caller gave them; or why it is refused. */
const waitOf = (replicas: unknown, timeoutMs: unknown, names: readonly [replicas: string, timeoutMs: string]): WaitForReplicas | string => {
  if (!wholeIn(replicas, 1, 1_000_000)) return `${names[0]} must be a whole number of replicas, 1 or more (got ${shown(replicas)})`
  if (!wholeIn(timeoutMs, 1, maxWaitTimeoutMs))
    return `${names[1]} must be a whole number of milliseconds from 1 to ${maxWaitTimeoutMs} (got ${shown(timeoutMs)})`
  return { replicas, timeoutMs }
}

/** The `waitForReplicas` option checked, with its default timeout; or why it is refused. */
export const checkWait = (wait: unknown): WaitForReplicas | string => {
  const { replicas, timeoutMs = defaultWaitTimeoutMs } = (wait ?? {}) as { readonly replicas?: unknown; readonly timeoutMs?: unknown }
  return waitOf(replicas, timeoutMs, ["waitForReplicas.replicas", "waitForReplicas.timeoutMs"])
}

/** The `retry` option checked; or why it is refused. */
const retryOf = (retry: unknown): RetryOptions | string => {
  const { times, baseDelayMs } = (retry ?? {}) as { readonly times?: unknown; readonly baseDelayMs?: unknown }
  if (!wholeIn(times, 0, 30)) return `retry.times must be a whole number from 0 to 30 (got ${shown(times)})`
  if (!wholeIn(baseDelayMs, 1, 60_000)) return `retry.baseDelayMs must be a whole number of milliseconds from 1 to 60000 (got ${shown(baseDelayMs)})`
  return { times, baseDelayMs }
}

/** The `commandTimeoutMs` option checked, with its default; or why it is refused. */
const commandTimeoutOf = (ms: unknown): number | string =>
  ms === undefined ? defaultCommandTimeoutMs : wholeIn(ms, 1, 600_000) ? ms : `commandTimeoutMs must be a whole number of milliseconds from 1 to 600000 (got ${shown(ms)})`

/** How long one request may wait for a reply: the command timeout, plus the timeout of a write's WAIT. */
export const requestTimeoutMs = (commandTimeoutMs: number, wait: WaitForReplicas | undefined): number => commandTimeoutMs + (wait?.timeoutMs ?? 0)

/**
 * A write's token lifetime, checked: its retries look the token up to learn whether an attempt whose reply
 * was lost applied, so it must outlive them (every attempt waiting its whole request timeout, and the
 * longest backoff between them, jitter included), or a retry finds it expired and applies the write again.
 * Unless given, 2 minutes, or that span if longer.
 */
export const tokenTtlOf = (ttl: unknown, retry: RetryOptions, requestMs: number): number | string => {
  const span = (retry.times + 1) * requestMs + 2 * retry.baseDelayMs * (2 ** retry.times - 1)
  if (ttl === undefined) return Math.max(defaultTokenTtlMs, span)
  if (!wholeIn(ttl, 1, 2 ** 31)) return `writeTokenTtlMs must be a whole number of milliseconds (got ${shown(ttl)})`
  if (ttl <= span)
    return `writeTokenTtlMs ${ttl} is shorter than a write's retries can take, ${span} ms: ${retry.times + 1} attempts (retry.times + 1) of up to ${requestMs} ms each (commandTimeoutMs plus waitForReplicas.timeoutMs), and the backoff between them`
  return ttl
}

/** The options that bound a request, checked together: `retry`, `commandTimeoutMs` and `writeTokenTtlMs`. */
export interface Bounds {
  readonly retry: RetryOptions
  readonly commandTimeoutMs: number
  readonly tokenTtlMs: number
}

export const boundsOf = (
  options: Pick<RedisStoreOptions, "retry" | "commandTimeoutMs" | "writeTokenTtlMs">,
  wait: WaitForReplicas | undefined
): Bounds | string => {
  const retry = options.retry === undefined ? defaultRetry : retryOf(options.retry)
  if (typeof retry === "string") return retry
  const commandTimeoutMs = commandTimeoutOf(options.commandTimeoutMs)
  if (typeof commandTimeoutMs === "string") return commandTimeoutMs
  const tokenTtlMs = tokenTtlOf(options.writeTokenTtlMs, retry, requestTimeoutMs(commandTimeoutMs, wait))
  if (typeof tokenTtlMs === "string") return tokenTtlMs
  return { retry, commandTimeoutMs, tokenTtlMs }
}

/** `?waitReplicas=N&waitTimeoutMs=T`, in decimal digits; T alone is refused, N alone waits 1,000 ms. */
const waitFromQuery = (options: ReadonlyMap<string, string>): WaitForReplicas | undefined | string => {
  const replicas = options.get("waitReplicas")
  const timeout = options.get("waitTimeoutMs")
  if (replicas === undefined) return timeout === undefined ? undefined : "waitTimeoutMs needs waitReplicas"
  const number = (text: string): number | string => (/^\d{1,10}$/.test(text) ? Number(text) : text)
  return waitOf(number(replicas), timeout === undefined ? defaultWaitTimeoutMs : number(timeout), ["waitReplicas", "waitTimeoutMs"])
}

/** The store's own options of a URL's query; a string says why they are refused. */
const queryOptions = (query: URLSearchParams): Pick<ParsedUrl, "prefix" | "waitForReplicas"> | string => {
  const taken = Driver.onlyUrlOptions(query, urlOptions)
  if ("refused" in taken) return taken.refused
  const prefix = taken.options.get("prefix")
  const why = prefix === undefined ? undefined : invalidPrefix(prefix)
  if (why !== undefined) return why
  const waitForReplicas = waitFromQuery(taken.options)
  if (typeof waitForReplicas === "string") return waitForReplicas
  return { prefix, waitForReplicas }
}

const redacted = (password: string | undefined) => (password === undefined ? undefined : Redacted.make(password, { label: "redis password" }))

/** A `redis+cluster://` URL: its seed nodes, credentials and options. */
const parseCluster = (url: string): Effect.Effect<ParsedUrl, StoreError> => {
  const parts = parseClusterUrl(url)
  if (typeof parts === "string") return Effect.fail(invalid(url, parts))
  const options = queryOptions(parts.query)
  if (typeof options === "string") return Effect.fail(invalid(url, options))
  const [first] = parts.nodes
  return Effect.succeed({
    host: first!.host,
    port: first!.port,
    cluster: parts.nodes,
    username: parts.username,
    password: redacted(parts.password),
    db: 0,
    tls: parts.tls,
    ...options
  })
}

/** Parses a Redis URL; the password comes back `Redacted`, and errors show the URL without it. */
export const parseUrl = (input: string | Redacted.Redacted<string>): Effect.Effect<ParsedUrl, StoreError> =>
  Effect.suspend(() => {
    const url = Driver.urlText(input)
    if (isClusterUrl(url)) return parseCluster(url)
    if (!URL.canParse(url)) return Effect.fail(invalid(url, "not a URL"))
    const parsed = new URL(url)
    const scheme = parsed.protocol
    if (scheme !== "redis:" && scheme !== "rediss:")
      return Effect.fail(invalid(url, `expected redis://, rediss://, redis+cluster:// or rediss+cluster://, got ${scheme}//`))
    // The WHATWG parser ends the credentials at the first "/", "?" or "#": an "@" it left outside them
    // means a user name or password holding one of those raw, and a message would show the rest of it.
    if (url.includes("@") && parsed.username === "" && parsed.password === "")
      return Effect.fail(invalid(url, 'an "@" that does not end the credentials: percent-encode "/", "?", "#" and "@" in the user name or password'))
    const port = parsed.port === "" ? 6379 : Number(parsed.port)
    const dbText = parsed.pathname.replace(/^\//, "")
    const db = dbText === "" ? 0 : /^\d+$/.test(dbText) ? Number(dbText) : Number.NaN
    if (invalidDb(db) !== undefined) return Effect.fail(invalid(url, "the path must be a database number (/0, /1, …)"))
    const options = queryOptions(parsed.searchParams)
    if (typeof options === "string") return Effect.fail(invalid(url, options))
    const username = Driver.decodeUrlPart(parsed.username)
    const password = Driver.decodeUrlPart(parsed.password)
    if (username === undefined || password === undefined)
      return Effect.fail(invalid(url, "the user name or password is not valid percent-encoding"))
    return Effect.succeed({
      host: parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
      port,
      username: username === "" ? undefined : username,
      password: redacted(password === "" ? undefined : password),
      db,
      tls: scheme === "rediss:",
      ...options
    })
  })

export interface Resolved {
  readonly connection: Connection
  readonly prefix: string
  readonly waitForReplicas?: WaitForReplicas | undefined
  readonly bounds: Bounds
}

/**
 * The seed nodes, when options or URL name a cluster: `nodes` wins over the URL. `host` and `port` name one
 * server: beside `nodes` or a cluster URL they are refused, as neither could win without surprise.
 */
const clusterOf = (options: RedisStoreOptions, fromUrl: ParsedUrl | undefined): ReadonlyArray<ClusterNode> | undefined | StoreError => {
  if (options.nodes === undefined) {
    if (fromUrl?.cluster !== undefined && (options.host !== undefined || options.port !== undefined))
      return StoreError.invalid(
        "invalid Redis options: host and port name one server, the URL a Redis Cluster: give the seeds in the URL or as nodes, or a redis:// URL"
      )
    return fromUrl?.cluster
  }
  const why = invalidNodes(options.nodes)
  if (why !== undefined) return StoreError.invalid(`invalid Redis Cluster nodes: ${why}`)
  if (options.host !== undefined || options.port !== undefined)
    return StoreError.invalid("invalid Redis options: host and port name one server, nodes a Redis Cluster: give one or the other")
  return options.nodes.map(({ host, port }) => ({ host, port }))
}

/** Options and URL merged: explicit options win over what the URL says. */
export const resolve = (options: RedisStoreOptions): Effect.Effect<Resolved, StoreError> =>
  Effect.gen(function* () {
    const fromUrl: ParsedUrl | undefined = options.url === undefined ? undefined : yield* parseUrl(options.url)
    const password = options.password ?? fromUrl?.password
    const prefix = options.prefix ?? fromUrl?.prefix ?? defaultPrefix
    const why = invalidPrefix(prefix)
    if (why !== undefined) return yield* StoreError.invalid(`invalid Redis store prefix: ${why}`)
    const cluster = clusterOf(options, fromUrl)
    if (cluster instanceof StoreError) return yield* cluster
    const db = options.db ?? fromUrl?.db ?? 0
    const whyDb = invalidDb(db)
    if (whyDb !== undefined) return yield* StoreError.invalid(`invalid Redis database: ${whyDb}`)
    if (cluster !== undefined && db !== 0) return yield* StoreError.invalid(`invalid Redis database: db ${db}, but a Redis Cluster has database 0 only`)
    const wait = options.waitForReplicas === undefined ? fromUrl?.waitForReplicas : checkWait(options.waitForReplicas)
    if (typeof wait === "string") return yield* StoreError.invalid(`invalid Redis option: ${wait}`)
    const bounds = boundsOf(options, wait)
    if (typeof bounds === "string") return yield* StoreError.invalid(`invalid Redis option: ${bounds}`)
    return {
      prefix,
      waitForReplicas: wait,
      bounds,
      connection: {
        host: cluster?.[0]?.host ?? options.host ?? fromUrl?.host ?? "127.0.0.1",
        port: cluster?.[0]?.port ?? options.port ?? fromUrl?.port ?? 6379,
        ...(cluster === undefined ? {} : { cluster }),
        username: options.username ?? fromUrl?.username,
        password: password === undefined ? undefined : Redacted.isRedacted(password) ? password : Redacted.make(password),
        db,
        tls: options.tls ?? fromUrl?.tls ?? false
      }
    }
  })

/** `redis://user@host:port/db` or `redis+cluster://user@host:port,…`, with no password: what errors name. */
export const describe = (c: Connection): string => {
  const scheme = `${c.tls ? "rediss" : "redis"}${c.cluster === undefined ? "" : "+cluster"}`
  const where = c.cluster === undefined ? `${nodeName(c)}/${c.db}` : c.cluster.map(nodeName).join(",")
  return `${scheme}://${c.username === undefined ? "" : `${c.username}@`}${where}`
}

/** Replies that mean "not now" rather than "never": the server is loading, read-only, out of memory, … */
const transientReply = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|OOM|NOREPLICAS)\b/

/** A Redis Cluster's redirect: the key's slot is served by another node. */
const redirectReply = /^(MOVED|ASK)\b/

/**
 * Maps a client failure: a reply error is a bad request, anything else means Redis could not be reached. On
 * a cluster (`cluster`), a redirect reaches us only from a pipeline holding a write (ioredis follows them
 * for single commands): it is transient, and the retry's first command, a single one, learns the slot's new
 * owner. On one server, a redirect means the server is a cluster node.
 */
export const failure = (what: string, failed: unknown, secret?: Redacted.Redacted<string>, cluster = false): StoreError => {
  if (failed instanceof StoreError) return failed
  // An aborted transaction (EXECABORT) says what aborted it in its first queued command's error.
  const e = (failed as { readonly previousErrors?: ReadonlyArray<unknown> } | null)?.previousErrors?.[0] ?? failed
  const text = Driver.failureText(e, [secret])
  const isReply = e instanceof Error && e.name === "ReplyError"
  if (isReply && redirectReply.test(text))
    return cluster
      ? StoreError.unavailable(`${what}: ${text}`)
      : StoreError.invalid(`${what}: Redis replied ${text}: the server is a node of a Redis Cluster: connect with a redis+cluster:// URL`)
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
