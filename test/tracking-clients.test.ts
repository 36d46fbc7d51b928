/**
 * Tracking state belongs to its client: two `Lineage.connect` clients in one process each have their own
 * current run, on separate stores (memory) and on one shared store (Redis, as two services of one app
 * would share it). `track()` while a run is active, inside a step, or twice at once is refused with
 * `RunAlreadyActive`, and no run is ever left `started`.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { Lineage } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import { Effect } from "effect"
import { freshPrefix, redisServer } from "./support/redis.js"

const open: Array<Lineage.Client> = []
const cleanups: Array<() => Promise<void>> = []
const connect = async (url: string) => {
  const ln = await Lineage.connect(url)
  open.push(ln)
  return ln
}
afterEach(async () => {
  for (const ln of open.splice(0)) {
    if (ln.context.isTracked) await ln.finish()
    await ln.close()
  }
})
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup()
})

const redisUrl = async () => {
  const server = await redisServer()
  const url = `${server.url}?prefix=${encodeURIComponent(freshPrefix("tracking-clients"))}`
  cleanups.push(async () => {
    const driver = await Effect.runPromise(RedisStore.fromUrl(url))
    await Effect.runPromise(Effect.andThen(driver.drop(), driver.close()))
  })
  return url
}

const stores: ReadonlyArray<{ readonly name: string; readonly urls: () => Promise<readonly [string, string]> }> = [
  { name: "two memory stores", urls: async () => ["memory:", "memory:"] },
  {
    name: "one shared Redis store",
    urls: async () => {
      const url = await redisUrl()
      return [url, url]
    }
  }
]

const unfinished = async (ln: Lineage.Client) => ln.Run.filter({ status: { in: ["started", "restarted"] } }).count()

describe.each(stores)("two clients in one process, $name", ({ urls }) => {
  it("A.track(); B.track(); A.finish() ends A's run only; B's stays current until B.finish()", async () => {
    const [urlA, urlB] = await urls()
    const a = await connect(urlA)
    const b = await connect(urlB)
    const runA = await a.track({ transform: { key: "a.ts", kind: "script" }, handleProcess: false })
    const runB = await b.track({ transform: { key: "b.ts", kind: "script" }, handleProcess: false })
    expect(runB.initiatedByRunId).toBeNull()
    expect(a.context.run?.uid).toBe(runA.uid)
    expect(b.context.run?.uid).toBe(runB.uid)
    expect((await a.finish()).uid).toBe(runA.uid)
    expect((await a.Run.get(runA.uid)).status).toBe("completed")
    expect((await b.Run.get(runB.uid)).status).toBe("started")
    expect(a.context.isTracked).toBe(false)
    expect(b.context.run?.uid).toBe(runB.uid)
    expect(b.context.transform?.key).toBe("b.ts")
    expect((await b.finish()).status).toBe("completed")
    expect(await unfinished(a)).toBe(0)
    expect(await unfinished(b)).toBe(0)
  })

  it("a second track() on a client is refused with RunAlreadyActive naming the active run", async () => {
    const [url] = await urls()
    const ln = await connect(url)
    const first = await ln.track({ transform: { key: "first.ts", kind: "script" }, handleProcess: false })
    const error = await ln.track({ transform: { key: "second.ts", kind: "script" }, handleProcess: false }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as { _tag: string })._tag).toBe("RunAlreadyActive")
    expect((error as Error).message).toContain(first.uid)
    expect(ln.context.run?.uid).toBe(first.uid)
    await ln.finish()
    expect(await unfinished(ln)).toBe(0)
  })

  it("track() inside a step is refused; the step's run is errored and nothing is left started", async () => {
    const [url] = await urls()
    const ln = await connect(url)
    const global = await ln.track({ transform: { key: "pipeline.ts", kind: "script" }, handleProcess: false })
    const nested = ln.step(async () => ln.track({ transform: { key: "inner.ts", kind: "script" }, handleProcess: false }), { key: "nested" })
    const error = await nested().catch((e: unknown) => e)
    expect((error as { _tag: string })._tag).toBe("RunAlreadyActive")
    const stepRun = await ln.Run.filter({ transform__key: "pipeline.ts/nested" }).one()
    expect((error as Error).message).toContain(stepRun.uid)
    expect(stepRun.status).toBe("errored")
    expect(ln.context.run?.uid).toBe(global.uid)
    await ln.finish()
    expect(await ln.Run.filter({ transform__key: "inner.ts" }).count()).toBe(0)
    expect(await unfinished(ln)).toBe(0)
  })

  it("two track() calls at once: one run, one RunAlreadyActive, nothing orphaned", async () => {
    const [url] = await urls()
    const ln = await connect(url)
    const settled = await Promise.allSettled(
      ["left.ts", "right.ts"].map((key) => ln.track({ transform: { key, kind: "script" }, handleProcess: false }))
    )
    const won = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []))
    const lost = settled.flatMap((s) => (s.status === "rejected" ? [s.reason as { _tag: string }] : []))
    expect(won).toHaveLength(1)
    expect(lost.map((l) => l._tag)).toEqual(["RunAlreadyActive"])
    expect(ln.context.run?.uid).toBe(won[0]!.uid)
    expect(await ln.Run.filter({ transform__key__in: ["left.ts", "right.ts"] }).count()).toBe(1)
    await ln.finish()
    expect(await unfinished(ln)).toBe(0)
  })
})

describe.each(stores)("racing track() calls, $name", ({ urls }) => {
  const rounds = 10
  const callsPerClient = 4

  it(`${rounds} rounds of ${callsPerClient} concurrent track() calls on each of two clients: one winner per client, none orphaned`, async () => {
    const [urlA, urlB] = await urls()
    const clients = [await connect(urlA), await connect(urlB)]
    for (let round = 0; round < rounds; round++) {
      const calls = clients.map((ln, c) =>
        Promise.allSettled(
          Array.from({ length: callsPerClient }, (_, i) =>
            ln.track({ transform: { key: `race-${c}-${i}.ts`, kind: "script" }, handleProcess: false })
          )
        )
      )
      for (const [c, settled] of (await Promise.all(calls)).entries()) {
        const won = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []))
        const lost = settled.flatMap((s) => (s.status === "rejected" ? [(s.reason as { _tag: string })._tag] : []))
        expect(won).toHaveLength(1)
        expect(lost).toEqual(Array.from({ length: callsPerClient - 1 }, () => "RunAlreadyActive"))
        expect(clients[c]!.context.run?.uid).toBe(won[0]!.uid)
      }
      await Promise.all(clients.map((ln) => ln.finish()))
    }
    for (const ln of clients) expect(await unfinished(ln)).toBe(0)
    for (const [c, ln] of clients.entries()) expect(await ln.Run.filter({ transform__key__startswith: `race-${c}-` }).count()).toBe(rounds)
  })
})

describe("closing a client", () => {
  it("close() with a tracked run ends it aborted instead of leaving it started", async () => {
    const url = await redisUrl()
    const a = await connect(url)
    const b = await connect(url)
    const run = await a.track({ transform: { key: "closed.ts", kind: "script" }, handleProcess: false })
    open.splice(open.indexOf(a), 1)
    await a.close()
    const after = await b.Run.get(run.uid)
    expect(after.status).toBe("aborted")
    expect(after.finishedAt).toBeInstanceOf(Date)
    expect(b.context.isTracked).toBe(false)
  })
})
