/**
 * Ordering and paging through `QuerySet`: stable orders with ties broken by id, JSON path orders, limit and
 * offset, the terminal methods, keyset pages that survive inserts between pages, and streams.
 */
import assert from "node:assert/strict"
import { Run, Transform } from "@lineage/core"
import { Stream } from "effect"
import type { Case } from "../../Case.js"
import { anyRuns, at, ids, newRun, newTransform, registryCase, type Session } from "./support.js"

const group = "querysets"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

/** 12 runs whose start times tie in threes, created in an order unlike their start order. */
const tied = async (s: Session) => {
  const t = await newTransform(s)
  const runs = []
  for (const [i, slot] of [2, 0, 3, 1, 2, 0, 3, 1, 0, 2, 1, 3].entries())
    runs.push(await newRun(s, t, { startedAt: at(slot * 10), name: `r${String(i).padStart(2, "0")}`, params: i % 4 === 0 ? null : { rank: (i * 7) % 5 } }))
  return { t, runs }
}

/** The reference order: by start time descending, ties by ascending id. */
const byStartDesc = (runs: ReadonlyArray<Run>) =>
  [...runs].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || a.id - b.id)

const collect = async (s: Session, size: number) => {
  const pages: Array<Array<number>> = []
  let after: string | undefined
  for (let guard = 0; guard < 100; guard++) {
    const page = await s.run(Run.filter().orderBy("-startedAt").page({ size, after }))
    pages.push(ids(page.items))
    if (page.next === undefined) return pages
    after = page.next
  }
  return assert.fail("paging did not end")
}

export const querysets: ReadonlyArray<Case> = [
  c("orderBy(\"-startedAt\") breaks ties by ascending id", async (s) => {
    const { runs } = await tied(s)
    assert.deepStrictEqual(ids(await s.run(Run.filter().orderBy("-startedAt").all())), ids(byStartDesc(runs)))
    const asc = [...runs].sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.id - b.id)
    assert.deepStrictEqual(ids(await s.run(Run.filter().orderBy("startedAt").all())), ids(asc))
    // lamindb's snake_case spelling, which the types leave out: through an untyped query set.
    assert.deepStrictEqual(ids(await s.run(anyRuns().orderBy("started_at").all())), ids(asc))
  }),
  c("several order keys, and -id", async (s) => {
    const { runs } = await tied(s)
    const want = [...runs].sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || b.name!.localeCompare(a.name!))
    assert.deepStrictEqual(ids(await s.run(Run.filter().orderBy("startedAt", "-name").all())), ids(want))
    assert.deepStrictEqual(ids(await s.run(Run.filter().orderBy("-id").all())), ids(runs).reverse())
  }),
  c("order by a params path: missing and null first ascending, last descending", async (s) => {
    const { runs } = await tied(s)
    const rank = (r: Run): number | null => {
      const p: unknown = r.params
      const v = p !== null && typeof p === "object" ? (p as { readonly rank?: unknown }).rank : undefined
      return typeof v === "number" ? v : null
    }
    const asc = [...runs].sort((a, b) => {
      const x = rank(a)
      const y = rank(b)
      if (x === null || y === null) return (x === null ? 0 : 1) - (y === null ? 0 : 1) || a.id - b.id
      return x - y || a.id - b.id
    })
    assert.deepStrictEqual(ids(await s.run(Run.filter().orderBy("params__rank").all())), ids(asc))
    const desc = [...runs].sort((a, b) => {
      const x = rank(a)
      const y = rank(b)
      if (x === null || y === null) return (x === null ? 1 : 0) - (y === null ? 1 : 0) || a.id - b.id
      return y - x || a.id - b.id
    })
    assert.deepStrictEqual(ids(await s.run(Run.filter().orderBy("-params__rank").all())), ids(desc))
  }),
  c("order by a string field uses code point order", async (s) => {
    for (const key of ["b", "B", "é", "😀", "\uFFFD", "a", "aa", ""]) await s.run(Transform.create({ key }))
    const keys = (await s.run(Transform.filter().orderBy("key").all())).map((t) => t.key)
    assert.deepStrictEqual(keys, ["", "B", "a", "aa", "b", "é", "\uFFFD", "😀"])
  }),
  c("limit and offset slice the ordered result", async (s) => {
    const { runs } = await tied(s)
    const want = ids(byStartDesc(runs))
    const qs = Run.filter().orderBy("-startedAt")
    assert.deepStrictEqual(ids(await s.run(qs.limit(5).all())), want.slice(0, 5))
    assert.deepStrictEqual(ids(await s.run(qs.offset(5).limit(4).all())), want.slice(5, 9))
    assert.deepStrictEqual(ids(await s.run(qs.offset(10).all())), want.slice(10))
    assert.deepStrictEqual(ids(await s.run(qs.offset(50).all())), [])
    assert.deepStrictEqual(ids(await s.run(qs.limit(0).all())), [])
    assert.equal(await s.run(qs.offset(10).count()), 2)
    assert.equal(await s.run(qs.limit(3).count()), 3)
  }),
  c("first, one, oneOrNone, count and exists", async (s) => {
    const { runs, t } = await tied(s)
    const first = await s.run(Run.filter().orderBy("-startedAt").first())
    assert.equal(first?.id, byStartDesc(runs)[0]!.id)
    assert.equal((await s.run(Run.filter().first()))?.id, Math.min(...ids(runs)), "unordered first is the lowest id")
    assert.equal(await s.run(Run.filter({ name: "none" }).first()), undefined)
    assert.equal((await s.run(Run.filter({ name: "r03" }).one())).id, runs[3]!.id)
    await s.fail(Run.filter({ name: "none" }).one(), "DoesNotExist")
    const many = await s.fail(Run.filter({ startedAt: at(0) }).one(), "MultipleObjectsReturned")
    assert.equal(many.count, 3)
    assert.equal(await s.run(Run.filter({ name: "none" }).oneOrNone()), undefined)
    assert.equal((await s.run(Run.filter({ name: "r05" }).oneOrNone()))?.id, runs[5]!.id)
    await s.fail(Run.filter({ transform: t }).oneOrNone(), "MultipleObjectsReturned")
    assert.equal(await s.run(Run.filter().count()), 12)
    assert.equal(await s.run(Run.filter({ startedAt__gte: at(20) }).count()), 6)
    assert.equal(await s.run(Run.filter({ name: "r11" }).exists()), true)
    assert.equal(await s.run(Run.filter({ name: "r12" }).exists()), false)
  }),
  c("pages walk every record exactly once, in order", async (s) => {
    const { runs } = await tied(s)
    const want = ids(byStartDesc(runs))
    for (const size of [1, 3, 5, 12, 13]) {
      const pages = await collect(s, size)
      assert.deepStrictEqual(pages.flat(), want, `page size ${size}`)
      for (const p of pages.slice(0, -1)) assert.equal(p.length, size)
    }
  }),
  c("pages stay correct when records are inserted between pages", async (s) => {
    const { t, runs } = await tied(s)
    const first = await s.run(Run.filter().orderBy("-startedAt").page({ size: 4 }))
    // Before the cursor (newer), exactly at its tie value, and after it (older).
    const early = await newRun(s, t, { startedAt: at(1000) })
    const tie = await newRun(s, t, { startedAt: first.items.at(-1)!.startedAt })
    const late = await newRun(s, t, { startedAt: at(-1000) })
    const seen = [...ids(first.items)]
    let after = first.next
    for (let guard = 0; after !== undefined; guard++) {
      assert.ok(guard < 100, "paging did not end")
      const page = await s.run(Run.filter().orderBy("-startedAt").page({ size: 4, after }))
      seen.push(...ids(page.items))
      after = page.next
    }
    assert.equal(new Set(seen).size, seen.length, "a record was returned twice")
    assert.ok(!seen.includes(early.id), "a record before the cursor must not appear later")
    assert.ok(seen.includes(tie.id), "a tie with a higher id comes after the cursor")
    assert.ok(seen.includes(late.id))
    for (const r of runs) assert.ok(seen.includes(r.id))
    const all = await s.run(Run.filter().orderBy("-startedAt").all())
    assert.deepStrictEqual(seen, ids(all).filter((id) => id !== early.id))
  }),
  c("pages over a filter and a JSON path order", async (s) => {
    const { runs } = await tied(s)
    const want = ids(await s.run(Run.filter({ params__rank__gte: 1 }).orderBy("-params__rank").all()))
    assert.ok(want.length > 2)
    const got: Array<number> = []
    let after: string | undefined
    let guard = 0
    do {
      assert.ok(guard++ < 100, "paging did not end")
      const page = await s.run(Run.filter({ params__rank__gte: 1 }).orderBy("-params__rank").page({ size: 2, after }))
      got.push(...ids(page.items))
      after = page.next
    } while (after !== undefined)
    assert.deepStrictEqual(got, want)
    assert.ok(want.every((id) => runs.some((r) => r.id === id)))
  }),
  c("an invalid cursor or page size is InvalidQuery", async (s) => {
    await tied(s)
    const bad = await s.fail(Run.filter().orderBy("-startedAt").page({ size: 3, after: "not a cursor" }), "InvalidQuery")
    assert.equal(bad.field, "after")
    const page = await s.run(Run.filter().orderBy("-startedAt").page({ size: 3 }))
    assert.ok(page.next !== undefined)
    const other = await s.fail(Run.filter().orderBy("-startedAt", "name").page({ size: 3, after: page.next }), "InvalidQuery")
    assert.equal(other.field, "after")
    await s.fail(Run.filter().page({ size: 3, after: Buffer.from("[[],\"x\"]").toString("base64url") }), "InvalidQuery")
    await s.fail(Run.filter().page({ size: 0 }), "InvalidQuery")
    await s.fail(Run.filter().page({ size: 2.5 }), "InvalidQuery")
    await s.fail(Run.filter().offset(-1).all(), "InvalidQuery")
    // @ts-expect-error invalid on purpose
    await s.fail(Run.filter().orderBy("nope").all(), "InvalidQuery")
  }),
  c("stream yields every record once, in order, across page boundaries", async (s) => {
    const { runs } = await tied(s)
    const want = ids(byStartDesc(runs))
    for (const size of [1, 5, 12, 500]) {
      // Bounded, so a store that ignores cursors fails here instead of streaming forever.
      const got = await s.run(Stream.runCollect(Run.filter().orderBy("-startedAt").stream(size).pipe(Stream.take(want.length + 1))))
      assert.deepStrictEqual(ids(got), want, `stream page size ${size}`)
    }
    const filtered = await s.run(Stream.runCollect(Run.filter({ startedAt__lt: at(10) }).stream(2).pipe(Stream.take(10))))
    assert.equal(filtered.length, 3)
  }),
  c("query sets are immutable values", async (s) => {
    const { t } = await tied(s)
    const base = Run.filter({ transform: t })
    const narrowed = base.filter({ startedAt: at(0) }).orderBy("-id").limit(1)
    assert.equal(await s.run(base.count()), 12)
    assert.equal((await s.run(narrowed.all())).length, 1)
    assert.equal((await s.run(base.all())).length, 12)
  })
]
