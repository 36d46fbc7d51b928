/**
 * The local web viewer (`lineage ui`): a read-only page over the store, and the JSON API under `/api` it
 * reads (see `API.md`). A `node:http` server bound to 127.0.0.1 unless told otherwise, answering GET and HEAD
 * only, closed when its scope closes, with every request it is answering.
 *
 * Nothing but this machine reaches it by default: an address other machines can reach is refused unless a
 * token is set, and with a token every request must carry it. A request whose Host header does not name the
 * viewer is refused, so a web page cannot reach it by renaming its own site to 127.0.0.1; so is a request a
 * browser says another site's page made.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { showValue, type Store } from "@lineage/core"
import { Data, Effect, Exit, Fiber, FiberSet, type Scope } from "effect"
import { answer } from "./viewer/Api.js"
import {
  allowedHosts,
  authority,
  baseHeaders,
  checkFetchSite,
  checkHost,
  checkMethod,
  checkToken,
  failure,
  internalError,
  isLoopback,
  landing,
  Refusal,
  type Reply
} from "./viewer/Http.js"
import * as Page from "./viewer/Page.js"

export interface ServeOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number | undefined
  /** 127.0.0.1 unless given; any other than a loopback address needs `token`. */
  readonly host?: string | undefined
  /**
   * Required on every request when set: 16 to 512 characters of `A-Z a-z 0-9 . _ ~ -` (a random
   * `randomBytes(24).toString("base64url")` fits). Never shown in an error, a log or the returned URL.
   */
  readonly token?: string | undefined
  /** How long a request may take before it is answered 503: 1 to 600 000 ms, 30 000 unless given. */
  readonly deadlineMs?: number | undefined
}

export interface Serving {
  /** `http://<host>:<port>/`, without the token. */
  readonly url: string
  readonly port: number
}

/**
 * Why the viewer could not start: an option out of bounds (`InvalidOption`), an address others can reach
 * without a token (`NonLoopback`), the address not free or not ours (`Listen`), the page's files missing
 * (`PageMissing`).
 */
export class ViewerError extends Data.TaggedError("ViewerError")<{
  readonly reason: "InvalidOption" | "NonLoopback" | "Listen" | "PageMissing"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `The viewer cannot start: ${this.detail}`
  }
}

/** The page's files, beside `src/` and `dist/` alike. */
const pageDirectory = new URL("../page/", import.meta.url)

const tokenPattern = /^[A-Za-z0-9._~-]{16,512}$/

const invalid = (option: string, value: unknown, expected: string) =>
  new ViewerError({ reason: "InvalidOption", detail: `option ${option}: got ${showValue(value)}, expected ${expected}` })

interface Checked {
  readonly port: number
  readonly host: string
  readonly token: string | undefined
  readonly deadlineMs: number
}

/** The options checked: a port, a host name or address, a token of the documented form (its value never shown), a deadline. */
const checked = (options: ServeOptions): Effect.Effect<Checked, ViewerError> => {
  const { port = 0, host = "127.0.0.1", token, deadlineMs = 30_000 } = options
  if (!Number.isInteger(port) || port < 0 || port > 65535) return Effect.fail(invalid("port", port, "an integer from 0 to 65535 (0 picks a free port)"))
  if (!Number.isInteger(deadlineMs) || deadlineMs < 1 || deadlineMs > 600_000)
    return Effect.fail(invalid("deadlineMs", deadlineMs, "an integer from 1 to 600000 (milliseconds)"))
  if (typeof host !== "string" || host.length === 0 || host.length > 253 || !/^[A-Za-z0-9.:_-]+$/.test(host))
    return Effect.fail(invalid("host", host, "a host name or an IP address such as 127.0.0.1 or ::1"))
  if (token !== undefined && (typeof token !== "string" || !tokenPattern.test(token)))
    return Effect.fail(
      new ViewerError({
        reason: "InvalidOption",
        detail: `option token: got ${typeof token === "string" ? `${token.length} characters` : typeof token} (not shown), expected 16 to 512 characters of A-Z a-z 0-9 . _ ~ -`
      })
    )
  if (token === undefined && !isLoopback(host))
    return Effect.fail(
      new ViewerError({
        reason: "NonLoopback",
        detail: `option host: got ${showValue(host)}, which other machines can reach; expected a loopback address (127.0.0.1, ::1, localhost), or set a token that every request must carry`
      })
    )
  return Effect.succeed({ port, host, token, deadlineMs })
}

/** A request past its deadline: a store that stops answering gets the client an answer all the same. */
const timedOut = (deadlineMs: number) =>
  new Refusal({ status: 503, tag: "Timeout", detail: `no answer within ${deadlineMs} ms: the store is too slow or does not answer` })

const badTarget = new Refusal({ status: 400, tag: "BadRequest", detail: "the request target is not a URL path" })

const pageFile = (page: Page.Page, path: string): Effect.Effect<Reply, Refusal> => {
  const file = page.file(path)
  return file === undefined
    ? Effect.fail(new Refusal({ status: 404, tag: "RouteNotFound", detail: "no such page: the viewer's page is / and its API is under /api/" }))
    : Effect.succeed(file)
}

/** Sends a reply; HEAD gets the headers alone. */
const send = (response: ServerResponse, reply: Reply, head: boolean) => {
  const body = typeof reply.body === "string" ? Buffer.from(reply.body, "utf8") : reply.body
  const length = body instanceof Uint8Array ? body.byteLength : body.length
  const headers = Object.entries({ ...baseHeaders, ...reply.headers }).map(([name, value]) => [name, typeof value === "string" ? value : [...value]])
  response.writeHead(reply.status, { ...Object.fromEntries(headers), "Content-Length": String(length) })
  response.end(head || !(body instanceof Uint8Array) ? undefined : body)
}

/** Where a request came in: the bound host, the token, and the port of the request's own socket. */
interface Entry {
  readonly host: string
  readonly token: string | undefined
  readonly port: number
}

/**
 * The checks every request passes before it is answered, in order: the Host header names the viewer (its
 * port taken from the request's socket, so it is right from the first request on), no other site's page made
 * it, the method only reads, the target is a path, the token is carried.
 */
const refusalOf = (request: IncomingMessage, url: URL | null, { host, token, port }: Entry): Refusal | undefined =>
  checkHost(request.headers.host, allowedHosts(host, port)) ??
  checkFetchSite(request.headers["sec-fetch-site"]) ??
  checkMethod(request.method) ??
  (url === null ? badTarget : checkToken(request, url.searchParams, token, port))

const listen = (server: Server, port: number, host: string) =>
  Effect.callback<number, ViewerError>((resume) => {
    const fail = (cause: Error) =>
      resume(Effect.fail(new ViewerError({ reason: "Listen", detail: `cannot listen on ${host}:${port}: ${cause.message}`, cause })))
    server.once("error", fail)
    server.listen(port, host, () => {
      server.off("error", fail)
      const address = server.address()
      resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : port))
    })
  })

const close = (server: Server) =>
  Effect.callback<void>((resume) => {
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })

/**
 * Serves the viewer until the scope closes, over the store (and the artifact storage root) of the calling
 * context. Each request runs as its own fiber, interrupted if the client goes away first; the fibers belong
 * to the scope, so that closing it stops the server, then interrupts and awaits every request still running.
 */
export const serve = (options: ServeOptions = {}): Effect.Effect<Serving, ViewerError, Store.Store | Scope.Scope> =>
  Effect.gen(function* () {
    const { port, host, token, deadlineMs } = yield* checked(options)
    const page = yield* Page.load(pageDirectory).pipe(
      Effect.mapError(({ file, cause }) => new ViewerError({ reason: "PageMissing", detail: `the page's file ${file} cannot be read`, cause }))
    )
    const run = yield* FiberSet.makeRuntime<Store.Store, Reply | void>()

    const reply = (request: IncomingMessage): Effect.Effect<Reply, never, Store.Store> =>
      Effect.suspend(() => {
        const url = URL.parse(request.url ?? "/", "http://viewer.invalid")
        const entry = { host, token, port: request.socket.localPort ?? 0 }
        const refused = refusalOf(request, url, entry)
        if (refused !== undefined || url === null) return Effect.succeed(failure(refused ?? badTarget))
        const landed = landing(url, token, entry.port)
        if (landed !== undefined) return Effect.succeed(landed)
        const head = request.method === "HEAD"
        const answered = url.pathname.startsWith("/api/") ? answer(url.pathname, url.searchParams, head) : pageFile(page, url.pathname)
        return answered.pipe(
          Effect.timeoutOrElse({ duration: deadlineMs, orElse: () => Effect.fail(timedOut(deadlineMs)) }),
          Effect.catch((e) => Effect.succeed(failure(e)))
        )
      }).pipe(Effect.catchCause(() => Effect.succeed(internalError)))

    const server = createServer((request, response) => {
      const fiber = run(reply(request))
      // The reply never fails: an exit that is no success is an interruption, when the client went away.
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit)) send(response, exit.value, request.method === "HEAD")
      })
      response.on("close", () => {
        if (!response.writableFinished) run(Fiber.interrupt(fiber))
      })
    })
    server.headersTimeout = 10_000
    server.requestTimeout = 60_000

    const bound = yield* Effect.acquireRelease(listen(server, port, host), () => close(server))
    return { url: `http://${authority(host, bound)}/`, port: bound }
  })
