/**
 * The quick start (`npm run quickstart`): transforms, versions and runs, queried three ways, in the Effect face,
 * on the default store (SQLite in `./.lineage`; `LINEAGE_STORE` picks another). Every record is declared with
 * get-or-create semantics, so a second execution finds the first one's records instead of failing on them.
 */
import { Lineage, Q, Run, Store, Transform } from "@lineage/core"
import { Console, Effect } from "effect"

const table = (rows: ReadonlyArray<Record<string, unknown>>) =>
  Console.log(
    rows
      .map((row) =>
        Object.values(row)
          .map((v) => String(v instanceof Date ? v.toISOString().slice(11, 19) : v).padEnd(14))
          .join(" ")
      )
      .join("\n")
  )

const program = Effect.gen(function* () {
  yield* Console.log(`the store holds ${yield* Run.filter().count()} runs from earlier executions (of this and other scripts)`)

  // lamindb's seed example: a pipeline transform, found again by key and version.
  yield* Transform.getOrCreate({ key: "Cell Ranger", version: "7.2.0" }, { kind: "pipeline" })
  const cellRanger = yield* Transform.get({ key: "Cell Ranger", version: "7.2.0" })
  yield* Console.log(`${cellRanger.key} ${cellRanger.version} (uid ${cellRanger.uid})`)

  // Same key, new version: same 12-character stem, next suffix, isLatest moves.
  const next = yield* Transform.getOrCreate({ key: "Cell Ranger", version: "8.0.0" })
  const latest = yield* Transform.get(cellRanger.uid.slice(0, 12))
  yield* Console.log(`version 8.0.0 is ${next.uid}; the family's latest is ${latest.version}`)

  const qc = yield* Transform.getOrCreate({ key: "qc.ts" }, { kind: "script" })
  const start = Date.parse("2026-01-01T00:00:00Z")
  for (let i = 0; i < 12; i++) {
    const transformId = i % 3 === 0 ? qc.id : next.id
    yield* Run.getOrCreate(
      { transformId, name: `run-${i}` },
      {
        startedAt: new Date(start + i * 60_000),
        status: i % 4 === 3 ? "errored" : "completed",
        params: { learning_rate: 0.001 * (i + 1), batch_size: i % 2 === 0 ? 32 : 64 }
      }
    )
  }

  yield* Console.log("\nruns of Cell Ranger with learning_rate > 0.005, newest first (typed objects):")
  const runs = yield* Run.filter({
    transform: { key: { startsWith: "Cell" } },
    params: { learning_rate: { gt: 0.005 } }
  })
    .orderBy("-startedAt")
    .all()
  yield* table(runs.map((r) => ({ name: r.name, startedAt: r.startedAt, status: r.status, lr: (r.params as { learning_rate: number }).learning_rate.toFixed(3) })))

  yield* Console.log("\nthe same, as lamindb keyword lookups:")
  const count = yield* Run.filter({ transform__key__startswith: "Cell", params__learning_rate__gt: 0.005 }).count()
  yield* Console.log(`${count} runs`)

  yield* Console.log("\nerrored runs, or runs of qc.ts with batch size 64 (Q combinators):")
  // Only this script's runs: the store may hold others (the demo's, yours).
  const ours = { transform__key__in: ["Cell Ranger", "qc.ts"] }
  const either = yield* Run.filter(ours, Q.or({ status: "errored" }, Q.and({ transform__key: "qc.ts" }, { params__batch_size: 64 })))
    .orderBy("name")
    .all()
  yield* table(either.map((r) => ({ name: r.name, status: r.status, batch: (r.params as { batch_size: number }).batch_size })))

  yield* Console.log("\nkeyset pages of 5 runs:")
  let after: string | undefined
  do {
    const page = yield* Run.filter(ours).orderBy("startedAt").page({ size: 5, after })
    yield* Console.log(page.items.map((r) => r.name).join(", "))
    after = page.next
  } while (after !== undefined)

  yield* Console.log("\nan invalid query fails before touching the store:")
  // The compiler refuses it too (contains is for text, not dates): expected here, to show the run-time error.
  // @ts-expect-error startedAt__contains is no key of a Run filter
  const error = yield* Effect.flip(Run.filter({ startedAt__contains: "2026" }).all())
  yield* Console.log(`${error._tag}: ${error.message}`)
})

Effect.runPromise(program.pipe(Effect.provide(Store.layer(Lineage.driverFor())))).catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
