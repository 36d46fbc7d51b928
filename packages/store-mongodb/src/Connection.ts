/**
 * How the store reaches MongoDB: a URL (`mongodb://`, `mongodb+srv://`) or options, turned into a
 * `MongoClient` whose connection string carries no credentials (they go in `auth`, held as `Redacted` until
 * then), so no driver message can quote a password.
 */
import { MongoClient, type MongoClientOptions } from "mongodb"
import { Effect, Redacted } from "effect"
import { Driver, Redaction, StoreError } from "@lineage/core"

export interface MongoStoreOptions {
  /**
   * `mongodb://[user[:password]@]host[:port][,host…]/[database][?options]` or `mongodb+srv://…`. Our own
   * query options `prefix` and `database` are removed before the rest goes to the driver.
   */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /** `host:port` entries, when no URL is given; `127.0.0.1:27017` unless given. */
  readonly hosts?: ReadonlyArray<string> | undefined
  readonly username?: string | undefined
  readonly password?: string | Redacted.Redacted<string> | undefined
  /** The database of the store's collections: the URL's path, else `lineage`. */
  readonly database?: string | undefined
  /** Prepended to every collection name; empty unless given. */
  readonly prefix?: string | undefined
  readonly tls?: boolean | undefined
  /** How long to wait for a usable server before a request fails as `Unavailable`; the URL's, else 10 000. */
  readonly serverSelectionTimeoutMs?: number | undefined
  readonly appName?: string | undefined
  /**
   * `"auto"` (default): use multi-document transactions when the deployment is a replica set or a sharded
   * cluster (from `hello`); `false` never uses them.
   */
  readonly transactions?: "auto" | false | undefined
  /** Passed to `MongoClient` as they are (pool sizes, compressors, …). */
  readonly clientOptions?: MongoClientOptions | undefined
}

export interface ParsedUrl {
  readonly scheme: "mongodb" | "mongodb+srv"
  readonly hosts: ReadonlyArray<string>
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly database?: string | undefined
  readonly prefix?: string | undefined
  /** The driver's own options, as a query string without `?` (our `prefix`/`database` removed). */
  readonly query: string
}

export const defaultDatabase = "lineage"

/**
 * Lineage's own options in a MongoDB URL's query, taken out before the rest goes to the driver, which refuses
 * any option it does not know: between the two, a misspelled option cannot go unnoticed.
 */
export const urlOptions: ReadonlyArray<string> = ["prefix", "database"]

export const redactUrl = Driver.redactUrl

/** A refused URL, shown without its password or its query's values (see `Driver.urlWithoutQuery`). */
const invalid = (url: string, why: string) => StoreError.invalid(`invalid MongoDB URL ${Driver.urlWithoutQuery(url)}: ${why}`)

/** Database names MongoDB accepts (no `/\. "$*<>:|?` and not empty, under 64 bytes). */
export const invalidDatabase = (name: string): string | undefined =>
  name === "" || /[/\\. "$*<>:|?\u0000]/.test(name) || Buffer.byteLength(name) >= 64
    ? `"${name}" is not a valid database name`
    : undefined

const pattern = /^(mongodb(?:\+srv)?):\/\/(?:([^@/]*)@)?([^/?]+)(?:\/([^?]*))?(?:\?(.*))?$/

/** Parses a MongoDB URL; the password comes back `Redacted`, and errors show the URL without it. */
export const parseUrl = (input: string | Redacted.Redacted<string>): Effect.Effect<ParsedUrl, StoreError> =>
  Effect.suspend(() => {
    const url = Driver.urlText(input)
    const m = pattern.exec(url)
    if (m === null) {
      const scheme = /^([a-z+]+):/i.exec(url)?.[1]
      return Effect.fail(
        invalid(url, scheme !== undefined && !scheme.startsWith("mongodb") ? `expected mongodb:// or mongodb+srv://, got ${scheme}://` : "expected mongodb://host[:port][/database][?options]")
      )
    }
    const [, scheme, userinfo, hostText, path, queryText] = m
    const hosts = hostText!.split(",")
    if (hosts.some((h) => h === "")) return Effect.fail(invalid(url, "an empty host"))
    if (scheme === "mongodb+srv" && hosts.length !== 1) return Effect.fail(invalid(url, "mongodb+srv takes exactly one host"))
    let username: string | undefined
    let password: string | undefined
    if (userinfo !== undefined) {
      const colon = userinfo.indexOf(":")
      username = Driver.decodeUrlPart(colon < 0 ? userinfo : userinfo.slice(0, colon))
      password = colon < 0 ? undefined : Driver.decodeUrlPart(userinfo.slice(colon + 1))
      if (username === undefined || (colon >= 0 && password === undefined)) return Effect.fail(invalid(url, "bad percent-encoding in the credentials"))
    }
    const taken = Driver.takeUrlOptions(new URLSearchParams(queryText ?? ""), urlOptions)
    if ("refused" in taken) return Effect.fail(invalid(url, taken.refused))
    const databaseFromPath = path === undefined || path === "" ? undefined : Driver.decodeUrlPart(path)
    if (path !== undefined && path !== "" && databaseFromPath === undefined) return Effect.fail(invalid(url, "bad percent-encoding in the database"))
    const database = taken.options.get("database") ?? databaseFromPath
    const prefix = taken.options.get("prefix")
    const why = database === undefined ? undefined : invalidDatabase(database)
    if (why !== undefined) return Effect.fail(invalid(url, why))
    return Effect.succeed({
      scheme: scheme as "mongodb" | "mongodb+srv",
      hosts,
      username: username === "" ? undefined : username,
      password: password === undefined || password === "" ? undefined : Redacted.make(password, { label: "mongodb password" }),
      database,
      prefix,
      query: taken.rest.toString()
    })
  })

/** What `make` connects with: a credential-free connection string, the secret apart. */
export interface Resolved {
  readonly connectionString: string
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly database: string
  readonly prefix: string
  /** `mongodb://host/…` without credentials: what errors name. */
  readonly description: string
}

/** Options and URL merged: explicit options win over what the URL says. */
export const resolve = (options: MongoStoreOptions): Effect.Effect<Resolved, StoreError> =>
  Effect.gen(function* () {
    const parsed = options.url === undefined ? undefined : yield* parseUrl(options.url)
    const scheme = parsed?.scheme ?? "mongodb"
    const hosts = options.hosts ?? parsed?.hosts ?? ["127.0.0.1:27017"]
    const database = options.database ?? parsed?.database ?? defaultDatabase
    const why = invalidDatabase(database)
    if (why !== undefined) return yield* StoreError.invalid(`invalid MongoDB database: ${why}`)
    const params = new URLSearchParams(parsed?.query ?? "")
    if (options.tls !== undefined) params.set("tls", String(options.tls))
    const query = params.toString()
    const base = `${scheme}://${hosts.join(",")}/`
    const password = options.password ?? parsed?.password
    return {
      connectionString: query === "" ? base : `${base}?${query}`,
      username: options.username ?? parsed?.username,
      password: password === undefined ? undefined : Redacted.isRedacted(password) ? password : Redacted.make(password),
      database,
      prefix: options.prefix ?? parsed?.prefix ?? "",
      description: `${scheme}://${hosts.join(",")}/${database}`
    }
  })

/**
 * A driver's message about the options, safe to show: the driver quotes values it cannot parse, so the values
 * of secret-named options (the URL's and `clientOptions`'), and any secret the message holds, are taken out.
 */
const scrubOptions = (e: unknown, r: Resolved, options: MongoStoreOptions): string => {
  const query = new URLSearchParams(/\?(.*)$/s.exec(r.connectionString)?.[1] ?? "")
  const given = Object.entries(options.clientOptions ?? {})
  const secrets = [...query, ...given]
    .filter(([name, value]) => typeof value === "string" && Redaction.isSecretKey(name))
    .map(([, value]) => value as string)
  return Redaction.text(Driver.failureText(e, [r.password, ...secrets]))
}

/** A client for `r`, not yet connected; options the driver refuses (unknown, or bad values) are `Invalid`. */
const makeClient = (r: Resolved, options: MongoStoreOptions): MongoClient => {
  // The URL's own serverSelectionTimeoutMS holds unless an option overrides it.
  const timeout = options.serverSelectionTimeoutMs ?? (/[?&]serverSelectionTimeoutMS=/i.test(r.connectionString) ? undefined : 10_000)
  try {
    return new MongoClient(r.connectionString, {
      ...(timeout === undefined ? {} : { serverSelectionTimeoutMS: timeout }),
      appName: options.appName ?? "lineage",
      ...(r.username === undefined ? {} : { auth: { username: r.username, ...(r.password === undefined ? {} : { password: Redacted.value(r.password) }) } }),
      ...options.clientOptions
    })
  } catch (e) {
    throw StoreError.invalid(
      `invalid MongoDB options for ${r.description}: ${scrubOptions(e, r, options)} (lineage's options: ${urlOptions.join(", ")}; any other must be a MongoDB connection-string option)`
    )
  }
}

/**
 * Opens a client and checks the server answers; a failure to connect is `Unavailable`, options the driver
 * refuses `Invalid`; neither names the password.
 */
export const open = (r: Resolved, options: MongoStoreOptions): Effect.Effect<MongoClient, StoreError> =>
  Effect.tryPromise({
    try: async () => {
      const client = makeClient(r, options)
      try {
        await client.connect()
        return client
      } catch (e) {
        await client.close().catch(() => undefined)
        throw e
      }
    },
    catch: (e) => (e instanceof StoreError ? e : StoreError.unavailable(`cannot connect to ${r.description}: ${Driver.failureText(e, [r.password])}`))
  })
