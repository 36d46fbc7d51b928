/**
 * The metrics buffer on its own clock (`MetricBuffer.Clock`), writing through the real writer into a memory store:
 * when it flushes (by size, by interval), what it keeps while the store fails, what it drops when full, how it
 * closes, and what `log` refuses. No timing is asserted: the clock is moved by hand.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import type { Driver } from "../src/Driver.js"
import { StoreError, ValidationError } from "../src/Errors.js"
import * as MetricBuffer from "../src/MetricBuffer.js"
import * as MetricStorage from "../src/MetricStorage.js"
import { MetricPointsModel, type Run as RunRecord } from "../src/Records.js"
import { Run, Transform } from "../src/Registry.js"
import { make as makeStore, Store, type StoreShape } from "../src/Store.js"

/** A clock moved by `advance`, firing what falls due in order. */
const manualClock = () => {
  let now = 0
  let timers: Array<{ readonly at: number; readonly f: () => void }> = []
  const clock: MetricBuffer.Clock = {
    now: () => now,
    after: (ms, f) => {
      const timer = { at: now + ms, f }
      timers.push(timer)
      return () => void (timers = timers.filter((t) => t !== timer))
    }
  }
  const advance = async (ms: number) => {
    const until = now + ms
    for (;;) {
      const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0]
      if (due === undefined) break
      timers = timers.filter((t) => t !== due)
      now = due.at
      due.f()
      await settled()
    }
    now = until
    await settled()
  }
  return { clock, advance, pending: () => timers.length }
}

/** Lets every write in progress on the memory store finish (its effects complete within a few turns of the loop). */
const settled = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

const table = MetricPointsModel.table

/** A memory driver whose writes of metric points fail while `failing()` says so. */
const faulty = (driver: Driver, failing: () => boolean): Driver => {
  const refuse = <A>(touches: boolean, write: Effect.Effect<A, StoreError>) =>
    touches && failing() ? Effect.fail(StoreError.unavailable("the store is down")) : write
  return {
    ...driver,
    insert: (t, docs) => refuse(t === table, driver.insert(t, docs)),
    batch: driver.batch === undefined ? undefined : (ops) => refuse(ops.some((op) => op.table === table), driver.batch!(ops))
  }
}

interface Setup {
  readonly store: StoreShape
  readonly run: RunRecord
  readonly buffer: MetricBuffer.Buffer
  readonly clock: ReturnType<typeof manualClock>
  readonly warnings: Array<string>
  /** Attempts to write, with the points each held. */
  readonly writes: Array<number>
  /** Stored points of `run` (default the setup's), by key, in step order. */
  readonly stored: (key: string, run?: RunRecord) => Promise<ReadonlyArray<number>>
  readonly newRun: () => Promise<RunRecord>
}

const setup = async (config: MetricBuffer.Options = {}, failing: () => boolean = () => false, wrap: (driver: Driver) => Driver = (d) => d): Promise<Setup> => {
  const store = await Effect.runPromise(makeStore(wrap(faulty(MemoryStore.makeDriver(), failing))))
  const exec = <A, E>(effect: Effect.Effect<A, E, Store>) => Effect.runPromise(Effect.provideService(effect, Store, store))
  const transform = await exec(Transform.create({ key: "train.ts", kind: "script" }))
  const run = await exec(Run.create({ transform }))
  const clock = manualClock()
  const warnings: Array<string> = []
  const writes: Array<number> = []
  const write = MetricStorage.writer(store)
  const checked = MetricBuffer.config(config)
  if (checked instanceof ValidationError) throw checked
  const buffer = MetricBuffer.make({
    write: (parts, report) => {
      const attempt = write(parts, report)
      return () => {
        writes.push(parts.reduce((n, p) => n + p.steps.length, 0))
        return attempt()
      }
    },
    warn: (m) => warnings.push(m),
    config: checked,
    clock: clock.clock
  })
  const stored = async (key: string, of: RunRecord = run) => {
    const byRun = await Effect.runPromise(MetricStorage.read(store, [of.id], [key]))
    return byRun.get(of.id)?.get(key)?.values ?? []
  }
  return { store, run, buffer, clock, warnings, writes, stored, newRun: () => exec(Run.create({ transform })) }
}

const logMany = (s: Setup, key: string, values: ReadonlyArray<number>) => {
  for (const value of values) expect(s.buffer.log(s.run.id, { [key]: value })).toBeUndefined()
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i)

/** A buffer whose writes (`Part`s, as `key:points`) each wait for `release()`; steps stay in hand. */
const gated = (config: MetricBuffer.Options = {}) => {
  const written: Array<Array<string>> = []
  const warnings: Array<string> = []
  const gates: Array<() => void> = []
  const maxBufferedPoints = config.maxBufferedPoints ?? 10_000_000
  const checked = MetricBuffer.config({ batchSize: maxBufferedPoints, flushIntervalMs: 3_600_000, maxBufferedPoints })
  if (checked instanceof ValidationError) throw checked
  const buffer = MetricBuffer.make({
    write: (parts) => async () => {
      await new Promise<void>((resolve) => gates.push(resolve))
      written.push(parts.map((p) => `${p.runId}/${p.key}:${p.steps.length}`))
    },
    warn: (m) => warnings.push(m),
    config: checked,
    clock: manualClock().clock
  })
  /** Lets the write waiting go on, and what follows it run. */
  const release = async () => {
    await settled()
    gates.shift()?.()
    await settled()
  }
  return { buffer, written, warnings, release }
}

describe("when the buffer flushes", () => {
  it("by size: once batchSize points are pending, not before", async () => {
    const s = await setup({ batchSize: 10, flushIntervalMs: 60_000 })
    logMany(s, "loss", range(9))
    await settled()
    expect(s.writes).toEqual([])
    logMany(s, "loss", [9])
    await settled()
    expect(s.writes).toEqual([10])
    expect(await s.stored("loss")).toEqual(range(10))
  })

  it("by interval: flushIntervalMs after the oldest pending point, not before", async () => {
    const s = await setup({ batchSize: 1_000, flushIntervalMs: 1_000 })
    logMany(s, "loss", [1, 2])
    await s.clock.advance(400)
    logMany(s, "loss", [3])
    await s.clock.advance(599)
    expect(s.writes).toEqual([])
    await s.clock.advance(1)
    expect(s.writes).toEqual([3])
    expect(await s.stored("loss")).toEqual([1, 2, 3])
    // Nothing pending: no timer is left running.
    expect(s.clock.pending()).toBe(0)
    logMany(s, "loss", [4])
    await s.clock.advance(1_000)
    expect(s.writes).toEqual([3, 1])
  })

  it("one flush at a time, in order; a flush writes at most maxFlushPoints and the next follows at once", async () => {
    const s = await setup({ batchSize: 100_000, maxBufferedPoints: 100_000 })
    logMany(s, "loss", range(MetricBuffer.maxFlushPoints + 5))
    expect(await s.buffer.flush(1_000)).toBe(true)
    expect(s.writes).toEqual([MetricBuffer.maxFlushPoints, 5])
    expect(await s.stored("loss")).toEqual(range(MetricBuffer.maxFlushPoints + 5))
  })
})

describe("order and fairness", () => {
  it("flush waits for the points logged before it, not for as many points logged after it", async () => {
    const g = gated()
    for (const i of range(MetricBuffer.maxFlushPoints + 10)) g.buffer.log(1, { a: i })
    for (const i of range(10)) g.buffer.log(1, { b: i })
    let done: boolean | undefined
    void g.buffer.flush(60_000).then((d) => (done = d))
    for (const i of range(MetricBuffer.maxFlushPoints)) g.buffer.log(1, { a: i })
    while (done === undefined && g.written.length < 10) await g.release()
    expect(done).toBe(true)
    expect(g.written.flat().some((w) => w.startsWith("1/b:"))).toBe(true)
  })

  it("a series taken in part goes to the back: a busy series never starves a quiet one or another run", async () => {
    const g = gated()
    for (const i of range(MetricBuffer.maxFlushPoints + 5)) g.buffer.log(1, { loss: i })
    g.buffer.log(1, { val_acc: 0.5 })
    g.buffer.log(2, { loss: 1 })
    void g.buffer.flush(60_000)
    // The loop keeps logging its busy key faster than the store takes it.
    for (let write = 0; write < 2; write++) {
      for (const i of range(MetricBuffer.maxFlushPoints)) g.buffer.log(1, { loss: i })
      await g.release()
    }
    expect(g.written[0]).toEqual([`1/loss:${MetricBuffer.maxFlushPoints}`])
    expect(g.written[1]!.slice(0, 2)).toEqual(["1/val_acc:1", "2/loss:1"])
  })
})

describe("a store that refuses points for good", () => {
  /** A driver whose run `poisoned()` names does not decode when read. */
  const poisoning = (poisoned: () => number | undefined) => (driver: Driver): Driver => ({
    ...driver,
    get: (t, ids) => Effect.map(driver.get(t, ids), (docs) => docs.map((d) => (t === "run" && d["id"] === poisoned() ? { ...d, status: 42 } : d)))
  })

  it("drops and counts that run's points, with a warning naming why, and writes the other runs' points", async () => {
    let poisoned: number | undefined
    const s = await setup({ batchSize: 1_000, flushIntervalMs: 60_000 }, () => false, poisoning(() => poisoned))
    const other = await s.newRun()
    poisoned = s.run.id
    logMany(s, "loss", [1, 2])
    expect(s.buffer.log(other.id, { loss: 7 })).toBeUndefined()
    expect(await s.buffer.flush(1_000)).toBe(true)
    expect(await s.stored("loss", other)).toEqual([7])
    expect(await s.stored("loss")).toEqual([])
    expect(s.buffer.dropped()).toBe(2)
    expect(s.warnings.filter((w) => w.includes(`run ${s.run.id} dropped`) && w.includes("does not decode"))).toHaveLength(1)
    // Nothing is held up: later points of the other run are written.
    expect(s.buffer.log(other.id, { loss: 8 })).toBeUndefined()
    expect(await s.buffer.flush(1_000)).toBe(true)
    expect(await s.stored("loss", other)).toEqual([7, 8])
    expect(s.buffer.failure()).toBeUndefined()
  })
})

describe("a failing store", () => {
  it("keeps the points, retries with doubling waits, writes each once it recovers; one warning; log never throws nor waits", async () => {
    let failures = 3
    const s = await setup({ batchSize: 2, flushIntervalMs: 60_000 }, () => failures-- > 0)
    logMany(s, "loss", [1, 2])
    await settled()
    expect(s.writes).toEqual([2])
    // Retried after 100 ms, then 200 ms, then 400 ms (backoffMs doubling): not sooner.
    await s.clock.advance(99)
    expect(s.writes).toEqual([2])
    await s.clock.advance(1)
    expect(s.writes).toEqual([2, 2])
    logMany(s, "loss", [3])
    await s.clock.advance(200)
    await s.clock.advance(399)
    expect(await s.stored("loss")).toEqual([])
    expect(s.buffer.unsettled()).toBe(3)
    // The retry writes the flush's points; the point logged meanwhile follows at once.
    await s.clock.advance(1)
    expect(await s.stored("loss")).toEqual([1, 2, 3])
    expect(s.writes).toEqual([2, 2, 2, 2, 1])
    expect(await s.buffer.flush(1_000)).toBe(true)
    expect(s.warnings).toHaveLength(1)
    expect(s.warnings[0]).toContain("the store is down")
    expect(s.buffer.dropped()).toBe(0)
  })

  it("flush gives up after its timeout with the points still buffered, and they are written later", async () => {
    let down = true
    const s = await setup({ batchSize: 1 }, () => down)
    logMany(s, "loss", [1])
    const flushed = s.buffer.flush(50)
    await s.clock.advance(50)
    expect(await flushed).toBe(false)
    expect(s.buffer.unsettled()).toBe(1)
    expect(s.buffer.failure()).toContain("the store is down")
    down = false
    await s.clock.advance(MetricBuffer.maxBackoffMs)
    expect(await s.stored("loss")).toEqual([1])
    expect(s.buffer.failure()).toBeUndefined()
  })
})

describe("a full buffer", () => {
  it("warns once while the store keeps the buffer near its limit; an episode ends once it has drained to half", async () => {
    const g = gated({ maxBufferedPoints: 50_000 })
    for (const i of range(50_000)) g.buffer.log(1, { loss: i })
    void g.buffer.flush(60_000)
    await settled()
    g.buffer.log(1, { loss: 0 })
    expect(g.warnings).toHaveLength(1)
    // One write of maxFlushPoints: still more than half full, the loop fills it again.
    await g.release()
    for (const i of range(MetricBuffer.maxFlushPoints + 1)) g.buffer.log(1, { loss: i })
    expect(g.buffer.dropped()).toBe(2)
    expect(g.warnings).toHaveLength(1)
    while (g.buffer.unsettled() > 0) await g.release()
    for (const i of range(50_001)) g.buffer.log(1, { loss: i })
    expect(g.warnings).toHaveLength(2)
  })

  it("drops the points of calls past maxBufferedPoints, counts them, warns once per episode; their steps still count", async () => {
    const s = await setup({ batchSize: 4, maxBufferedPoints: 4, flushIntervalMs: 60_000 }, () => true)
    logMany(s, "loss", [0, 1, 2])
    expect(s.buffer.log(s.run.id, { loss: 3, acc: 3 })).toBeUndefined()
    logMany(s, "loss", [4, 5])
    // The two points of step 3 do not fit (3 + 2 > 4), step 4's does, step 5's does not.
    expect(s.buffer.dropped()).toBe(3)
    expect(s.buffer.unsettled()).toBe(4)
    expect(s.warnings.filter((w) => w.includes("maxBufferedPoints 4"))).toHaveLength(1)
    expect(s.buffer.log(s.run.id, { loss: 6 }, { step: 5 })).toBeInstanceOf(ValidationError)
    // Room again once the store takes the points: a new episode warns again.
    const s2 = await setup({ batchSize: 2, maxBufferedPoints: 2, flushIntervalMs: 60_000 })
    logMany(s2, "loss", [0, 1, 2])
    expect(await s2.buffer.flush(1_000)).toBe(true)
    logMany(s2, "loss", [3, 4, 5])
    expect(s2.buffer.dropped()).toBe(2)
    expect(s2.warnings.filter((w) => w.includes("maxBufferedPoints 2"))).toHaveLength(2)
    expect(await s2.buffer.flush(1_000)).toBe(true)
    expect(await s2.stored("loss")).toEqual([0, 1, 3, 4])
  })
})

describe("closing", () => {
  it("flushes what it can within its wait, drops the rest with a warning, then drops later points unseen", async () => {
    const s = await setup({ flushIntervalMs: 60_000 })
    logMany(s, "loss", [1, 2])
    await s.buffer.close(1_000)
    expect(await s.stored("loss")).toEqual([1, 2])
    expect(s.buffer.log(s.run.id, { loss: 3 })).toBeUndefined()
    expect(s.buffer.dropped()).toBe(1)

    const down = await setup({ flushIntervalMs: 60_000 }, () => true)
    logMany(down, "loss", [1, 2])
    const closing = down.buffer.close(300)
    await down.clock.advance(300)
    await closing
    expect(down.buffer.unsettled()).toBe(0)
    expect(down.buffer.dropped()).toBe(2)
    expect(down.warnings.filter((w) => w.includes("2 point(s) dropped"))).toHaveLength(1)
  })
})

describe("what log refuses", () => {
  const refusal = (s: Setup, values: unknown, options?: MetricBuffer.LogOptions) => {
    const refused = s.buffer.log(s.run.id, values, options)
    expect(refused).toBeInstanceOf(ValidationError)
    return refused!
  }

  it("values that are not finite numbers, named by key: nothing of the call is kept", async () => {
    const s = await setup()
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "1", null, 1n, { v: 1 }]) {
      const e = refusal(s, { acc: 0.5, loss: bad })
      expect([e.registry, e.field, e.expected]).toEqual(["Metrics", "loss", "a finite number"])
      expect(e.message).toContain("loss")
    }
    expect(refusal(s, { loss: Number.NaN }).message).toBe("Invalid Metrics.loss: got NaN, expected a finite number")
    expect(s.buffer.unsettled()).toBe(0)
    // The refused calls took no step.
    expect(s.buffer.log(s.run.id, { acc: 1 }, { step: 0 })).toBeUndefined()
  })

  it("keys: empty, longer than maxKeyLength, with control characters; values that are no object", async () => {
    const s = await setup()
    for (const key of ["", "x".repeat(MetricBuffer.maxKeyLength + 1), "lo\nss", "a\u0000", "\u009b", "loss\ud800"]) {
      const e = refusal(s, { ok: 1, [key]: 1 })
      expect([e.field, e.value, e.expected]).toEqual(["key", key, MetricBuffer.expectedKey])
    }
    expect(s.buffer.log(s.run.id, { ["x".repeat(MetricBuffer.maxKeyLength)]: 1, "val/loss @ 1": 2, val_acc_2: 3 })).toBeUndefined()
    for (const values of [null, 1, "loss", [1], new Map([["loss", 1]])]) expect(refusal(s, values).field).toBe("values")
    const throwing = new Proxy({}, { ownKeys: () => { throw new Error("no") } })
    expect(refusal(s, throwing).value).toBe("[unreadable]")
  })

  it("keys the query language cannot name (metrics__<key>__last): with '__', or starting or ending with '_'", async () => {
    const s = await setup()
    for (const key of ["a__b", "x__", "__proto__", "_", "_y", "x_"]) {
      const e = refusal(s, { ok: 1, [key]: 1 })
      expect([e.field, e.value, e.expected]).toEqual(["key", key, MetricBuffer.expectedKey])
      expect(e.message).toContain("'__'")
    }
    expect(s.buffer.unsettled()).toBe(0)
  })

  it(`more than maxKeysPerRun keys in one run, counting those of its stored summary`, async () => {
    const s = await setup({ maxBufferedPoints: 100_000, batchSize: 100_000 })
    const stored = { old: { last: 1, min: 1, max: 1, count: 1, step: 0 } }
    const many = Object.fromEntries(range(MetricBuffer.maxKeysPerRun - 1).map((i) => [`k${i}`, i]))
    expect(s.buffer.log(s.run.id, many, undefined, stored)).toBeUndefined()
    // Keys the run has already are not new ones.
    expect(s.buffer.log(s.run.id, { old: 2, k0: 1 }, undefined, stored)).toBeUndefined()
    const e = refusal(s, { ["one more"]: 1 })
    expect([e.field, e.value]).toEqual(["key", "one more"])
    expect(e.expected).toContain(`at most ${MetricBuffer.maxKeysPerRun} metric keys per run`)
    // Another run has its own keys.
    expect(s.buffer.log(s.run.id + 1, { ["one more"]: 1 })).toBeUndefined()
  })

  it("steps: not whole numbers from 0, or not greater than the key's last step (monotone per key)", async () => {
    const s = await setup()
    for (const step of [-1, 1.5, Number.NaN, 2 ** 53, "3"]) expect(refusal(s, { loss: 1 }, { step: step as number }).field).toBe("step")
    expect(s.buffer.log(s.run.id, { loss: 1 }, { step: 5 })).toBeUndefined()
    for (const step of [5, 4]) {
      const e = refusal(s, { loss: 1 }, { step })
      expect(e.expected).toContain('a step greater than 5, the last step of "loss"')
    }
    // Per key: another key starts at its own 0; without a step, each key goes on from its own last step.
    expect(s.buffer.log(s.run.id, { acc: 1 }, { step: 0 })).toBeUndefined()
    expect(s.buffer.log(s.run.id, { loss: 2, acc: 2 })).toBeUndefined()
    expect(await s.buffer.flush(1_000)).toBe(true)
    const stored = await Effect.runPromise(MetricStorage.read(s.store, [s.run.id], undefined))
    expect([...stored.get(s.run.id)!].map(([k, c]) => [k, c.steps])).toEqual([
      ["acc", [0, 1]],
      ["loss", [5, 6]]
    ])
  })

  it("a key this buffer has not logged goes on from the last step of the run's stored summary", async () => {
    const s = await setup()
    const stored = { loss: { last: 1, min: 1, max: 1, count: 8, step: 7 }, odd: { step: -3 }, __proto__x: 1 }
    expect(s.buffer.log(s.run.id, { loss: 1 }, { step: 7 }, stored)?.expected).toContain("a step greater than 7")
    expect(s.buffer.log(s.run.id, { loss: 1, odd: 1, fresh: 1 }, undefined, stored)).toBeUndefined()
    expect(await s.buffer.flush(1_000)).toBe(true)
    const series = await Effect.runPromise(MetricStorage.read(s.store, [s.run.id], undefined))
    expect([...series.get(s.run.id)!].map(([k, c]) => [k, c.steps])).toEqual([
      ["fresh", [0]],
      ["loss", [8]],
      ["odd", [0]]
    ])
  })

  it("timestamps: a valid Date or integer epoch milliseconds; default the clock's now", async () => {
    const s = await setup()
    for (const timestamp of [new Date(Number.NaN), 1.5, 9e15, "2026-01-01"])
      expect(refusal(s, { loss: 1 }, { timestamp: timestamp as number }).field).toBe("timestamp")
    await s.clock.advance(1_234)
    expect(s.buffer.log(s.run.id, { loss: 1 })).toBeUndefined()
    expect(s.buffer.log(s.run.id, { loss: 2 }, { timestamp: new Date(7) })).toBeUndefined()
    expect(s.buffer.log(s.run.id, { loss: 3 }, { timestamp: -8 })).toBeUndefined()
    expect(await s.buffer.flush(1_000)).toBe(true)
    const stored = await Effect.runPromise(MetricStorage.read(s.store, [s.run.id], ["loss"]))
    expect(stored.get(s.run.id)!.get("loss")!.timestamps).toEqual([1_234, 7, -8])
  })
})

describe("options", () => {
  it("are checked, each refusal naming the option", () => {
    expect(MetricBuffer.config(undefined)).toEqual(MetricBuffer.defaults)
    expect(MetricBuffer.config({ batchSize: 10 })).toEqual({ ...MetricBuffer.defaults, batchSize: 10 })
    const refused = (options: unknown) => {
      const e = MetricBuffer.config(options)
      expect(e).toBeInstanceOf(ValidationError)
      return (e as ValidationError).field
    }
    expect(refused({ batchSize: 0 })).toBe("batchSize")
    expect(refused({ batchSize: 11, maxBufferedPoints: 10 })).toBe("batchSize")
    expect(refused({ flushIntervalMs: 1.5 })).toBe("flushIntervalMs")
    expect(refused({ flushIntervalMs: MetricBuffer.maxIntervalMs + 1 })).toBe("flushIntervalMs")
    expect(refused({ maxBufferedPoints: -1 })).toBe("maxBufferedPoints")
    expect(refused({ batchsize: 10 })).toBe("options")
    expect(refused("fast")).toBe("options")
  })
})
