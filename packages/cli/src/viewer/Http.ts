/**
 * The viewer's HTTP surface below its routes: what every response carries, how a failure becomes a JSON
 * body, and the checks a request passes before any route sees it (its Host header, where it comes from, its
 * method, its token), and the landing that turns a page load's token into a cookie.
 *
 * Every response is locked down the same way: a Content-Security-Policy that allows only the page's own
 * files (no inline script, no other origin), no MIME sniffing, no framing, no referrer, no caching, and no
 * CORS header at all, so no other site can read an answer. A failure is `{ "error": { "_tag", "message" } }`
 * with a status that fits it; never a stack trace.
 */
import { createHash, timingSafeEqual } from "node:crypto"
import type { IncomingMessage } from "node:http"
import { isIP } from "node:net"
import {
  ArtifactStorageError,
  DoesNotExist,
  InvalidQuery,
  MultipleObjectsReturned,
  StoreError,
  type UniqueViolation,
  type ValidationError
} from "@lineage/core"
import { Data } from "effect"

/**
 * What a route answers. `body` is sent for GET and left out for HEAD; `{ length }` stands for a body a HEAD
 * request was not given (its length is the Content-Length). Its headers come on top of `baseHeaders`.
 */
export interface Reply {
  readonly status: number
  readonly headers: { readonly [name: string]: string | ReadonlyArray<string> }
  readonly body: string | Uint8Array | { readonly length: number }
}

/** Sent with every response. */
export const baseHeaders: { readonly [name: string]: string } = {
  "Content-Security-Policy":
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store"
}

export const json = (value: unknown, status = 200): Reply => ({
  status,
  headers: { "Content-Type": "application/json; charset=utf-8" },
  body: JSON.stringify(value)
})

/**
 * A request the viewer refuses before or instead of asking the store: its status, a stable tag (and reason),
 * a message.
 */
export class Refusal extends Data.TaggedError("Refusal")<{
  readonly status: number
  readonly tag: string
  readonly reason?: string
  readonly detail: string
  readonly headers?: { readonly [name: string]: string }
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * What a route may fail with. A `ValidationError` or `UniqueViolation` can only come of a record the store
 * holds that breaks core's own rules (the viewer writes nothing): a server error.
 */
export type RouteError =
  | Refusal
  | InvalidQuery
  | DoesNotExist
  | MultipleObjectsReturned
  | StoreError
  | ArtifactStorageError
  | ValidationError
  | UniqueViolation

/** The system error code of a failed file operation (`ENOENT`, `EACCES`), when it has one of that form. */
const codeOf = (e: ArtifactStorageError): string | undefined => {
  const code = (e.cause as { readonly code?: unknown } | undefined)?.code
  return typeof code === "string" && /^E[A-Z]{2,20}$/.test(code) ? code : undefined
}

/** What each reason means for the artifact, in words a client may be shown. */
const storageProblems: { readonly [reason in ArtifactStorageError["reason"]]: string } = {
  Io: "its file cannot be read from the storage root",
  OutsideRoot: "its record leads outside the storage root",
  UnsafeRoot: "the storage root is not a directory of this user's",
  HashMismatch: "its file does not hold the bytes recorded (another size or hash)"
}

/**
 * An artifact's storage failure as the viewer tells it: the artifact and the reason, never a server path (core's
 * message names the file, the root and the record's storage). A missing file is a 404.
 */
export const storageRefusal = (e: ArtifactStorageError, uid?: string): Refusal => {
  const code = codeOf(e)
  const missing = e.reason === "Io" && code === "ENOENT"
  const problem = missing ? "its file is gone from the storage root" : `${storageProblems[e.reason]}${code === undefined ? "" : ` (${code})`}`
  return new Refusal({
    status: missing ? 404 : 500,
    tag: "ArtifactStorageError",
    reason: e.reason,
    detail: `${uid === undefined ? "the artifact" : `artifact ${uid}`}: ${problem}`
  })
}

const statusOf = (e: Exclude<RouteError, ArtifactStorageError>): number => {
  if (e instanceof Refusal) return e.status
  if (e instanceof InvalidQuery) return 400
  if (e instanceof DoesNotExist) return 404
  if (e instanceof MultipleObjectsReturned) return 409
  if (e instanceof StoreError) return e.reason._tag === "Unavailable" || e.reason._tag === "Closed" ? 503 : 500
  return 500
}

/** A failure as the JSON body the page shows: the error's tag (and reason, for a store's), and its message. */
export const failure = (error: RouteError): Reply => {
  const e = error instanceof ArtifactStorageError ? storageRefusal(error) : error
  const tag = e instanceof Refusal ? e.tag : e._tag
  const reason = e instanceof StoreError ? e.reason._tag : e instanceof Refusal ? e.reason : undefined
  const reply = json({ error: { _tag: tag, ...(reason === undefined ? {} : { reason }), message: e.message } }, statusOf(e))
  return e instanceof Refusal && e.headers !== undefined ? { ...reply, headers: { ...reply.headers, ...e.headers } } : reply
}

/** A bug, not a failure any request could cause: said as little about as possible. */
export const internalError: Reply = json({ error: { _tag: "InternalError", message: "internal error in the viewer" } }, 500)

// ---------------------------------------------------------------------------------------------------------
// Request checks

/** The viewer only reads. */
export const checkMethod = (method: string | undefined): Refusal | undefined =>
  method === "GET" || method === "HEAD"
    ? undefined
    : new Refusal({
        status: 405,
        tag: "MethodNotAllowed",
        detail: `the viewer is read-only: method ${JSON.stringify(String(method).slice(0, 20))} is not allowed, only GET and HEAD`,
        headers: { Allow: "GET, HEAD" }
      })

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`: addresses no other machine can reach. */
export const isLoopback = (host: string): boolean => {
  const h = host.toLowerCase()
  if (h === "localhost") return true
  if (isIP(h) === 4) return h.startsWith("127.")
  if (isIP(h) === 6) return h === "::1" || /^::ffff:127\./.test(h) || h === "0:0:0:0:0:0:0:1"
  return false
}

/** `0.0.0.0` and `::`: every interface, so no one name the requests will use. */
export const isWildcard = (host: string): boolean => host === "0.0.0.0" || host === "::"

/** `host:port` as a URL or a Host header writes it: an IPv6 address in brackets. */
export const authority = (host: string, port: number): string => `${isIP(host) === 6 ? `[${host}]` : host}:${port}`

/**
 * The Host headers the viewer answers: the bound address and, on loopback, the loopback names. A page of
 * another site that renames itself to 127.0.0.1 (DNS rebinding) still sends its own name, and is refused. On
 * a wildcard bind every name is allowed: the token, required there, is what keeps other sites out.
 */
export const allowedHosts = (host: string, port: number): ReadonlySet<string> | "any" => {
  if (isWildcard(host)) return "any"
  const names = isLoopback(host) ? [host, "localhost", "127.0.0.1", "::1"] : [host]
  const hosts = names.map((name) => authority(name, port).toLowerCase())
  return new Set(port === 80 ? [...hosts, ...hosts.map((h) => h.replace(/:80$/, ""))] : hosts)
}

export const checkHost = (header: string | undefined, allowed: ReadonlySet<string> | "any"): Refusal | undefined =>
  allowed === "any" || (header !== undefined && allowed.has(header.toLowerCase()))
    ? undefined
    : new Refusal({
        status: 403,
        tag: "HostNotAllowed",
        detail: `the Host header ${JSON.stringify(String(header).slice(0, 100))} does not name this viewer (expected one of ${[...allowed].join(", ")})`
      })

/**
 * A browser says where a request comes from: `cross-site` and `same-site` are another site's page (a blind
 * GET, a form, an image), refused even without a token; `same-origin` is the viewer's own page and `none` the
 * address bar or a bookmark. A client that sends no such header (curl, scripts) is not a browser's page.
 */
export const checkFetchSite = (header: string | undefined): Refusal | undefined => {
  const site = header?.toLowerCase()
  return site !== "cross-site" && site !== "same-site"
    ? undefined
    : new Refusal({
        status: 403,
        tag: "CrossSite",
        detail: `the viewer answers its own page and direct requests only, not another site's (Sec-Fetch-Site ${JSON.stringify(header)})`
      })
}

/** SHA-256 first, so that the comparison takes the same time whatever the lengths. */
const sameSecret = (given: string, expected: string): boolean =>
  timingSafeEqual(createHash("sha256").update(given).digest(), createHash("sha256").update(expected).digest())

/**
 * The cookie that carries the token of the viewer on `port`: browsers keep cookies per host, not per port, so
 * each viewer's has its own name and two viewers on one host do not overwrite each other's.
 */
export const cookieName = (port: number): string => `lineage_token_${port}`

/** The values of the cookie `name` in a Cookie header (a browser may send several with one name). */
const cookiesNamed = (header: string | undefined, name: string): ReadonlyArray<string> =>
  (header ?? "")
    .split(";")
    .map((pair) => pair.trim())
    .filter((pair) => pair.startsWith(`${name}=`))
    .map((pair) => pair.slice(name.length + 1))

/** The tokens a request carries: `Authorization: Bearer <token>`, the `token` query parameter, the viewer's cookie. */
const tokensOf = (request: IncomingMessage, query: URLSearchParams, port: number): ReadonlyArray<string> => {
  const header = request.headers.authorization
  const bearer = header === undefined ? undefined : /^Bearer[ ]+(\S+)\s*$/i.exec(header)?.[1]
  const fromQuery = query.get("token") ?? undefined
  return [bearer, fromQuery, ...cookiesNamed(request.headers.cookie, cookieName(port))].filter((t) => t !== undefined)
}

/** With a token set, a request that carries none, or only others, is refused (the token is never echoed). */
export const checkToken = (request: IncomingMessage, query: URLSearchParams, token: string | undefined, port: number): Refusal | undefined => {
  if (token === undefined) return undefined
  const given = tokensOf(request, query, port)
  if (given.some((t) => sameSecret(t, token))) return undefined
  return new Refusal({
    status: 401,
    tag: "Unauthorized",
    detail:
      given.length === 0
        ? "this viewer requires its token: open the page with ?token=<token>, or send Authorization: Bearer <token>"
        : "the token given is not this viewer's",
    headers: { "WWW-Authenticate": 'Bearer realm="lineage"' }
  })
}

/**
 * A page load that carries the token in its URL, once the token is checked: answered by setting the cookie
 * (HttpOnly, so no script reads it; SameSite=Strict, so no other site's request carries it) and sending the
 * browser on to the same URL without the token, so that it leaves the address bar and the history.
 */
export const landing = (url: URL, token: string | undefined, port: number): Reply | undefined => {
  if (token === undefined || !url.searchParams.has("token") || (url.pathname !== "/" && url.pathname !== "/index.html")) return undefined
  const rest = new URLSearchParams(url.searchParams)
  rest.delete("token")
  const search = rest.toString()
  return {
    status: 303,
    headers: {
      Location: `${url.pathname}${search === "" ? "" : `?${search}`}`,
      "Set-Cookie": [`${cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`]
    },
    body: ""
  }
}
