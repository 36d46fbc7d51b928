/**
 * Concurrent writers, within one handle and (for shared stores given `reopen`) across two handles as two
 * processes would hold: a unique value is won exactly once, a compare-and-set exactly once, and ids never
 * collide.
 */
import assert from "node:assert/strict"
import { Ast, Driver, StoreError } from "@lineage/core"
import { Cause, Effect, Exit } from "effect"
import type { Case, CaseContext } from "../../Case.js"
import { declareAll, isStoreError, persisted, run, seedOne } from "../../Fixtures.js"

const group = "concurrency"

type Outcome = { readonly ok: true } | { readonly ok: false; readonly error: unknown }

const settle = async (effect: Effect.Effect<unknown, StoreError>): Promise<Outcome> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return { ok: true }
  const e = Cause.findErrorOption(exit.cause)
  return { ok: false, error: e._tag === "Some" ? e.value : Cause.pretty(exit.cause) }
}

/** Exactly one outcome succeeded and every other failed with `reason`. */
const exactlyOneWins = (outcomes: ReadonlyArray<Outcome>, reason: string): number => {
  const winners = outcomes.map((o, i) => (o.ok ? i : -1)).filter((i) => i >= 0)
  assert.equal(winners.length, 1, `${winners.length} of ${outcomes.length} racing writers succeeded`)
  for (const o of outcomes) {
    if (o.ok) continue
    assert.ok(isStoreError(o.error), `a loser failed with something other than a StoreError: ${String(o.error)}`)
    assert.equal(o.error.reason._tag, reason)
  }
  return winners[0]!
}

const racingInserts = async (ctx: CaseContext, drivers: ReadonlyArray<Driver.Driver>, n: number, row: (i: number) => Driver.Doc) => {
  await declareAll(ctx)
  const first = await run(ctx.driver.reserveIds("thing", n))
  const outcomes = await Promise.all(
    Array.from({ length: n }, (_, i) => settle(drivers[i % drivers.length]!.insert("thing", [{ id: first + i, ...row(i) }])))
  )
  const winner = exactlyOneWins(outcomes, "UniqueViolation")
  const stored = await run(ctx.driver.find("thing", { where: Ast.always, orderBy: [] }))
  assert.deepStrictEqual(stored.map((d) => d["id"]), [first + winner], "the store kept other documents than the winner's")
  if (ctx.backdoor !== undefined) assert.equal((await persisted(ctx.backdoor, "thing")).length, 1)
}

const racingCas = async (ctx: CaseContext, drivers: ReadonlyArray<Driver.Driver>, n: number) => {
  await declareAll(ctx)
  const doc = await seedOne(ctx, "thing", { uid: "u", n: 0, owner: null })
  const id = doc["id"] as number
  const outcomes = await Promise.all(
    Array.from({ length: n }, (_, i) => settle(drivers[i % drivers.length]!.update("thing", id, { n: 1, owner: i }, { n: 0 })))
  )
  const winner = exactlyOneWins(outcomes, "Conflict")
  assert.deepStrictEqual(await run(ctx.driver.get("thing", [id])), [{ ...doc, n: 1, owner: winner }])
}

const racingIds = async (ctx: CaseContext, drivers: ReadonlyArray<Driver.Driver>) => {
  await declareAll(ctx)
  const sizes = Array.from({ length: 40 }, (_, i) => 1 + (i % 5))
  const firsts = await Promise.all(sizes.map((s, i) => run(drivers[i % drivers.length]!.reserveIds("thing", s))))
  const taken = new Set<number>()
  firsts.forEach((first, i) => {
    for (let k = 0; k < sizes[i]!; k++) {
      assert.ok(!taken.has(first + k), `id ${first + k} was handed out twice`)
      taken.add(first + k)
    }
  })
}

/** Runs `f` on every item, `width` items at a time, each lane in order. */
const inLanes = <A>(items: ReadonlyArray<A>, width: number, f: (item: A, i: number) => Promise<void>): Promise<unknown> =>
  Promise.all(
    Array.from({ length: width }, async (_, lane) => {
      for (let i = lane; i < items.length; i += width) await f(items[i]!, i)
    })
  )

/**
 * Inserts of ids ahead of the counter, made without `reserveIds`, race reservations: no two reservations
 * overlap (raising the counter must not lose a reservation made meanwhile), and none hands out an id whose
 * insert had returned before it was asked.
 */
const racingExplicitIds = async (ctx: CaseContext, drivers: ReadonlyArray<Driver.Driver>) => {
  await declareAll(ctx)
  const base = await run(ctx.driver.reserveIds("thing", 1))
  const explicit = Array.from({ length: 16 }, (_, i) => base + 6 * (i + 1))
  const sizes = Array.from({ length: 40 }, (_, i) => 1 + (i % 3))
  const inserted = new Set<number>()
  const handedOut = new Set<number>()
  await Promise.all([
    inLanes(explicit, 2, async (id, i) => {
      await run(drivers[i % drivers.length]!.insert("thing", [{ id, uid: `explicit ${id}` }]))
      inserted.add(id)
    }),
    inLanes(sizes, 4, async (size, i) => {
      const visible = new Set(inserted)
      const first = await run(drivers[(i + 1) % drivers.length]!.reserveIds("thing", size))
      for (let id = first; id < first + size; id++) {
        assert.ok(!visible.has(id), `reserveIds handed out id ${id}, inserted before the reservation was asked`)
        assert.ok(!handedOut.has(id), `id ${id} was handed out twice`)
        handedOut.add(id)
      }
    })
  ])
  const last = await run(ctx.driver.reserveIds("thing", 1))
  assert.ok(last > Math.max(...explicit), `reserveIds gave ${last} after id ${Math.max(...explicit)} was inserted`)
}

const twoHandles = async (ctx: CaseContext): Promise<ReadonlyArray<Driver.Driver>> => {
  assert.ok(ctx.reopen !== undefined)
  await declareAll(ctx)
  const other = await ctx.reopen()
  await run(other.declare([]))
  return [ctx.driver, other]
}

export const concurrency: ReadonlyArray<Case> = [
  {
    group,
    name: "racing inserts of one uid: exactly one wins, the others get UniqueViolation",
    run: (ctx) => racingInserts(ctx, [ctx.driver], 24, (i) => ({ uid: "contested", n: i }))
  },
  {
    group,
    name: "racing inserts of one (key, version): exactly one wins",
    run: (ctx) => racingInserts(ctx, [ctx.driver], 16, (i) => ({ uid: `u${i}`, key: "k", version: "1" }))
  },
  {
    group,
    name: "racing compare-and-set updates with the same expectation: exactly one wins",
    run: (ctx) => racingCas(ctx, [ctx.driver], 16)
  },
  {
    group,
    name: "racing reserveIds calls never overlap",
    run: (ctx) => racingIds(ctx, [ctx.driver])
  },
  {
    group,
    name: "inserts of ids never reserved, racing reserveIds: no id is handed out twice",
    run: (ctx) => racingExplicitIds(ctx, [ctx.driver])
  },
  {
    group,
    name: "concurrent inserts of distinct documents are all kept",
    run: async (ctx) => {
      await declareAll(ctx)
      const first = await run(ctx.driver.reserveIds("thing", 30))
      await Promise.all(Array.from({ length: 30 }, (_, i) => run(ctx.driver.insert("thing", [{ id: first + i, uid: `d${i}`, key: "k", version: String(i) }]))))
      assert.equal(await run(ctx.driver.count("thing", Ast.always)), 30)
    }
  },
  {
    group,
    name: "concurrent updates of different fields of different documents are all kept",
    run: async (ctx) => {
      await declareAll(ctx)
      const first = await run(ctx.driver.reserveIds("thing", 10))
      await run(ctx.driver.insert("thing", Array.from({ length: 10 }, (_, i) => ({ id: first + i, uid: `d${i}`, n: 0 }))))
      await Promise.all(Array.from({ length: 10 }, (_, i) => run(ctx.driver.update("thing", first + i, { n: i + 1 }))))
      const docs = await run(ctx.driver.find("thing", { where: Ast.always, orderBy: [] }))
      assert.deepStrictEqual(docs.map((d) => d["n"]), Array.from({ length: 10 }, (_, i) => i + 1))
    }
  },
  {
    group,
    name: "across two handles: racing inserts of one uid, exactly one wins",
    requires: ["shared", "reopen"],
    run: async (ctx) => racingInserts(ctx, await twoHandles(ctx), 24, (i) => ({ uid: "contested", n: i }))
  },
  {
    group,
    name: "across two handles: racing compare-and-set, exactly one wins",
    requires: ["shared", "reopen"],
    run: async (ctx) => racingCas(ctx, await twoHandles(ctx), 16)
  },
  {
    group,
    name: "across two handles: reserveIds never overlap",
    requires: ["shared", "reopen"],
    run: async (ctx) => racingIds(ctx, await twoHandles(ctx))
  },
  {
    group,
    name: "across two handles: inserts of ids never reserved, racing reserveIds, no id is handed out twice",
    requires: ["shared", "reopen"],
    run: async (ctx) => racingExplicitIds(ctx, await twoHandles(ctx))
  }
]
