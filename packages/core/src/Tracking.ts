/**
 * `track()` / `finish()` and function runs (`step` / `flow`), lamindb's tracking in Effect terms.
 *
 * `track` finds or creates the transform (from the entry script when none is given: a changed source is a
 * new version), starts a run with its params (secrets redacted), features, CLI arguments and environment,
 * and makes it the global run. While it is current a heartbeat refreshes `lastHeartbeatAt`; SIGINT/SIGTERM
 * mark it aborted and an uncaught exception errored before the process ends as it would have, so a run
 * never looks alive forever: what dies without a word (SIGKILL) is found by `stale()`.
 */
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { basename } from "node:path"
import { Effect, Exit, Cause } from "effect"
import * as Artifacts from "./Artifacts.js"
import { context, currentRun, withRun } from "./Current.js"
import * as Domain from "./Domain.js"
import * as Environment from "./Environment.js"
import { DoesNotExist, TrackNotCalled, ValidationError } from "./Errors.js"
import * as Features from "./Features.js"
import * as Params from "./Params.js"
import type { QuerySet } from "./QuerySet.js"
import { Run, Transform } from "./Registries.js"
import { Store, type StoreShape } from "./Store.js"

/** lamindb's transform hash: md5, base64url, cut to 22 characters. */
export const hashSource = (source: string | Uint8Array): string =>
  createHash("md5").update(source).digest("base64url").slice(0, 22)

export const initiatedByRunVariable = "LINEAGE_INITIATED_BY_RUN"

export interface TransformSpec {
  readonly key: string
  readonly version?: string | undefined
  readonly kind?: Domain.TransformKind | undefined
  readonly description?: string | undefined
  readonly sourceCode?: string | undefined
}

export interface TrackOptions {
  /** A transform, or what identifies one; default: the entry script (`process.argv[1]`). */
  readonly transform?: Domain.Transform | TransformSpec | undefined
  /** The entry script when it is not `process.argv[1]`. */
  readonly path?: string | undefined
  readonly params?: { readonly [key: string]: unknown } | undefined
  readonly features?: { readonly [name: string]: unknown } | undefined
  /** The run that started this one; default: `LINEAGE_INITIATED_BY_RUN` from a tracked parent process. */
  readonly initiatedByRun?: Domain.Run | string | undefined
  readonly name?: string | undefined
  readonly reference?: string | undefined
  readonly referenceType?: string | undefined
  /** `false` continues the transform's latest run (status `restarted`) instead of starting a new one. */
  readonly newRun?: boolean | undefined
  /** How often the heartbeat refreshes `lastHeartbeatAt` (default 10 s, or `LINEAGE_HEARTBEAT_MS`). */
  readonly heartbeatMs?: number | undefined
  /** Mark the run aborted on SIGINT/SIGTERM and errored on an uncaught exception (default true). */
  readonly handleProcess?: boolean | undefined
}

export const defaultHeartbeatMs = (): number => {
  const env = Number(process.env["LINEAGE_HEARTBEAT_MS"])
  return Number.isFinite(env) && env > 0 ? env : 10_000
}

// ---------------------------------------------------------------------------------------------------------
// Transforms

/**
 * The transform for `spec`: a version with the same key and source is reused; otherwise the first version
 * of a new key, or the next version of the key's family (moving `isLatest`). Racing callers (parallel steps,
 * several processes) end on one record: the store's unique (key, hash) and (key, version) make the losers
 * look again.
 */
export const transformFor = (spec: TransformSpec) => {
  const hash = spec.sourceCode === undefined ? undefined : hashSource(spec.sourceCode)
  const attempt = Effect.gen(function* () {
    if (hash !== undefined) {
      const same = yield* Transform.filter({ key: spec.key, hash }).orderBy("-isLatest", "-createdAt").first()
      if (same !== undefined && (spec.version === undefined || same.version === spec.version)) return same
    }
    if (spec.version !== undefined) {
      const existing = yield* Transform.filter({ key: spec.key, version: spec.version }).first()
      if (existing !== undefined) {
        if (hash !== undefined && existing.hash !== null && existing.hash !== hash)
          return yield* new ValidationError({
            registry: "Transform",
            field: "version",
            value: spec.version,
            expected: `a new version: the source of ${spec.key} ${spec.version} changed since it was recorded`
          })
        return existing
      }
    } else if (hash === undefined) {
      // No source to compare: lamindb reuses the latest version that records none either.
      const latest = yield* Transform.filter({ key: spec.key, isLatest: true }).first()
      if (latest !== undefined && latest.hash === null) return latest
    }
    return yield* Transform.create({
      key: spec.key,
      version: spec.version ?? null,
      kind: spec.kind ?? "pipeline",
      description: spec.description ?? null,
      sourceCode: spec.sourceCode ?? null,
      hash: hash ?? null
    })
  })
  return Effect.retry(attempt, { while: (e) => e._tag === "UniqueViolation", times: 5 })
}

const scriptSpec = (path: string | undefined) =>
  Effect.gen(function* () {
    if (path === undefined || !existsSync(path))
      return yield* new ValidationError({
        registry: "Transform",
        field: "transform",
        value: path,
        expected: "a transform ({ key, version, kind }) when there is no entry script to derive it from"
      })
    const sourceCode = readFileSync(path, "utf8")
    return { key: basename(path), kind: "script" as const, sourceCode }
  })

// ---------------------------------------------------------------------------------------------------------
// The global run and its process hooks

interface Tracked {
  readonly store: StoreShape
  readonly run: Domain.Run
  readonly heartbeat: NodeJS.Timeout
  readonly previousParent: string | undefined
  readonly detach: () => void
}

let tracked: Tracked | undefined

/** Ends `run` with `status`, as the process that ran it learns how it went. */
const end = (run: Domain.Run, status: Domain.RunStatus) =>
  Effect.flatMap(Run.reload(run), (current) => Run.update(current, { status, finishedAt: new Date() }))

const runWith = <A, E>(store: StoreShape, effect: Effect.Effect<A, E, Store>) =>
  Effect.runPromise(Effect.provideService(effect, Store, store))

/** Gives the marking write a bounded time: a dying process must not hang on a dead store. */
const markThen = (store: StoreShape, run: Domain.Run, status: Domain.RunStatus, then: () => void) => {
  const timer = setTimeout(then, 3_000)
  runWith(store, end(run, status)).then(
    () => {
      clearTimeout(timer)
      then()
    },
    () => {
      clearTimeout(timer)
      then()
    }
  )
}

const attach = (store: StoreShape, run: Domain.Run): (() => void) => {
  const onSignal = (signal: NodeJS.Signals) => {
    detach()
    markThen(store, run, "aborted", () => {
      // Our listener is gone: the signal now does what it would have done without us.
      process.kill(process.pid, signal)
    })
  }
  const onException = (error: unknown) => {
    detach()
    markThen(store, run, "errored", () => {
      console.error(error)
      process.exit(1)
    })
  }
  const detach = () => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    process.off("uncaughtException", onException)
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  process.once("uncaughtException", onException)
  return detach
}

const stopTracking = () => {
  if (tracked === undefined) return
  clearInterval(tracked.heartbeat)
  tracked.detach()
  if (tracked.previousParent === undefined) delete process.env[initiatedByRunVariable]
  else process.env[initiatedByRunVariable] = tracked.previousParent
  tracked = undefined
  context.run = undefined
  context.transform = undefined
}

const parentRun = (given: Domain.Run | string | undefined) =>
  Effect.gen(function* () {
    if (given !== undefined && typeof given !== "string") return given
    const uid = given ?? process.env[initiatedByRunVariable]
    if (uid === undefined || uid === "") return undefined
    return yield* Effect.catchTag(Run.get(uid), "DoesNotExist", () =>
      Effect.fail(new DoesNotExist({ registry: "Run", query: `uid '${uid}'`, hint: "initiatedByRun must name a saved run." }))
    )
  })

/** Starts a run and makes it the global one. */
export const track = (options: TrackOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* Store
    const given = options.transform
    const transform =
      given instanceof Domain.Transform
        ? given
        : yield* transformFor(given ?? (yield* scriptSpec(options.path ?? process.argv[1])))
    const parent = yield* parentRun(options.initiatedByRun)
    const { params, dropped } = Params.serialize(options.params ?? {})
    if (dropped.length > 0) yield* Effect.logWarning(`params not recorded (cannot be stored as JSON): ${dropped.join(", ")}`)
    // Validate feature values before anything is written.
    if (options.features !== undefined) yield* Features.validate("Run", options.features)
    const now = new Date()
    const previous =
      options.newRun === false
        ? yield* Run.filter({ transform, branchId: 1 }).orderBy("-startedAt").first()
        : undefined
    let run =
      previous !== undefined
        ? yield* Run.update(previous, { status: "restarted", startedAt: now, finishedAt: null, lastHeartbeatAt: now })
        : yield* Run.create({
            transformId: transform.id,
            name: options.name ?? null,
            params: Object.keys(params).length === 0 ? null : params,
            status: "started",
            startedAt: now,
            lastHeartbeatAt: now,
            initiatedByRunId: parent?.id ?? null,
            reference: options.reference ?? null,
            referenceType: options.referenceType ?? null,
            cliArgs: Params.redactArgs(process.argv.slice(2)).join(" ").slice(0, 1024) || null
          })
    if (options.features !== undefined) run = yield* Features.add(run, options.features)
    const environment = yield* Artifacts.fromBytes(JSON.stringify(Environment.capture(options.path ?? process.argv[1]), null, 2), {
      suffix: ".json",
      description: "environment",
      kind: "__lineage_run__",
      run: null
    })
    run = yield* Run.update(run, { environmentId: environment.id })

    stopTracking()
    const heartbeatMs = options.heartbeatMs ?? defaultHeartbeatMs()
    const current = run
    const heartbeat = setInterval(() => {
      runWith(store, Run.update(current, { lastHeartbeatAt: new Date() })).catch(() => {
        // A missed beat is what staleness detection is for; the next one retries.
      })
    }, heartbeatMs)
    heartbeat.unref()
    tracked = {
      store,
      run,
      heartbeat,
      previousParent: process.env[initiatedByRunVariable],
      detach: options.handleProcess === false ? () => undefined : attach(store, run)
    }
    // A child process started from here is initiated by this run.
    process.env[initiatedByRunVariable] = run.uid
    context.run = run
    context.transform = transform
    return run
  })

/** Ends the global run: `finishedAt` and status `completed`. */
export const finish = () =>
  Effect.gen(function* () {
    const run = context.run
    if (run === undefined) return yield* new TrackNotCalled({ detail: "Please run track() before finish()." })
    const finished = yield* end(run, "completed")
    stopTracking()
    return finished
  })

/**
 * Started runs whose heartbeat stopped more than `olderThanMs` ago (default three heartbeats): their process
 * died without a word.
 */
export const stale = (options: { readonly olderThanMs?: number } = {}): QuerySet<Domain.Run> => {
  const cutoff = new Date(Date.now() - (options.olderThanMs ?? 3 * defaultHeartbeatMs()))
  return Run.filter({ status: { in: ["started", "restarted"] }, lastHeartbeatAt: { lt: cutoff } })
}

// ---------------------------------------------------------------------------------------------------------
// Function runs

export interface FunctionOptions {
  /** The transform key; default: the function's name. */
  readonly key?: string | undefined
  readonly version?: string | undefined
}

/** Params of a call: a single plain-object argument as it is, otherwise `arg0`, `arg1`, … */
export const paramsOf = (args: ReadonlyArray<unknown>): { readonly [key: string]: unknown } => {
  const [first] = args
  if (args.length === 1 && first !== null && typeof first === "object" && Object.getPrototypeOf(first) === Object.prototype)
    return first as { readonly [key: string]: unknown }
  return Object.fromEntries(args.map((a, i) => [`arg${i}`, a]))
}

/** The run of one call of a tracked function, initiated by the current run. */
export const startCall = (
  kind: "step" | "flow",
  fn: { readonly name: string; toString(): string },
  args: ReadonlyArray<unknown>,
  options: FunctionOptions = {}
) =>
  Effect.gen(function* () {
    const parent = yield* currentRun
    if (kind === "step" && parent === undefined)
      return yield* new TrackNotCalled({
        detail: "Please track the global run context before using step(): call track(), or run it inside a flow()."
      })
    if (kind === "flow" && parent !== undefined && parent.id === context.run?.id)
      return yield* new TrackNotCalled({
        detail: "Please use step() inside a tracked run, or finish() the global run before calling a flow()."
      })
    const name = options.key ?? (fn.name || "anonymous")
    const parentTransform = parent === undefined ? undefined : yield* Transform.get(parent.transformId)
    const transform = yield* transformFor({
      key: parentTransform === undefined ? name : `${parentTransform.key}/${name}`,
      version: options.version,
      kind: "function",
      sourceCode: fn.toString()
    })
    const { params } = Params.serialize(paramsOf(args))
    const now = new Date()
    return yield* Run.create({
      transformId: transform.id,
      entrypoint: fn.name || null,
      params: Object.keys(params).length === 0 ? null : params,
      status: "started",
      startedAt: now,
      lastHeartbeatAt: now,
      initiatedByRunId: parent?.id ?? null
    })
  })

/** Ends a call's run from how the call ended: completed, errored, or aborted when interrupted. */
export const endCall = <A, E>(run: Domain.Run, exit: Exit.Exit<A, E>) =>
  end(run, Exit.isSuccess(exit) ? "completed" : Cause.hasInterruptsOnly(exit.cause) ? "aborted" : "errored")

const tracked_ =
  (kind: "step" | "flow") =>
  <Args extends ReadonlyArray<unknown>, A, E, R>(
    fn: (...args: Args) => Effect.Effect<A, E, R>,
    options: FunctionOptions = {}
  ) =>
  (...args: Args) =>
    Effect.gen(function* () {
      const run = yield* startCall(kind, fn, args, options)
      const exit = yield* Effect.exit(withRun(run)(fn(...args)))
      yield* endCall(run, exit)
      return yield* exit
    })

/** Each call of `fn` is a run of a `function` transform, initiated by the current run (which must exist). */
export const step = tracked_("step")

/** Like `step`, for a top-level function: it needs no tracked run, and refuses to run inside the global one. */
export const flow = tracked_("flow")
