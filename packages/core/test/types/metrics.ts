/**
 * Compile-time tests of metrics: the summary's keys typed in filters and `orderBy` through the alias `metrics`,
 * and the shapes of both faces' calls. Compiled by `npm run typecheck`, never run: every line compiles but those
 * marked `@ts-expect-error`, which must not.
 */
import type { Effect } from "effect"
import { expectTypeOf } from "vitest"
import {
  type DoesNotExist,
  type InvalidQuery,
  type Lineage,
  Metrics,
  type OrderKey,
  type Records,
  Run,
  type Store,
  type StoreError,
  Transform,
  type TrackNotCalled,
  type ValidationError
} from "../../src/index.js"

declare const ln: Lineage.Client
declare const run: Records.Run

// ---------------------------------------------------------------------------------------------------------
// Filters and ordering by a metric's summary

Run.filter({ metrics__loss__min__lt: 0.2 }).orderBy("-metrics__acc__last")
Run.filter({ metrics__acc__last__gte: 0.9, metrics__loss__count: 3 }).orderBy("metrics__loss__count", "id")
Run.filter({ metrics: { loss: { min: { lt: 0.2 } } } })
Run.filter({ metrics__acc__isnull: true })
ln.Run.filter({ metrics__loss__min__lt: 0.2 }).orderBy("-metrics__acc__last")
expectTypeOf<"-metrics__acc__last">().toExtend<OrderKey<"Run">>()
expectTypeOf<"metricSummary__acc__last">().toExtend<OrderKey<"Run">>()
// Only JSON fields order by a path: `version` is an alias too, of a string field.
expectTypeOf<"version__x">().not.toExtend<OrderKey<"Transform">>()
expectTypeOf<"metrics__acc__last">().not.toExtend<OrderKey<"Transform">>()
// @ts-expect-error a path below a field that is no JSON
Run.filter().orderBy("-startedAt__x")
// @ts-expect-error Transform has no metrics
Transform.filter({ metrics__loss__min__lt: 0.2 })

// ---------------------------------------------------------------------------------------------------------
// The Effect face

expectTypeOf(Metrics.log({ loss: 0.3, acc: 0.9 }, { step: 10 })).toEqualTypeOf<Effect.Effect<void, ValidationError | TrackNotCalled, Store.Store>>()
expectTypeOf(Metrics.logTo(run, { loss: 0.3 }, { timestamp: new Date() })).toEqualTypeOf<Effect.Effect<void, ValidationError, Store.Store>>()
expectTypeOf(Metrics.history({ runs: [run, 3, "uid"], keys: ["loss"], maxPoints: 200 })).toEqualTypeOf<
  Effect.Effect<ReadonlyArray<Metrics.Series>, ValidationError | InvalidQuery | DoesNotExist | StoreError, Store.Store>
>()
expectTypeOf<Metrics.Series>().toEqualTypeOf<{
  readonly run: { readonly id: number; readonly uid: string }
  readonly key: string
  readonly points: ReadonlyArray<{ readonly step: number; readonly value: number; readonly timestamp: Date }>
  readonly downsampled: boolean
}>()
expectTypeOf(Metrics.summary(run)).toEqualTypeOf<Effect.Effect<Metrics.Summary, ValidationError | InvalidQuery | DoesNotExist | StoreError, Store.Store>>()
expectTypeOf<Metrics.Summary[string]>().toEqualTypeOf<Metrics.KeySummary>()
expectTypeOf(Metrics.dropped).toEqualTypeOf<Effect.Effect<number, never, Store.Store>>()
// @ts-expect-error a metric's value is a number
Metrics.log({ loss: "0.3" })
// @ts-expect-error a step is a number
Metrics.log({ loss: 0.3 }, { step: "10" })

// ---------------------------------------------------------------------------------------------------------
// The Promise face

expectTypeOf(ln.log({ loss: 0.3 }, { step: 1 })).toEqualTypeOf<void>()
expectTypeOf(ln.metrics.history({ runs: run })).resolves.toEqualTypeOf<ReadonlyArray<Metrics.Series>>()
expectTypeOf(ln.metrics.summary(run.uid)).resolves.toEqualTypeOf<Metrics.Summary>()
expectTypeOf(ln.metrics.flush()).resolves.toEqualTypeOf<void>()
expectTypeOf(ln.metrics.dropped()).toEqualTypeOf<number>()
const decorated = await ln.Run.get(run.uid)
expectTypeOf(decorated.metrics.log({ loss: 1 })).toEqualTypeOf<void>()
expectTypeOf(decorated.metrics.history({ keys: "loss", maxPoints: 50 })).resolves.toEqualTypeOf<ReadonlyArray<Metrics.Series>>()
expectTypeOf(decorated.metrics.summary()).resolves.toEqualTypeOf<Metrics.Summary>()
// @ts-expect-error an artifact has no metrics
;(await ln.Artifact.get(1)).metrics
// @ts-expect-error a metric's value is a number
ln.log({ loss: null })
