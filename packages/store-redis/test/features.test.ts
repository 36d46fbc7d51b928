/**
 * Many features on Redis: each `Feature.create` declares its own feature's indexes, and the driver writes
 * only what is new to the schema, so the thousandth feature costs what the first did. Checked by what goes
 * over the wire (no timing), and end to end by creating and querying a thousand features.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Feature, Features, Q, Run, Store, Transform } from "@lineage/core"
import type { RedisDriver } from "../src/index.js"
import { freshDriver, run, watchCommands } from "../../../test/support/redis.js"

const N = 1_000

/** Bytes of the arguments of every command the client sends while `f` runs. */
const bytesSent = async (client: RedisDriver["client"], f: () => Promise<unknown>): Promise<number> => {
  let bytes = 0
  await watchCommands(client, (command) => {
    for (const a of command.args) bytes += Buffer.byteLength(typeof a === "number" ? String(a) : a)
  }, f)
  return bytes
}

describe(`${N} features on Redis`, () => {
  let driver: RedisDriver
  let store: Store.StoreShape
  const exec = <A, E>(effect: Effect.Effect<A, E, Store.Store>): Promise<A> =>
    Effect.runPromise(Effect.provideService(effect, Store.Store, store))
  const sent: Array<number> = []

  beforeAll(async () => {
    driver = await freshDriver("features")
    store = await run(Store.make(driver))
    for (let i = 0; i < N; i++) sent.push(await bytesSent(driver.client, () => exec(Feature.create({ name: `f${i}`, dtype: "int" }))))
  })
  afterAll(() => run(driver.close()))

  it("the thousandth feature sends what the tenth did: the schema is written per index, not per table", () => {
    const early = sent.slice(10, 20).reduce((a, b) => a + b, 0) / 10
    const late = sent.slice(N - 10).reduce((a, b) => a + b, 0) / 10
    // Names grow from 2 to 4 characters; a whole table's index list would be tens of kilobytes by now.
    expect(late).toBeLessThan(early * 1.2)
  })

  it("every feature is indexed and answers queries", async () => {
    const transform = await exec(Transform.create({ key: "features.ts" }))
    const runs = await exec(Effect.forEach([0, 1, 2], () => Run.create({ transformId: transform.id })))
    await exec(Features.add(runs[0]!, { f0: 1, [`f${N - 1}`]: 5 }))
    await exec(Features.add(runs[1]!, { [`f${N - 1}`]: 6, f500: 1 }))
    expect((await exec(Run.filter(Q.where(`f${N - 1}`, "gte", 5)).orderBy("id").all())).map((r) => r.id)).toEqual([runs[0]!.id, runs[1]!.id])
    expect((await exec(Run.filter(Q.where("f500", "eq", 1)).all())).map((r) => r.id)).toEqual([runs[1]!.id])
    expect(await exec(Run.filter(Q.where("f0", "isNull", true)).count())).toBe(2)
    const plan = await run(driver.explain("run", { where: { _tag: "Field", path: ["featureValues", `f${N - 1}`], op: "eq", value: 6 }, orderBy: [] }))
    expect(plan.access).toMatchObject({ _tag: "Lookup", path: ["featureValues", `f${N - 1}`], estimated: 1 })
  })
})
