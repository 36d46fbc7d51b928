/**
 * Compile-time tests with declared features: `lineage-features.d.ts` beside this file is what `lineage types`
 * writes (it augments `LineageFeatures`, which is global to a compilation, hence this folder's own tsconfig).
 * Compiled by `npm run typecheck` twice, with "@lineage/core" resolved to its source (`tsconfig.json`) and to
 * its built bundle (`tsconfig.dist.json`); never run. Every line compiles but those marked `@ts-expect-error`.
 */
import { Artifact, Features, type Lineage, Q, type Records, Run, Tracking, Transform } from "@lineage/core"

declare const run: Records.Run
declare const manager: Lineage.FeatureManager

// ---------------------------------------------------------------------------------------------------------
// Filters: each declared feature a key, with the operators its value type fits

Run.filter({ accuracy: 0.93, accuracy__gte: 0.9, cell_type__startswith: "T", day__startswith: "2024-", done: true })
Run.filter({ when__lt: new Date(), when: { gte: "2026-01-01T00:00:00Z" }, accuracy: { range: [0.5, 1] } })
Run.filter({ tags: "a" }, { tags: ["a", "b"] }, { tags__isnull: false })
Run.filter({ meta__lr__gte: 0.01, meta: { lr: { gt: 0 } } }, { status: "completed", accuracy__lt: 0.5 })
Artifact.filter({ accuracy__gt: 0.9 }, { run__accuracy__gte: 0.9 }, { inputOfRuns: { cell_type: "B cell" } })
Run.filter(Q.or({ accuracy__gt: 0.9 }, { status: "errored" }))

// @ts-expect-error a misspelt feature
Run.filter({ acuracy__gte: 0.9 })
// @ts-expect-error a value of another type than the feature's
Run.filter({ accuracy: "high" })
// @ts-expect-error a text operator on a number
Run.filter({ accuracy__startswith: "0.9" })
// @ts-expect-error an order operator on a boolean
Run.filter({ done__gt: false })
// @ts-expect-error order means nothing on a list
Run.filter({ tags__gt: "a" })
// @ts-expect-error fields stay checked
Run.filter({ statsu: "completed" })
// @ts-expect-error transforms hold no features
Transform.filter({ accuracy: 0.9 })

// ---------------------------------------------------------------------------------------------------------
// orderBy: declared features, and paths inside dict features

Run.filter().orderBy("-accuracy", "meta__lr", "when")
// @ts-expect-error a misspelt feature
Run.filter().orderBy("-acuracy")
// @ts-expect-error a list holds no paths
Run.filter().orderBy("tags__first")

// ---------------------------------------------------------------------------------------------------------
// Writing values: declared names, each of its type (null skips one)

Features.add(run, { accuracy: 0.93, cell_type: "T cell", when: new Date(), tags: ["a"], meta: { lr: 0.01 } })
Features.set(run, { done: true, accuracy: null })
manager.add({ day: "2024-05-01" })
Tracking.track({ transform: { key: "train.ts" }, features: { accuracy: 0.5 } })

// @ts-expect-error a misspelt feature
Features.add(run, { acuracy: 0.93 })
// @ts-expect-error a value of the wrong type
manager.set({ accuracy: "high" })
// @ts-expect-error a datetime feature takes a Date
Features.add(run, { when: "2026-01-01" })
// @ts-expect-error tracking checks the names too
Tracking.track({ transform: { key: "train.ts" }, features: { acc: 0.5 } })
