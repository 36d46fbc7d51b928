/**
 * How metric points are stored: as chunks of one series (`Records.MetricPoints`, at most `maxChunkPoints` points
 * each) and as the summary on their run (`Run.metricSummary`: last, min, max, count and last step per key), which
 * a flush writes together; and how they are read back.
 *
 * Kept in step: one flush's chunks and the new summaries of their runs are one `Store.batch`, atomic where the
 * store has transactions. Elsewhere the chunks are written first, then each run's summary, so a crash between
 * leaves a summary at most one flush behind its chunks. A summary is written under a compare-and-set on the one
 * read, so two writers never lose each other's keys, and merging is idempotent per key (a key whose stored `step`
 * already reaches a chunk's last step keeps its entry), so a flush retried after an unknown outcome counts
 * nothing twice. Chunks keep the ids they were given, so a retried write recognises those already stored.
 * One writer per (run, key) is assumed: a chunk whose first step another writer stored first is dropped.
 *
 * Only a failure that may pass (`isTransient`: the store unavailable, or summaries that kept changing) fails an
 * attempt, for the buffer to retry. Any other failure (a run that does not decode, a summary the store refuses,
 * a closed client) would fail every retry too: the points of the runs it concerns are dropped and reported, and
 * the other runs of the flush are written one by one, so one such run never holds up another.
 */
import { Cause, Effect, Exit } from "effect"
import * as Ast from "./Ast.js"
import type { Doc } from "./Driver.js"
import { StoreError, StoreUniqueViolation, UniqueViolation, ValidationError } from "./Errors.js"
import { isPlainObject } from "./Limits.js"
import { maxChunkPoints, type Part, type Report, type Writer } from "./MetricBuffer.js"
import { MetricPoints, MetricPointsModel, Run, RunModel } from "./Records.js"
import { entity, type StoreShape } from "./Store.js"
import { newUid } from "./Versioning.js"

/** One key's entry in a run's summary. */
export interface KeySummary {
  readonly last: number
  readonly min: number
  readonly max: number
  readonly count: number
  /** The step of `last`: the highest step stored. */
  readonly step: number
}

/** A run's summary, by key. */
export type Summary = { readonly [key: string]: KeySummary }

export const chunkEntity = entity(MetricPointsModel, MetricPoints)
const runEntity = entity(RunModel, Run)
const table = MetricPointsModel.table

/** A run's summary field, by the name its documents use. */
const summaryField = "metricSummary"

// ---------------------------------------------------------------------------------------------------------
// Summaries

/** What the points of one key in a flush add to its summary. */
interface Stats {
  readonly lastStep: number
  readonly last: number
  readonly min: number
  readonly max: number
  readonly count: number
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

const isKeySummary = (v: unknown): v is KeySummary => {
  if (!isPlainObject(v)) return false
  const { last, min, max, count, step } = v
  return [last, min, max].every((n) => typeof n === "number" && Number.isFinite(n)) && isCount(count) && isCount(step)
}

/** The entries of a stored summary that are key summaries (a run stored before summaries existed holds none). */
export const summaryOf = (stored: unknown): Summary =>
  isPlainObject(stored) ? (Object.fromEntries(Object.entries(stored).filter(([, v]) => isKeySummary(v))) as Summary) : {}

/**
 * `stored` with `stats` added, key by key; a key whose stored step reaches the stats' last step already holds
 * them (see the module). Built with `fromEntries`, so a key such as `__proto__` stays a key.
 */
export const merge = (stored: unknown, stats: ReadonlyMap<string, Stats>): Summary => {
  const out = new Map<string, unknown>(isPlainObject(stored) ? Object.entries(stored) : [])
  for (const [key, s] of stats) {
    const prev = out.get(key)
    if (!isKeySummary(prev)) out.set(key, { last: s.last, min: s.min, max: s.max, count: s.count, step: s.lastStep })
    else if (prev.step < s.lastStep)
      out.set(key, {
        last: s.last,
        min: Math.min(prev.min, s.min),
        max: Math.max(prev.max, s.max),
        count: prev.count + s.count,
        step: s.lastStep
      })
  }
  return Object.fromEntries(out) as Summary
}

// ---------------------------------------------------------------------------------------------------------
// Chunks

interface Chunk extends Stats {
  readonly runId: number
  readonly key: string
  readonly firstStep: number
  readonly steps: ReadonlyArray<number>
  readonly values: ReadonlyArray<number>
  readonly timestamps: ReadonlyArray<number>
  /** The document, once its id is reserved: retries write this same document. */
  doc: Doc | undefined
  state: "pending" | "written" | "dropped"
}

const chunk = (part: Part, from: number, to: number): Chunk => {
  const steps = part.steps.slice(from, to)
  const values = part.values.slice(from, to)
  let min = values[0]!
  let max = min
  for (const v of values) {
    if (v < min) min = v
    if (v > max) max = v
  }
  const firstStep = steps[0]!
  const lastStep = steps[steps.length - 1]!
  const count = steps.length
  return {
    runId: part.runId,
    key: part.key,
    firstStep,
    lastStep,
    last: values[values.length - 1]!,
    min,
    max,
    count,
    steps,
    values,
    timestamps: part.timestamps.slice(from, to),
    doc: undefined,
    state: "pending"
  }
}

/** The chunks of `parts`: each part cut into runs of at most `maxChunkPoints` points. */
export const chunksOf = (parts: ReadonlyArray<Part>): Array<Chunk> =>
  parts.flatMap((part) => {
    const out: Array<Chunk> = []
    for (let from = 0; from < part.steps.length; from += maxChunkPoints) out.push(chunk(part, from, Math.min(part.steps.length, from + maxChunkPoints)))
    return out
  })

/** What the chunks of a run that are not dropped add to its summary, by key, in step order. */
const statsOf = (chunks: ReadonlyArray<Chunk>, runId: number): ReadonlyMap<string, Stats> => {
  const stats = new Map<string, Stats>()
  for (const c of chunks) {
    if (c.runId !== runId || c.state === "dropped") continue
    const prev = stats.get(c.key)
    stats.set(
      c.key,
      prev === undefined
        ? c
        : { lastStep: c.lastStep, last: c.last, min: Math.min(prev.min, c.min), max: Math.max(prev.max, c.max), count: prev.count + c.count }
    )
  }
  return stats
}

// ---------------------------------------------------------------------------------------------------------
// Writing

/** Rounds of one attempt: re-reading a summary another writer changed, or sorting out chunks already stored. */
const maxRounds = 8

const isChunkViolation = (e: unknown): boolean =>
  (e instanceof UniqueViolation && e.registry === MetricPointsModel.name) ||
  (e instanceof StoreError && e.reason instanceof StoreUniqueViolation && e.reason.table === table)

/** A failure that may pass: the write is retried. */
export const isTransient = (e: unknown): boolean => e instanceof StoreError && (e.isRetryable || e.reason._tag === "Conflict")

/** The summary write lost a race (the run changed, or went, since it was read): read again. */
const isSummaryRace = (e: unknown): boolean =>
  e instanceof StoreError && (e.reason._tag === "Conflict" || e.reason._tag === "NotFound") && "table" in e.reason && e.reason.table === RunModel.table

const failureOf = <A>(exit: Exit.Exit<A, unknown>): unknown => {
  if (Exit.isSuccess(exit)) return undefined
  const found = Cause.findErrorOption(exit.cause)
  return found._tag === "Some" ? found.value : undefined
}

const pointsOf = (chunks: ReadonlyArray<Chunk>) => chunks.reduce((n, c) => n + c.count, 0)

const corrupt = (what: string, e: unknown) => StoreError.invalid(`${what}: ${e instanceof Error ? e.message : String(e)}`)

/** Chunks `chunks` gave ids to, read back: those stored are written; the others collide with another writer's and are inserted one by one. */
const sortOut = (store: StoreShape, chunks: ReadonlyArray<Chunk>, report: Report) =>
  Effect.gen(function* () {
    const stored = new Set((yield* store.driver.get(table, chunks.map((c) => c.doc!["id"] as number))).map((d) => d["id"]))
    for (const c of chunks) if (stored.has(c.doc!["id"])) c.state = "written"
    if (stored.size > 0) return
    for (const c of chunks) {
      const inserted = yield* Effect.exit(store.driver.insert(table, [c.doc!]))
      if (Exit.isSuccess(inserted)) c.state = "written"
      else if (isChunkViolation(failureOf(inserted))) {
        c.state = "dropped"
        report.dropped(c.count, c.runId, `steps ${c.firstStep}-${c.lastStep} of ${JSON.stringify(c.key)} are stored already (one writer per run and key)`)
      } else return yield* Effect.failCause(inserted.cause)
    }
  })

/** The write of a run's new summary, under a compare-and-set on the summary `doc` holds. */
const summaryWrite = (store: StoreShape, doc: Doc, chunks: ReadonlyArray<Chunk>) =>
  Effect.gen(function* () {
    const run = yield* Effect.try({ try: () => runEntity.decode(doc), catch: (e) => corrupt(`stored Run ${String(doc["uid"])} does not decode`, e) })
    const stored = doc[summaryField] ?? null
    const summary = merge(stored, statsOf(chunks, run.id))
    return yield* store
      .prepareUpdate(runEntity, run, { [summaryField]: summary }, { [summaryField]: stored })
      .pipe(Effect.mapError((e: ValidationError) => corrupt(`the metric summary of run ${run.uid} does not validate`, e)))
  })

/** The runs of `chunks` not done yet (`only`, when given, alone). */
const runsLeft = (chunks: ReadonlyArray<Chunk>, done: ReadonlySet<number>, only?: number): Array<number> =>
  [...new Set(chunks.filter((c) => c.state !== "dropped").map((c) => c.runId))].filter((id) => !done.has(id) && (only === undefined || id === only))

/**
 * One round: the runs' current summaries read, then the pending chunks and the new summaries in one batch (of
 * run `only`, when given).
 */
const round = (store: StoreShape, chunks: ReadonlyArray<Chunk>, done: Set<number>, report: Report, only?: number) =>
  Effect.gen(function* () {
    const runIds = runsLeft(chunks, done, only)
    const runs = yield* store.driver.get(RunModel.table, runIds)
    const found = new Set(runs.map((d) => d["id"]))
    for (const id of runIds) {
      if (found.has(id)) continue
      const gone = chunks.filter((c) => c.runId === id && c.state === "pending")
      for (const c of gone) c.state = "dropped"
      done.add(id)
      if (gone.length > 0) report.dropped(pointsOf(gone), id, "the run no longer exists")
    }
    const pending = chunks.filter((c) => c.state === "pending" && (only === undefined || c.runId === only))
    const ops = [
      ...(pending.length === 0 ? [] : [{ _tag: "Insert" as const, table, docs: pending.map((c) => c.doc!) }]),
      ...(yield* Effect.forEach(runs, (doc) => summaryWrite(store, doc, chunks)))
    ]
    if (ops.length === 0) return true
    const written = yield* Effect.exit(store.batch(ops))
    if (Exit.isSuccess(written)) {
      for (const c of pending) c.state = "written"
      for (const id of found) done.add(id as number)
      return true
    }
    const failure = failureOf(written)
    if (isChunkViolation(failure)) {
      yield* sortOut(store, pending, report)
      return false
    }
    if (isSummaryRace(failure)) return false
    return yield* Effect.failCause(written.cause)
  })

/**
 * The documents of `chunks`, ids reserved, as `chunkEntity` encodes a `MetricPoints` record: built here rather than
 * validated and encoded by `Store.prepare`, which would walk each chunk's three arrays four times, because every
 * value in them was checked as it was logged (`MetricBuffer`: finite numbers, safe-integer steps, integer epoch
 * milliseconds, well-formed keys) and the rest is computed from them. The model has no derived field.
 */
const prepare = (store: StoreShape, chunks: ReadonlyArray<Chunk>) =>
  Effect.map(store.driver.reserveIds(table, chunks.length), (first) => {
    const createdAt = new Date().toISOString()
    chunks.forEach((c, i) => {
      const { runId, key, firstStep, lastStep, count, steps, values, timestamps, min, max } = c
      c.doc = { id: first + i, uid: newUid(MetricPointsModel), createdAt, runId, key, firstStep, lastStep, count, steps, values, timestamps, min, max }
    })
  })

/** Rounds until one writes (of run `only`, when given). */
const rounds = (store: StoreShape, chunks: ReadonlyArray<Chunk>, done: Set<number>, report: Report, only?: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < maxRounds; i++) if (yield* round(store, chunks, done, report, only)) return
    return yield* StoreError.conflict(RunModel.table, -1, `the metric summaries kept changing under this write for ${maxRounds} rounds`)
  })

/** Why an exit failed for good, or undefined when it succeeded or may succeed when retried. */
const permanentFailure = <A>(exit: Exit.Exit<A, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const failure = failureOf(exit)
  if (isTransient(failure)) return undefined
  return failure instanceof Error ? failure.message : Cause.pretty(exit.cause)
}

/** Drops the chunks of `runId` not written, reporting them with `why`. */
const dropRun = (chunks: ReadonlyArray<Chunk>, runId: number, done: Set<number>, report: Report, why: string) => {
  const left = chunks.filter((c) => c.runId === runId && c.state === "pending")
  for (const c of left) c.state = "dropped"
  done.add(runId)
  if (left.length > 0) report.dropped(pointsOf(left), runId, `writing them failed for good (${why})`)
}

/**
 * The `Writer` of a store: each attempt prepares the chunks once (ids reserved), then writes what is left, all
 * runs together; after a failure for good, run by run, dropping the runs that fail for good.
 */
export const writer =
  (store: StoreShape): Writer =>
  (parts, report) => {
    const chunks = chunksOf(parts)
    const done = new Set<number>()
    let alone = false
    const attempt = Effect.gen(function* () {
      if (chunks.length > 0 && chunks[0]!.doc === undefined) {
        const prepared = yield* Effect.exit(prepare(store, chunks))
        const why = permanentFailure(prepared)
        if (why !== undefined) return runsLeft(chunks, done).forEach((id) => dropRun(chunks, id, done, report, why))
        if (Exit.isFailure(prepared)) return yield* Effect.failCause(prepared.cause)
      }
      if (!alone) {
        const together = yield* Effect.exit(rounds(store, chunks, done, report))
        if (Exit.isSuccess(together)) return
        if (permanentFailure(together) === undefined) return yield* Effect.failCause(together.cause)
        alone = true
      }
      for (const id of runsLeft(chunks, done)) {
        const one = yield* Effect.exit(rounds(store, chunks, done, report, id))
        const why = permanentFailure(one)
        if (why !== undefined) dropRun(chunks, id, done, report, why)
        else if (Exit.isFailure(one)) return yield* Effect.failCause(one.cause)
      }
    })
    return () => Effect.runPromise(attempt)
  }

// ---------------------------------------------------------------------------------------------------------
// Reading

/** One point of a series. */
export interface Point {
  readonly step: number
  readonly value: number
  readonly timestamp: Date
}

/** A series' points as stored: parallel columns in step order. */
export interface Columns {
  readonly steps: Array<number>
  readonly values: Array<number>
  readonly timestamps: Array<number>
}

const numbers = (v: unknown, count: number): v is Array<number> =>
  Array.isArray(v) && v.length === count && v.every((n) => typeof n === "number" && Number.isFinite(n))

/** A stored chunk's columns, checked: three arrays of `count` finite numbers. */
const columnsOf = (doc: Doc): Columns => {
  const count = doc["count"]
  const { steps, values, timestamps } = doc
  if (!isCount(count) || !numbers(steps, count) || !numbers(values, count) || !numbers(timestamps, count))
    throw StoreError.invalid(`stored MetricPoints ${String(doc["uid"])} is damaged: expected steps, values and timestamps of ${String(count)} numbers each`)
  return { steps, values, timestamps }
}

/**
 * The stored points of `runIds` (of `keys` only, when given), by run id, then by key, each series' columns in step
 * order.
 */
export const read = (store: StoreShape, runIds: ReadonlyArray<number>, keys: ReadonlyArray<string> | undefined) =>
  Effect.gen(function* () {
    const where = Ast.and([Ast.field(["runId"], "in", [...runIds]), ...(keys === undefined ? [] : [Ast.field(["key"], "in", [...keys])])])
    const docs = yield* store.driver.find(table, {
      where,
      orderBy: ["runId", "key", "firstStep"].map((f) => ({ path: [f], direction: "asc" as const }))
    })
    const byRun = new Map<number, Map<string, Columns>>()
    for (const doc of docs) {
      const columns = yield* StoreError.attempt(() => columnsOf(doc))
      const runId = doc["runId"] as number
      const key = String(doc["key"])
      const byKey = byRun.get(runId) ?? new Map<string, Columns>()
      byRun.set(runId, byKey)
      const series = byKey.get(key)
      if (series === undefined) byKey.set(key, { steps: [...columns.steps], values: [...columns.values], timestamps: [...columns.timestamps] })
      else {
        series.steps.push(...columns.steps)
        series.values.push(...columns.values)
        series.timestamps.push(...columns.timestamps)
      }
    }
    return byRun
  })

/** The indices `downsample` keeps of `n` values: each bucket's minimum and maximum, in order, then the last. */
const kept = (values: ReadonlyArray<number>, maxPoints: number): Array<number> => {
  const n = values.length
  const buckets = Math.floor((maxPoints - 1) / 2)
  const out: Array<number> = []
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * (n - 1)) / buckets)
    const to = Math.floor(((b + 1) * (n - 1)) / buckets)
    let lo = from
    let hi = from
    for (let i = from + 1; i < to; i++) {
      if (values[i]! < values[lo]!) lo = i
      if (values[i]! > values[hi]!) hi = i
    }
    if (lo !== hi) out.push(Math.min(lo, hi), Math.max(lo, hi))
    else out.push(lo)
  }
  out.push(n - 1)
  return out
}

/**
 * A series as points, at most `maxPoints` of them when given: past it, the points are cut into
 * ⌊(maxPoints − 1) / 2⌋ buckets of consecutive steps, each keeping its lowest and highest value (so a spike
 * survives), and the last point is kept.
 */
export const points = (columns: Columns, maxPoints: number | undefined): { readonly points: ReadonlyArray<Point>; readonly downsampled: boolean } => {
  const n = columns.steps.length
  const downsampled = maxPoints !== undefined && n > maxPoints
  const indices = downsampled ? kept(columns.values, maxPoints) : undefined
  const at = (i: number): Point => ({ step: columns.steps[i]!, value: columns.values[i]!, timestamp: new Date(columns.timestamps[i]!) })
  return { points: indices === undefined ? columns.steps.map((_, i) => at(i)) : indices.map(at), downsampled }
}
