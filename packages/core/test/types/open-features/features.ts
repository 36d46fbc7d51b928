/**
 * Compile-time tests with every feature name open: a user who queries features no generated file declares can
 * augment `LineageFeatures` with an index signature, as here. Keys that name no field are then features of any
 * value (as at run time), while fields keep their types. Compiled by `npm run typecheck` (this folder's own
 * tsconfig: the augmentation is global to a compilation); never run.
 */
import { Artifact, Features, type Records, Run, Transform } from "@lineage/core"

declare module "@lineage/core" {
  interface LineageFeatures {
    [name: string]: unknown
  }
}

declare const run: Records.Run
declare const transform: Records.Transform

Run.filter({ learning_rate: 0.01, learning_rate__gt: 0.001, optimizer__startswith: "Ad", status: "completed" })
Run.filter({ transform, transform__key: "train.ts", anything: { nested: [1, 2] } })
Artifact.filter({ accuracy__gt: 0.9, run__learning_rate__lt: 0.1 })
Run.filter().orderBy("-learning_rate", "startedAt")
Features.add(run, { learning_rate: 0.01, anything: "goes" })

// @ts-expect-error a field keeps its type
Run.filter({ status: "done" })
// @ts-expect-error a relation too
Run.filter({ transform: run })
// @ts-expect-error transforms hold no features: their keys stay closed
Transform.filter({ learning_rate: 0.01 })
