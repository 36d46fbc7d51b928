/**
 * Query and insert figures for the in-memory store, each beside a baseline measured in the same process:
 * the reference evaluator scanning the same documents (what a store without indexes does).
 *
 *   npm run bench            100,000 runs
 *   npm run bench -- --quick 5,000 runs, short timings: checks that the bench runs
 */
import { Evaluator, Q, Run, Store, Transform } from "@lineage/core"
import * as MemoryStore from "@lineage/store-memory"
import { Effect } from "effect"
import { Bench } from "tinybench"

const quick = process.argv.includes("--quick")
const total = quick ? 5_000 : 100_000
const transforms = 1_000
const batch = 1_000

const driver = MemoryStore.makeDriver()
const store = await Effect.runPromise(Store.make(driver))
const run = <A, E>(effect: Effect.Effect<A, E, Store.Store>): Promise<A> =>
  Effect.runPromise(Effect.provideService(effect, Store.Store, store))

const t0 = Date.parse("2026-01-01T00:00:00Z")
const families = await run(
  Transform.createMany(Array.from({ length: transforms }, (_, i) => ({ key: `pipeline-${i}.ts`, kind: "script" })))
)

const insertStart = performance.now()
for (let start = 0; start < total; start += batch) {
  await run(
    Run.createMany(
      Array.from({ length: Math.min(batch, total - start) }, (_, j) => {
        const i = start + j
        return {
          transformId: families[i % transforms]!.id,
          startedAt: new Date(t0 + i * 1000),
          status: i % 10 === 0 ? "errored" : "completed",
          params: { learning_rate: (i % 1000) / 1000, seed: i }
        }
      })
    )
  )
}
const insertMs = performance.now() - insertStart

const docs = await Effect.runPromise(driver.find("run", { where: { _tag: "And", conds: [] }, orderBy: [] }))
const target = families[7]!
const some = (await run(Run.filter({ transformId: target.id }).limit(1).all()))[0]!
const prefix = some.uid.slice(0, 10)

const bench = new Bench({ time: quick ? 50 : 500, warmupTime: quick ? 10 : 100 })
const cases: Array<[string, () => Promise<unknown>, Parameters<typeof Evaluator.find>[1]]> = [
  [
    `indexed equality (transform, ${total / transforms} runs)`,
    () => run(Run.filter({ transform: target }).all()),
    { where: { _tag: "Field", path: ["transformId"], op: "eq", value: target.id }, orderBy: [] }
  ],
  [
    "uid prefix (1 run)",
    () => run(Run.filter({ uid__startswith: prefix }).all()),
    { where: { _tag: "Field", path: ["uid"], op: "startsWith", value: prefix }, orderBy: [] }
  ],
  [
    "startedAt range (1%)",
    () => run(Run.filter({ startedAt__range: [new Date(t0), new Date(t0 + (total / 100 - 1) * 1000)] }).all()),
    {
      where: { _tag: "Field", path: ["startedAt"], op: "range", value: [new Date(t0).toISOString(), new Date(t0 + (total / 100 - 1) * 1000).toISOString()] },
      orderBy: []
    }
  ],
  [
    "top 10 by -startedAt, errored",
    () => run(Run.filter(Q.and({ status: "errored" })).orderBy("-startedAt").limit(10).all()),
    {
      where: { _tag: "Field", path: ["status"], op: "eq", value: "errored" },
      orderBy: [{ path: ["startedAt"], direction: "desc" }],
      limit: 10
    }
  ]
]

for (const [name, query, spec] of cases) {
  bench.add(`lineage: ${name}`, query)
  bench.add(`scan:    ${name}`, () => Evaluator.find(docs, { ...spec, where: spec.where }))
}
await bench.run()

const median = (name: string) => {
  const task = bench.getTask(name)
  const result = task?.result
  if (result === undefined || !("latency" in result)) throw new Error(`no result for ${name}`)
  return result.latency.p50 ?? Number.NaN
}

console.log(`\nmemory store, ${total.toLocaleString("en")} runs with params, ${transforms} transforms`)
console.log(`batch insert: ${Math.round(total / (insertMs / 1000)).toLocaleString("en")} runs/s (${batch} per createMany)\n`)
console.log("query".padEnd(42), "lineage p50".padStart(12), "scan p50".padStart(12), "speed-up".padStart(10))
for (const [name] of cases) {
  const ours = median(`lineage: ${name}`)
  const scan = median(`scan:    ${name}`)
  console.log(name.padEnd(42), `${ours.toFixed(3)} ms`.padStart(12), `${scan.toFixed(3)} ms`.padStart(12), `${(scan / ours).toFixed(0)}x`.padStart(10))
}
const stats = driver.stats()
console.log(`\nmemory driver counters over the whole bench: ${stats.scanned} documents visited by scans, ${stats.examined} checked by the evaluator`)
