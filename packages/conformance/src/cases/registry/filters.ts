/**
 * Queries through the domain: the three spellings agree, every operator does what the reference evaluator
 * says on real fields (dates to the millisecond, JSON paths, code point order), relations are followed
 * forward, backward, over several hops and through link rows, user values stay data, and bad queries are
 * `InvalidQuery`s raised before any store is touched.
 */
import assert from "node:assert/strict"
import { Artifact, Ast, Q, type QueryInput, Run, Transform } from "@lineage/core"
import type { Case } from "../../Case.js"
import { anyArtifacts, anyRuns, anyTransforms, at, counting, linkInput, newRun, open, registryCase, type Session, sortedIds } from "./support.js"

const group = "filters"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

/** A small lab: three transforms, runs with dates, statuses and params, artifacts they made and read. */
const lab = async (s: Session) => {
  const ranger = await s.run(Transform.create({ key: "Cell Ranger", version: "7.2.0", description: "Single-cell QC pipeline" }))
  const cellpose = await s.run(Transform.create({ key: "cellpose", kind: "script", description: "segmentation" }))
  const scanpy = await s.run(Transform.create({ key: "scanpy-notebook", kind: "notebook", description: null }))
  const r1 = await newRun(s, ranger, { name: "first", startedAt: at(0), finishedAt: at(1000), status: "completed", params: { lr: 0.01, a: { b: 1 }, tag: "x" } })
  const r2 = await newRun(s, ranger, { name: "second", startedAt: at(1), status: "started", params: { lr: 0.001, a: { b: 2 }, tag: "y" }, initiatedByRunId: r1.id })
  const r3 = await newRun(s, cellpose, { name: null, startedAt: at(2), status: "errored", params: { lr: 0.1, a: { b: 3, c: true } } })
  const r4 = await newRun(s, scanpy, { name: "fourth", startedAt: at(3), finishedAt: at(5000), status: "completed", params: null, initiatedByRunId: r1.id })
  const r5 = await newRun(s, cellpose, { name: "Fifth", startedAt: at(-1), status: "scheduled", params: { a: "flat" } })
  const raw = await s.run(Artifact.create({ key: "raw/a.fastq", size: 5, suffix: ".fastq" }))
  const big = await s.run(Artifact.create({ key: "raw/b.fastq", size: 20, suffix: ".fastq" }))
  const counts = await s.run(Artifact.create({ key: "counts.h5ad", size: 100, runId: r1.id, suffix: ".h5ad" }))
  const masks = await s.run(Artifact.create({ key: "masks.zarr", size: 7, runId: r3.id }))
  await linkInput(s, r1, raw)
  await linkInput(s, r1, big)
  await linkInput(s, r3, counts)
  await linkInput(s, r4, counts)
  await linkInput(s, r4, raw)
  return { ranger, cellpose, scanpy, r1, r2, r3, r4, r5, raw, big, counts, masks, runs: [r1, r2, r3, r4, r5] }
}

const runIds = async (s: Session, ...q: ReadonlyArray<QueryInput>) => sortedIds(await s.run(anyRuns().filter(...q).all()))

/** All spellings must select the same runs, and those runs must be `want`. */
const same = async (s: Session, want: ReadonlyArray<{ readonly id: number }>, ...spellings: ReadonlyArray<QueryInput>) => {
  const expected = sortedIds(want)
  for (const q of spellings) {
    assert.deepStrictEqual(await runIds(s, q), expected, `for ${q instanceof Q ? "a Q" : JSON.stringify(q)}`)
    assert.equal(await s.run(anyRuns().filter(q).count()), expected.length, "count differs from all().length")
  }
}

export const filters: ReadonlyArray<Case> = [
  c("keyword lookups, typed objects and Q give identical results", async (s) => {
    const l = await lab(s)
    await same(
      s,
      [l.r1, l.r2],
      { transform__key__startswith: "Cell" },
      { transform: { key: { startsWith: "Cell" } } },
      Q.where("transform__key", "startsWith", "Cell"),
      Q.and({ transform__key__startswith: "Cell" })
    )
    await same(
      s,
      [l.r2, l.r3, l.r4],
      { startedAt__gte: at(1) },
      { startedAt: { gte: at(1) } },
      { started_at__gte: at(1).toISOString() },
      Q.where(["startedAt"], "gte", at(1))
    )
  }),
  c("string operators on real fields: startsWith is case-sensitive, i-variants are not", async (s) => {
    const l = await lab(s)
    const keys = async (q: QueryInput) => (await s.run(anyTransforms().filter(q).orderBy("key").all())).map((t) => t.key)
    assert.deepStrictEqual(await keys({ key__startswith: "cell" }), ["cellpose"])
    assert.deepStrictEqual(await keys({ key__istartswith: "cell" }), ["Cell Ranger", "cellpose"])
    assert.deepStrictEqual(await keys({ description__icontains: "qc" }), ["Cell Ranger"])
    assert.deepStrictEqual(await keys({ description__contains: "qc" }), [])
    assert.deepStrictEqual(await keys({ key__endswith: "NOTEBOOK" }), [])
    assert.deepStrictEqual(await keys({ key__iendswith: "NOTEBOOK" }), ["scanpy-notebook"])
    assert.deepStrictEqual(await keys({ key__iexact: "CELLPOSE" }), ["cellpose"])
    assert.deepStrictEqual(await keys({ key: "CELLPOSE" }), [])
    assert.deepStrictEqual(await keys({ key__regex: "^[Cc]ell.*[re]$" }), ["Cell Ranger", "cellpose"])
    assert.deepStrictEqual(await keys({ key__regex: "-n" }), ["scanpy-notebook"])
    assert.equal(l.scanpy.description, null)
    assert.deepStrictEqual(await keys({ description__regex: "." }), ["Cell Ranger", "cellpose"], "regex never matches null")
  }),
  c("dates: range is inclusive to the millisecond, gt/lt are strict, ISO strings and Dates agree", async (s) => {
    const l = await lab(s)
    await same(s, [l.r1, l.r2, l.r3], { startedAt__range: [at(0), at(2)] }, { startedAt: { range: [at(0).toISOString(), at(2)] } })
    await same(s, [l.r2, l.r3], { startedAt: { gt: at(0), lte: at(2) } })
    await same(s, [l.r5, l.r1], { startedAt__lt: at(1) })
    await same(s, [l.r1], { startedAt: at(0) }, { startedAt: at(0).toISOString() })
    // The same instant written with an offset.
    const plusOne = new Date(at(0).getTime() + 3_600_000).toISOString().replace("Z", "+01:00")
    await same(s, [l.r1], { startedAt: plusOne })
    await same(s, [l.r1], { startedAt: new Date(at(0).getTime()).toISOString().replace(/\.\d+Z$/, ".999+00:00") })
  }),
  c("in and notIn on an enum, status by name", async (s) => {
    const l = await lab(s)
    await same(s, [l.r1, l.r4], { status: "completed" }, { status__exact: "completed" })
    await same(s, [l.r1, l.r3, l.r4], { status__in: ["completed", "errored"] }, { status: { in: ["errored", "completed"] } })
    await same(s, [l.r2, l.r5], { status__notIn: ["completed", "errored"] }, Q.not({ status__in: ["completed", "errored"] }))
    await same(s, [], { status__in: [] })
    await same(s, l.runs, { status__notIn: [] })
  }),
  c("isNull and null: finishedAt, name", async (s) => {
    const l = await lab(s)
    await same(s, [l.r2, l.r3, l.r5], { finishedAt: null }, { finishedAt__isnull: true }, { finishedAt: { isNull: true } })
    await same(s, [l.r1, l.r4], { finishedAt__isnull: false }, { finishedAt: { ne: null } })
  }),
  c("ne and notIn match null fields; eq never does", async (s) => {
    const l = await lab(s)
    await same(s, [l.r2, l.r3, l.r4, l.r5], { name__ne: "first" }, Q.not({ name: "first" }))
    await same(s, [l.r2, l.r4, l.r5], { name: { ne: "first" }, name__isnull: false })
    await same(s, [l.r3, l.r4, l.r5], { name__notIn: ["first", "second"] })
    await same(s, [l.r1, l.r2], { name__in: ["first", "second", "nobody"] })
  }),
  c("in with many ids and uids, including missing ones", async (s) => {
    const t = await s.run(Transform.create({ key: "bulk" }))
    const runs = await s.run(Run.createMany(Array.from({ length: 300 }, (_, i) => ({ transformId: t.id, startedAt: at(i) }))))
    const pick = runs.filter((_, i) => i % 3 === 0)
    const missing = Array.from({ length: 400 }, (_, i) => 1_000_000 + i)
    assert.deepStrictEqual(await runIds(s, { id__in: [...missing, ...pick.map((r) => r.id)] }), sortedIds(pick))
    assert.deepStrictEqual(await runIds(s, { uid__in: pick.map((r) => r.uid) }), sortedIds(pick))
    assert.equal(await s.run(Run.filter({ id__notIn: pick.map((r) => r.id) }).count()), 200)
  }),
  c("numbers: order operators on an int field, and code point order on strings", async (s) => {
    const l = await lab(s)
    const sizes = async (q: QueryInput) => sortedIds(await s.run(anyArtifacts().filter(q).all()))
    assert.deepStrictEqual(await sizes({ size__gt: 7 }), sortedIds([l.big, l.counts]))
    assert.deepStrictEqual(await sizes({ size__gte: 7, size__lt: 100 }), sortedIds([l.big, l.masks]))
    assert.deepStrictEqual(await sizes({ size: { range: [5, 7] } }), sortedIds([l.raw, l.masks]))
    for (const key of ["Zebra", "apple", "éclair", "\uFFEF", "😀"]) await s.run(Transform.create({ key }))
    const keys = async (q: QueryInput) => (await s.run(anyTransforms().filter(q).all())).map((t) => t.key).sort()
    assert.deepStrictEqual(await keys({ key__gt: "\uFFEE" }), ["\uFFEF", "😀"].sort(), "code point order puts astral characters last")
    assert.deepStrictEqual(await keys({ key__gt: "\uFFEF" }), ["😀"])
    assert.deepStrictEqual(await keys({ key__lt: "a", key__gte: "Z" }), ["Zebra"])
  }),
  c("params by JSON path, in keyword and typed form", async (s) => {
    const l = await lab(s)
    await same(s, [l.r2], { params__a__b: 2 }, { params: { a: { b: 2 } } }, Q.where(["params", "a", "b"], "eq", 2))
    await same(s, [l.r2, l.r3], { params__a__b__gt: 1 }, { params: { a: { b: { gt: 1 } } } })
    await same(s, [l.r1, l.r2], { params__lr__lte: 0.01 })
    await same(s, [l.r1, l.r2], { params__tag__in: ["x", "y"] })
    await same(s, [l.r3], { params__a__c: true })
    await same(s, [l.r5], { params__a: "flat" })
    await same(s, [l.r4, l.r5], { params__lr: null }, { params__lr__isnull: true })
    await same(s, [l.r4], { params: null })
    await same(s, [l.r1], { params__a: { b: 1 } })
  }),
  c("user values are data: operator-like keys and values in params match literally", async (s) => {
    const t = await s.run(Transform.create({ key: "t" }))
    const literal = await newRun(s, t, { params: { x: { $gt: "" }, $where: "1 == 1" } })
    await newRun(s, t, { params: { x: "zzz" } })
    await newRun(s, t, { params: { x: { $gt: "a" } } })
    await newRun(s, t, { params: { x: 5 } })
    assert.deepStrictEqual(await runIds(s, { params__x: { $gt: "" } }), [literal.id])
    assert.deepStrictEqual(await runIds(s, { params: { x: { $gt: "" } } }), [literal.id])
    assert.deepStrictEqual(await runIds(s, { params__$where: "1 == 1" }), [literal.id])
    assert.deepStrictEqual(await runIds(s, { params__x__in: [{ $gt: "" }] }), [literal.id])
    assert.deepStrictEqual(await runIds(s, { name: "$ne" }), [])
    assert.deepStrictEqual(await runIds(s, { name__regex: "^\\$" }), [])
  }),
  c("forward relations: by record, by id, by field of the related record", async (s) => {
    const l = await lab(s)
    await same(s, [l.r1, l.r2], { transform: l.ranger }, { transform: l.ranger.id }, { transformId: l.ranger.id }, { transform__key: "Cell Ranger" })
    await same(s, [l.r1, l.r2, l.r4], { transform__in: [l.ranger, l.scanpy] }, { transform__id__in: [l.ranger.id, l.scanpy.id] })
    await same(s, [l.r3, l.r5], { transform: { kind: "script" } }, { transform__kind: "script" })
    await same(s, [l.r2, l.r4], { initiatedByRun: l.r1 }, { initiatedByRun__name: "first" })
  }),
  c("reverse relations: transforms by their runs, each transform once", async (s) => {
    const l = await lab(s)
    const got = async (q: QueryInput) => sortedIds(await s.run(anyTransforms().filter(q).all()))
    assert.deepStrictEqual(await got({ runs__status: "completed" }), sortedIds([l.ranger, l.scanpy]))
    assert.deepStrictEqual(await got({ runs__startedAt__gte: at(-1) }), sortedIds([l.ranger, l.cellpose, l.scanpy]))
    assert.equal(await s.run(Transform.filter({ runs__startedAt__gte: at(-1) }).count()), 3)
    assert.deepStrictEqual(await runIds(s, { initiatedRuns__name: "fourth" }), [l.r1.id])
    assert.deepStrictEqual(await runIds(s, { outputArtifacts__key: "masks.zarr" }), [l.r3.id])
  }),
  c("multi-hop relations: artifact → run → transform", async (s) => {
    const l = await lab(s)
    const got = async (q: QueryInput) => sortedIds(await s.run(anyArtifacts().filter(q).all()))
    assert.deepStrictEqual(await got({ run__transform__key: "Cell Ranger" }), [l.counts.id])
    assert.deepStrictEqual(await got({ run: { transform: { kind: "script" } } }), [l.masks.id])
    assert.deepStrictEqual(await got({ inputOfRuns__transform__key__startswith: "scan" }), sortedIds([l.raw, l.counts]))
  }),
  c("many-to-many through link rows, both directions", async (s) => {
    const l = await lab(s)
    await same(s, [l.r1, l.r4], { inputArtifacts__key: "raw/a.fastq" }, { inputArtifacts: l.raw }, { inputArtifacts: { key: { startsWith: "raw/a" } } })
    await same(s, [l.r1, l.r3, l.r4], { inputArtifacts__suffix__in: [".fastq", ".h5ad"] })
    const readers = sortedIds(await s.run(Artifact.filter({ inputOfRuns: l.r4 }).all()))
    assert.deepStrictEqual(readers, sortedIds([l.raw, l.counts]))
  }),
  c("conditions on one relation inside one filter must hold for the same related record", async (s) => {
    const l = await lab(s)
    // r1 read raw (size 5) and big (size 20): no single input is both raw/a and larger than 10.
    await same(s, [], { inputArtifacts: { key: "raw/a.fastq", size: { gt: 10 } } })
    await same(s, [l.r1], { inputArtifacts: { key: "raw/b.fastq", size: { gt: 10 } } })
    // As in Django, conditions on one relation within one filter share the related record, however spelled.
    await same(s, [], Q.and({ inputArtifacts__key: "raw/a.fastq" }, { inputArtifacts__size__gt: 10 }))
  }),
  c("relation isNull: no related record at all, forward and reverse", async (s) => {
    const l = await lab(s)
    await same(s, [l.r1, l.r3, l.r5], { initiatedByRun: null }, { initiatedByRun__isnull: true })
    await same(s, [l.r2, l.r4], { initiatedByRun__isnull: false })
    await same(s, [l.r2, l.r3, l.r4, l.r5], { initiatedRuns: null })
    await same(s, [l.r2, l.r5], { inputArtifacts: null }, { inputArtifacts__isnull: true })
    const unread = sortedIds(await s.run(Artifact.filter({ inputOfRuns: null }).all()))
    assert.deepStrictEqual(unread, [l.masks.id])
  }),
  c("Q.not over a to-many relation selects records with no such related record", async (s) => {
    const l = await lab(s)
    await same(s, [l.r2, l.r3, l.r5], Q.not({ inputArtifacts: l.raw }))
    await same(s, [l.r2, l.r5], Q.not({ inputArtifacts__key__contains: "." }))
  }),
  c("Q.or across a relation and a field; nested combinators", async (s) => {
    const l = await lab(s)
    await same(s, [l.r1, l.r2, l.r5], Q.or({ transform__key: "Cell Ranger" }, { status: "scheduled" }))
    await same(
      s,
      [l.r1, l.r4, l.r5],
      Q.or(Q.and({ status: "completed" }, Q.not({ params__lr__gt: 1 })), { inputArtifacts: null, name__istartswith: "f" })
    )
    await same(s, [], Q.or())
    await same(s, l.runs, Q.and())
    await same(s, [l.r1], Q.and({ transform: l.ranger }, { status: "completed" }), { transform: l.ranger, status: "completed" })
  }),
  c("filters chain as AND", async (s) => {
    const l = await lab(s)
    const ids = sortedIds(await s.run(Run.filter({ transform: l.ranger }).filter({ status: "completed" }).all()))
    assert.deepStrictEqual(ids, [l.r1.id])
  }),
  c("the default filter hides trashed records unless the query names the branch, an id or a uid", async (s) => {
    const l = await lab(s)
    await s.run(Run.delete(l.r1))
    assert.ok(!(await runIds(s)).includes(l.r1.id))
    assert.ok(!(await runIds(s, { status: "completed" })).includes(l.r1.id))
    assert.deepStrictEqual(await runIds(s, { branchId: -1 }), [l.r1.id])
    assert.deepStrictEqual(await runIds(s, { id: l.r1.id }), [l.r1.id])
    assert.deepStrictEqual(await runIds(s, { uid: l.r1.uid }), [l.r1.id])
    assert.deepStrictEqual(await runIds(s, { branchId__in: [1, -1] }), sortedIds(l.runs))
    assert.equal(await s.run(Run.filter().count()), 4)
  }),
  // The invalid queries below are compile errors too (`@ts-expect-error`): the store must refuse them all the
  // same, for callers without types.
  c("unknown fields and wrong operators are InvalidQuery naming registry, field and operator", async (s) => {
    await lab(s)
    // @ts-expect-error invalid on purpose
    const unknown = await s.fail(Run.filter({ learningRate: 1 }).all(), "InvalidQuery")
    assert.equal(unknown.registry, "Run")
    assert.equal(unknown.field, "learningRate")
    assert.match(unknown.expected, /startedAt/)
    // @ts-expect-error invalid on purpose
    const deep = await s.fail(Run.filter({ transform__nope: 1 }).all(), "InvalidQuery")
    assert.equal(deep.field, "transform__nope")
    // @ts-expect-error invalid on purpose
    const badOp = await s.fail(Run.filter({ startedAt__after: at(0) }).all(), "InvalidQuery")
    assert.equal(badOp.field, "startedAt__after")
    // @ts-expect-error invalid on purpose
    const notOp = await s.fail(Run.filter({ startedAt: { after: at(0) } }).all(), "InvalidQuery")
    assert.equal(notOp.operator, "after")
    // @ts-expect-error invalid on purpose
    const order = await s.fail(Run.filter().orderBy("transform__key").all(), "InvalidQuery")
    assert.equal(order.field, "transform__key")
  }),
  c("wrong-typed values are InvalidQuery: string to int, number to string, invalid dates, bad enums", async (s) => {
    await lab(s)
    // @ts-expect-error invalid on purpose
    const size = await s.fail(Artifact.filter({ size: "10" }).all(), "InvalidQuery")
    assert.equal(size.field, "size")
    assert.equal(size.value, "10")
    // @ts-expect-error invalid on purpose
    const key = await s.fail(Transform.filter({ key: 5 }).all(), "InvalidQuery")
    assert.equal(key.field, "key")
    const date = await s.fail(Run.filter({ startedAt__gte: "yesterday" }).all(), "InvalidQuery")
    assert.equal(date.field, "startedAt")
    assert.equal(date.operator, "gte")
    await s.fail(Run.filter({ startedAt: new Date(Number.NaN) }).all(), "InvalidQuery")
    // @ts-expect-error invalid on purpose
    const status = await s.fail(Run.filter({ status: "finished" }).all(), "InvalidQuery")
    assert.match(status.expected, /completed/)
    // @ts-expect-error invalid on purpose
    await s.fail(Transform.filter({ isLatest: "true" }).all(), "InvalidQuery")
    // @ts-expect-error invalid on purpose
    await s.fail(Run.filter({ transform: "Cell Ranger" }).all(), "InvalidQuery")
    // @ts-expect-error invalid on purpose
    await s.fail(Run.filter({ status__in: "completed" }).all(), "InvalidQuery")
    // @ts-expect-error invalid on purpose
    await s.fail(Run.filter({ startedAt__range: [at(0)] }).all(), "InvalidQuery")
    // @ts-expect-error invalid on purpose
    await s.fail(Run.filter({ finishedAt__isnull: "yes" }).all(), "InvalidQuery")
    await s.fail(Run.filter({ params__x: Number.POSITIVE_INFINITY }).all(), "InvalidQuery")
  }),
  c("operators that do not fit the field are InvalidQuery; so is a bad regex", async (s) => {
    await lab(s)
    // @ts-expect-error invalid on purpose
    const contains = await s.fail(Artifact.filter({ size__contains: "1" }).all(), "InvalidQuery")
    assert.equal(contains.operator, "contains")
    // @ts-expect-error invalid on purpose
    await s.fail(Run.filter({ startedAt__startswith: "2024" }).all(), "InvalidQuery")
    // @ts-expect-error invalid on purpose
    await s.fail(Transform.filter({ isLatest__gt: false }).all(), "InvalidQuery")
    const regex = await s.fail(Transform.filter({ key__regex: "(" }).all(), "InvalidQuery")
    assert.equal(regex.operator, "regex")
    await s.fail(Run.filter({ params__x__contains: 5 }).all(), "InvalidQuery")
    await s.fail(Run.filter({ params__x__gt: true }).all(), "InvalidQuery")
  }),
  c("invalid queries fail before the store is touched", async (s) => {
    await lab(s)
    const spy = counting(s.ctx.driver)
    const t = await open(s.ctx, spy.driver)
    spy.reset()
    // @ts-expect-error invalid on purpose
    await t.fail(Transform.filter({ nope: 1 }).all(), "InvalidQuery")
    // @ts-expect-error invalid on purpose
    await t.fail(Run.filter({ inputArtifacts__key: 5 }).count(), "InvalidQuery")
    await t.fail(Run.filter({ transform: { key__regex: "[" } }).exists(), "InvalidQuery")
    await t.fail(Run.get({ startedAt: "soon" }), "InvalidQuery")
    await t.fail(Run.get("not-a-uid"), "DoesNotExist")
    await t.fail(Run.filter().limit(-1).all(), "InvalidQuery")
    assert.equal(spy.calls(), 0, "the driver was called for a query that cannot mean anything")
    // On a registry with features, an unknown key may name a feature: only the Feature registry is read.
    // @ts-expect-error invalid on purpose
    const feature = await t.fail(Run.filter({ nope: 1 }).all(), "InvalidQuery")
    assert.equal(feature.field, "nope")
    assert.equal(spy.callsOn("run"), 0, "the run table was read for a query on a feature that does not exist")
  }),
  c("branchId: null, in every spelling, means every branch, the trash included, for all, count, page, exists and delete", async (s) => {
    const l = await lab(s)
    await s.run(Run.delete(l.r1))
    await s.run(Run.delete(l.r5))
    // Both isNull values: branchId is never null, so neither picks a branch.
    await same(
      s,
      l.runs,
      { branchId: null },
      { branchId__isnull: true },
      { branchId__isnull: false },
      { branchId: { isNull: true } },
      { branchId: { ne: null } },
      Q.where(["branchId"], "isNull", true),
      Q.and({ branchId: null }),
      Q.or({ branchId: null }, { status: "completed" })
    )
    await same(s, [l.r1, l.r4], { branchId: null, status: "completed" })
    assert.deepStrictEqual(sortedIds(await s.run(Run.filter({ status: "completed" }).allBranches().all())), sortedIds([l.r1, l.r4]))
    assert.equal(await s.run(Run.filter().allBranches().count()), 5)
    assert.equal(await s.run(Run.filter({ status: "completed" }).count()), 1, "without it, the default filter hides the trash")
    const paged: Array<{ readonly id: number }> = []
    // Bounded: a store that ignores the cursor must fail this case, not loop forever.
    for (let after: string | undefined, first = true; first || after !== undefined; first = false) {
      const page = await s.run(Run.filter({ branchId: null }).orderBy("startedAt").page({ size: 2, after }))
      paged.push(...page.items)
      after = page.next
      assert.ok(paged.length <= l.runs.length, "paging returned more runs than exist: the cursor was not followed")
    }
    assert.deepStrictEqual(sortedIds(paged), sortedIds(l.runs))
    assert.equal(await s.run(Run.filter({ branchId: null, name: "first" }).exists()), true)
    assert.equal(await s.run(Run.filter({ name: "first" }).exists()), false)
    // The trashed r5 is deleted for good only when the query reaches the trash.
    assert.equal(await s.run(Run.filter({ name: "Fifth" }).delete({ permanent: true })), 0)
    assert.equal(await s.run(Run.filter({ branchId: null, name: "Fifth" }).delete({ permanent: true })), 1)
    assert.equal(await s.persisted("run", l.r5.id), undefined)
  }),
  c("branchId: null on a relation asks for a related record on any branch; negated on the records' own branch it is InvalidQuery; stores get plain conditions", async (s) => {
    const l = await lab(s)
    await s.run(Run.delete(l.r1))
    const found = async (q: QueryInput) => sortedIds(await s.run(anyArtifacts().filter(q).all()))
    // counts was made by the trashed r1, masks by r3.
    assert.deepStrictEqual(await found({ run__branchId: null }), sortedIds([l.counts, l.masks]))
    assert.deepStrictEqual(await found({ run: { branchId: null, name: "first" } }), [l.counts.id])
    assert.deepStrictEqual(await found({ run__branchId__isnull: false }), sortedIds([l.counts, l.masks]))
    for (const q of [Q.not({ branchId: null }), Q.not({ branchId__isnull: false }), Q.not(Q.or({ status: "started" }, { branchId: null }))]) {
      const e = await s.fail(Run.filter(q).count(), "InvalidQuery")
      assert.equal(e.field, "branchId")
      assert.match(e.expected, /every branch/)
    }
    // Negated twice it means every branch again; on a relation the negation means "no related run".
    assert.equal(await s.run(Run.filter(Q.not(Q.not({ branchId: null }))).count()), 5)
    const all = await s.run(Artifact.filter().all())
    assert.deepStrictEqual(
      await found(Q.not({ run__branchId: null })),
      sortedIds(all.filter((a) => a.runId === null))
    )
    // What the driver is asked: no predicate on a null branchId, and no default branch filter on runs.
    const seen: Array<Ast.Cond> = []
    const driver = { ...s.ctx.driver }
    const find = driver.find
    const spy = await open(s.ctx, {
      ...driver,
      find: (table, spec) => {
        seen.push(spec.where)
        return find(table, spec)
      },
      count: (table, where) => {
        seen.push(where)
        return s.ctx.driver.count(table, where)
      }
    })
    assert.equal(await spy.run(Run.filter({ branchId: null }).count()), 5)
    assert.equal((await spy.run(Artifact.filter({ run__branchId: null }).all())).length, 2)
    const branchPredicates = seen.flatMap((w) => Ast.paths(w)).filter((p) => p.includes("branchId"))
    assert.deepStrictEqual(branchPredicates, [["branchId"]], "only the artifacts' default filter names branchId")
  })
]
