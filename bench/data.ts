/**
 * The bench's data: `total` runs over `total / 100` transforms (100 runs each), started one second apart,
 * 10% errored, with params and five float features:
 *   score     uniform in [0, 1)              (range queries: [0.5, 0.51) holds 1%)
 *   batch     floor(i / 50)                  (a rare value: 50 runs each)
 *   loss, accuracy, lr                       (noise, as real runs carry)
 */
import { type CreateInput, Feature, Run, Transform } from "@lineage/core"
import { rng, type Runner } from "./common.js"

export const features = ["score", "batch", "loss", "accuracy", "lr"] as const
export const t0 = Date.parse("2026-01-01T00:00:00Z")
export const runsPerTransform = 100

export const runInput = (i: number, transformId: number, random: () => number) =>
  ({
    transformId,
    startedAt: new Date(t0 + i * 1000),
    status: i % 10 === 3 ? "errored" : "completed",
    params: { learning_rate: (i % 1000) / 1000, seed: i },
    featureValues: {
      score: random(),
      batch: Math.floor(i / 50),
      loss: random() * 2,
      accuracy: random(),
      lr: (i % 7) / 1000
    }
  }) satisfies CreateInput<"Run">

export interface Loaded {
  readonly transformIds: ReadonlyArray<number>
  /** Wall time of inserting the runs alone, ms. */
  readonly insertMs: number
  readonly total: number
}

/** Creates the features, the transforms and `total` runs in batches of `batch` through `Run.createMany`. */
export const load = async (run: Runner, total: number, batch = 5_000): Promise<Loaded> => {
  // Feature.create declares a sorted index on ["featureValues", name] in the store.
  for (const name of features) await run(Feature.create({ name, dtype: "float" }))
  const transforms = Math.max(1, Math.ceil(total / runsPerTransform))
  const transformIds: Array<number> = []
  for (let start = 0; start < transforms; start += batch) {
    const made = await run(
      Transform.createMany(
        Array.from({ length: Math.min(batch, transforms - start) }, (_, j) => ({ key: `pipeline-${start + j}.ts`, kind: "script" }))
      )
    )
    for (const t of made) transformIds.push(t.id)
  }
  const random = rng(42)
  const insertStart = performance.now()
  for (let start = 0; start < total; start += batch) {
    const inputs = Array.from({ length: Math.min(batch, total - start) }, (_, j) => {
      const i = start + j
      return runInput(i, transformIds[i % transforms]!, random)
    })
    await run(Run.createMany(inputs))
  }
  return { transformIds, insertMs: performance.now() - insertStart, total }
}
