/**
 * An index added to a table that holds documents is built in steps of `docsPerStep` documents, so no
 * script holds the server for the whole table: while it is built, writes keep it and queries do not use
 * it; concurrent writes leave it exact; a build that stopped halfway is taken up by the next declaration.
 */
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Ast, Evaluator } from "@lineage/core"
import type { Driver } from "@lineage/core"
import { docsPerStep, type RedisDriver } from "../src/index.js"
import { member } from "../src/Encoding.js"
import { countsArg, sections } from "../src/WriteScript.js"
import { backdoor, freshDriver, reopen, run, watchCommands } from "../../../test/support/redis.js"

const N = 2_000
const docAt = (i: number): Evaluator.Doc => ({ id: i + 1, uid: `u${i}`, fv: { score: i % 50 } })
const scoreIndex: Driver.TableSpec = { name: "t", unique: [], indexes: [{ path: ["fv", "score"], kind: "sorted" }] }

/** The number of guarded documents in every write script the client sends while `f` runs. */
const scriptGuards = async (client: RedisDriver["client"], f: () => Promise<unknown>): Promise<Array<number>> => {
  const guards: Array<number> = []
  await watchCommands(client, (command) => {
    // After the sha, the key count and the keys: ARGV.
    if (command.name !== "evalsha") return
    const numkeys = Number(command.args[1])
    const counts = String(command.args[2 + numkeys + countsArg - 1]).split(" ").map(Number)
    guards.push(counts[sections.findIndex((s) => s.name === "guards")]!)
  }, f)
  return guards
}

describe("building an index over stored documents", () => {
  let driver: RedisDriver
  beforeEach(async () => {
    driver = await freshDriver("build")
    await run(driver.declare([{ name: "t", unique: [{ name: "t_uid", fields: ["uid"] }], indexes: [] }]))
    await run(driver.insert("t", Array.from({ length: N }, (_, i) => docAt(i))))
  })
  afterEach(() => run(driver.close()))

  const scoreIs = (score: number): Ast.FindSpec => ({ where: Ast.field(["fv", "score"], "eq", score), orderBy: [] })

  it(`enters at most docsPerStep (${docsPerStep}) documents per script, then serves queries`, async () => {
    const guards = await scriptGuards(driver.client, () => run(driver.declare([scoreIndex])))
    // Publishing, one script per step over the stored documents, and publishing it ready.
    expect(guards.length).toBe(1 + Math.ceil(N / docsPerStep) + 1)
    expect(Math.max(...guards)).toBe(docsPerStep)
    expect(guards.reduce((a, b) => a + b, 0)).toBe(N)
    expect((await run(driver.explain("t", scoreIs(7)))).access).toMatchObject({ _tag: "Lookup", estimated: N / 50 })
    expect(await run(driver.find("t", scoreIs(7)))).toEqual(Evaluator.find(await backdoor(driver).all("t"), scoreIs(7)))
    expect((await run(driver.verifyIndexes())).drift).toEqual([])
  })

  it("stays exact under writes made while it is built, also between a step's read and its script", async () => {
    const other = await reopen(driver)
    // After each of the first steps reads its documents, another handle changes one of them and removes
    // another before the step's script runs: the step must read them again.
    const mget = driver.client.mget.bind(driver.client)
    let injected = 0
    driver.client.mget = (async (...args: Array<unknown>) => {
      const raws = await (mget as (...a: Array<unknown>) => Promise<Array<string | null>>)(...args)
      const keys = args[0]
      if (injected < 5 && Array.isArray(keys) && keys.length === docsPerStep) {
        injected++
        const [changed, removed] = keys.map((k) => driver.keys.idOfDocKey("t", k)!)
        await run(other.update("t", changed!, { fv: { score: 200 } }))
        await run(other.remove("t", [removed!]))
      }
      return raws
    }) as typeof driver.client.mget
    try {
      let next = N + 1
      let writing = true
      const writer = (async () => {
        let round = 0
        // Updates the last quarter, removes from the third: never a document the injected writes touch.
        while (writing) {
          await run(other.update("t", N - ((round * 37) % (N / 4)), { fv: { score: 100 + (round % 3) } }))
          await run(other.insert("t", [{ id: next, uid: `n${next}`, fv: { score: round % 50 } }]))
          next++
          if (round < N / 4) await run(other.remove("t", [N / 2 + 1 + round]))
          round++
        }
        return round
      })()
      await run(driver.declare([scoreIndex]))
      writing = false
      expect(await writer).toBeGreaterThan(0)
      expect(injected).toBe(5)

      expect((await run(driver.verifyIndexes())).drift).toEqual([])
      const stored = await backdoor(driver).all("t")
      for (const score of [0, 7, 100, 101, 102, 200]) expect(await run(driver.find("t", scoreIs(score)))).toEqual(Evaluator.find(stored, scoreIs(score)))
    } finally {
      driver.client.mget = mget as typeof driver.client.mget
      await run(other.close())
    }
  })

  it("a build stopped halfway is kept by writes, unused by queries, and finished by the next declaration", async () => {
    // What a declaration leaves when its process dies after publishing the index and entering some documents.
    const key = driver.keys.index("t", ["fv", "score"])
    await driver.client.hset(driver.keys.schemaIndexes, JSON.stringify(["t", ["fv", "score"]]), "building")
    await driver.client.incr(driver.keys.schemaVersion)
    for (let i = 0; i < 10; i++) await driver.client.zadd(key, 0, member(i % 50, i + 1))

    const other = await reopen(driver)
    try {
      expect((await run(other.explain("t", scoreIs(7)))).access).not.toMatchObject({ _tag: "Lookup" })
      expect(await run(other.find("t", scoreIs(7)))).toEqual(Evaluator.find(await backdoor(driver).all("t"), scoreIs(7)))
      await run(other.insert("t", [{ id: N + 1, uid: "late", fv: { score: 7 } }]))
      expect(await driver.client.zscore(key, member(7, N + 1))).toBe("0")

      await run(other.declare([scoreIndex]))
      expect((await run(driver.explain("t", scoreIs(7)))).access).toMatchObject({ _tag: "Lookup", estimated: N / 50 + 1 })
      expect((await run(driver.verifyIndexes())).drift).toEqual([])
      expect(await run(driver.count("t", Ast.field(["fv", "score"], "eq", 7)))).toBe(N / 50 + 1)
    } finally {
      await run(other.close())
    }
  })

  for (const [what, spec] of [
    ["a constraint and an index", { name: "fresh", unique: [{ name: "fresh_x", fields: ["x"] }], indexes: [{ path: ["x"], kind: "hash" }] }],
    ["an index", { name: "fresh", unique: [], indexes: [{ path: ["x"], kind: "hash" }] }]
  ] as const) {
    it(`a document inserted into an empty table while ${what} is declared on it is entered too`, async () => {
      await run(driver.declare([{ name: "fresh", unique: [], indexes: [] }]))
      const other = await reopen(driver)
      // Right after the declaration has looked at the table (found empty), another handle inserts into it.
      const zcard = driver.client.zcard.bind(driver.client)
      const zrange = driver.client.zrange.bind(driver.client)
      let inserted = false
      const insertOnce = async () => {
        if (inserted) return
        inserted = true
        await run(other.insert("fresh", [{ id: 1, uid: "a", x: 5 }]))
      }
      driver.client.zcard = (async (...args: Array<unknown>) => {
        const n = await (zcard as (...a: Array<unknown>) => Promise<number>)(...args)
        await insertOnce()
        return n
      }) as typeof driver.client.zcard
      driver.client.zrange = (async (...args: Array<unknown>) => {
        const members = await (zrange as (...a: Array<unknown>) => Promise<Array<string>>)(...args)
        await insertOnce()
        return members
      }) as typeof driver.client.zrange
      try {
        await run(driver.declare([spec]))
      } finally {
        driver.client.zcard = zcard as typeof driver.client.zcard
        driver.client.zrange = zrange as typeof driver.client.zrange
        await run(other.close())
      }
      expect(inserted).toBe(true)
      expect((await run(driver.verifyIndexes())).drift).toEqual([])
      expect(await run(driver.count("fresh", Ast.field(["x"], "eq", 5)))).toBe(1)
    })
  }

  it("an index added to an empty table is ready at once, in one script", async () => {
    await run(driver.declare([{ name: "empty", unique: [], indexes: [] }]))
    const guards = await scriptGuards(driver.client, () =>
      run(driver.declare([{ name: "empty", unique: [], indexes: [{ path: ["x"], kind: "hash" }] }]))
    )
    expect(guards).toEqual([0])
    await run(driver.insert("empty", Array.from({ length: 20 }, (_, i) => ({ id: i + 1, uid: `e${i}`, x: i }))))
    expect((await run(driver.explain("empty", { where: Ast.field(["x"], "eq", 3), orderBy: [] }))).access).toMatchObject({ _tag: "Lookup", estimated: 1 })
    expect(await Effect.runPromise(driver.count("empty", Ast.field(["x"], "eq", 3)))).toBe(1)
    expect((await run(driver.verifyIndexes())).drift).toEqual([])
  })
})
