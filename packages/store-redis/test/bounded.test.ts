/**
 * No query holds the Redis server for long: a long `in` list is measured and read in steps of at most
 * `rangesPerStep` ranges, each a script or pipeline of bounded work, so other clients are served between
 * them. Checked on a private redis-server whose SLOWLOG records every command's duration, with a second
 * process PINGing it throughout; and structurally, by the size of every script the driver sends.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Ast, Evaluator, InvalidQuery, Run, Store, Transform } from "@lineage/core"
import * as Limits from "../../core/src/Limits.js"
import * as RedisStore from "../src/index.js"
import { freePort, freshDriver, run, watchCommands } from "../../../test/support/redis.js"

/**
 * A redis-server of this file's own, logging every command that takes 1 ms or more (commands a script
 * calls are logged too, so a lower threshold would log each of them).
 */
const privateServer = async (): Promise<{ readonly url: string; readonly stop: () => void }> => {
  const port = await freePort()
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--slowlog-log-slower-than", "1000", "--slowlog-max-len", "100000"],
    { stdio: "ignore" }
  )
  const stop = () => void (child.exitCode === null && child.kill("SIGTERM"))
  process.once("exit", stop)
  const url = `redis://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    try {
      const probe = await run(RedisStore.make({ url, prefix: "probe", connectTimeoutMs: 200, retry: { times: 0, baseDelayMs: 1 } }))
      await run(probe.close())
      return { url, stop }
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  stop()
  throw new Error(`the private redis-server on port ${port} did not answer within 5 s`)
}

/** PINGs the server from another process, one at a time, from its first answer on; `stop` gives the slowest, ms. */
const pinger = async (url: string): Promise<{ readonly stop: () => Promise<{ readonly pings: number; readonly maxMs: number }> }> => {
  const port = new URL(url).port
  const source = `
    const s = require("node:net").connect(${port}, "127.0.0.1")
    let t = 0, max = 0, n = 0
    const send = () => { t = performance.now(); s.write("PING\\r\\n") }
    s.on("connect", send)
    s.on("data", () => { if (n++ === 0) process.stdout.write("ready;"); max = Math.max(max, performance.now() - t); setTimeout(send, 1) })
    process.on("SIGTERM", () => { process.stdout.write(JSON.stringify({ pings: n, maxMs: max })); process.exit(0) })`
  const child: ChildProcess = spawn(process.execPath, ["-e", source], { stdio: ["ignore", "pipe", "inherit"] })
  let out = ""
  await new Promise<void>((resolve, reject) => {
    child.once("exit", () => reject(new Error("the pinger exited before its first answer")))
    child.stdout!.on("data", (d) => {
      out += String(d)
      if (out.startsWith("ready;")) resolve()
    })
  })
  return {
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r))
      child.kill("SIGTERM")
      await exited
      return JSON.parse(out.slice("ready;".length)) as { pings: number; maxMs: number }
    }
  }
}

/** The arguments of every command named `name` the client sends while `f` runs. */
const sent = async (client: RedisStore.RedisDriver["client"], name: string, f: () => Promise<unknown>): Promise<Array<ReadonlyArray<unknown>>> => {
  const commands: Array<ReadonlyArray<unknown>> = []
  await watchCommands(client, (command) => {
    if (command.name === name) commands.push(command.args)
  }, f)
  return commands
}

/** The longest script the server ran since the log was last reset, µs. */
const longestScript = async (client: RedisStore.RedisDriver["client"]): Promise<number> => {
  const entries = (await client.call("SLOWLOG", "GET", "-1")) as Array<[number, number, number, Array<string>]>
  return Math.max(0, ...entries.filter((e) => /^eval/i.test(e[3][0] ?? "")).map((e) => e[2]))
}

const N = 2_000
const docs: Array<Evaluator.Doc> = Array.from({ length: N }, (_, i) => ({ id: i + 1, uid: `u${i}`, v: i, pair: i % 2, label: `l${i % 7}` }))

describe("bounded work per script on Redis", () => {
  let server: { readonly url: string; readonly stop: () => void }
  let driver: RedisStore.RedisDriver

  beforeAll(async () => {
    server = await privateServer()
    driver = await run(RedisStore.make({ url: server.url, prefix: "bounded" }))
    await run(
      driver.declare([{ name: "t", unique: [], indexes: [{ path: ["v"], kind: "hash" }, { path: ["pair"], kind: "hash" }] }])
    )
    await run(driver.insert("t", docs))
  })
  afterAll(async () => {
    await run(driver.close())
    server.stop()
  })

  it("an in list of 300,000 values runs as scripts of at most rangesPerStep ranges, and other clients are answered meanwhile", async () => {
    const values = Array.from({ length: 300_000 }, (_, i) => i * 3)
    const where = Ast.field(["v"], "in", values)
    const spec: Ast.FindSpec = { where, orderBy: [] }
    // Loads the scripts first, so no NOSCRIPT retry is counted below.
    await run(driver.count("t", Ast.field(["v"], "in", [1, 2])))
    await driver.client.call("SLOWLOG", "RESET")
    const ping = await pinger(server.url)
    let found: ReadonlyArray<Evaluator.Doc> = []
    let counted = 0
    const scripts = await sent(driver.client, "evalsha", async () => {
      found = await run(driver.find("t", spec))
      counted = await run(driver.count("t", where))
    })
    const pings = await ping.stop()
    const longestMs = (await longestScript(driver.client)) / 1000

    expect(found).toEqual(Evaluator.find(docs, spec))
    expect(counted).toBe(Math.ceil(N / 3))
    // The budget is a few ms per script; the bound leaves room for a machine whose cores the test workers
    // share with the server (385 ms was seen there). One script for the whole list takes seconds; the
    // script count and sizes below are what prove the bound.
    expect(longestMs).toBeLessThan(1_000)
    expect(pings.pings).toBeGreaterThan(0)
    expect(pings.maxMs).toBeLessThan(1_000)
    // One script per step of the find and of the count, none with more than one step's ranges.
    const steps = Math.ceil(values.length / RedisStore.rangesPerStep)
    expect(scripts.length).toBe(2 * steps)
    // The sha and the key count, then two keys, two limits, one key and three arguments per range.
    for (const args of scripts) expect(args.length).toBeLessThanOrEqual(2 + 2 + 2 + 1 + 3 * RedisStore.rangesPerStep)
  }, 60_000)

  it("ranges with more members than membersPerRead are read that many at a time, and each document is found once", async () => {
    const many = RedisStore.membersPerRead + 500
    const rows = Array.from({ length: 2 * many }, (_, i): Evaluator.Doc => ({ id: i + 1, uid: `w${i}`, pair: i % 2, label: `l${i % 7}` }))
    await run(driver.declare([{ name: "wide", unique: [], indexes: [{ path: ["pair"], kind: "hash" }] }]))
    await run(driver.insert("wide", rows))
    // Ordered by a field without an index, so the candidates come from the `pair` lookup.
    const spec: Ast.FindSpec = { where: Ast.field(["pair"], "in", [0, 1, 7]), orderBy: [{ path: ["label"], direction: "desc" }] }
    expect(await run(driver.explain("wide", spec))).toMatchObject({ access: { _tag: "Lookup", path: ["pair"], estimated: 2 * many } })
    let found: ReadonlyArray<Evaluator.Doc> = []
    const reads = await sent(driver.client, "zrangebylex", async () => (found = await run(driver.find("wide", spec))))
    expect(found).toEqual(Evaluator.find(rows, spec))
    // Three ranges, two of them longer than one read: each read is bounded by LIMIT, and the long ones go on.
    expect(reads.length).toBe(3 + 2)
    for (const args of reads) expect(args.slice(3).map(String)).toEqual(["LIMIT", "0", String(RedisStore.membersPerRead)])
  })
})

describe("in lists through the query language", () => {
  let driver: RedisStore.RedisDriver
  let store: Store.StoreShape
  const exec = <A, E>(effect: Effect.Effect<A, E, Store.Store>): Promise<A> =>
    Effect.runPromise(Effect.provideService(effect, Store.Store, store))

  beforeAll(async () => {
    driver = await freshDriver("in-lists")
    store = await run(Store.make(driver))
  })
  afterAll(() => run(driver.close()))

  it(`a list of maxListValues (${Limits.maxListValues}) values is answered; one more is an InvalidQuery naming the field, the length and the limit`, async () => {
    const transform = await exec(Transform.create({ key: "lists.ts" }))
    const runs = await exec(Effect.forEach([0, 1, 2], () => Run.create({ transformId: transform.id })))
    const ids = Array.from({ length: Limits.maxListValues }, (_, i) => runs[0]!.id + 2 * i)
    const got = await exec(Run.filter({ id__in: ids }).orderBy("id").all())
    expect(got.map((r) => r.id)).toEqual([runs[0]!.id, runs[2]!.id])
    expect(await exec(Run.filter({ id__not_in: ids }).count())).toBe(1)

    const tooLong = [...ids, 0]
    const refused = await Effect.runPromise(Effect.provideService(Effect.flip(Run.filter({ id__in: tooLong }).all()), Store.Store, store))
    expect(refused).toBeInstanceOf(InvalidQuery)
    const error = refused as InvalidQuery
    expect(error.field).toBe("id")
    expect(error.operator).toBe("in")
    expect(error.expected).toContain(`at most ${Limits.maxListValues} values`)
    expect(error.expected).toContain(`got ${Limits.maxListValues + 1}`)
  }, 60_000)
})
