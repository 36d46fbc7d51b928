/**
 * Features through the domain: values validated against each feature's dtype, stored so every store can
 * query them, and queried with every operator — alone, mixed with fields, and through relations.
 */
import assert from "node:assert/strict"
import { Ast, Evaluator, Feature, Features, Q, Run, Transform, ULabel } from "@lineage/core"
import { Effect } from "effect"
import type { Case } from "../../Case.js"
import { anyRuns, newRun, registryCase, type Session } from "./support.js"

// Feature names are data here, declared by no `LineageFeatures`: the queries go through untyped query sets
// (`anyRuns()`), as they would in code that does not generate feature types.
const group = "features"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

const define = (s: Session, features: { readonly [name: string]: string }) =>
  s.run(Effect.forEach(Object.entries(features), ([name, dtype]) => Feature.create({ name, dtype })))

const ids = (rows: ReadonlyArray<{ readonly id: number }>) => rows.map((r) => r.id).sort((a, b) => a - b)

/** Twelve runs with a float, a string and a date feature; some runs lack some of them. */
const lab = async (s: Session) => {
  await define(s, { lr: "float", optimizer: "str", day: "date", tags: "list[str]" })
  const t = await s.run(Transform.create({ key: "train.ts", kind: "script" }))
  const optimizers = ["Adam", "adamw", "SGD", "sgd-momentum", "Ädam", "RMSprop"]
  const runs = []
  for (let i = 0; i < 12; i++) {
    const run = await newRun(s, t, { name: `r${i}` })
    const values: Record<string, unknown> = {}
    if (i % 5 !== 4) values["lr"] = [0.1, 0.01, 0.001, 0.5, 1][i % 5]! * (i + 1)
    if (i % 4 !== 3) values["optimizer"] = optimizers[i % optimizers.length]
    if (i % 3 !== 2) values["day"] = `2026-0${1 + (i % 9)}-1${i % 10}`
    if (i % 2 === 0) values["tags"] = i % 4 === 0 ? ["a", "b"] : ["c"]
    runs.push(await s.run(Features.add(run, values)))
  }
  return runs
}

/** The runs whose stored value of `name` the reference evaluator accepts under `op`/`arg`. */
const expected = (runs: ReadonlyArray<Run>, name: string, op: Ast.Operator, arg: Ast.Json) =>
  ids(runs.filter((r) => Evaluator.testValue(Evaluator.read((r.featureValues ?? {}) as Evaluator.Doc, [name]), op, arg)))

const operatorCases: ReadonlyArray<readonly [string, Ast.Operator, Ast.Json, unknown]> = [
  ["lr", "eq", 0.01, 0.01],
  ["lr", "ne", 0.1, 0.1],
  ["lr", "gt", 0.05, 0.05],
  ["lr", "gte", 0.2, 0.2],
  ["lr", "lt", 0.02, 0.02],
  ["lr", "lte", 0.5, 0.5],
  ["lr", "in", [0.1, 2, 99], [0.1, 2, 99]],
  ["lr", "notIn", [0.1, 2], [0.1, 2]],
  ["lr", "range", [0.004, 0.3], [0.004, 0.3]],
  ["lr", "isNull", true, true],
  ["lr", "isNull", false, false],
  ["optimizer", "eq", "Adam", "Adam"],
  ["optimizer", "iexact", "adam", "adam"],
  ["optimizer", "contains", "dam", "dam"],
  ["optimizer", "icontains", "DAM", "DAM"],
  ["optimizer", "startsWith", "sgd", "sgd"],
  ["optimizer", "istartsWith", "SGD", "SGD"],
  ["optimizer", "endsWith", "prop", "prop"],
  ["optimizer", "iendsWith", "W", "W"],
  ["optimizer", "regex", "^[A-Z].*m$", "^[A-Z].*m$"],
  ["optimizer", "gt", "Adam", "Adam"],
  ["day", "gte", "2026-05-01", "2026-05-01"],
  ["day", "range", ["2026-02-01", "2026-04-30"], ["2026-02-01", "2026-04-30"]],
  ["tags", "eq", ["a", "b"], ["a", "b"]]
]

export const features: ReadonlyArray<Case> = [
  c("every dtype validates and stores its values; get() returns them as readers expect", async (s) => {
    await define(s, {
      i: "int",
      f: "float",
      n: "num",
      s: "str",
      b: "bool",
      d: "date",
      dt: "datetime",
      dict: "dict",
      p: "path",
      u: "url",
      o: "object",
      li: "list[int]",
      label: "cat[ULabel]"
    })
    await s.run(ULabel.create({ name: "T cell" }))
    const run = await newRun(s, await s.run(Transform.create({ key: "k" })))
    const when = new Date("2026-03-04T05:06:07.089Z")
    const values = {
      i: 3,
      f: 0.25,
      n: -2,
      s: "ünï",
      b: false,
      d: "2026-03-04",
      dt: when,
      dict: { a: { b: [1, "x"] } },
      p: "data\\raw\\a.csv",
      u: "https://example.org/a",
      o: [1, { two: 2 }],
      li: [1, 2, 3],
      label: "T cell"
    }
    const updated = await s.run(Features.add(run, values))
    assert.deepStrictEqual(await s.run(Features.get(updated)), { ...values, p: "data/raw/a.csv" })
    const persisted = await s.persisted("run", run.id)
    assert.deepStrictEqual((persisted?.["featureValues"] as Record<string, unknown>)["dt"], when.toISOString())
  }),
  c("an invalid dtype is refused, naming what is allowed", async (s) => {
    const e = await s.fail(Feature.create({ name: "x", dtype: "float64" }), "ValidationError")
    assert.equal(e.field, "dtype")
    assert.match(e.expected, /list\[<dtype>\]/)
    assert.equal(await s.run(Feature.filter().count()), 0)
  }),
  c("values of the wrong type are refused, naming the feature, and nothing is written", async (s) => {
    await define(s, { lr: "float", n: "int", on: "bool" })
    const run = await newRun(s, await s.run(Transform.create({ key: "k" })))
    for (const [name, value] of [
      ["lr", "0.1"],
      ["n", 1.5],
      ["on", "yes"],
      ["lr", Number.NaN]
    ] as const) {
      const e = await s.fail(Features.add(run, { [name]: value }), "ValidationError")
      assert.equal(e.field, name)
    }
    const mixed = await s.fail(Features.add(run, { lr: 0.1, n: "two" }), "ValidationError")
    assert.equal(mixed.field, "n")
    assert.deepStrictEqual((await s.persisted("run", run.id))?.["featureValues"], {})
  }),
  c("unknown feature names are listed with how to create them", async (s) => {
    const run = await newRun(s, await s.run(Transform.create({ key: "k" })))
    const e = await s.fail(Features.add(run, { nope: 1, neither: 2 }), "ValidationError")
    assert.match(e.message, /nope/)
    assert.match(e.message, /neither/)
    assert.match(e.message, /Feature\.create/)
  }),
  c("categorical values must name existing records", async (s) => {
    await define(s, { cell_type: "cat[ULabel]" })
    await s.run(ULabel.create({ name: "B cell" }))
    const run = await newRun(s, await s.run(Transform.create({ key: "k" })))
    const e = await s.fail(Features.add(run, { cell_type: "T cell" }), "ValidationError")
    assert.match(e.message, /could not be validated/)
    assert.match(e.message, /T cell/)
    const ok = await s.run(Features.add(run, { cell_type: "B cell" }))
    assert.equal(await s.run(anyRuns().filter({ cell_type: "B cell" }).count()), 1)
    assert.equal(ok.id, run.id)
  }),
  c("add refuses a second value, set replaces all, remove drops one or all, lists append", async (s) => {
    await define(s, { lr: "float", opt: "str", tags: "list[str]" })
    const run = await newRun(s, await s.run(Transform.create({ key: "k" })))
    await s.run(Features.add(run, { lr: 0.1, tags: ["a"] }))
    await s.run(Features.add(run, { lr: 0.1, tags: ["b", "a"] }))
    assert.deepStrictEqual(await s.run(Features.get(run)), { lr: 0.1, tags: ["a", "b"] })
    const e = await s.fail(Features.add(run, { lr: 0.2 }), "ValidationError")
    assert.equal(e.field, "lr")
    await s.run(Features.set(run, { opt: "Adam" }))
    assert.deepStrictEqual(await s.run(Features.get(run)), { opt: "Adam" })
    await s.run(Features.add(run, { lr: 0.3 }))
    await s.run(Features.remove(run, "opt"))
    assert.deepStrictEqual(await s.run(Features.get(run)), { lr: 0.3 })
    await s.run(Features.remove(run))
    assert.deepStrictEqual(await s.run(Features.get(run)), {})
    assert.equal(await s.run(anyRuns().filter({ lr__isNull: false }).count()), 0)
  }),
  c("concurrent writers to one run never lose each other's values", async (s) => {
    const names = Array.from({ length: 8 }, (_, i) => `f${i}`)
    await define(s, Object.fromEntries(names.map((n) => [n, "int"])))
    const run = await newRun(s, await s.run(Transform.create({ key: "k" })))
    await s.run(Effect.all(names.map((n, i) => Features.add(run, { [n]: i })), { concurrency: "unbounded" }))
    assert.deepStrictEqual(await s.run(Features.get(run)), Object.fromEntries(names.map((n, i) => [n, i])))
  }),
  c("describe() names the run's transform and lists each feature with its dtype and value", async (s) => {
    await define(s, { lr: "float" })
    const run = await newRun(s, await s.run(Transform.create({ key: "train.ts" })))
    await s.run(Features.add(run, { lr: 0.5 }))
    const text = await s.run(Features.describe(run))
    assert.match(text, /train\.ts/)
    assert.match(text, /lr\s+float\s+0\.5/)
  }),
  ...operatorCases.map(([name, op, arg, given]) =>
    c(`query by feature: ${name} ${op} ${JSON.stringify(arg)} returns exactly the evaluator's runs`, async (s) => {
      const runs = await lab(s)
      const got = await s.run(anyRuns().filter(Q.where([name], op, given)).all())
      assert.deepStrictEqual(ids(got), expected(runs, name, op, arg))
      assert.equal(await s.run(anyRuns().filter(Q.where([name], op, given)).count()), got.length)
    })
  ),
  c("features mix with fields, relations and combinators in one filter", async (s) => {
    const runs = await lab(s)
    const mixed = await s.run(
      anyRuns().filter({ transform__key: "train.ts", lr__gt: 0.01, name__in: ["r1", "r2", "r3", "r5", "r6"] }).all()
    )
    assert.deepStrictEqual(
      ids(mixed),
      ids(runs.filter((r) => ["r1", "r2", "r3", "r5", "r6"].includes(r.name!) && ((r.featureValues as { lr?: number }).lr ?? 0) > 0.01))
    )
    const either = await s.run(anyRuns().filter(Q.or({ optimizer: "SGD" }, Q.not({ lr__isNull: false }))).all())
    assert.deepStrictEqual(
      ids(either),
      ids(runs.filter((r) => (r.featureValues as { optimizer?: string }).optimizer === "SGD" || (r.featureValues as { lr?: number }).lr === undefined))
    )
    const ordered = await s.run(anyRuns().filter({ lr__isNull: false }).orderBy("-lr").limit(3).all())
    const byLr = [...runs]
      .filter((r) => (r.featureValues as { lr?: number }).lr !== undefined)
      .sort((a, b) => (b.featureValues as { lr: number }).lr - (a.featureValues as { lr: number }).lr || a.id - b.id)
    assert.deepStrictEqual(
      ordered.map((r) => r.id),
      byLr.slice(0, 3).map((r) => r.id)
    )
  }),
  c("queries on unknown features or with values that do not fit the dtype are InvalidQuery", async (s) => {
    await lab(s)
    const unknown = await s.fail(anyRuns().filter({ momentum: 0.9 }).all(), "InvalidQuery")
    assert.equal(unknown.field, "momentum")
    assert.match(unknown.expected, /Feature\.create/)
    const wrong = await s.fail(anyRuns().filter({ lr__gt: "0.1" }).all(), "InvalidQuery")
    assert.equal(wrong.field, "lr")
    await s.fail(anyRuns().filter({ optimizer: 3 }).count(), "InvalidQuery")
    await s.fail(anyRuns().filter({ lr__in: [0.1, "x"] }).count(), "InvalidQuery")
  }),
  c("a second value for a feature is refused with both values and what to do instead; nothing is written", async (s) => {
    await define(s, { lr: "float", note: "str" })
    const run = await newRun(s, await s.run(Transform.create({ key: "k" })))
    await s.run(Features.add(run, { lr: 0.1 }))
    const e = await s.fail(Features.add(run, { lr: 0.2, note: "n" }), "ValidationError")
    assert.equal(e.field, "lr")
    assert.equal(e.value, 0.2)
    assert.match(e.message, /got 0\.2/)
    assert.match(e.expected, /one value per feature: "lr" already holds 0\.1 on this Run/)
    assert.match(e.expected, /remove "lr" and add the new value/)
    assert.match(e.expected, /set\(\) all of the record's values/)
    assert.match(e.expected, /list\[\.\.\.\]/)
    assert.deepStrictEqual(await s.run(Features.get(run)), { lr: 0.1 }, "the refused add wrote nothing")
    assert.equal(await s.run(anyRuns().filter({ lr: 0.2 }).count()), 0)
    // A huge held value is shown cut, not whole.
    await s.run(Features.add(run, { note: "x".repeat(100_000) }))
    const big = await s.fail(Features.add(run, { note: "y" }), "ValidationError")
    assert.ok(big.message.length < 1_500, `a message of ${big.message.length} characters`)
  })
]
