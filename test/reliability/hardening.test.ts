/**
 * The hardening attacks, replayed as a user of the Promise face would make them, on every store: each target
 * is one way the landed code could be made to freeze, crash, orphan a run or store what it must not. Every
 * attack must end in the typed error named here, or in the exact answer, with nothing written by a refused
 * call; "lost" counts attacks that did not. Artifact paths and secrets have suites of their own
 * (`artifact-paths.test.ts`, `secrets.test.ts`).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { type Ast, InvalidQuery, Lineage, Q, RunAlreadyActive, StoreError, ValidationError } from "@lineage/core"
import { record, since } from "./support/figures.js"
import { allTargets, type Opened, type Target } from "./support/stores.js"

const targets = await allTargets()
const storage = mkdtempSync(join(tmpdir(), "lineage-hardening-"))
afterAll(() => rmSync(storage, { recursive: true, force: true }))

type Client = Awaited<ReturnType<typeof Lineage.connect>>

/** One attack: what it does, and the error class it must end in (undefined: it must succeed as checked). */
interface Attack {
  readonly name: string
  readonly expected?: abstract new (...args: never) => Error
  readonly run: (ln: Client) => Promise<unknown>
}

const settle = (p: Promise<unknown>): Promise<{ readonly ok: boolean; readonly value: unknown }> =>
  p.then(
    (value) => ({ ok: true, value }),
    (value: unknown) => ({ ok: false, value })
  )

/** Runs every attack against one store; returns how many did not end as expected, after asserting each. */
const assault = async (target: Target, label: string, attacks: ReadonlyArray<Attack>, check?: (ln: Client, o: Opened) => Promise<void>) => {
  const opened = await target.open(label)
  const ln = await Lineage.connect(opened.url, { storage })
  const start = performance.now()
  let lost = 0
  try {
    for (const attack of attacks) {
      const outcome = await settle(attack.run(ln))
      const fine = attack.expected === undefined ? outcome.ok : !outcome.ok && outcome.value instanceof attack.expected
      if (!fine) lost++
      expect(fine, `${attack.name}: ${outcome.ok ? "succeeded" : String(outcome.value)}`).toBe(true)
    }
    await check?.(ln, opened)
    if (opened.drift !== undefined) expect(await opened.drift()).toEqual([])
    return { lost, seconds: since(start) }
  } finally {
    await ln.close()
    await opened.dispose()
  }
}

const deep = (levels: number): Ast.Json => {
  let v: Ast.Json = 1
  for (let i = 0; i < levels; i++) v = { a: v }
  return v
}

describe.each(targets)("$name: hardening attacks", (target) => {
  it("regular expressions run in linear time and outside RE2 are InvalidQuery", async () => {
    const attacks: Array<Attack> = [
      {
        name: "nested quantifiers over 30 a's and a '!'",
        run: async (ln) => {
          await ln.ULabel.create({ name: `${"a".repeat(30)}!` })
          await ln.ULabel.create({ name: "a".repeat(30) })
          for (const pattern of ["^(a+)+$", "^(a|a?)+$", "^(.*a){20}$"]) {
            const names = (await ln.ULabel.filter({ name__regex: pattern }).all()).map((u) => u.name)
            expect(names).toEqual(["a".repeat(30)])
          }
        }
      },
      ...["(a)\\1", "a(?=b)", "(?<!x)a", "(".repeat(3)].map((pattern) => ({
        name: `pattern ${pattern}`,
        expected: InvalidQuery,
        run: (ln: Client) => ln.ULabel.filter({ name__regex: pattern }).count()
      }))
    ]
    const { lost, seconds } = await assault(target, "regex", attacks)
    record({ target: "hardening: catastrophic and unsupported regex", store: target.name, processes: 1, operations: 8, faults: 0, inputs: attacks.length, lost, seconds, note: "3 nested-quantifier patterns answered exactly; backreference, lookaround, bad syntax refused" })
  })

  it("deep, long and huge inputs are refused before any store work", async () => {
    const attacks: Array<Attack> = [
      { name: "params 10,000 deep", expected: ValidationError, run: (ln) => ln.track({ transform: { key: "deep.ts", version: "1" }, params: { p: deep(10_000) }, handleProcess: false }) },
      { name: "query 10,000 deep", expected: InvalidQuery, run: (ln) => ln.Run.filter({ params__p: deep(10_000) }).count() },
      {
        name: "Q.not chain 10,000 deep",
        expected: InvalidQuery,
        run: (ln) => {
          let q = Q.not({ status: "started" })
          for (let i = 0; i < 10_000; i++) q = Q.not(q)
          return ln.Run.filter(q).count()
        }
      },
      { name: "in list of 100,001 values", expected: InvalidQuery, run: (ln) => ln.Run.filter({ id__in: Array.from({ length: 100_001 }, (_, i) => i) }).count() },
      {
        name: "5,000 unknown feature names: the message stays short",
        run: async (ln) => {
          const values = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`unknown_${i}`, i]))
          const run = await ln.Run.create({ transform: await ln.Transform.create({ key: "names.ts", version: "1", kind: "script" }) })
          const error = await run.features.add(values).then(() => undefined, (e: unknown) => e)
          expect(error).toBeInstanceOf(ValidationError)
          expect((error as Error).message.length).toBeLessThan(3_000)
          expect((error as Error).message).toContain("and 4980 more")
        }
      }
    ]
    const { lost, seconds } = await assault(target, "limits", attacks, async (ln) => {
      expect(await ln.Run.filter({ transform__key: "deep.ts" }).count()).toBe(0)
    })
    record({ target: "hardening: 10,000-deep params and queries, 100,001-value in list, 5,000 unknown names", store: target.name, processes: 1, operations: attacks.length, faults: 0, inputs: attacks.length, lost, seconds, note: "ValidationError / InvalidQuery before any write; error text < 3,000 chars" })
  })

  it("the tracked run belongs to its client: nothing is orphaned", async () => {
    const opened = await target.open("clients")
    const start = performance.now()
    const a = await Lineage.connect(opened.url, { storage })
    const b = await Lineage.connect(opened.url, { storage })
    let lost = 0
    try {
      const transform = { key: "clients.ts", version: "1", kind: "script" as const }
      const runA = await a.track({ transform, handleProcess: false })
      const runB = await b.track({ transform, handleProcess: false })
      const twice = await settle(a.track({ transform, handleProcess: false }))
      if (twice.ok || !(twice.value instanceof RunAlreadyActive)) lost++
      const racing = await Promise.all([1, 2, 3, 4].map(() => settle(b.track({ transform, handleProcess: false }))))
      lost += racing.filter((r) => r.ok || !(r.value instanceof RunAlreadyActive)).length
      const inStep = await settle(a.step(async () => a.track({ transform, handleProcess: false }), { key: "nested" })())
      if (inStep.ok || !(inStep.value instanceof RunAlreadyActive)) lost++
      expect(a.context.run?.uid).toBe(runA.uid)
      expect(b.context.run?.uid).toBe(runB.uid)
      await a.finish()
      expect((await b.Run.get(runB.uid)).status).toBe("started")
      await b.finish()
      // Two memory: clients are two stores; on a shared store both clients see both runs.
      const seen = new Map<string, string>()
      for (const ln of [a, b]) for (const r of await ln.Run.filter({ transform__key: "clients.ts" }).all()) seen.set(r.uid, r.status)
      const statuses = [...seen.values()]
      lost += statuses.filter((s) => s !== "completed").length
      expect(statuses).toEqual(["completed", "completed"])
      const badBeat = await settle(a.track({ transform, heartbeatMs: 0, handleProcess: false }))
      if (badBeat.ok || !(badBeat.value instanceof ValidationError)) lost++
      expect(lost).toBe(0)
      if (opened.drift !== undefined) expect(await opened.drift()).toEqual([])
    } finally {
      await a.close()
      await b.close()
      await opened.dispose()
    }
    record({ target: "hardening: two clients, repeated, racing and nested track()", store: target.name, processes: 1, operations: 10, faults: 0, inputs: 0, lost, seconds: since(start), note: "6 refused with RunAlreadyActive, heartbeatMs 0 refused; both runs completed by their own client; none orphaned" })
  })

  it("feature names that are Object.prototype members, and 100 features, work like any other", async () => {
    const names = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]
    const attacks: Array<Attack> = [
      {
        name: "prototype-member names",
        run: async (ln) => {
          for (const name of names) await ln.Feature.create({ name, dtype: "int" })
          const run = await ln.Run.create({ transform: await ln.Transform.create({ key: "proto.ts", version: "1", kind: "script" }) })
          await run.features.add(Object.fromEntries(names.map((n, i) => [n, i + 1])))
          const got = await run.features.get()
          for (const [i, name] of names.entries()) expect(Object.hasOwn(got, name) && got[name]).toBe(i + 1)
          for (const [i, name] of names.entries()) expect(await ln.Run.filter(Q.where([name], "eq", i + 1)).count()).toBe(1)
          expect(await ln.Run.filter(Q.where("constructor", "gte", 1)).count()).toBe(1)
        }
      },
      {
        name: "100 features, each queried",
        run: async (ln) => {
          for (let i = 0; i < 100; i++) await ln.Feature.create({ name: `f${i}`, dtype: "int" })
          const run = await ln.Run.create({ transform: await ln.Transform.get({ key: "proto.ts" }) })
          await run.features.add(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`f${i}`, i])))
          for (const i of [0, 63, 64, 99]) expect(await ln.Run.filter(Q.where(`f${i}`, "eq", i)).count()).toBe(1)
        }
      }
    ]
    const { lost, seconds } = await assault(target, "names", attacks)
    record({ target: "hardening: prototype-member feature names, 100 features", store: target.name, processes: 1, operations: 2, faults: 0, inputs: names.length + 100, lost, seconds, note: "add, get, equality and range queries exact; MongoDB keeps one wildcard index whatever the count" })
    // 100 features are 100 indexes on PostgreSQL: seconds on a quiet machine, far more on a loaded one.
  }, 120_000)

  it("lone surrogates, dangling references, negative sizes and unknown URL options are refused", async () => {
    const attacks: Array<Attack> = [
      { name: "lone surrogate in a key", expected: ValidationError, run: (ln) => ln.Transform.create({ key: "bad\uD800", version: "1", kind: "script" }) },
      { name: "lone surrogate in a query", expected: InvalidQuery, run: (ln) => ln.Transform.filter({ key: "\uDC00x" }).count() },
      { name: "transform id that does not exist", expected: ValidationError, run: (ln) => ln.Run.create({ transformId: 999_999 }) },
      { name: "artifact size -1", expected: ValidationError, run: (ln) => ln.Artifact.create({ key: "x.txt", suffix: ".txt", size: -1, hash: "h" }) },
      { name: "heartbeatMs NaN", expected: ValidationError, run: (ln) => ln.track({ transform: { key: "beat.ts", version: "1" }, heartbeatMs: Number.NaN, handleProcess: false }) },
      { name: "call after close()", expected: StoreError, run: async () => {
        const other = await Lineage.connect("memory:")
        await other.close()
        return other.Run.filter({}).count()
      } }
    ]
    const { lost, seconds } = await assault(target, "inputs", attacks, async (ln, opened) => {
      expect(await ln.Transform.filter({ key__startsWith: "bad" }).count()).toBe(0)
      const misspelled = new URL(opened.url)
      misspelled.searchParams.set("prefx", "team")
      const error = await settle(Lineage.connect(misspelled.toString()))
      expect(error.ok).toBe(false)
      expect(error.value).toBeInstanceOf(StoreError)
      expect(String(error.value)).toContain("prefx")
    })
    record({ target: "hardening: lone surrogates, dangling ids, negative sizes, bad options, closed client", store: target.name, processes: 1, operations: attacks.length + 1, faults: 0, inputs: attacks.length + 1, lost, seconds, note: "typed errors; nothing written" })
  })
})
