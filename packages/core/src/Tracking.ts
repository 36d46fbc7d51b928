/**
 * `track()` / `finish()` and function runs (`step` / `flow`), lamindb's tracking in Effect terms.
 *
 * `track` finds or creates the transform (from the entry script when none is given: a changed source is a
 * new version), starts a run with its params (secrets redacted), features, CLI arguments and environment,
 * and makes it the global run of its `Store` instance (its client). While it is current a heartbeat
 * refreshes `lastHeartbeatAt`; SIGINT/SIGTERM mark it aborted and an uncaught exception errored before the
 * process ends as it would have, so a run never looks alive forever: what dies without a word (SIGKILL) is
 * found by `stale()`.
 *
 * No run is orphaned: `track()` is refused with `RunAlreadyActive` while its store tracks a run (or is
 * starting one), and inside a `step`/`flow` call; a run whose start fails (or is interrupted) after it was
 * written is ended; a run still tracked when the layer that built its store is released is ended `aborted`.
 */
import { existsSync, readFileSync } from "node:fs"
import { basename } from "node:path"
import { Cause, Effect, Exit } from "effect"
import * as Artifacts from "./Artifacts.js"
import * as CallSite from "./CallSite.js"
import {
  type Call,
  CurrentFlow,
  CurrentRun,
  currentRun,
  globalContext,
  type Slot,
  slotOf,
  type Tracked,
  withCall
} from "./Current.js"
import * as Records from "./Records.js"
import * as Environment from "./Environment.js"
import { DoesNotExist, RunAlreadyActive, StoreError, TrackNotCalled, ValidationError } from "./Errors.js"
import * as Features from "./Features.js"
import { listNames } from "./Limits.js"
import * as Metrics from "./Metrics.js"
import * as OpenLineageEmitter from "./OpenLineageEmitter.js"
import * as Params from "./Params.js"
import * as ProcessHooks from "./ProcessHooks.js"
import * as Redaction from "./Redaction.js"
import * as References from "./References.js"
import type { FeatureValues } from "./Inputs.js"
import type { QuerySet } from "./QuerySet.js"
import { Run, Transform } from "./Registry.js"
import * as Signature from "./Signature.js"
import { onRelease, Store, type StoreShape } from "./Store.js"
import type { TransformSpec } from "./Transforms.js"

export { hashSource, storeSourceVariable, type TransformSpec } from "./Transforms.js"

export { initiatedByRunVariable } from "./ProcessHooks.js"

export interface TrackOptions {
  /** A transform, or what identifies one; default: the entry script (`process.argv[1]`). */
  readonly transform?: Records.Transform | TransformSpec | undefined
  /** The entry script when it is not `process.argv[1]`. */
  readonly path?: string | undefined
  readonly params?: { readonly [key: string]: unknown } | undefined
  /** Typed by `LineageFeatures` once it declares features (see `Inputs.FeatureValues`). */
  readonly features?: FeatureValues | undefined
  /** The run that started this one; default: `LINEAGE_INITIATED_BY_RUN` from a tracked parent process. */
  readonly initiatedByRun?: Records.Run | string | undefined
  readonly name?: string | undefined
  readonly reference?: string | undefined
  readonly referenceType?: string | undefined
  /** `false` continues the transform's latest run (status `restarted`) instead of starting a new one. */
  readonly newRun?: boolean | undefined
  /**
   * How often the heartbeat refreshes `lastHeartbeatAt`: an integer from `minHeartbeatMs` (100) to
   * `maxHeartbeatMs` milliseconds (default `LINEAGE_HEARTBEAT_MS`, else 10 s).
   */
  readonly heartbeatMs?: number | undefined
  /** Mark the run aborted on SIGINT/SIGTERM and errored on an uncaught exception (default true). */
  readonly handleProcess?: boolean | undefined
  /**
   * `false` records the script's hash but not its source, here and in the steps of this run (default:
   * `LINEAGE_STORE_SOURCE`, else true).
   */
  readonly storeSource?: boolean | undefined
  /**
   * Where this client sends OpenLineage events from now on (see `OpenLineageEmitter`); `false` sends none, not
   * even to `LINEAGE_OPENLINEAGE_URL`. Default: what `Lineage.connect` set, else `LINEAGE_OPENLINEAGE_URL`.
   */
  readonly openLineage?: OpenLineageEmitter.Options | false | undefined
}

// ---------------------------------------------------------------------------------------------------------
// The heartbeat

/** Below this an idle run floods its store with writes. */
export const minHeartbeatMs = 100
/** Node's timer limit: a longer interval fires every millisecond instead. */
export const maxHeartbeatMs = 2_147_483_647
export const defaultHeartbeatMs = 10_000
export const heartbeatVariable = "LINEAGE_HEARTBEAT_MS"

const heartbeatRange = `an integer number of milliseconds from ${minHeartbeatMs} to ${maxHeartbeatMs}`

const isHeartbeat = (ms: unknown): ms is number =>
  typeof ms === "number" && Number.isInteger(ms) && ms >= minHeartbeatMs && ms <= maxHeartbeatMs

/** The heartbeat `LINEAGE_HEARTBEAT_MS` sets (the default when unset), or why it cannot be used. */
const heartbeatFromEnv = (): number | ValidationError => {
  const raw = process.env[heartbeatVariable]
  if (raw === undefined || raw.trim() === "") return defaultHeartbeatMs
  const ms = Number(raw)
  return isHeartbeat(ms)
    ? ms
    : new ValidationError({ registry: "Run", field: "heartbeatMs", value: raw, expected: `${heartbeatRange} in ${heartbeatVariable}` })
}

/** How often a tracked run beats: `heartbeatMs` when given, else `LINEAGE_HEARTBEAT_MS`, else 10 s. */
const heartbeatOf = (given: unknown): Effect.Effect<number, ValidationError> => {
  if (given === undefined) {
    const env = heartbeatFromEnv()
    return typeof env === "number" ? Effect.succeed(env) : Effect.fail(env)
  }
  return isHeartbeat(given)
    ? Effect.succeed(given)
    : Effect.fail(new ValidationError({ registry: "Run", field: "heartbeatMs", value: given, expected: heartbeatRange }))
}

// ---------------------------------------------------------------------------------------------------------
// Transforms

/**
 * The transform `spec` declares (see `Transforms`): the version with the same key and source, else the key's
 * first or next version; racing callers end on one record.
 */
export const transformFor = (spec: TransformSpec) => Transform.getOrCreate(spec)

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
// The global run of a store

const isNotFound = (e: unknown): e is StoreError => e instanceof StoreError && e.reason._tag === "NotFound"

/**
 * Ends `run` with `status`, as the process that ran it learns how it went (`error`, what it threw if it failed),
 * and emits it; `run` as it was tracked tells whether it was a restart, which the ended record no longer does.
 * The write sets only `status` and `finishedAt` (a run derives nothing from them), so `run` may be an older copy
 * than the stored record: what it returns is the stored record, other writers' changes included.
 */
const end = (run: Records.Run, status: Records.RunStatus, error?: unknown) =>
  Run.update(run, { status, finishedAt: new Date() }).pipe(
    Effect.catchIf(isNotFound, () => Effect.fail(new DoesNotExist({ registry: "Run", query: `id ${run.id}` }))),
    Effect.tap((ended) => OpenLineageEmitter.emit(ended, { error, restart: run.status === "restarted" }))
  )

const endStatus = (cause: Cause.Cause<unknown>): ProcessHooks.EndStatus => (Cause.hasInterruptsOnly(cause) ? "aborted" : "errored")

const runWith = <A, E>(store: StoreShape, effect: Effect.Effect<A, E, Store>) =>
  Effect.runPromise(Effect.provideService(effect, Store, store))

/**
 * Claims `store` for a starting `track()`, before anything is written: refused inside a call's run, and while
 * the store tracks or starts a run. Checked and claimed in one synchronous step, so of two racing calls
 * exactly one wins.
 */
const claim = (store: StoreShape) =>
  Effect.flatMap(CurrentRun, (call) =>
    Effect.suspend(() => {
      if (call !== undefined) return Effect.fail(new RunAlreadyActive({ reason: "call", uid: call.uid }))
      const slot = slotOf(store)
      const state = slot.state
      if (state !== undefined)
        return Effect.fail(
          new RunAlreadyActive(state._tag === "Tracking" ? { reason: "tracked", uid: state.run.uid } : { reason: "starting" })
        )
      slot.state = { _tag: "Starting" }
      return Effect.succeed(slot)
    })
  )

/**
 * The state of a tracked run: its heartbeat started, registered with the process hooks, and ended `aborted`
 * if the layer that built its store is released while it is still tracked (as a client's `close()` ends it).
 * Its `stop` undoes all three.
 */
const tracking = (
  store: StoreShape,
  slot: Slot,
  run: Records.Run,
  transform: Records.Transform,
  heartbeatMs: number,
  handleProcess: boolean
): Tracked => {
  const heartbeat = setInterval(() => {
    runWith(store, Run.update(run, { lastHeartbeatAt: new Date() })).catch(() => {
      // A missed beat is what staleness detection is for; the next one retries.
    })
  }, heartbeatMs)
  heartbeat.unref()
  const unregister = ProcessHooks.register({
    uid: run.uid,
    mark: handleProcess
      ? (status, error) =>
          runWith(store, Effect.andThen(Metrics.settle(Metrics.signalFlushMs), Effect.andThen(end(run, status, error), OpenLineageEmitter.flush)))
      : undefined
  })
  const state: Tracked = {
    _tag: "Tracking",
    run,
    transform,
    stop: () => {
      clearInterval(heartbeat)
      unregister()
      cancelRelease()
    }
  }
  // Bounded like the process hooks' marking: a release must not hang on a dead store, which leaves the run
  // to stale() as a killed process would.
  const cancelRelease = onRelease(
    store,
    Effect.suspend(() => {
      if (slot.state !== state) return Effect.void
      stop(slot, state)
      return Effect.andThen(Metrics.settle(Metrics.signalFlushMs), end(run, "aborted")).pipe(
        Effect.timeout(ProcessHooks.markTimeoutMs),
        Effect.ignore,
        // The store's emitters wait for this run's ABORT (see `OpenLineageEmitter`): one bounded close sends it.
        Effect.andThen(OpenLineageEmitter.close),
        Effect.provideService(Store, store)
      )
    })
  )
  return state
}

/** Stops tracking `state`, if it is still what `slot` holds. */
const stop = (slot: Slot, state: Tracked) => {
  if (slot.state !== state || state._tag !== "Tracking") return
  slot.state = undefined
  state.stop()
}

const parentRun = (given: Records.Run | string | undefined) =>
  Effect.gen(function* () {
    if (given !== undefined && typeof given !== "string") return given
    const uid = given ?? ProcessHooks.inheritedParent()
    if (uid === undefined || uid === "") return undefined
    return yield* Effect.catchTag(Run.get(uid), "DoesNotExist", () =>
      Effect.fail(new DoesNotExist({ registry: "Run", query: `uid '${uid}'`, hint: "initiatedByRun must name a saved run." }))
    )
  })

/**
 * The transform of a `track()`, the run that initiated it, and the write that starts its new (or restarted)
 * run: the run is the last thing written, by `write`, which the caller runs uninterruptibly (interrupted once
 * sent, it would leave a run written and unknown to whoever must end it).
 */
const begin = (options: TrackOptions) =>
  Effect.gen(function* () {
    const configureOpenLineage = yield* OpenLineageEmitter.configure(options.openLineage)
    const given = options.transform
    const transform =
      given instanceof Records.Transform
        ? given
        : yield* transformFor({ storeSource: options.storeSource, ...(given ?? (yield* scriptSpec(options.path ?? process.argv[1]))) })
    const parent = yield* parentRun(options.initiatedByRun)
    const { params, dropped } = yield* Params.serialize(options.params ?? {})
    // Listed through `listNames`: up to a million paths may be dropped, each as long as the keys above it.
    if (dropped.length > 0) yield* Effect.logWarning(`params not recorded (cannot be stored as JSON): ${listNames(dropped)}`)
    // Validate feature values before anything is written.
    const featureValues = options.features === undefined ? undefined : yield* Features.validate("Run", options.features)
    const now = new Date()
    const previous =
      options.newRun === false
        ? yield* Run.filter({ transform, branchId: 1 }).orderBy("-startedAt").first()
        : undefined
    const environment = environmentOf(options)
    // Read only: registered already, the environment artifact is written with the run.
    const known = yield* Artifacts.registeredAs(environment, environmentOptions)
    // Every check passed: only now may this call switch where the client's events go.
    yield* configureOpenLineage
    const environmentId = known === undefined ? {} : { environmentId: known.id }
    const input = {
      transformId: transform.id,
      name: options.name ?? null,
      params: Object.keys(params).length === 0 ? null : params,
      status: "started",
      startedAt: now,
      lastHeartbeatAt: now,
      initiatedByRunId: parent?.id ?? null,
      reference: options.reference ?? null,
      referenceType: options.referenceType ?? null,
      cliArgs: Redaction.args(process.argv.slice(2)).join(" ").slice(0, 1024) || null,
      // Validated above: what `Features.add` would store on a run that holds no values yet.
      ...(featureValues === undefined ? {} : { featureValues }),
      ...environmentId
    }
    const write =
      previous !== undefined
        ? Run.update(previous, { status: "restarted", startedAt: now, finishedAt: null, lastHeartbeatAt: now, ...environmentId })
        : // The environment artifact was just read, live; so was a transform found from a spec, not one given as a record.
          createRun(input, given instanceof Records.Transform ? ["environmentId"] : ["environmentId", "transformId"])
    const recording: Recording = {
      // A restarted run keeps the values it holds: `add` merges the new ones into them as it always does.
      features: previous !== undefined ? options.features : undefined,
      environment: known === undefined ? environment : undefined
    }
    return { transform, parent, write, recording }
  })

/**
 * `Run.create`, looking up only the references not in `read`: those name records this call has just read or
 * written itself. Looking them up again would tell no more: like that read, a lookup is a moment before the
 * insert, and no store keeps a foreign key that would hold after it.
 */
const createRun = (input: { readonly [field: string]: unknown }, read: ReadonlyArray<"transformId" | "environmentId">) =>
  Effect.gen(function* () {
    const store = yield* Store
    yield* References.check(Run.model, [Object.fromEntries(Object.entries(input).filter(([field]) => !read.includes(field as never)))])
    const [run] = yield* store.insert(Run.entity, [input])
    return run!
  })

/** The environment artifact's registration: no run's, so that every run of one environment shares it. */
const environmentOptions = { suffix: ".json", description: "environment", kind: "__lineage_run__", run: null } as const

/** The environment artifact's bytes for a `track()` (see `Environment.capture`). */
const environmentOf = (options: TrackOptions): string => JSON.stringify(Environment.capture(options.path ?? process.argv[1]), null, 2)

/** What a started run records after it was written: what its write could not hold. */
interface Recording {
  /** Feature values to add to a restarted run. */
  readonly features: FeatureValues | undefined
  /** The bytes of an environment artifact to register, when it was not registered yet. */
  readonly environment: string | undefined
}

/** What a started run records next: the features of a restarted run, and its environment if not yet registered. */
const record = (started: Records.Run, recording: Recording) =>
  Effect.gen(function* () {
    let run = started
    if (recording.features !== undefined) run = yield* Features.add(run, recording.features)
    if (recording.environment === undefined) return run
    const environment = yield* Artifacts.fromBytes(recording.environment, environmentOptions)
    return yield* Run.update(run, { environmentId: environment.id })
  })

/**
 * Starts a run and makes it the global run of the store in context. Refused with `RunAlreadyActive` while
 * that store tracks a run or starts one, and inside a `step`/`flow` call: `finish()` the active run first.
 */
export const track = (options: TrackOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* Store
    const heartbeatMs = yield* heartbeatOf(options.heartbeatMs)
    // Uninterruptible except where `restore`d: however a start stops, the claim is released and a run it
    // wrote is ended, never left started.
    return yield* Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const slot = yield* claim(store)
        const begun = yield* Effect.exit(restore(begin(options)))
        if (Exit.isFailure(begun)) {
          slot.state = undefined
          return yield* Effect.failCause(begun.cause)
        }
        const { transform, parent, write, recording } = begun.value
        // Not restored: the run's write is never interrupted, so a run it wrote is always known here.
        const written = yield* Effect.exit(write)
        if (Exit.isFailure(written)) {
          slot.state = undefined
          return yield* Effect.failCause(written.cause)
        }
        const recorded = yield* Effect.exit(restore(record(written.value, recording)))
        if (Exit.isFailure(recorded)) {
          slot.state = undefined
          yield* OpenLineageEmitter.emit(written.value, { transform, parent })
          yield* Effect.ignore(end(written.value, endStatus(recorded.cause), Cause.squash(recorded.cause)))
          return yield* Effect.failCause(recorded.cause)
        }
        const run = recorded.value
        slot.state = tracking(store, slot, run, transform, heartbeatMs, options.handleProcess !== false)
        yield* OpenLineageEmitter.emit(run, { transform, parent })
        return run
      })
    )
  })

/** The store's global run, or why there is none to end. */
const trackedRun = Effect.flatMap(Store, (store) =>
  Effect.suspend(() => {
    const slot = slotOf(store)
    const state = slot.state
    if (state?._tag === "Tracking") return Effect.succeed({ slot, state, run: state.run })
    return Effect.fail(
      new TrackNotCalled({
        detail: state === undefined ? "Please run track() before finish()." : "Please await track() before finish(): it is still starting the run."
      })
    )
  })
)

/**
 * The end under way of a tracked run, by `finish()` or `abort()`: claimed before they wait for the run's points,
 * so that the other waits for it (then finds the run ended, or still tracked if that end failed) rather than
 * ending the run a second time.
 */
const endings = new WeakMap<Tracked, Promise<void>>()

/** `end`, claimed as the end under way of `state` until it completes. */
const ending = <A, E, R>(state: Tracked, end: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    let done = () => {}
    endings.set(state, new Promise<void>((resolve) => (done = resolve)))
    return Effect.ensuring(
      end,
      Effect.sync(() => {
        endings.delete(state)
        done()
      })
    )
  })

/** The tracked run (as `trackedRun`), once no end of it is under way. */
const unendedRun = Effect.gen(function* () {
  for (;;) {
    const tracked = yield* trackedRun
    const under = endings.get(tracked.state)
    if (under === undefined) return tracked
    yield* Effect.promise(() => under)
  }
})

/**
 * Ends the store's global run: `finishedAt` and status `completed`. When that write fails the run stays
 * tracked (and beating), so `finish()` can be called again.
 */
export const finish = () =>
  Effect.gen(function* () {
    const { slot, state, run } = yield* unendedRun
    // The run's points are stored before it reads as completed (bounded: a failing store keeps them buffered).
    return yield* ending(
      state,
      Effect.gen(function* () {
        yield* Metrics.settle(Metrics.finishFlushMs)
        const finished = yield* end(run, "completed")
        stop(slot, state)
        return finished
      })
    )
  })

/** Ends the store's global run as `aborted`, if there is one: its client is going away without `finish()`. */
export const abort = () =>
  Effect.gen(function* () {
    const tracked = yield* Effect.option(unendedRun)
    if (tracked._tag === "None") return undefined
    const { slot, state, run } = tracked.value
    return yield* ending(
      state,
      Effect.andThen(Metrics.settle(Metrics.finishFlushMs), Effect.suspend(() => (stop(slot, state), end(run, "aborted"))))
    )
  })

/**
 * Started runs whose heartbeat stopped more than `olderThanMs` ago (default three heartbeats): their process
 * died without a word.
 */
export const stale = (options: { readonly olderThanMs?: number } = {}): QuerySet<Records.Run, "Run"> => {
  // An invalid LINEAGE_HEARTBEAT_MS is refused by track(), which it would configure; here it only sets a window.
  const env = heartbeatFromEnv()
  const cutoff = new Date(Date.now() - (options.olderThanMs ?? 3 * (typeof env === "number" ? env : defaultHeartbeatMs)))
  return Run.filter({ status: { in: ["started", "restarted"] }, lastHeartbeatAt: { lt: cutoff } })
}

// ---------------------------------------------------------------------------------------------------------
// Function runs

export interface FunctionOptions {
  /**
   * The transform key (under the calling run's transform key: `<key>/<this>`); default: the function's own
   * name, else the variable the wrapped function is assigned to where `step`/`flow` is called (`const scale =
   * ln.step(…)`, read from that line of the caller's source, see `CallSite`). Without any of them, a call is
   * refused with a `ValidationError` asking for one.
   */
  readonly key?: string | undefined
  readonly version?: string | undefined
  /** `false` records the function's hash but not its source (default: as the calling run's transform). */
  readonly storeSource?: boolean | undefined
  /**
   * The names a call's positional arguments are recorded under, in order; arguments past them are `argN`, N
   * their position. Distinct non-empty strings, none `argN` for another position N. Given, they name the
   * arguments whatever they are (see `paramsOf` for the names used without them): give them where the
   * function's source cannot say, as in minified code.
   */
  readonly params?: ReadonlyArray<string> | undefined
}

const expectedParams =
  "distinct non-empty strings naming the positional arguments in order, none argN for another position N " +
  "(arguments past the names are recorded as argN)"

const positionalName = /^arg(?:0|[1-9]\d*)$/

/** The `params` option, or a ValidationError naming the entry it cannot use. */
const paramNames = (given: unknown): Effect.Effect<ReadonlyArray<string> | undefined, ValidationError> =>
  Effect.suspend(() => {
    if (given === undefined) return Effect.succeed(undefined)
    const refuse = (field: string, value: unknown) =>
      Effect.fail(new ValidationError({ registry: "Run", field, value, expected: expectedParams }))
    // Read once, in order, stopping at the first bad entry: a sparse or huge array costs no more than that.
    try {
      if (!Array.isArray(given)) return refuse("params", given)
      const names = new Set<string>()
      for (let i = 0; i < given.length; i++) {
        const name: unknown = given[i]
        if (typeof name !== "string" || name === "" || names.has(name) || (positionalName.test(name) && name !== `arg${i}`))
          return refuse(`params[${i}]`, name)
        names.add(name)
      }
      return Effect.succeed([...names])
    } catch {
      // A proxy whose traps throw, or a revoked one.
      return refuse("params", given)
    }
  })

/**
 * Params of a call: its arguments under their parameter names, as lamindb records a function's arguments.
 * JavaScript keeps parameter names only in a function's source, so the first rule that applies names them:
 * - `names` given (the `params` option): the arguments under those names;
 * - a single plain-object argument: recorded as it is;
 * - the names `source` declares, when its parameter list is plain identifiers, optionally ending in a rest
 *   parameter (recorded as an array): `function f(a, b)`, `(a, b) => …`, `a => …`, `async (a, b) => …`,
 *   method shorthand. Destructuring, defaults, comments in the list, native or bound functions and classes
 *   name nothing (see `Signature`). Minified code has renamed its parameters: it records the minifier's names.
 *
 * An argument without a name is `argN`, N its position.
 */
export const paramsOf = (
  args: ReadonlyArray<unknown>,
  names?: ReadonlyArray<string>,
  source?: string
): { readonly [key: string]: unknown } => {
  if (names !== undefined) return Signature.bind({ names, rest: undefined }, args)
  const [first] = args
  if (args.length === 1 && first !== null && typeof first === "object" && Object.getPrototypeOf(first) === Object.prototype)
    return first as { readonly [key: string]: unknown }
  return Signature.bind(Signature.parse(source) ?? Signature.positional, args)
}

/** The transform of `run`, on any branch (as `Transform.get(id)` finds it), read by id. */
const transformOf = (run: Records.Run) =>
  Effect.gen(function* () {
    const store = yield* Store
    const [transform] = yield* store.get(Transform.entity, [run.transformId])
    return transform ?? (yield* new DoesNotExist({ registry: "Transform", query: `id ${run.transformId}` }))
  })

const expectedKey =
  'a name for the function\'s transform: pass { key: "…" } (step(fn, { key: "scale" })), a named function ' +
  "(async function scale(…) {…}), or assign the wrapped function on the line that wraps it (const scale = ln.step(…))"

/**
 * A function's own name, as `step`/`flow` key it: a bound function's without the `bound ` that `bind` puts
 * before it (`bound scale` is `scale`); "" when it has none (an anonymous function, bound or not).
 */
const functionName = (fn: (...args: never) => unknown): string => {
  const name: unknown = fn.name
  return typeof name === "string" ? name.replace(/^(?:bound )+/, "") : ""
}

/**
 * `options` with the key the wrapped function goes by when none is given: the function's own name, else the
 * variable the caller assigns the wrapped function to (see `CallSite`). For the public `step`/`flow` (`wrapper`,
 * itself) to call as it wraps `fn`, so that the frame below `wrapper` on the stack is its caller's.
 */
export const named = (
  kind: "step" | "flow",
  fn: (...args: never) => unknown,
  options: FunctionOptions,
  wrapper: (...args: never) => unknown
): FunctionOptions => {
  if (options.key !== undefined) return options
  const key = functionName(fn) || CallSite.assignedName(kind, wrapper)
  return key === undefined ? options : { ...options, key }
}

/**
 * The run of one call of a tracked function, initiated by the current run, and the call chain it starts: a
 * flow's run and transform are the `context` of its call chain, a step keeps its caller's. The transform is
 * keyed by `options.key`, else the function's name: a function with neither is refused (see `named`, which
 * finds a key where the function is wrapped).
 */
export const startCall = (
  kind: "step" | "flow",
  fn: (...args: never) => unknown,
  args: ReadonlyArray<unknown>,
  options: FunctionOptions = {}
) =>
  Effect.gen(function* () {
    const names = yield* paramNames(options.params)
    const parent = yield* currentRun
    if (kind === "step" && parent === undefined)
      return yield* new TrackNotCalled({
        detail: "Please track the global run context before using step(): call track(), or run it inside a flow()."
      })
    // Anywhere under the global run, steps included: a flow's run would take the context from it (lamindb).
    if (kind === "flow" && (yield* globalContext).run !== undefined)
      return yield* new TrackNotCalled({
        detail: "Please use step() inside a tracked run, or finish() the global run before calling a flow()."
      })
    // After the run is checked: with none, calling track() is the first thing to do.
    const name: unknown = options.key ?? functionName(fn)
    if (typeof name !== "string" || name === "")
      return yield* new ValidationError({ registry: "Transform", field: "key", value: name, expected: expectedKey })
    const source = Signature.sourceOf(fn)
    const parentTransform = parent === undefined ? undefined : yield* transformOf(parent)
    const transform = yield* transformFor({
      key: parentTransform === undefined ? name : `${parentTransform.key}/${name}`,
      version: options.version,
      kind: "function",
      sourceCode: source,
      // A run whose source was withheld (hashed, not stored) withholds its steps' source too.
      storeSource: options.storeSource ?? (parentTransform !== undefined && parentTransform.hash !== null && parentTransform.sourceCode === null ? false : undefined)
    })
    const { params } = yield* Params.serialize(paramsOf(args, names, source))
    const now = new Date()
    const input = {
      transformId: transform.id,
      entrypoint: functionName(fn) || null,
      params: Object.keys(params).length === 0 ? null : params,
      status: "started",
      startedAt: now,
      lastHeartbeatAt: now,
      initiatedByRunId: parent?.id ?? null
    }
    // The transform was just read or written by `transformFor`.
    const run = yield* createRun(input, ["transformId"])
    yield* OpenLineageEmitter.emit(run, { transform, parent, parentTransform })
    const call: Call = { run, flow: kind === "flow" ? { run, transform } : yield* CurrentFlow }
    return call
  })

/** Ends a call's run from how the call ended: completed, errored, or aborted when interrupted. */
export const endCall = <A, E>(run: Records.Run, exit: Exit.Exit<A, E>) =>
  Exit.isSuccess(exit) ? end(run, "completed") : end(run, endStatus(exit.cause), Cause.squash(exit.cause))

const trackedCalls = (kind: "step" | "flow") => {
  const wrap = <Args extends ReadonlyArray<unknown>, A, E, R>(fn: (...args: Args) => Effect.Effect<A, E, R>, given: FunctionOptions = {}) => {
    const options = named(kind, fn, given, wrap)
    return (...args: Args) =>
      // Bracketed: the start is not interrupted once it has written the run, and the end always runs, so an
      // interrupted call's run is ended `aborted`, never left `started`.
      Effect.acquireUseRelease(
        startCall(kind, fn, args, options),
        (call) => withCall(call)(fn(...args)),
        (call, exit) => endCall(call.run, exit)
      )
  }
  return wrap
}

/**
 * Each call of `fn` is a run of a `function` transform, initiated by the current run (which must exist), with
 * its arguments as params under their parameter names (`paramsOf` says how they are found; the `params`
 * option names them). Inside it `Current.currentRun` is the call's run; `Current.context` stays what it was.
 */
export const step = trackedCalls("step")

/**
 * Like `step`, for a top-level function: it needs no tracked run, and refuses to run inside the global one.
 * Inside it (and the steps it calls) `Current.context` is the flow's run and transform, as lamindb's
 * `@ln.flow()` sets `ln.context.run`: for its own call chain only, so concurrent flows never see each other's.
 */
export const flow = trackedCalls("flow")
