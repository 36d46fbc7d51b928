/**
 * Compile-time tests of the typed inputs (`Inputs`): compiled by `npm run typecheck`, never run. Every line
 * compiles but those marked `@ts-expect-error`, which must not (an unused one fails the compilation too).
 */
import type { Effect } from "effect"
import { expectTypeOf } from "vitest"
import {
  Artifact,
  Feature,
  Features,
  type InvalidQuery,
  type Lineage,
  type Records,
  type Registry,
  Run,
  type Store,
  Tracking,
  Transform,
  ULabel,
  type CreateInput
} from "../../src/index.js"

declare const ln: Lineage.Client
declare const transform: Records.Transform
declare const run: Records.Run
declare const artifact: Records.Artifact

// ---------------------------------------------------------------------------------------------------------
// create: required fields, optional ones, value types, relations by record or id

Transform.create({ key: "Cell Ranger", version: "7.2.0", kind: "pipeline" })
Transform.create({ key: "qc.ts", versionTag: null, description: null, sourceCode: "print(1)", uid: "0123456789abcdef" })
Run.create({ transform })
Run.create({ transform: 7, name: "first", params: { lr: 0.01, layers: [64, 32] }, startedAt: new Date(), status: "started" })
Run.create({ transformId: 7, initiatedByRun: run, environment: null, report: artifact, featureValues: {} })
Artifact.create({})
Artifact.create({ key: "data/raw.csv", size: 12, suffix: ".csv", run, storage: null })
Feature.create({ name: "learning_rate", dtype: "float", unit: null })
ULabel.createMany([{ name: "B cell" }, { name: "T cell", description: "memory" }])
// `undefined` leaves an optional field out, as the store reads it.
Run.create({ transform, name: undefined })

// @ts-expect-error a string field given a number
Transform.create({ key: 5 })
// @ts-expect-error a misspelt field (`version`)
Transform.create({ key: "qc.ts", verison: "1" })
// @ts-expect-error the required key is missing
Transform.create({ version: "1" })
// @ts-expect-error an enum value that is none of its values
Transform.create({ key: "qc.ts", kind: "workflow" })
// @ts-expect-error a run needs its transform, by record or id
Run.create({ name: "orphan" })
// @ts-expect-error the transform twice, by relation and by field
Run.create({ transform, transformId: 7 })
// @ts-expect-error a run where a transform is expected
Run.create({ transform: run })
// @ts-expect-error a field id is given by the store, never by an input
Run.create({ transform, id: 5 })
// @ts-expect-error createdAt too
Run.create({ transform, createdAt: new Date() })
// @ts-expect-error a date as a string: the store takes a Date
Run.create({ transform, startedAt: "2026-01-01" })
// @ts-expect-error a required field given null
Transform.create({ key: null })
// @ts-expect-error a relation of another registry (runs have no `run`)
Run.create({ transform, run })
// @ts-expect-error a feature's dtype is required
Feature.create({ name: "learning_rate" })
// @ts-expect-error createMany checks every input
ULabel.createMany([{ name: "B cell" }, { nme: "T cell" }])
// @ts-expect-error JSON holds no functions
Run.create({ transform, params: { f: () => 1 } })

// The Promise face takes the same inputs.
ln.Transform.create({ key: "qc.ts", kind: "script" })
ln.Run.create({ transform })
// @ts-expect-error as misspelt there
ln.Transform.create({ key: "qc.ts", knid: "script" })
// @ts-expect-error and as incomplete
ln.Run.create({})

expectTypeOf<CreateInput<"Run">>().toExtend<{ readonly name?: string | null | undefined }>()
expectTypeOf(Run.create({ transform })).toEqualTypeOf<Effect.Effect<Records.Run, Registry.CreateError | InvalidQuery, Store.Store>>()
expectTypeOf(ln.Run.create({ transform })).resolves.toEqualTypeOf<Lineage.WithRunManagers<Records.Run>>()
expectTypeOf(ln.Transform.create({ key: "k" })).resolves.toEqualTypeOf<Records.Transform>()

// ---------------------------------------------------------------------------------------------------------
// update: any settable field, none required; never the uid or what the store sets

Run.update(run, { status: "completed", finishedAt: new Date(), name: null })
Run.update(run, { transform, initiatedByRun: null })
Transform.update(transform, { version: "2.0", description: "second" })
ln.Run.update(run, { report: artifact })

// @ts-expect-error the uid is fixed
Run.update(run, { uid: "0123456789abcdef" })
// @ts-expect-error so is the id
Run.update(run, { id: 9 })
// @ts-expect-error a status that is none of lamindb's
Run.update(run, { status: "done" })
// @ts-expect-error a non-null field set to null
Run.update(run, { status: null })
// @ts-expect-error a misspelt field
ln.Run.update(run, { finshedAt: new Date() })
// @ts-expect-error a transform's patch is not a run's
Transform.update(run, { key: "k" })

// ---------------------------------------------------------------------------------------------------------
// getOrCreate: the lookup holds field values (it is created from); the defaults give what it leaves out

Transform.getOrCreate({ key: "Cell Ranger", version: "7.2.0" }, { kind: "pipeline" })
Transform.getOrCreate({ key: "qc.ts", sourceCode: "print(1)", storeSource: false })
Transform.getOrCreate({ uid: "0123456789ab0000" }, { key: "qc.ts" })
Run.getOrCreate({ transformId: 7, name: "run-1" }, { startedAt: new Date(), status: "completed", params: { lr: 0.01 } })
Run.getOrCreate({ name: "run-2" }, { transform })
Feature.getOrCreate({ name: "rows" }, { dtype: "int" })
Feature.getOrCreate({ name: "rows", dtype: "int" })
ln.Feature.getOrCreate({ name: "rows" }, { dtype: "int" })
ln.Transform.getOrCreate({ key: "qc.ts", version: "1" })
ln.ULabel.getOrCreate({ name: "B cell" })

// @ts-expect-error neither the lookup nor the defaults give the run's transform
Run.getOrCreate({ name: "run-3" }, { startedAt: new Date() })
// @ts-expect-error nor here, with no defaults at all
Run.getOrCreate({ name: "run-3" })
// @ts-expect-error a misspelt lookup key
Artifact.getOrCreate({ kye: "data/raw.csv" })
// @ts-expect-error a misspelt default
Feature.getOrCreate({ name: "rows" }, { dtpye: "int" })
// @ts-expect-error a feature is found by its name: the lookup gives it
Feature.getOrCreate({ dtype: "int" }, { name: "rows" })
// @ts-expect-error a lookup is created from, so it holds values, not operators
Transform.getOrCreate({ key__startswith: "qc" })
// @ts-expect-error storeSource is a boolean
ln.Transform.getOrCreate({ key: "qc.ts", sourceCode: "print(1)", storeSource: "no" })
// @ts-expect-error the Promise face checks as much
ln.Feature.getOrCreate({ name: "rows" })

expectTypeOf(ln.Run.getOrCreate({ transform, name: "r" })).resolves.toEqualTypeOf<Lineage.WithRunManagers<Records.Run>>()

// ---------------------------------------------------------------------------------------------------------
// features: while `LineageFeatures` declares none, any names, as the Feature registry checks them at run time

Features.add(run, { learning_rate: 0.01, anything: { at: "all" } })
Features.set(artifact, { rows: 4 })
ln.Run.create({ transform }).then((r) => r.features.add({ learning_rate: 0.01 }))
Tracking.track({ transform: { key: "train.ts" }, features: { learning_rate: 0.01 } })
