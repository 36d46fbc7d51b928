/**
 * No value is ever executed as a Redis command or a MongoDB operator, and awkward keys round-trip: records
 * whose keys, descriptions, params and feature values hold ':', '{', '*', newlines, unicode, RESP frames, Lua,
 * and `{ "$gt": "" }`-style objects are stored and read back identical (by id and by an equality query that
 * finds exactly that record). On Redis, the commands spelled inside those values never ran (no `pwned` key).
 * 300 cases per store (LINEAGE_ROUNDTRIP_RUNS to change).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type Ast, Lineage, Q } from "@lineage/core"
import { adminClient } from "../support/redis.js"
import { record, since } from "./support/figures.js"
import { allTargets } from "./support/stores.js"

const runs = Number(process.env["LINEAGE_ROUNDTRIP_RUNS"] ?? 300)
const targets = await allTargets()

const hostile = fc.oneof(
  fc.constantFrom(
    "a:b:c", "{lineage}:run:1", "*", "k*ey?[x]", "line\nbreak", "crlf\r\nPING", "*3\r\n$3\r\nSET\r\n$5\r\npwned\r\n$1\r\n1\r\n",
    "'); redis.call('SET','pwned','1') --", "redis.call('FLUSHALL')", "$gt", "$where", "😀 ünï 日本", "\u0000nul", "__proto__"
  ),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 16 }),
  fc.string({ minLength: 1, maxLength: 16 }).filter((s) => { try { encodeURIComponent(s); return true } catch { return false } })
)
const operatorish = fc.oneof(
  fc.constantFrom<{ readonly [k: string]: Ast.Json }>({ $gt: "" }, { $ne: null }, { $where: "1" }, { $set: { pwned: 1 } }, { "a.b": 1, "$expr": {} }),
  // An own "__proto__" key is dropped from dict values (known bug, see fuzz.test.ts regressions): excluded here.
  fc.dictionary(hostile.filter((k) => k !== "__proto__"), fc.oneof(hostile, fc.integer()), { maxKeys: 3 })
)

describe.each(targets)("$name: hostile values round-trip and are never executed", (target) => {
  it(`${runs} records with hostile keys, params and feature values`, async () => {
    const opened = await target.open("inject")
    const ln = await Lineage.connect(opened.url)
    const admin = target.name === "redis" ? await adminClient() : undefined
    const start = performance.now()
    try {
      await ln.Feature.create({ name: "hostile_dict", dtype: "dict" })
      await ln.Feature.create({ name: "hostile_str", dtype: "str" })
      let i = 0
      await fc.assert(
        fc.asyncProperty(hostile, hostile, operatorish, async (key, text, object) => {
          const unique = `${key}#${i++}`
          const transform = await ln.Transform.create({ key: unique, version: text, description: text })
          expect((await ln.Transform.get(transform.id)).key).toBe(unique)
          const found = await ln.Transform.filter({ key: unique }).all()
          expect(found.map((t) => t.uid)).toEqual([transform.uid])
          expect(found[0]!.description).toBe(text)
          const run = await ln.Run.create({ transform, name: text, params: { [key]: text, nested: object } })
          await run.features.add({ hostile_dict: object, hostile_str: text })
          const back = await ln.Run.get(run.id)
          expect(back.name).toBe(text)
          expect(back.params).toEqual({ [key]: text, nested: object })
          expect(await back.features.get()).toEqual({ hostile_dict: object, hostile_str: text })
          expect((await ln.Run.filter(Q.where("hostile_str", "eq", text), { transform }).all()).map((r) => r.uid)).toEqual([run.uid])
        }),
        { numRuns: runs, seed: 7 }
      )
      if (admin !== undefined) expect(await admin.client.exists("pwned")).toBe(0)
      if (opened.drift !== undefined) expect(await opened.drift()).toEqual([])
      record({ target: "injection: hostile values round-trip", store: target.name, processes: 1, operations: runs * 8, faults: 0, inputs: runs, lost: 0, seconds: since(start) })
    } finally {
      await admin?.close()
      await ln.close()
      await opened.dispose()
    }
  }, 120_000)
})
