/**
 * The metrics buffer of one client (see `Metrics`). `log` checks a call's points and appends them to in-memory
 * columns, one series per (run, key); it never waits for the store and never fails because of it. A loop in the
 * background writes what is pending through a `Writer`, one flush at a time, in the order points were logged:
 * as soon as `batchSize` points are pending, and at the latest `flushIntervalMs` after the oldest pending point
 * was logged (the timer does not keep a process alive).
 *
 * A flush takes at most `maxFlushPoints` points, series by series in queue order; a series it takes only part of
 * goes to the back of the queue, so a busy series never starves a quiet one. A flush that fails transiently is
 * retried with doubling waits (`backoffMs` to `maxBackoffMs`) while its points stay buffered, with one warning
 * per failing spell; the writer drops (and reports) the points of a run whose write can never succeed, so they
 * hold up no other run. Past `maxBufferedPoints` held (pending and being written), the points of a call are
 * dropped whole, counted by `dropped()`, with one warning per episode (an episode ends once the buffer has
 * drained to half its limit); their steps still count, so later steps stay monotone. A process about to exit
 * with points buffered (Node's `beforeExit`) flushes them once, within `exitFlushMs`.
 *
 * Each accepted call has a sequence number, kept with its points: `flush` waits for the points numbered up to
 * the last call before it, whatever is logged meanwhile.
 *
 * Rules of a point (refused with a `ValidationError` naming the field, the value and what was expected, before
 * any point of the call is kept): a key of 1 to `maxKeyLength` characters, well-formed, without control
 * characters, without `__` and neither starting nor ending with `_` (the query language splits field paths on
 * `__`), at most `maxKeysPerRun` keys per run; a finite number; a step that is a safe integer from 0, greater than the last step of its key (without one, that last
 * step + 1, 0 first), the last one logged to this buffer, else the one the run's stored summary holds; a timestamp
 * that is a valid `Date` or integer epoch milliseconds (default: now).
 */
import { ValidationError } from "./Errors.js"
import { isWellFormed } from "./Text.js"

export interface Options {
  /** Pending points that start a flush at once: an integer from 1 to `maxBufferedPoints` (default 5,000). */
  readonly batchSize?: number | undefined
  /** The longest a point waits before a flush starts: integer milliseconds from 1 to `maxIntervalMs` (default 1,000). */
  readonly flushIntervalMs?: number | undefined
  /** Points held (pending and being written) past which new ones are dropped: an integer from 1 to `maxBufferLimit` (default 1,000,000). */
  readonly maxBufferedPoints?: number | undefined
}

export type Config = { readonly [K in keyof Options]-?: number }

export const defaults: Config = { batchSize: 5_000, flushIntervalMs: 1_000, maxBufferedPoints: 1_000_000 }

/** Node's timer limit: a longer timeout fires at once. */
export const maxIntervalMs = 2_147_483_647
export const maxBufferLimit = 100_000_000
/** Points of one series in one stored chunk. */
export const maxChunkPoints = 1_000
/** Points one flush writes; more pending starts the next flush at once. */
export const maxFlushPoints = 20_000
export const maxKeyLength = 250
/** Keys of one run: its summary (one entry per key, on the run's document) stays far below a document's size limit (MongoDB's 16 MB). */
export const maxKeysPerRun = 5_000
export const backoffMs = 100
export const maxBackoffMs = 5_000
/** How long a process about to exit waits for its buffered points. */
export const exitFlushMs = 5_000

export interface LogOptions {
  /** A safe integer from 0, greater than the key's last step; default: that last step + 1 (0 first). */
  readonly step?: number | undefined
  /** When the value was observed: a `Date` or integer epoch milliseconds; default now. */
  readonly timestamp?: Date | number | undefined
}

/** Consecutive points of one series taken for a flush, in step order. */
export interface Part {
  readonly runId: number
  readonly key: string
  readonly steps: ReadonlyArray<number>
  readonly values: ReadonlyArray<number>
  readonly timestamps: ReadonlyArray<number>
}

/** What a writer tells the buffer: points it will never write (their run is gone, their steps are taken, the store refuses them for good). */
export interface Report {
  readonly dropped: (points: number, runId: number, why: string) => void
}

/**
 * Writes `parts`: each call of the function it returns is one attempt, resuming where the last one failed (what
 * an attempt wrote is not written again). An attempt rejects only when the store fails in a way that may pass
 * (the buffer retries it); points that can never be written are reported as dropped instead.
 */
export type Writer = (parts: ReadonlyArray<Part>, report: Report) => () => Promise<void>

/** Time as the buffer reads it: injectable, so tests drive the flush interval and the backoff. */
export interface Clock {
  readonly now: () => number
  /** Calls `f` after `ms`; returns what cancels it. Only a `keepAlive` timer holds the process open. */
  readonly after: (ms: number, f: () => void, keepAlive?: boolean) => () => void
}

export const systemClock: Clock = {
  now: Date.now,
  after: (ms, f, keepAlive = false) => {
    const timer = setTimeout(f, ms)
    if (!keepAlive) timer.unref()
    return () => clearTimeout(timer)
  }
}

export interface Buffer {
  /**
   * Checks and appends the points of one call; the refusal of the first bad one, appending none. Never touches the
   * store. `stored`, the run's summary as the caller read it, gives the last step of a key this buffer has not
   * logged yet (a run continued by another process goes on from there).
   */
  readonly log: (runId: number, values: unknown, options?: LogOptions, stored?: unknown) => ValidationError | undefined
  /**
   * Resolves true once every point logged before the call is written (or dropped), false after `timeoutMs`
   * with some still buffered (they stay, and are retried).
   */
  readonly flush: (timeoutMs: number) => Promise<boolean>
  /** Flushes within `timeoutMs`, then drops what is still pending (with a warning); later points are dropped unseen. */
  readonly close: (timeoutMs: number) => Promise<void>
  /** Points dropped so far: the buffer was full, their run was gone, or it closed before writing them. */
  readonly dropped: () => number
  /** Points logged and not yet written or dropped. */
  readonly unsettled: () => number
  readonly configure: (config: Config) => void
  /** Why the last attempt to write failed, while writing fails. */
  readonly failure: () => string | undefined
}

// ---------------------------------------------------------------------------------------------------------
// Checks

const registry = "Metrics"

const refuse = (field: string, value: unknown, expected: string) => new ValidationError({ registry, field, value, expected })

const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/

export const expectedKey =
  `a metric key: a string of 1 to ${maxKeyLength} characters, well-formed (no unpaired surrogate), without control characters, ` +
  "without '__' and neither starting nor ending with '_' (the query language splits metrics__<key>__last on '__')"
export const expectedKeyCount = `at most ${maxKeysPerRun} metric keys per run`
export const expectedValue = "a finite number"
export const expectedStep = `a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`
export const expectedTimestamp = "a valid Date, or epoch milliseconds as an integer within the range of a Date"

/** The refusal of a key, or undefined when it is one. */
export const checkKey = (key: unknown): ValidationError | undefined =>
  typeof key === "string" &&
  key.length > 0 &&
  key.length <= maxKeyLength &&
  !controlCharacter.test(key) &&
  !key.includes("__") &&
  !key.startsWith("_") &&
  !key.endsWith("_") &&
  isWellFormed(key)
    ? undefined
    : refuse("key", key, expectedKey)

export const isStep = (step: unknown): step is number => Number.isSafeInteger(step) && (step as number) >= 0

/** Epoch milliseconds of a timestamp, or its refusal. */
export const timeOf = (timestamp: unknown): number | ValidationError => {
  const ms = timestamp instanceof Date ? timestamp.getTime() : timestamp
  return typeof ms === "number" && Number.isInteger(ms) && Math.abs(ms) <= 8.64e15 ? ms : refuse("timestamp", timestamp, expectedTimestamp)
}

const optionNames = ["batchSize", "flushIntervalMs", "maxBufferedPoints"] as const

const integerIn = (options: { readonly [k: string]: unknown }, name: (typeof optionNames)[number], max: number) => {
  const value = options[name]
  if (value === undefined) return defaults[name]
  return Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= max
    ? (value as number)
    : refuse(name, value, `an integer from 1 to ${max}`)
}

/** `options` checked, with the defaults for what they leave out, or a refusal naming the option. */
export const config = (options: unknown): Config | ValidationError => {
  if (options === undefined) return defaults
  if (options === null || typeof options !== "object" || Array.isArray(options))
    return refuse("options", options, `an object of ${optionNames.join(", ")}`)
  const given = options as { readonly [k: string]: unknown }
  const unknown = Object.keys(given).find((k) => !(optionNames as ReadonlyArray<string>).includes(k))
  if (unknown !== undefined) return refuse("options", unknown, `only the options ${optionNames.join(", ")}`)
  const maxBufferedPoints = integerIn(given, "maxBufferedPoints", maxBufferLimit)
  if (maxBufferedPoints instanceof ValidationError) return maxBufferedPoints
  const batchSize = integerIn(given, "batchSize", maxBufferedPoints)
  if (batchSize instanceof ValidationError) return batchSize
  const flushIntervalMs = integerIn(given, "flushIntervalMs", maxIntervalMs)
  if (flushIntervalMs instanceof ValidationError) return flushIntervalMs
  return { batchSize, flushIntervalMs, maxBufferedPoints }
}

// ---------------------------------------------------------------------------------------------------------
// The buffer

/** One (run, key): its last step in this buffer, and its pending points with the sequence numbers of their calls. */
interface Series {
  readonly runId: number
  readonly key: string
  last: number
  steps: Array<number>
  values: Array<number>
  timestamps: Array<number>
  seqs: Array<number>
  /** Whether it is in the queue of series with pending points. */
  queued: boolean
}

/** A `flush` call waiting for the points of the calls numbered up to `target`. */
interface Waiter {
  readonly target: number
  readonly resolve: (done: boolean) => void
}

/** Buffers holding points, for the `beforeExit` flush. */
const busy = new Set<State>()
let exitHookInstalled = false

const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on("beforeExit", () => {
    for (const state of [...busy]) {
      busy.delete(state)
      void state.buffer.flush(exitFlushMs)
    }
  })
}

interface State {
  config: Config
  readonly clock: Clock
  readonly write: Writer
  readonly warn: (message: string) => void
  readonly runs: Map<number, RunSeries>
  /** The run `log` was last called for, and its series. */
  lastRun: { readonly runId: number; readonly series: RunSeries } | undefined
  /** Series with pending points, oldest first. */
  queue: Array<Series>
  /** Points logged and not taken by a flush. */
  pending: number
  /** Points taken by the flush in progress, and the lowest sequence number among them (`Infinity` without). */
  inflight: number
  inflightSeq: number
  /** The sequence number of the last accepted call. */
  seq: number
  /** Points accepted by `log`, and points written or dropped after being accepted: `flush` compares them. */
  logged: number
  settled: number
  dropped: number
  /** The buffer was full: later drops are not warned about until it has room. */
  dropping: boolean
  failure: string | undefined
  readonly warnedRuns: Set<number>
  cancelTimer: (() => void) | undefined
  /** Ends the wait between two attempts at once (`close`). */
  wake: (() => void) | undefined
  running: boolean
  kicked: boolean
  closed: boolean
  waiters: Array<Waiter>
  readonly buffer: Buffer
}

const backoff = (failures: number) => Math.min(maxBackoffMs, backoffMs * 2 ** (failures - 1))

const shownError = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  return message.length > 500 ? `${message.slice(0, 500)}…` : message
}

/** The lowest sequence number of a point not yet written nor dropped (`Infinity` without). */
const oldestUnsettled = (s: State): number => {
  let oldest = s.inflightSeq
  for (const series of s.queue) if (series.seqs[0]! < oldest) oldest = series.seqs[0]!
  return oldest
}

const notify = (s: State) => {
  if (s.waiters.length === 0) return
  const oldest = oldestUnsettled(s)
  const waiting: Array<Waiter> = []
  for (const w of s.waiters) (oldest > w.target ? w.resolve(true) : waiting.push(w))
  s.waiters = waiting
}

const settle = (s: State, points: number) => {
  s.settled += points
  if (s.settled >= s.logged) busy.delete(s)
  notify(s)
}

/**
 * Takes up to `limit` pending points, series by series in queue order, each series' part in step order. A series
 * taken in part goes to the back of the queue: the next flush serves the others first.
 */
const take = (s: State, limit: number): ReadonlyArray<Part> => {
  const parts: Array<Part> = []
  let taken = 0
  let done = 0
  let cut: Series | undefined
  let oldest = Number.POSITIVE_INFINITY
  while (done < s.queue.length && taken < limit) {
    const series = s.queue[done++]!
    const end = Math.min(series.steps.length, limit - taken)
    if (series.seqs[0]! < oldest) oldest = series.seqs[0]!
    parts.push({ runId: series.runId, key: series.key, steps: series.steps.slice(0, end), values: series.values.slice(0, end), timestamps: series.timestamps.slice(0, end) })
    taken += end
    if (end < series.steps.length) {
      series.steps = series.steps.slice(end)
      series.values = series.values.slice(end)
      series.timestamps = series.timestamps.slice(end)
      series.seqs = series.seqs.slice(end)
      cut = series
      break
    }
    series.steps = []
    series.values = []
    series.timestamps = []
    series.seqs = []
    series.queued = false
  }
  s.queue = s.queue.slice(done)
  if (cut !== undefined) s.queue.push(cut)
  s.pending -= taken
  s.inflight = taken
  s.inflightSeq = oldest
  return parts
}

const sleep = (s: State, ms: number) =>
  new Promise<void>((resolve) => {
    const cancel = s.clock.after(ms, () => s.wake?.())
    s.wake = () => {
      s.wake = undefined
      cancel()
      resolve()
    }
  })

/** Writes `parts` (`points` of them), retrying while the store fails; gives up only once the buffer is closed. */
const writeAll = async (s: State, parts: ReadonlyArray<Part>, points: number) => {
  const report: Report = {
    dropped: (n, runId, why) => {
      s.dropped += n
      s.inflight -= n
      settle(s, n)
      if (s.warnedRuns.has(runId)) return
      s.warnedRuns.add(runId)
      s.warn(`metrics: ${n} point(s) of run ${runId} dropped: ${why}`)
    }
  }
  let attempt: (() => Promise<void>) | undefined
  for (let failures = 1; ; failures++) {
    try {
      attempt ??= s.write(parts, report)
      await attempt()
      s.failure = undefined
      return
    } catch (error) {
      if (s.failure === undefined)
        s.warn(`metrics: writing ${points} point(s) failed (${shownError(error)}); they stay buffered and the write is retried`)
      s.failure = shownError(error)
      if (!s.closed) await sleep(s, backoff(failures))
      if (s.closed) return dropOnClose(s)
    }
  }
}

/** The points of a write that failed after the buffer closed: dropped, with a warning. */
const dropOnClose = (s: State) => {
  s.dropped += s.inflight
  s.warn(`metrics: closed while writing failed (${s.failure}): ${s.inflight} point(s) dropped`)
}

/** The background loop: one flush at a time, until nothing is pending. */
const drain = async (s: State) => {
  s.running = true
  try {
    while (s.pending > 0 && !s.closed) {
      s.cancelTimer?.()
      s.cancelTimer = undefined
      const parts = take(s, maxFlushPoints)
      const points = s.inflight
      await writeAll(s, parts, points)
      const left = s.inflight
      s.inflight = 0
      s.inflightSeq = Number.POSITIVE_INFINITY
      if (s.pending <= s.config.maxBufferedPoints / 2) s.dropping = false
      settle(s, left)
    }
  } finally {
    s.running = false
  }
}

/** Starts the loop as soon as the caller yields, unless it runs or is about to. */
const kick = (s: State) => {
  if (s.running || s.kicked || s.closed) return
  s.kicked = true
  queueMicrotask(() => {
    s.kicked = false
    if (!s.running) void drain(s)
  })
}

const armTimer = (s: State) => {
  if (s.cancelTimer !== undefined) return
  s.cancelTimer = s.clock.after(s.config.flushIntervalMs, () => {
    s.cancelTimer = undefined
    kick(s)
  })
}

/** The series of one run, by key, and how many keys the run has: those of its stored summary and the new ones. */
interface RunSeries {
  readonly byKey: Map<string, Series>
  keys: number
}

/** The series of one run; the run last asked for is kept at hand, as a loop logs to one run. */
const runSeries = (s: State, runId: number, stored: unknown): RunSeries => {
  if (s.lastRun !== undefined && s.lastRun.runId === runId) return s.lastRun.series
  let series = s.runs.get(runId)
  if (series === undefined) {
    series = { byKey: new Map(), keys: stored !== null && typeof stored === "object" ? Object.keys(stored).length : 0 }
    s.runs.set(runId, series)
  }
  s.lastRun = { runId, series }
  return series
}

/** The last step of `key` in a stored summary (`MetricStorage.Summary`), or -1. */
const storedStep = (stored: unknown, key: string): number => {
  if (stored === null || typeof stored !== "object" || !Object.hasOwn(stored, key)) return -1
  const step = (stored as { readonly [key: string]: { readonly step?: unknown } | undefined })[key]?.step
  return isStep(step) ? step : -1
}

/**
 * A key's series, made once its key is checked and the run has room for it (every series has a valid key, so a
 * known key costs one look-up), going on from the key's last step in `stored`.
 */
const seriesOf = (run: RunSeries, runId: number, key: string, stored: unknown): Series | ValidationError => {
  const found = run.byKey.get(key)
  if (found !== undefined) return found
  const bad = checkKey(key)
  if (bad !== undefined) return bad
  const last = storedStep(stored, key)
  if (last < 0) {
    if (run.keys >= maxKeysPerRun) return refuse("key", key, `${expectedKeyCount}: run ${runId} has ${run.keys}`)
    run.keys++
  }
  const series: Series = { runId, key, last, steps: [], values: [], timestamps: [], seqs: [], queued: false }
  run.byKey.set(key, series)
  return series
}

const isObject = (v: unknown): v is { readonly [k: string]: unknown } => {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

const expectedValues = `an object of metric values, by key (${expectedKey}; each value ${expectedValue})`

/** The checked points of the call being logged: `values[i]` for `series[i]`, the first `n` of them. */
interface Checked {
  readonly values: Array<number>
  readonly series: Array<Series>
  n: number
}

/** Reused by every call, as a hot loop would otherwise allocate it per call; a call made while one is checked (from a getter) makes its own. */
let shared: Checked | undefined = { values: [], series: [], n: 0 }

const logIn = (s: State, runId: number, values: unknown, options: LogOptions | undefined, stored: unknown): ValidationError | undefined => {
  const checked = shared ?? { values: [], series: [], n: 0 }
  shared = undefined
  try {
    const refused = check(s, runId, values, options, stored, checked)
    if (refused !== undefined) return refused
    const given = options?.timestamp
    append(s, checked, options?.step, given === undefined ? s.clock.now() : (timeOf(given) as number))
    return undefined
  } catch {
    // A proxy or getter that throws as it is read.
    return refuse("values", "[unreadable]", expectedValues)
  } finally {
    checked.n = 0
    shared = checked
  }
}

/** Checks one call's points into `into`, or refuses the first bad one. */
const check = (s: State, runId: number, values: unknown, options: LogOptions | undefined, stored: unknown, into: Checked): ValidationError | undefined => {
  const step = options?.step
  if (step !== undefined && !isStep(step)) return refuse("step", step, expectedStep)
  const given = options?.timestamp
  if (given !== undefined) {
    const time = timeOf(given)
    if (time instanceof ValidationError) return time
  }
  if (!isObject(values)) return refuse("values", values, expectedValues)
  const run = runSeries(s, runId, stored)
  for (const key of Object.keys(values)) {
    const value = values[key]
    if (typeof value !== "number" || !Number.isFinite(value)) return checkKey(key) ?? refuse(key, value, expectedValue)
    const one = seriesOf(run, runId, key, stored)
    if (one instanceof ValidationError) return one
    if (step !== undefined && step <= one.last)
      return refuse("step", step, `a step greater than ${one.last}, the last step of ${JSON.stringify(key)} logged to this run (steps are monotone per key)`)
    if (step === undefined && one.last >= Number.MAX_SAFE_INTEGER) return refuse("step", one.last + 1, expectedStep)
    into.values[into.n] = value
    into.series[into.n] = one
    into.n++
  }
  return undefined
}

/** Appends the checked points of one call, or drops them all when they do not fit. */
const append = (s: State, checked: Checked, step: number | undefined, time: number) => {
  const n = checked.n
  if (n === 0) return
  const fits = !s.closed && s.pending + s.inflight + n <= s.config.maxBufferedPoints
  const seq = fits ? ++s.seq : 0
  for (let i = 0; i < n; i++) {
    const one = checked.series[i]!
    // Dropped points keep their steps: the caller's next steps stay monotone.
    one.last = step ?? one.last + 1
    if (!fits) continue
    one.steps.push(one.last)
    one.values.push(checked.values[i]!)
    one.timestamps.push(time)
    one.seqs.push(seq)
    if (!one.queued) {
      one.queued = true
      s.queue.push(one)
    }
  }
  if (!fits) return full(s, n)
  if (s.logged === s.settled) busy.add(s)
  if (s.pending === 0) armTimer(s)
  s.pending += n
  s.logged += n
  if (s.pending >= s.config.batchSize) kick(s)
}

const full = (s: State, n: number) => {
  s.dropped += n
  if (s.dropping || s.closed) return
  s.dropping = true
  s.warn(
    `metrics: the buffer holds ${s.pending + s.inflight} point(s), its limit (maxBufferedPoints ${s.config.maxBufferedPoints})` +
      `${s.failure === undefined ? "" : ` while writing fails (${s.failure})`}; new points are dropped until it has room (see dropped())`
  )
}

const flushIn = (s: State, timeoutMs: number) =>
  new Promise<boolean>((resolve) => {
    if (s.settled >= s.logged) return resolve(true)
    kick(s)
    let cancel = () => {}
    const waiter: Waiter = {
      target: s.seq,
      resolve: (done) => {
        cancel()
        resolve(done)
      }
    }
    s.waiters.push(waiter)
    cancel = s.clock.after(
      timeoutMs,
      () => {
        s.waiters = s.waiters.filter((w) => w !== waiter)
        resolve(false)
      },
      true
    )
  })

const closeIn = async (s: State, timeoutMs: number) => {
  if (s.closed) return
  const done = await flushIn(s, timeoutMs)
  s.closed = true
  s.cancelTimer?.()
  s.cancelTimer = undefined
  s.wake?.()
  busy.delete(s)
  if (done) return
  // Points being written when the wait ended are dropped only if that write fails (`writeAll`).
  const left = s.pending
  s.dropped += left
  s.pending = 0
  s.queue = []
  if (left > 0) s.warn(`metrics: closing, ${left} point(s) not written within ${timeoutMs} ms were dropped`)
  settle(s, left)
}

/** A buffer writing through `write`, warning through `warn`. */
export const make = (options: { readonly write: Writer; readonly warn: (message: string) => void; readonly config?: Config; readonly clock?: Clock }): Buffer => {
  installExitHook()
  const s = {
    config: options.config ?? defaults,
    clock: options.clock ?? systemClock,
    write: options.write,
    warn: options.warn,
    runs: new Map(),
    lastRun: undefined,
    queue: [],
    pending: 0,
    inflight: 0,
    inflightSeq: Number.POSITIVE_INFINITY,
    seq: 0,
    logged: 0,
    settled: 0,
    dropped: 0,
    dropping: false,
    failure: undefined,
    warnedRuns: new Set(),
    cancelTimer: undefined,
    wake: undefined,
    running: false,
    kicked: false,
    closed: false,
    waiters: []
  } as Omit<State, "buffer"> as State
  const buffer: Buffer = {
    log: (runId, values, logOptions, stored) => logIn(s, runId, values, logOptions, stored),
    flush: (timeoutMs) => flushIn(s, timeoutMs),
    close: (timeoutMs) => closeIn(s, timeoutMs),
    dropped: () => s.dropped,
    unsettled: () => s.logged - s.settled,
    configure: (config) => {
      s.config = config
    },
    failure: () => s.failure
  }
  ;(s as { buffer: Buffer }).buffer = buffer
  return buffer
}
