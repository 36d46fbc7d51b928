/**
 * Metrics: numbers logged per step while a run goes (MLflow's `log_metric(key, value, step, timestamp)`), with
 * their whole history kept, on every store.
 *
 * ```ts
 * yield* Metrics.log({ loss: 0.31, acc: 0.9 }, { step: 10 })    // the current run
 * const series = yield* Metrics.history({ runs: [run], keys: ["loss"], maxPoints: 200 })
 * yield* Run.filter({ metrics__loss__min__lt: 0.2 }).orderBy("-metrics__acc__last").all()
 * ```
 *
 * Logging never waits for the store: `log` checks its points and appends them to the buffer of the client (one
 * per `Store` instance, see `MetricBuffer`), which writes them in the background in batches, as chunks of each
 * series and the run's summary (`MetricStorage`). A slow or failing store never blocks nor fails the caller: its
 * writes are retried while the points stay buffered, up to `maxBufferedPoints`, past which points are dropped,
 * counted (`dropped`) and warned about once per episode. A write that can never succeed drops (and counts) the
 * points of the run it concerns only.
 *
 * Points are written when `batchSize` are pending, at the latest `flushIntervalMs` after being logged, and
 * before `finish()` ends the run, before `close()` (and the release of the layer that built the store), before
 * a signal `track()` handles marks the run aborted, and when a process is about to exit (`beforeExit`), each
 * within a bounded wait. A process killed outright (SIGKILL) loses what it logged since the last flush: while the
 * store keeps up, at most `flushIntervalMs` of points plus those of the flush in progress; while it is slow or
 * failing, everything buffered (up to `maxBufferedPoints`).
 *
 * Values are finite numbers: NaN and ±Infinity are refused when logged (MLflow keeps NaN; minimum, maximum and
 * ordering mean nothing over it, and JSON cannot hold it). See `MetricBuffer` for the rules of keys and steps.
 */
import { Context, Effect, Layer } from "effect"
import { contextOf, CurrentRun } from "./Current.js"
import { DoesNotExist, InvalidQuery, StoreError, TrackNotCalled, ValidationError } from "./Errors.js"
import { maxListValues } from "./Limits.js"
import * as MetricBuffer from "./MetricBuffer.js"
import * as MetricStorage from "./MetricStorage.js"
import type * as Records from "./Records.js"
import { Run } from "./Registry.js"
import { onRelease, Store, type StoreShape } from "./Store.js"

export type { KeySummary, Point, Summary } from "./MetricStorage.js"
export type { LogOptions, Options } from "./MetricBuffer.js"

/** The values of one `log` call, by metric key. */
export type Values = { readonly [key: string]: number }

/** A run as `history` and `summary` take it: the record, its id, or its uid. */
export type RunRef = Records.Run | number | string

export interface HistoryOptions {
  /** The runs whose series to read, in the order the result lists them. */
  readonly runs: RunRef | ReadonlyArray<RunRef>
  /** Only these keys; default every key the runs have. */
  readonly keys?: string | ReadonlyArray<string> | undefined
  /**
   * At most this many points per series (an integer from 1): past it a series is downsampled, keeping the lowest
   * and highest point of each of ⌊(maxPoints − 1) / 2⌋ runs of consecutive steps, and the last point.
   */
  readonly maxPoints?: number | undefined
}

/** One series of `history`: a run's points of one key, in step order. */
export interface Series {
  readonly run: { readonly id: number; readonly uid: string }
  readonly key: string
  readonly points: ReadonlyArray<MetricStorage.Point>
  /** Whether `maxPoints` left points out. */
  readonly downsampled: boolean
}

/** The longest `flush` waits by default. */
export const flushTimeoutMs = 10_000
/** The longest `finish()`, `close()` and the release of a store's layer wait for its points. */
export const finishFlushMs = 5_000
/** The longest a signal's handling waits for the points, leaving time to mark the run within `ProcessHooks.markTimeoutMs`. */
export const signalFlushMs = 2_000

// ---------------------------------------------------------------------------------------------------------
// The buffer of a store

const buffers = new WeakMap<StoreShape, MetricBuffer.Buffer>()

/** Warnings through `Effect.logWarning` with the loggers of `context` (those of the code that made the buffer). */
const warner =
  (context: Context.Context<never>) =>
  (message: string): void =>
    Effect.runSyncWith(context)(Effect.logWarning(message))

/** The buffer of `store`, made on first use with `config` and closed (bounded) when the layer that built the store is released. */
const bufferOf = (store: StoreShape, context: Context.Context<never>, config: MetricBuffer.Config = MetricBuffer.defaults) => {
  let buffer = buffers.get(store)
  if (buffer === undefined) {
    const made = MetricBuffer.make({ write: MetricStorage.writer(store), warn: warner(context), config })
    buffers.set(store, made)
    onRelease(store, Effect.promise(() => made.close(finishFlushMs)))
    buffer = made
  }
  return buffer
}

const inContext = <A, E>(f: (store: StoreShape, context: Context.Context<never>) => Effect.Effect<A, E>): Effect.Effect<A, E, Store> =>
  Effect.flatMap(Effect.context<Store>(), (context) => f(Context.get(context, Store), context))

/**
 * Checks `options` (see `Options`: a `ValidationError` names the option) and sets them for the metrics of the
 * store in context, from now on.
 */
export const configure = (options: MetricBuffer.Options | undefined): Effect.Effect<void, ValidationError, Store> =>
  inContext((store, context) =>
    Effect.suspend(() => {
      const config = MetricBuffer.config(options)
      if (config instanceof ValidationError) return Effect.fail(config)
      bufferOf(store, context, config).configure(config)
      return Effect.void
    })
  )

/** Sets the metrics options of the store it is given (`configure`), as a layer: `Layer.provide(Metrics.layer({ batchSize: 1_000 }), storeLayer)`. */
export const layer = (options: MetricBuffer.Options): Layer.Layer<never, ValidationError, Store> => Layer.effectDiscard(configure(options))

// ---------------------------------------------------------------------------------------------------------
// Logging

const expectedRun = "a saved run (a Run record)"

/**
 * Appends points to `run`'s series in the buffer of `store` (see `logTo`); the refusal of the first bad one.
 * Synchronous: the Promise face's `log` is this.
 */
export const logNow = (
  store: StoreShape,
  run: Records.Run,
  values: Values,
  options?: MetricBuffer.LogOptions
): ValidationError | undefined => {
  const id = (run as { readonly id?: unknown } | null | undefined)?.id
  if (!Number.isSafeInteger(id)) return new ValidationError({ registry: "Metrics", field: "run", value: run, expected: expectedRun })
  return bufferOf(store, Context.empty() as Context.Context<never>).log(id as number, values, options, run.metricSummary)
}

/**
 * Logs `values` (finite numbers, by key) to `run` at one step: `options.step` (a safe integer from 0, greater than
 * each key's last step), else each key's last step + 1 (0 first); `options.timestamp`, else now. A key's last step
 * is the last one logged here, else the one `run`'s summary holds (a run continued by another process, as
 * `track({ newRun: false })` does, goes on from there).
 * Returns as soon as the points are buffered; a bad key, value, step or timestamp fails with a `ValidationError`
 * naming it, and no point of the call is kept.
 */
export const logTo = (run: Records.Run, values: Values, options?: MetricBuffer.LogOptions): Effect.Effect<void, ValidationError, Store> =>
  // Few steps: it runs in training loops. The first call makes the buffer with the caller's loggers.
  Effect.flatMap(Store, (store) =>
    buffers.has(store)
      ? logIn(store, run, values, options)
      : inContext((_, context) => Effect.suspend(() => (bufferOf(store, context), logIn(store, run, values, options))))
  )

const logIn = (store: StoreShape, run: Records.Run, values: Values, options: MetricBuffer.LogOptions | undefined) => {
  const refused = logNow(store, run, values, options)
  return refused === undefined ? Effect.void : Effect.fail(refused)
}

const noRun = () =>
  new TrackNotCalled({
    detail: "Metrics.log logs to the current run: call track() first, or log to a run with Metrics.logTo(run, …) (run.metrics.log in the Promise face)."
  })

/** `logTo` the current run: the innermost `step`/`flow` call's, else the tracked one; `TrackNotCalled` without one. */
export const log = (values: Values, options?: MetricBuffer.LogOptions): Effect.Effect<void, ValidationError | TrackNotCalled, Store> =>
  Effect.flatMap(CurrentRun, (call): Effect.Effect<void, ValidationError | TrackNotCalled, Store> => {
    if (call !== undefined) return logTo(call, values, options)
    return Effect.flatMap(Store, (store): Effect.Effect<void, ValidationError | TrackNotCalled, Store> => {
      const run = contextOf(store).run
      return run === undefined ? Effect.fail(noRun()) : logTo(run, values, options)
    })
  })

// ---------------------------------------------------------------------------------------------------------
// Flushing

const pendingMessage = (buffer: MetricBuffer.Buffer, timeoutMs: number) =>
  `${buffer.unsettled()} metric point(s) still buffered after waiting ${timeoutMs} ms` +
  (buffer.failure() === undefined ? "" : `: writing fails (${buffer.failure()})`) +
  "; they stay buffered and the write is retried"

/**
 * Waits until every point logged before it is written (or dropped); fails with `StoreError` (`Unavailable`) when
 * some are still buffered after `timeoutMs` (default `flushTimeoutMs`), as happens while the store fails. Those
 * stay buffered and keep being retried.
 */
export const flush = (options: { readonly timeoutMs?: number | undefined } = {}): Effect.Effect<void, StoreError | ValidationError, Store> =>
  Effect.flatMap(Store, (store) =>
    Effect.suspend((): Effect.Effect<void, StoreError | ValidationError> => {
      const timeoutMs = options.timeoutMs ?? flushTimeoutMs
      if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MetricBuffer.maxIntervalMs)
        return Effect.fail(
          new ValidationError({ registry: "Metrics", field: "timeoutMs", value: timeoutMs, expected: `an integer from 1 to ${MetricBuffer.maxIntervalMs}` })
        )
      const buffer = buffers.get(store)
      if (buffer === undefined) return Effect.void
      return Effect.flatMap(
        Effect.promise(() => buffer.flush(timeoutMs)),
        (done) => (done ? Effect.void : Effect.fail(StoreError.unavailable(pendingMessage(buffer, timeoutMs))))
      )
    })
  )

/**
 * Flushes for at most `timeoutMs`, never failing: what `finish()`, `close()` and a signal do before they end the
 * run. Points still buffered then are warned about, and stay buffered.
 */
export const settle = (timeoutMs: number): Effect.Effect<void, never, Store> =>
  inContext((store, context) => {
    const buffer = buffers.get(store)
    if (buffer === undefined || buffer.unsettled() === 0) return Effect.void
    return Effect.promise(async () => {
      if (!(await buffer.flush(timeoutMs))) warner(context)(`metrics: ${pendingMessage(buffer, timeoutMs)}`)
    })
  })

/** Points dropped so far by the store's buffer: it was full, their run was gone, or it closed first. */
export const dropped: Effect.Effect<number, never, Store> = Effect.map(Store, (store) => buffers.get(store)?.dropped() ?? 0)

/** `dropped` of `store`, synchronously: the Promise face's. */
export const droppedIn = (store: StoreShape): number => buffers.get(store)?.dropped() ?? 0

// ---------------------------------------------------------------------------------------------------------
// Reading

const refuse = (field: string, value: unknown, expected: string) => new ValidationError({ registry: "Metrics", field, value, expected })

const listOf = <A>(given: A | ReadonlyArray<A>): ReadonlyArray<A> => (Array.isArray(given) ? given : [given as A])

/** The run a reference names, as `Run.get` finds it (a record is taken as it is). */
const resolveRun = (ref: RunRef): Effect.Effect<{ readonly id: number; readonly uid: string }, ValidationError | InvalidQuery | DoesNotExist | StoreError, Store> => {
  if (typeof ref === "number" || typeof ref === "string")
    return Effect.catchTag(Run.get(ref), "MultipleObjectsReturned", (e) => Effect.fail(refuse("runs", ref, `a run's id or uid (${e.message})`)))
  const { id, uid } = (ref ?? {}) as { readonly id?: unknown; readonly uid?: unknown }
  return Number.isSafeInteger(id) && typeof uid === "string"
    ? Effect.succeed({ id: id as number, uid })
    : Effect.fail(refuse("runs", ref, "runs: a Run record, a run's id or uid, or an array of them"))
}

const checkedKeys = (keys: HistoryOptions["keys"]): ReadonlyArray<string> | undefined | ValidationError => {
  if (keys === undefined) return undefined
  const list = listOf(keys)
  if (list.length > maxListValues) return refuse("keys", `${list.length} keys`, `at most ${maxListValues} keys`)
  for (const key of list) {
    const bad = MetricBuffer.checkKey(key)
    if (bad !== undefined) return bad
  }
  return list
}

const checkedMaxPoints = (maxPoints: unknown): number | undefined | ValidationError =>
  maxPoints === undefined || (Number.isSafeInteger(maxPoints) && (maxPoints as number) >= 1)
    ? (maxPoints as number | undefined)
    : refuse("maxPoints", maxPoints, "an integer from 1")

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * The stored series of `options.runs` (of `options.keys` only, when given), by run in the order given, then by
 * key; a run without points of a key has no series of it. Points this client still buffers are written first
 * (within `finishFlushMs`), so what it logged is read back.
 */
export const history = (
  options: HistoryOptions
): Effect.Effect<ReadonlyArray<Series>, ValidationError | InvalidQuery | DoesNotExist | StoreError, Store> =>
  Effect.gen(function* () {
    const given = (options ?? {}) as Partial<HistoryOptions>
    if (given.runs === undefined) return yield* refuse("runs", undefined, "runs: a Run record, a run's id or uid, or an array of them")
    const refs = listOf(given.runs)
    if (refs.length > maxListValues) return yield* refuse("runs", `${refs.length} runs`, `at most ${maxListValues} runs`)
    const keys = checkedKeys(given.keys)
    if (keys instanceof ValidationError) return yield* keys
    const maxPoints = checkedMaxPoints(given.maxPoints)
    if (maxPoints instanceof ValidationError) return yield* maxPoints
    const runs = yield* Effect.forEach(refs, resolveRun)
    yield* settle(finishFlushMs)
    const store = yield* Store
    const stored = yield* MetricStorage.read(store, [...new Set(runs.map((r) => r.id))], keys)
    return runs.flatMap((run) => {
      const byKey = stored.get(run.id)
      if (byKey === undefined) return []
      return [...byKey.keys()].sort(byCodePoint).map((key) => ({ run: { id: run.id, uid: run.uid }, key, ...MetricStorage.points(byKey.get(key)!, maxPoints) }))
    })
  })

/**
 * A run's summary as stored, by key: `{ last, min, max, count, step }` (`step` the last one's). Points this client
 * still buffers are written first (within `finishFlushMs`).
 */
export const summary = (run: RunRef): Effect.Effect<MetricStorage.Summary, ValidationError | InvalidQuery | DoesNotExist | StoreError, Store> =>
  Effect.gen(function* () {
    const { id } = yield* resolveRun(run)
    yield* settle(finishFlushMs)
    const store = yield* Store
    const [doc] = yield* store.driver.get(Run.entity.model.table, [id])
    if (doc === undefined) return yield* new DoesNotExist({ registry: "Run", query: `id ${id}` })
    return MetricStorage.summaryOf(doc["metricSummary"])
  })
