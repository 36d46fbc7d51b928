/**
 * Compile-time tests of the typed queries (`Filter`, `OrderKey`, `Q`): compiled by `npm run typecheck`, never
 * run. Every line compiles but those marked `@ts-expect-error`, which must not. `LineageFeatures` declares no
 * feature in this compilation (see `declared-features/` and `open-features/` for the other cases).
 */
import type { Effect } from "effect"
import { expectTypeOf } from "vitest"
import {
  Artifact,
  type Expression,
  type Filter,
  type InvalidQuery,
  type Lineage,
  type OrderKey,
  Q,
  type QuerySet,
  type Records,
  Run,
  type Store,
  type StoreError,
  Transform
} from "../../src/index.js"

declare const ln: Lineage.Client
declare const transform: Records.Transform
declare const run: Records.Run
declare const since: Date
declare const dynamic: Expression
declare const key: string

// ---------------------------------------------------------------------------------------------------------
// Fields: a value, null, or an object of operators that fit the field's kind

Run.filter({ status: "completed", name: null, startedAt: since })
Run.filter({ startedAt: { gte: since, lt: "2026-01-01T00:00:00Z" }, status: { in: ["completed", "errored"] } })
Run.filter({ id: { range: [1, 10] }, finishedAt: { isNull: true } })
Transform.filter({ isLatest: true, kind: { ne: "function" }, key: { startsWith: "Cell", iendswith: "ranger" } })

// @ts-expect-error a misspelt field
Run.filter({ statsu: "completed" })
// @ts-expect-error an enum value that is none of its values
Run.filter({ status: "complete" })
// @ts-expect-error a number where a string is compared
Transform.filter({ key: 5 })
// @ts-expect-error a date compared with a number
Run.filter({ startedAt: { gte: 5 } })
// @ts-expect-error a text operator on a date
Run.filter({ startedAt: { contains: "2026" } })
// @ts-expect-error an order operator on a boolean
Transform.filter({ isLatest: { gt: false } })
// @ts-expect-error something that is no operator
Run.filter({ startedAt: { after: since } })

// Filters held in variables: annotated, checked whole; `as const` keeps values literal. Unannotated, a key
// no filter knows is not caught (see `Filter`'s documentation), and strings widen to `string`.
const annotated: Filter<"Run"> = { status: "completed", startedAt__gte: since }
Run.filter(annotated)
const literal = { status: "completed", name__startswith: "nightly" } as const
Run.filter(literal)
// @ts-expect-error a misspelt field in an annotated filter
const misspelt: Filter<"Run"> = { statsu: "completed" }
// @ts-expect-error a value of the wrong type in an annotated filter
const wrongValue: Filter<"Run"> = { status: "complete" }
const widened = { status: "completed" }
// @ts-expect-error unannotated, "completed" widened to string, which the enum does not take
Run.filter(widened)

// ---------------------------------------------------------------------------------------------------------
// lamindb keyword keys: one per operator that fits, in both spellings the query language reads

Run.filter({ startedAt__gte: since, startedAt__lt: "2026-01-01", status__in: ["completed"], name__isnull: false })
Run.filter({ name__startsWith: "a", name__startswith: "a", name__istartswith: "A", name__not_in: ["b"], name__regex: "^a" })
Artifact.filter({ size__gt: 10, size__range: [1, 100], key__iexact: "RAW.CSV", hash__exact: "abc" })

// @ts-expect-error a text operator on a date
Run.filter({ startedAt__contains: "2026" })
// @ts-expect-error on an integer
Artifact.filter({ size__icontains: "1" })
// @ts-expect-error an order operator on a boolean
Transform.filter({ isLatest__gt: false })
// @ts-expect-error a text operator takes a string
Run.filter({ name__startswith: 5 })
// @ts-expect-error membership takes an array
Run.filter({ status__in: "completed" })
// @ts-expect-error a range is [low, high]
Run.filter({ startedAt__range: [since] })
// @ts-expect-error a null check takes a boolean
Run.filter({ finishedAt__isnull: "yes" })
// @ts-expect-error an operator that does not exist
Run.filter({ startedAt__after: since })
// @ts-expect-error snake_case keys are read at run time, but only camelCase is typed (reach the other through Q.where)
Run.filter({ started_at__gte: since })

// ---------------------------------------------------------------------------------------------------------
// Relations: a record, an id, null, operators on the related id, or a filter on the related registry

Run.filter({ transform }, { transform: 7 }, { initiatedByRun: null }, { transform__in: [transform, 8] }, { transform__isnull: false })
Run.filter({ transform: { key: { startsWith: "Cell" } } }, { transform: { in: [transform] } })
// One relation away by keyword key; further by nesting, as deep as wanted.
Run.filter({ transform__key__startswith: "Cell", inputArtifacts__key: "raw.csv", ulabels__name: "B cell" })
Artifact.filter({ run: { transform__key: "Cell Ranger" } }, { run: { transform: { runs: { status: "errored" } } } })
Artifact.filter({ run__transform: { key: "Cell Ranger" } }, { inputOfRuns__initiatedByRun: run })
Transform.filter({ version: "1.0", version__startswith: "1", runs__startedAt__gte: since })

// @ts-expect-error a misspelt field of the related registry
Run.filter({ transform__kee: "Cell Ranger" })
// @ts-expect-error a related field compared with the wrong type
Run.filter({ transform__key__startswith: 5 })
// @ts-expect-error a relation the registry does not have
Run.filter({ run: run })
// @ts-expect-error a record of another registry
Run.filter({ transform: run })
// @ts-expect-error keyword keys cross one relation; deeper paths nest (`{ run: { transform__key } }`)
Artifact.filter({ run__transform__key: "Cell Ranger" })
// @ts-expect-error a text operator on a related id
Run.filter({ transform__startswith: "Cell" })
// @ts-expect-error a misspelt field in a nested filter
Artifact.filter({ run: { transform: { kye: "Cell Ranger" } } })

// ---------------------------------------------------------------------------------------------------------
// JSON fields: any path, JSON values; the last segment may be an operator (one pattern per JSON field, so
// whether an operand fits the operator there is checked at run time only)

Run.filter({ params__lr__gte: 0.01, params__a__b: { c: [1, "x", null] }, params__tag__in: ["x", "y"], params__lr: null })
Run.filter({ params: { lr: { gt: 0.005 } } }, { featureValues__acc__lt: 0.5, params__name__startswith: "a" })

// @ts-expect-error a JSON path compares JSON values
Run.filter({ params__lr: () => 0.01 })
// @ts-expect-error a JSON path needs its field (`params__…`)
Run.filter({ paramz__lr: 1 })

// ---------------------------------------------------------------------------------------------------------
// Features: while `LineageFeatures` declares none, a key that is no field is a compile error (a misspelt
// field is never taken for a feature); undeclared features are reached untyped

// @ts-expect-error an undeclared feature
Run.filter({ learning_rate: 0.01 })
// @ts-expect-error an undeclared feature with an operator
Artifact.filter({ accuracy__gt: 0.9 })
Run.filter(Q.where("learning_rate", "eq", 0.01), { status: "completed" })
Artifact.filter(Q.where("accuracy", "gt", 0.9))
// A Q made with no registry in sight is untyped, and fits every registry.
const untyped = Q.and({ learning_rate__gt: 0.001 }, { anything: "goes" })
expectTypeOf(untyped).toEqualTypeOf<Q<unknown>>()
Run.filter(untyped)
Artifact.filter(untyped)
// So is one given no registry explicitly, and an expression built at run time goes through it.
Run.filter(Q.and<unknown>(dynamic))
// @ts-expect-error typed in place, it is checked against the registry
Run.filter(Q.and(dynamic))

// ---------------------------------------------------------------------------------------------------------
// Q: parts are checked against the registry of the filter they are passed to

Run.filter(Q.or({ status: "errored" }, Q.and({ transform__key: "qc.ts" }, { params__batch_size: 64 })), Q.not({ name: null }))
Transform.filter(Q.not(Q.or({ key: "a" }, { kind: "script" })))

// @ts-expect-error a misspelt field in a part
Run.filter(Q.or({ statsu: "errored" }))
// @ts-expect-error in a nested part too
Run.filter(Q.or({ status: "errored" }, Q.and({ transform__kee: "qc.ts" })))
// @ts-expect-error and under not
Run.filter(Q.not({ nmae: null }))
// @ts-expect-error a part that fits another registry only
Run.filter(Q.or({ key: "raw.csv" }))

const forRuns: Q<"Run"> = Q.or({ status: "errored" }, { name__startswith: "nightly" })
Run.filter(forRuns)
// @ts-expect-error a Q of runs is no filter of artifacts
Artifact.filter(forRuns)
// `Q.where` fits every registry without deciding the registry of the `Q` around it: its siblings stay checked.
expectTypeOf(Q.where("status", "eq", "x")).toEqualTypeOf<Q<never>>()
Run.filter(Q.or(Q.where("learning_rate", "gt", 0.01), { status: "completed" }))
Artifact.filter(Q.and(Q.where("accuracy", "gt", 0.9), Q.not(Q.where("accuracy", "gt", 0.99))))
// @ts-expect-error a misspelt field beside a Q.where
Run.filter(Q.or(Q.where("learning_rate", "gt", 0.01), { statsu: "completed" }))
// @ts-expect-error a misspelt related field beside a Q.where
Run.filter(Q.and({ status: "completed" }, Q.where("a", "eq", 1), { transform__kee: "x" }))
// @ts-expect-error a nested part beside a Q.where
Run.filter(Q.or(Q.where("a", "eq", 1), Q.and({ nmae: "x" })))

// A Q built away from a filter call is typed by naming its registry; without one it is unchecked.
const nightly = Q.or<"Run">({ status: "errored" }, Q.where("learning_rate", "gt", 0.01), Q.and({ name__startswith: "nightly" }))
expectTypeOf(nightly).toEqualTypeOf<Q<"Run">>()
Run.filter(nightly)
// @ts-expect-error a misspelt field, its registry named
Q.or<"Run">({ statsu: "errored" })
// @ts-expect-error in a nested part too
Q.or<"Run">({ status: "errored" }, Q.and({ nmae: "x" }))
// @ts-expect-error a Q of runs is no filter of artifacts
Artifact.filter(nightly)
const unnamed = Q.or({ statsu: "errored" }, Q.where("a", "eq", 1))
expectTypeOf(unnamed).toEqualTypeOf<Q<unknown>>()
Run.filter(unnamed)

// ---------------------------------------------------------------------------------------------------------
// orderBy: fields, aliases and JSON paths of the registry, `-` for descending

Run.filter().orderBy("-startedAt", "name", "params__lr", "-featureValues__accuracy")
Transform.filter().orderBy("-version", "key")
ln.Run.filter().orderBy("-startedAt")

// @ts-expect-error a misspelt field
Run.filter().orderBy("-strtedAt")
// @ts-expect-error ordering across a relation
Run.filter().orderBy("transform__key")
// @ts-expect-error an undeclared feature
Run.filter().orderBy("-accuracy")
// @ts-expect-error the Promise face checks it too
ln.Run.filter().orderBy("strtedAt")
expectTypeOf<"-params__a__b">().toExtend<OrderKey<"Run">>()
expectTypeOf<string>().toEqualTypeOf<OrderKey>()

// ---------------------------------------------------------------------------------------------------------
// get: an id, a uid or prefix, or a filter

Run.get(7)
Run.get("FvtpPJLJ")
Transform.get({ key: "Cell Ranger", version: "7.2.0" })
ln.Transform.get({ key: "Cell Ranger" })
// @ts-expect-error a misspelt field
Transform.get({ kye: "Cell Ranger" })
// @ts-expect-error in the Promise face too
ln.Run.get({ statsu: "started" })

// ---------------------------------------------------------------------------------------------------------
// Results, typed per registry; one rule: builders return query sets, terminals run them

expectTypeOf(Run.filter({ status: "completed" }).all()).toEqualTypeOf<Effect.Effect<ReadonlyArray<Records.Run>, InvalidQuery | StoreError, Store.Store>>()
expectTypeOf(Run.all()).toEqualTypeOf<Effect.Effect<ReadonlyArray<Records.Run>, InvalidQuery | StoreError, Store.Store>>()
expectTypeOf(Transform.filter().first()).toEqualTypeOf<Effect.Effect<Records.Transform | undefined, InvalidQuery | StoreError, Store.Store>>()
expectTypeOf(Run.filter().orderBy("-startedAt").limit(5).offset(5).allBranches()).toEqualTypeOf<QuerySet<Records.Run, "Run">>()
expectTypeOf(ln.Run.all()).resolves.toEqualTypeOf<ReadonlyArray<Lineage.WithRunManagers<Records.Run>>>()
expectTypeOf(ln.Run.filter().allBranches().all()).resolves.toEqualTypeOf<ReadonlyArray<Lineage.WithRunManagers<Records.Run>>>()
expectTypeOf(ln.Transform.all()).resolves.toEqualTypeOf<ReadonlyArray<Records.Transform>>()
expectTypeOf(ln.Artifact.filter().one()).resolves.toEqualTypeOf<Lineage.WithFeatureManager<Records.Artifact>>()
expectTypeOf(ln.Run.filter().count()).resolves.toEqualTypeOf<number>()
expectTypeOf(ln.Run.filter()).toExtend<AsyncIterable<Lineage.WithRunManagers<Records.Run>>>()
// @ts-expect-error all() runs: its result is records, not a query set to filter further
ln.Run.all().filter({ status: "completed" })

// ---------------------------------------------------------------------------------------------------------
// Untyped query sets, for filters and keys known only at run time

// @ts-expect-error a typed query set takes order keys, not any string
Run.filter().orderBy(key)
const anyRuns: QuerySet<Records.Run> = Run.filter({ status: "completed" })
anyRuns.filter(dynamic).orderBy(key).filter({ learning_rate__gt: 0.01 })
const anyPromised: Lineage.PromiseQuerySet<Records.Run> = ln.Run.filter()
anyPromised.filter(dynamic).orderBy(key)
expectTypeOf<Filter>().toEqualTypeOf<Expression>()
