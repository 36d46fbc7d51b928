/**
 * Feature names are data: a name that is also a member of `Object.prototype` (`constructor`, `__proto__`,
 * `toString`, …) is created, written, read, replaced, removed, described and queried like any other name,
 * and so are such keys inside JSON values (params, dict features).
 */
import assert from "node:assert/strict"
import { Feature, Features, Q, Run, Transform } from "@lineage/core"
import { Effect } from "effect"
import type { Case } from "../../Case.js"
import { anyRuns, newRun, registryCase, type Session } from "./support.js"

const group = "featureNames"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

/** Names every plain object inherits, the ones an object indexed by name gets wrong. */
export const prototypeNames = [
  "constructor",
  "__proto__",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "isPrototypeOf",
  "__defineGetter__"
] as const

/** An object with each name as an own key (an object literal's `__proto__:` would set the prototype). */
const values = (entries: ReadonlyArray<readonly [string, unknown]>): { readonly [name: string]: unknown } =>
  Object.fromEntries(entries)

const defineAll = (s: Session, dtype: string) =>
  s.run(Effect.forEach(prototypeNames, (name) => Feature.create({ name, dtype })))

const storedValues = async (s: Session, id: number) => (await s.persisted("run", id))?.["featureValues"] as Record<string, unknown>

export const featureNames: ReadonlyArray<Case> = [
  c("a prototype member is a valid feature name: create, add, get, set, remove and describe", async (s) => {
    const created = await defineAll(s, "int")
    assert.deepStrictEqual(created.map((f) => f.name), [...prototypeNames])
    assert.equal(await s.run(Feature.filter({ name: "__proto__" }).count()), 1)
    const run = await newRun(s, await s.run(Transform.create({ key: "k" })))
    // One name alone, then all of them.
    await s.run(Features.add(run, values([["constructor", 1]])))
    const all = values(prototypeNames.map((n, i) => [n, i + 1]))
    await s.run(Features.add(run, all))
    assert.deepStrictEqual(await s.run(Features.get(run)), all)
    const stored = await storedValues(s, run.id)
    for (const [i, name] of prototypeNames.entries()) {
      assert.ok(Object.hasOwn(stored, name), `the stored values lack an own "${name}"`)
      assert.equal(stored[name], i + 1)
    }
    const twice = await s.fail(Features.add(run, values([["toString", 99]])), "ValidationError")
    assert.equal(twice.field, "toString")
    assert.match(twice.message, /already holds 3/)
    await s.run(Features.set(run, values([["__proto__", 10], ["valueOf", 11]])))
    assert.deepStrictEqual(await s.run(Features.get(run)), values([["__proto__", 10], ["valueOf", 11]]))
    await s.run(Features.remove(run, "__proto__"))
    assert.deepStrictEqual(await s.run(Features.get(run)), values([["valueOf", 11]]))
    await s.run(Features.add(run, values([["__proto__", 12], ["hasOwnProperty", 13]])))
    const text = await s.run(Features.describe(run))
    for (const line of [/__proto__\s+int\s+12/, /hasOwnProperty\s+int\s+13/, /valueOf\s+int\s+11/]) assert.match(text, line)
    assert.doesNotMatch(text, /constructor/)
  }),
  c("a feature named like a prototype member is queried by value, keyword and Q.where", async (s) => {
    await defineAll(s, "int")
    const t = await s.run(Transform.create({ key: "k" }))
    const runs: Array<Run> = []
    for (let i = 0; i < 4; i++) {
      const run = await newRun(s, t)
      runs.push(await s.run(Features.add(run, values(prototypeNames.map((n, j) => [n, i * 10 + j])))))
    }
    await newRun(s, t) // no values at all
    for (const [j, name] of prototypeNames.entries()) {
      const second = runs[1]!.id
      assert.deepStrictEqual((await s.run(anyRuns().filter(values([[name, 10 + j]])).all())).map((r) => r.id), [second], `${name} eq`)
      assert.equal(await s.run(anyRuns().filter(values([[`${name}__gte`, 20 + j]])).count()), 2, `${name}__gte`)
      assert.equal(await s.run(Run.filter(Q.where([name], "lt", 10 + j)).count()), 1, `Q.where ${name} lt`)
      assert.equal(await s.run(anyRuns().filter(values([[`${name}__isnull`, true]])).count()), 1, `${name}__isnull`)
      const ordered = await s.run(anyRuns().filter(values([[`${name}__isnull`, false]])).orderBy(`-${name}`).all())
      assert.deepStrictEqual(ordered.map((r) => r.id), runs.map((r) => r.id).reverse(), `order by -${name}`)
    }
  }),
  c("prototype-member keys inside params and dict features are kept and queried", async (s) => {
    await s.run(Feature.create({ name: "meta", dtype: "dict" }))
    const t = await s.run(Transform.create({ key: "k" }))
    const params = JSON.parse('{"__proto__": {"constructor": 1}, "toString": "x"}') as { readonly [k: string]: unknown }
    const run = await newRun(s, t, { params })
    await newRun(s, t, { params: { toString: "y" } })
    const meta = JSON.parse('{"__proto__": 5, "valueOf": [1]}') as { readonly [k: string]: unknown }
    await s.run(Features.add(run, { meta }))
    const persisted = await s.persisted("run", run.id)
    assert.equal(JSON.stringify(persisted?.["params"]), JSON.stringify(params))
    assert.equal(JSON.stringify((persisted?.["featureValues"] as Record<string, unknown>)["meta"]), JSON.stringify(meta))
    const one = [run.id]
    assert.deepStrictEqual((await s.run(Run.filter(Q.where(["params", "__proto__", "constructor"], "eq", 1)).all())).map((r) => r.id), one)
    assert.deepStrictEqual((await s.run(Run.filter({ params____proto____constructor: 1 }).all())).map((r) => r.id), one)
    assert.deepStrictEqual((await s.run(Run.filter({ params__toString: "x" }).all())).map((r) => r.id), one)
    assert.deepStrictEqual((await s.run(Run.filter(Q.where(["meta", "__proto__"], "eq", 5)).all())).map((r) => r.id), one)
    assert.deepStrictEqual((await s.run(Run.filter(Q.where(["meta", "valueOf"], "eq", [1])).all())).map((r) => r.id), one)
    assert.equal(await s.run(Run.filter(Q.where(["params", "__proto__"], "isNull", true)).count()), 1)
  })
]
