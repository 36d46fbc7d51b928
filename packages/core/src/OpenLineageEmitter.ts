/**
 * OpenLineage's HTTP transport, as the reference clients send: each event is `POST`ed as JSON
 * (`Content-Type: application/json`) to `{url}/{endpoint}` (default `api/v1/lineage`), with Basic
 * authentication from credentials in the URL, or `Authorization: Bearer <apiKey>` (never both).
 *
 * Sending never blocks nor fails the tracked code, nor makes it wait for a store read: `emit` queues the event
 * as work for a background loop, which builds it (reading what it needs of the store) when its turn comes and
 * posts it, one at a time, in the order they were queued. The queue is bounded (`maxQueuedEvents`,
 * `maxQueuedBytes`: past it events are dropped, with one warning until it drains). Network errors, timeouts,
 * 5xx and 429 answers are retried `retries` times with doubling waits; other answers are not. An event that
 * is not delivered is warned about once (`Effect.logWarning`, with the loggers of the code that made the
 * emitter), naming the endpoint (credentials and query hidden) and the status; until an event is delivered
 * again, later failures are neither warned about nor retried, so a dead endpoint costs one warning and one
 * attempt per event.
 *
 * Each store (one per `Lineage.connect` client or built layer) has its own emitter, set by `configure`: the
 * `openLineage` option of `connect` or `track()`, else the environment: `LINEAGE_OPENLINEAGE_URL`, with
 * `LINEAGE_OPENLINEAGE_ENDPOINT` and `LINEAGE_OPENLINEAGE_API_KEY` beside it. The reference client's
 * `OPENLINEAGE_*` variables are not read: a process set up for another integration must neither start
 * sending lineage's events nor hand that integration's key to another server. `flush` waits a bounded time for
 * the queue (a signal that ends a tracked process flushes); `close` flushes once, with one deadline, then stops
 * the emitter for good (a client's `close()` and the release of the layer that built a store close). Waits
 * between retries do not keep a process alive: one that ends without any of these may lose events still queued.
 */
import { Context, Effect, Redacted } from "effect"
import { slotOf } from "./Current.js"
import { urlWithoutQuery } from "./Driver.js"
import { ValidationError } from "./Errors.js"
import * as Limits from "./Limits.js"
import * as OpenLineage from "./OpenLineage.js"
import * as Redaction from "./Redaction.js"
import type * as Records from "./Records.js"
import { onRelease, Store, type StoreShape } from "./Store.js"

export interface Options {
  /** The server (http: or https:); credentials in it are sent as Basic authentication. */
  readonly url: string
  /** The path under `url` events are posted to; default `api/v1/lineage`. */
  readonly endpoint?: string | undefined
  /** Sent as a bearer token; refused beside credentials in `url`. A secret: never in an error, a warning or a record. */
  readonly apiKey?: string | Redacted.Redacted<string> | undefined
  /** The job namespace (see `OpenLineage.namespace`). */
  readonly namespace?: string | undefined
  /** How long one attempt waits for an answer: integer milliseconds from 1 to `maxTimeoutMs` (default 5 s). */
  readonly timeoutMs?: number | undefined
  /** Attempts after the first for a retryable failure: an integer from 0 to `maxRetries` (default 3). */
  readonly retries?: number | undefined
}

/** The variables that configure the emitter when no option does; the endpoint and key only beside the URL. */
export const urlVariable = "LINEAGE_OPENLINEAGE_URL"
export const endpointVariable = "LINEAGE_OPENLINEAGE_ENDPOINT"
export const apiKeyVariable = "LINEAGE_OPENLINEAGE_API_KEY"
export const defaultEndpoint = "api/v1/lineage"
export const defaultTimeoutMs = 5_000
export const maxTimeoutMs = 60_000
export const defaultRetries = 3
export const maxRetries = 10
/** Events one emitter holds before it drops new ones. */
export const maxQueuedEvents = 1_000
/** Bytes of JSON one emitter holds before it drops new events; a larger event is never sent. */
export const maxQueuedBytes = 16 * 1024 * 1024
/** The wait before the first retry; each next one doubles, up to `maxBackoffMs`. */
export const backoffMs = 250
export const maxBackoffMs = 4_000
/** The longest `flush` or `close` waits. */
export const maxFlushMs = 10_000

// ---------------------------------------------------------------------------------------------------------
// Configuration

/** Where events go and how, checked. */
export interface Config {
  /** The URL posted to, without credentials. */
  readonly target: string
  /** The URL for messages: credentials (a lone user name too, which is often a token) and query hidden. */
  readonly shown: string
  readonly authorization: Redacted.Redacted<string> | undefined
  readonly namespace: string | undefined
  readonly timeoutMs: number
  readonly retries: number
}

const optionNames = ["url", "endpoint", "apiKey", "namespace", "timeoutMs", "retries"] as const
type OptionName = (typeof optionNames)[number]
type Given = { readonly [name in OptionName]: unknown }

const expectedOptions = `false, or an object with url and optionally ${optionNames.slice(1).join(", ")}`
const controlCharacter = /[\u0000-\u001f\u007f]/
const maxUrlLength = 2_048

const refuse = (field: string, value: unknown, expected: string) =>
  new ValidationError({ registry: "OpenLineage", field, value, expected })

/** A URL for a message: `urlWithoutQuery`, and a user name standing alone (`https://TOKEN@host`) hidden too. */
const shownUrl = (url: string): string => urlWithoutQuery(url).replace(/^([a-z][a-z0-9+.-]*:\/*)[^:@/]+@/i, "$1***@")

/** What a refusal shows of options that are no object: a string as a URL would be shown, a structure by its kind. */
const shownOptions = (options: unknown): unknown => {
  if (typeof options === "string") return shownUrl(options.slice(0, maxUrlLength))
  if (typeof options === "function") return "[function]"
  return options !== null && typeof options === "object" ? (Array.isArray(options) ? "[array]" : "[object]") : options
}

/** The options as a plain record of own values, or why they cannot be read; an unknown option is named, never shown. */
const entriesOf = (options: unknown): Given | ValidationError => {
  if (!Limits.isPlainObject(options)) return refuse("options", shownOptions(options), expectedOptions)
  try {
    const unknown = Object.keys(options).find((name) => !(optionNames as ReadonlyArray<string>).includes(name))
    if (unknown !== undefined) return refuse("options", unknown, `only the options ${optionNames.join(", ")}`)
    return Object.fromEntries(optionNames.map((name) => [name, options[name]])) as Given
  } catch {
    return refuse("options", "[unreadable]", expectedOptions)
  }
}

const blankAsUnset = (value: string | undefined) => (value === undefined || value.trim() === "" ? undefined : value)

/** The options the environment sets: none without `LINEAGE_OPENLINEAGE_URL`, whose endpoint and key go with it. */
const environmentOptions = (env: NodeJS.ProcessEnv): Given | undefined => {
  const url = blankAsUnset(env[urlVariable])
  if (url === undefined) return undefined
  const endpoint = blankAsUnset(env[endpointVariable])
  const apiKey = blankAsUnset(env[apiKeyVariable])
  return { url, endpoint, apiKey, namespace: undefined, timeoutMs: undefined, retries: undefined }
}

/** How a refusal names each option the environment gives. */
const environmentFields: { readonly [name in OptionName]?: string } = { url: urlVariable, endpoint: endpointVariable, apiKey: apiKeyVariable }

/** The value, or `checked` thrown: `parse` reads as a list of checks, the first failing one its answer. */
const checked = <A>(value: A | ValidationError): A => {
  if (value instanceof ValidationError) throw value
  return value
}

/** `url` parsed: http(s), at most `maxUrlLength` characters; a refusal shows it with credentials and query hidden. */
const checkUrl = (value: unknown, field: string): URL | ValidationError => {
  const expected = `an http: or https: URL of at most ${maxUrlLength} characters`
  if (typeof value !== "string") return refuse(field, shownOptions(value), expected)
  const shown = shownUrl(value.slice(0, maxUrlLength))
  if (value.length > maxUrlLength || controlCharacter.test(value) || !URL.canParse(value)) return refuse(field, shown, expected)
  const url = new URL(value)
  return url.protocol === "http:" || url.protocol === "https:" ? url : refuse(field, shown, expected)
}

const checkText = (value: unknown, field: string, what: string): string | ValidationError =>
  typeof value === "string" && value.trim() !== "" && value.length <= 1_024 && !controlCharacter.test(value)
    ? value
    : refuse(field, value, `${what}: a non-blank string of at most 1024 characters without control characters`)

/** A path to post to; a refusal shows it cut at `?` or `#`, where a token could follow. */
const checkEndpoint = (value: unknown, field: string): string | ValidationError =>
  typeof value === "string" && value.trim() !== "" && value.length <= 1_024 && !/[\u0000-\u001f\u007f?#\\]/.test(value)
    ? value
    : refuse(
        field,
        typeof value === "string" ? urlWithoutQuery(value.slice(0, 1_024)) : value,
        "a path such as api/v1/lineage: a non-blank string of at most 1024 characters without control characters, ?, # or \\"
      )

/** The bearer token, held redacted; a refusal never shows it. */
const checkApiKey = (value: unknown, field: string): Redacted.Redacted<string> | ValidationError => {
  const key = Redacted.isRedacted(value) ? Redacted.value(value) : value
  return typeof key === "string" && key.trim() !== "" && key.length <= 4_096 && !controlCharacter.test(key)
    ? Redacted.make(`Bearer ${key}`)
    : refuse(field, Redaction.marker, "a non-blank string (or Redacted string) of at most 4096 characters without control characters")
}

const checkInteger = (value: unknown, field: string, min: number, max: number): number | ValidationError =>
  typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
    ? value
    : refuse(field, value, `an integer from ${min} to ${max}`)

/** Basic authentication from credentials in `url` (percent-decoded), or undefined without any. */
const basicAuthorization = (url: URL, field: string): Redacted.Redacted<string> | undefined | ValidationError => {
  if (url.username === "" && url.password === "") return undefined
  try {
    const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
    return Redacted.make(`Basic ${Buffer.from(pair, "utf8").toString("base64")}`)
  } catch {
    return refuse(field, shownUrl(url.href), "credentials percent-encoded as URLs encode them")
  }
}

/** The one authorization: credentials in the URL or an API key; both is a refusal, so neither overrides the other. */
const authorizationOf = (url: URL, apiKey: unknown, field: (name: OptionName) => string) => {
  const basic = checked(basicAuthorization(url, field("url")))
  if (apiKey === undefined) return basic
  const bearer = checked(checkApiKey(apiKey, field("apiKey")))
  if (basic !== undefined)
    throw refuse(field("apiKey"), Redaction.marker, `no API key when ${field("url")} carries credentials: one or the other`)
  return bearer
}

/** `url` with `endpoint` appended to its path (a base path is kept: a proxy may serve the API under one). */
const withEndpoint = (url: URL, endpoint: string): URL => {
  const target = new URL(url.href)
  target.pathname = `${target.pathname.replace(/\/+$/, "")}/${endpoint.replace(/^\/+/, "")}`
  return target
}

/** `given` checked (see `Options`); `field` names an option as a refusal shows it. */
const parse = (given: Given, field: (name: OptionName) => string): Config | ValidationError => {
  try {
    const url = checked(checkUrl(given.url, field("url")))
    const endpoint = given.endpoint === undefined ? defaultEndpoint : checked(checkEndpoint(given.endpoint, field("endpoint")))
    const authorization = authorizationOf(url, given.apiKey, field)
    const namespace = given.namespace === undefined ? undefined : checked(checkText(given.namespace, field("namespace"), "a job namespace"))
    const timeoutMs = given.timeoutMs === undefined ? defaultTimeoutMs : checked(checkInteger(given.timeoutMs, field("timeoutMs"), 1, maxTimeoutMs))
    const retries = given.retries === undefined ? defaultRetries : checked(checkInteger(given.retries, field("retries"), 0, maxRetries))
    const target = withEndpoint(url, endpoint)
    const shown = shownUrl(target.href)
    target.username = ""
    target.password = ""
    return { target: target.href, shown, authorization, namespace, timeoutMs, retries }
  } catch (e) {
    if (e instanceof ValidationError) return e
    throw e
  }
}

/** `options` checked, or why they cannot be used. */
const checkOptions = (options: unknown): Config | ValidationError => {
  const given = entriesOf(options)
  return given instanceof ValidationError ? given : parse(given, (name) => name)
}

/** What the environment sets, checked (undefined when it sets nothing), or why it cannot be used. */
const checkEnvironment = (env: NodeJS.ProcessEnv): Config | undefined | ValidationError => {
  const given = environmentOptions(env)
  return given === undefined ? undefined : parse(given, (name) => environmentFields[name] ?? name)
}

const lifted = <A>(result: A | ValidationError): Effect.Effect<A, ValidationError> =>
  result instanceof ValidationError ? Effect.fail(result) : Effect.succeed(result)

/** `options` checked (see `Options`), or a `ValidationError` naming the option: an API key is never shown, an unknown option only by its name. */
export const config = (options: unknown): Effect.Effect<Config, ValidationError> => Effect.suspend(() => lifted(checkOptions(options)))

/** What `LINEAGE_OPENLINEAGE_URL` (and the variables beside it) set, checked; none when it is unset or blank. */
export const configFromEnv = (env: NodeJS.ProcessEnv = process.env): Effect.Effect<Config | undefined, ValidationError> =>
  Effect.suspend(() => lifted(checkEnvironment(env)))

// ---------------------------------------------------------------------------------------------------------
// Sending

/** How one attempt ended. */
type Outcome =
  | { readonly delivered: true }
  | { readonly delivered: false; readonly status: string; readonly retryable: boolean }

/** Why a request got no answer: a timeout or the system's error code, never a message that could quote a header. */
const failureOf = (error: unknown, timeoutMs: number): string => {
  const name = (error as { readonly name?: unknown } | null)?.name
  if (name === "TimeoutError") return `no answer within ${timeoutMs} ms`
  if (name === "AbortError") return "stopped"
  const code = (error as { readonly cause?: { readonly code?: unknown } } | null)?.cause?.code
  return typeof code === "string" && /^[A-Z0-9_]{1,40}$/.test(code) ? `network error ${code}` : "network error"
}

const post = async (config: Config, body: string, stopped: AbortSignal): Promise<Outcome> => {
  try {
    const response = await fetch(config.target, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        ...(config.authorization !== undefined ? { Authorization: Redacted.value(config.authorization) } : {})
      },
      body,
      // A redirect is a misconfigured URL: following it could carry the key elsewhere.
      redirect: "manual",
      signal: AbortSignal.any([AbortSignal.timeout(config.timeoutMs), stopped])
    })
    await response.body?.cancel().catch(() => undefined)
    if (response.ok) return { delivered: true }
    return { delivered: false, status: `HTTP ${response.status}`, retryable: response.status >= 500 || response.status === 429 }
  } catch (error) {
    return { delivered: false, status: failureOf(error, config.timeoutMs), retryable: true }
  }
}

/** A wait that does not keep the process alive, cut short when `stopped` is aborted. */
const sleep = (ms: number, stopped: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (stopped.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      stopped.removeEventListener("abort", done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    timer.unref()
    stopped.addEventListener("abort", done)
  })

const backoff = (retry: number) => Math.min(maxBackoffMs, backoffMs * 2 ** (retry - 1))

/** How long one event may take to be delivered or given up: what `flush` and `close` wait by default, at most `maxFlushMs`. */
export const flushBound = (config: Config): number => {
  let total = (config.retries + 1) * config.timeoutMs
  for (let retry = 1; retry <= config.retries; retry++) total += backoff(retry)
  return Math.min(maxFlushMs, total)
}

/** Builds an event when its turn to be sent comes; `signal` is aborted when the emitter closes. */
export type Build = (signal: AbortSignal) => Promise<OpenLineage.RunEvent>

export interface Emitter {
  readonly config: Config
  /** Queues `event`, or drops it (with a warning) when the queue is full: never waits, never fails. */
  readonly send: (event: OpenLineage.RunEvent) => void
  /**
   * Queues the event `build` makes, built when its turn comes, in the background: never waits, never fails.
   * `label` names it in warnings (one is warned about if it cannot be built).
   */
  readonly sendLater: (label: string, build: Build) => void
  /**
   * Resolves once every queued event is delivered or given up, or after `timeoutMs` (default `flushBound`),
   * warning then of what is still queued. Never rejects.
   */
  readonly flush: (timeoutMs?: number) => Promise<void>
  /**
   * Flushes for at most `timeoutMs` (default `flushBound`), then stops for good: a request or build in flight is
   * aborted, what is still queued is dropped with one warning (before this resolves), and later events are
   * ignored without a word. Never rejects.
   */
  readonly close: (timeoutMs?: number) => Promise<void>
  /** Whether nothing is queued or in flight. */
  readonly idle: () => boolean
}

interface Queued {
  readonly label: string
  /** The JSON posted, or what builds its event when its turn comes. */
  readonly body: string | Build
  /** What `body` holds in memory: nothing until it is built. */
  readonly bytes: number
}

/** One emitter's state: its queue, and what it warned about (each once, until things go well again). */
interface Sender {
  readonly config: Config
  readonly warn: (message: string) => void
  readonly queue: Array<Queued>
  readonly drained: Array<() => void>
  /** Aborted by `close`: it ends what is in flight, and nothing is sent or warned about after it. */
  readonly stop: AbortController
  bytes: number
  sending: boolean
  /** An event was not delivered: later ones get one attempt and no warning, until one is delivered. */
  failing: boolean
  /** An event could not be built: later failures to build get no warning, until one is built. */
  unbuildable: boolean
  /** The queue was full: later drops get no warning, until it drains. */
  dropping: boolean
}

/** Warns through `s`, unless it was closed. */
const tell = (s: Sender, message: string) => {
  if (!s.stop.signal.aborted) s.warn(message)
}

const tooLarge = (s: Sender, label: string, bytes: number) =>
  tell(s, `OpenLineage: the ${label} takes ${bytes} bytes, more than the ${maxQueuedBytes} an emitter holds; not sent`)

const reasonOf = (error: unknown): string => {
  const message = error instanceof Error ? error.message : "unknown failure"
  return message.length > 1_024 ? `${message.slice(0, 1_024)}…` : message
}

/** The JSON of `item`, built now if it waits to be; undefined (warned about) when it cannot be sent. */
const bodyOf = async (s: Sender, item: Queued): Promise<string | undefined> => {
  if (typeof item.body === "string") return item.body
  try {
    const body = JSON.stringify(await item.body(s.stop.signal))
    s.unbuildable = false
    const bytes = Buffer.byteLength(body)
    if (bytes <= maxQueuedBytes) return body
    tooLarge(s, item.label, bytes)
  } catch (error) {
    if (!s.unbuildable)
      tell(s, `OpenLineage: the ${item.label} could not be built: ${reasonOf(error)}; until one is, later failures are not reported`)
    s.unbuildable = true
  }
  return undefined
}

const deliver = async (s: Sender, label: string, body: string) => {
  const attempts = s.failing ? 1 : s.config.retries + 1
  let outcome: Outcome = { delivered: false, status: "not sent", retryable: false }
  for (let attempt = 1; attempt <= attempts && !s.stop.signal.aborted; attempt++) {
    if (attempt > 1) await sleep(backoff(attempt - 1), s.stop.signal)
    outcome = await post(s.config, body, s.stop.signal)
    if (outcome.delivered || !outcome.retryable) break
  }
  if (outcome.delivered) s.failing = false
  if (outcome.delivered || s.failing) return
  s.failing = true
  tell(
    s,
    `OpenLineage: the ${label} was not delivered to ${s.config.shown}: ${outcome.status}; until an event is ` +
      "delivered, later failures are not reported nor retried"
  )
}

const drain = async (s: Sender) => {
  s.sending = true
  try {
    for (let item = s.queue[0]; item !== undefined && !s.stop.signal.aborted; item = s.queue[0]) {
      const body = await bodyOf(s, item)
      if (body !== undefined) await deliver(s, item.label, body)
      if (s.stop.signal.aborted) break
      s.queue.shift()
      s.bytes -= item.bytes
    }
  } finally {
    s.sending = false
    s.dropping = false
    for (const resolve of s.drained.splice(0)) resolve()
  }
}

const enqueue = (s: Sender, item: Queued) => {
  if (s.stop.signal.aborted) return
  if (item.bytes > maxQueuedBytes) return tooLarge(s, item.label, item.bytes)
  if (s.queue.length >= maxQueuedEvents || s.bytes + item.bytes > maxQueuedBytes) {
    if (!s.dropping)
      tell(
        s,
        `OpenLineage: the queue of events for ${s.config.shown} is full (${maxQueuedEvents} events or ` +
          `${maxQueuedBytes} bytes); events are dropped until it drains`
      )
    s.dropping = true
    return
  }
  s.queue.push(item)
  s.bytes += item.bytes
  if (!s.sending) void drain(s)
}

/** Resolves true once `s` has nothing in flight, false after `timeoutMs`. */
const settled = (s: Sender, timeoutMs: number) =>
  new Promise<boolean>((resolve) => {
    if (!s.sending) return resolve(true)
    // Kept alive on purpose: a caller awaiting close() must see it return, not the process end under it.
    const timer = setTimeout(() => resolve(false), timeoutMs)
    s.drained.push(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })

const flushSender = async (s: Sender, timeoutMs: number) => {
  if (!(await settled(s, timeoutMs)))
    tell(s, `OpenLineage: ${s.queue.length} event(s) for ${s.config.shown} still queued after waiting ${timeoutMs} ms`)
}

const closeSender = async (s: Sender, timeoutMs: number) => {
  if (s.stop.signal.aborted) return
  const done = await settled(s, timeoutMs)
  if (!done && s.queue.length > 0)
    tell(s, `OpenLineage: closing, ${s.queue.length} event(s) for ${s.config.shown} were dropped after waiting ${timeoutMs} ms`)
  s.stop.abort()
  s.queue.length = 0
  s.bytes = 0
}

const labelOf = (type: OpenLineage.EventType, uid: string) => `${type} event of run ${JSON.stringify(uid.slice(0, 64))}`

/** An emitter for `config`, warning through `warn`. */
export const fromConfig = (config: Config, warn: (message: string) => void): Emitter => {
  const s: Sender = {
    config,
    warn,
    queue: [],
    drained: [],
    stop: new AbortController(),
    bytes: 0,
    sending: false,
    failing: false,
    unbuildable: false,
    dropping: false
  }
  const send = (event: OpenLineage.RunEvent) => {
    const label = labelOf(event.eventType, event.run.facets.lineage_run.uid)
    let body: string
    try {
      body = JSON.stringify(event)
    } catch {
      return tell(s, `OpenLineage: the ${label} is not JSON (a cycle or a bigint); not sent`)
    }
    enqueue(s, { label, body, bytes: Buffer.byteLength(body) })
  }
  return {
    config,
    send,
    sendLater: (label, build) => enqueue(s, { label, body: build, bytes: 0 }),
    flush: (timeoutMs = flushBound(config)) => flushSender(s, timeoutMs),
    close: (timeoutMs = flushBound(config)) => closeSender(s, timeoutMs),
    idle: () => !s.sending
  }
}

/** Warnings through `Effect.logWarning` with the loggers `context` has, logged before this returns. */
const warner =
  (context: Context.Context<never>) =>
  (message: string): void =>
    Effect.runSyncWith(context)(Effect.logWarning(message))

/** An emitter for `options` (see `Options`), warning with the loggers of the calling code. */
export const make = (options: unknown): Effect.Effect<Emitter, ValidationError> =>
  Effect.flatMap(config(options), (checked) => Effect.map(Effect.context<never>(), (context) => fromConfig(checked, warner(context))))

// ---------------------------------------------------------------------------------------------------------
// The emitter of a store

/** A store's emitters: the current one (`unresolved` until the environment was looked at), and those still sending. */
interface Holder {
  current: Emitter | undefined | "unresolved"
  /** The current emitter and those it replaced while they still had events to send: what `close` waits for. */
  readonly all: Set<Emitter>
}

const holders = new WeakMap<StoreShape, Holder>()

const holderOf = (store: StoreShape): Holder => {
  let holder = holders.get(store)
  if (holder === undefined) {
    const created: Holder = { current: "unresolved", all: new Set() }
    holders.set(store, created)
    // A run the store still tracks is ended by Tracking's own release hook, which runs after this one and
    // closes the emitters once that run's last event is queued. Each close is bounded, so the release is.
    onRelease(
      store,
      Effect.suspend(() => (slotOf(store).state?._tag === "Tracking" ? Effect.void : Effect.promise(() => closeHolder(created))))
    )
    holder = created
  }
  return holder
}

/** Closes the holder's emitters, all at once; its store sends nothing more until it is configured again. */
const closeHolder = async (holder: Holder) => {
  const emitters = [...holder.all]
  holder.current = undefined
  holder.all.clear()
  await Promise.all(emitters.map((emitter) => emitter.close()))
}

const sameSecret = (a: Redacted.Redacted<string> | undefined, b: Redacted.Redacted<string> | undefined) =>
  a === undefined || b === undefined ? a === b : Redacted.value(a) === Redacted.value(b)

const sameConfig = (a: Config, b: Config) =>
  a.target === b.target &&
  a.namespace === b.namespace &&
  a.timeoutMs === b.timeoutMs &&
  a.retries === b.retries &&
  sameSecret(a.authorization, b.authorization)

/** Makes the emitter for `config` the holder's current one (and returns it), unless the current one has that very config. */
const use = (holder: Holder, config: Config | false, context: Context.Context<never>): Emitter | undefined => {
  const current = holder.current
  if (config !== false && typeof current === "object" && sameConfig(current.config, config)) return current
  // Emitters replaced earlier are kept only until they have sent what they held.
  for (const emitter of holder.all) if (emitter.idle()) holder.all.delete(emitter)
  const next = config === false ? undefined : fromConfig(config, warner(context))
  holder.current = next
  if (next !== undefined) holder.all.add(next)
  return next
}

/** The holder's emitter, the environment's if none was set; a bad environment is warned about once, and sends nothing. */
const resolved = (holder: Holder, context: Context.Context<never>): Emitter | undefined => {
  if (holder.current !== "unresolved") return holder.current
  const found = checkEnvironment(process.env)
  if (found instanceof ValidationError) warner(context)(`OpenLineage: no events are sent: ${found.message}`)
  return use(holder, found instanceof ValidationError || found === undefined ? false : found, context)
}

/**
 * Checks an `openLineage` option, and gives what sets the emitter of the store in context from it: `Options`
 * (a `ValidationError` names the option), `false` for none (not even the environment's), or undefined to keep
 * the one set, else to take the environment's (see the module). Checking sets nothing, so a caller can check
 * first and set once its other checks pass. The emitter serves every later event of the store; setting the
 * options the current one has keeps it.
 */
export const configure = (option: Options | false | undefined): Effect.Effect<Effect.Effect<void, never, Store>, ValidationError> => {
  const checking: Effect.Effect<Config | false | undefined, ValidationError> =
    option === false || option === undefined ? Effect.succeed(option) : config(option)
  return Effect.map(checking, (checked) =>
    Effect.gen(function* () {
      const context = yield* Effect.context<Store>()
      const holder = holderOf(Context.get(context, Store))
      if (checked === undefined) resolved(holder, context)
      else use(holder, checked, context)
    })
  )
}

/** What an event carries beside its run: what the caller holds of the run's surroundings, and how it failed. */
export type Emission = Omit<OpenLineage.LiveEventOptions, "namespace">

/**
 * Queues the event `run`'s status has just become (`OpenLineage.currentEventType`) on the store's emitter, if it
 * has one. Never waits for the event to be built (the emitter's loop builds it, reading what `emission` does not
 * give), never fails: an event that cannot be built is warned about.
 */
export const emit = (run: Records.Run, emission: Emission = {}): Effect.Effect<void, never, Store> =>
  Effect.gen(function* () {
    const type = OpenLineage.currentEventType(run.status)
    if (type === undefined) return
    const context = yield* Effect.context<Store>()
    const emitter = resolved(holderOf(Context.get(context, Store)), context)
    if (emitter === undefined) return
    const options = { ...emission, namespace: emitter.config.namespace }
    emitter.sendLater(labelOf(type, run.uid), (signal) => Effect.runPromiseWith(context)(OpenLineage.event(run, type, options), { signal }))
  })

/** `f` done to the emitters of the store in context, if it has any. */
const withHolder = (f: (holder: Holder) => Promise<void>): Effect.Effect<void, never, Store> =>
  Effect.flatMap(Store, (store) => {
    const holder = holders.get(store)
    return holder === undefined ? Effect.void : Effect.promise(() => f(holder))
  })

/** Waits for the store's emitters to send what they hold, at most `flushBound` each (all at once); never fails. */
export const flush: Effect.Effect<void, never, Store> = withHolder((holder) =>
  Promise.all([...holder.all].map((emitter) => emitter.flush())).then(() => undefined)
)

/**
 * Closes the store's emitters (see `Emitter.close`: one flush, bounded, then stopped for good); never fails. The
 * store sends nothing more until `configure` sets an emitter again. The release of the layer that built a store
 * closes them, after the run it still tracks has ended.
 */
export const close: Effect.Effect<void, never, Store> = withHolder(closeHolder)
