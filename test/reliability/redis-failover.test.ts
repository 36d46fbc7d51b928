/**
 * A Redis Cluster primary dies in the middle of a stream of writes, and a replica takes its place. A private
 * cluster (test/support/redis-cluster.ts: three primaries, two replicas each, node timeout 1 s, no persistence),
 * a namespace on one primary, four concurrent writers inserting one document each per call through one driver.
 * Mid-stream the primary is killed by SIGKILL; the cluster promotes a replica; the same driver goes on (writes
 * sent in the gap wait, or fail with a typed, retryable StoreError and are sent again). Afterwards every
 * acknowledged write is looked up (the missing ones are "lost") and `verifyIndexes` must find no drift.
 *
 * Redis replicates asynchronously: a primary acknowledges a write before any replica has it. Each fault runs
 * twice, without and with the store's `waitForReplicas` (a `WAIT` for one replica after each write):
 * - the primary killed alone. Without the option the figure is measured, not asserted: on one machine it is 0,
 *   since a primary hands each write to its replicas' sockets in the event-loop turn that replies to the client,
 *   and the kernel still delivers what a killed process wrote (unless unread input makes it reset the link);
 * - the replication links cut first (the primary's replicas refused by an ACL, as a partition between them
 *   would), the primary killed 300 ms later: acknowledged writes then exist on the primary alone. Without the
 *   option every write sent once the links were down and acknowledged before the kill must be lost (so the
 *   fault opened that window, on the primary that serves the namespace); with it, none may be acknowledged.
 * With the option, no acknowledged write may be lost: the driver's `declare` and `reserveIds` wait for a replica
 * too, so neither the schema nor the ids reserved go with the primary. A write that failed (its `WAIT` timed out, or its
 * connection dropped) and was then found present by its retry (a unique violation on its own id) was never
 * acknowledged: it is counted apart, as "found on retry".
 *
 * The cases with the option run first, on primaries that still have both replicas: after a failover the new
 * primary keeps one, which `WAIT 1` needs. Before them, on no fault: what the option costs in latency (one
 * writer, writes with and without it interleaved), what it refuses while the replicas are paused or cut off,
 * and that a waited write returns only once a replica has it.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { StoreError } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js"
import { record, since } from "./support/figures.js"
import { expectTypedRetryable, thing } from "./support/restart.js"
import { prefixOn, primaryPorts } from "../support/cluster-namespaces.js"

const writers = 4
/** How long the stream runs before the fault, and goes on once the new primary is ready. */
const beforeFaultMs = 800
const afterFaultMs = 500
const cutMs = 300
/** Writes of each kind in the latency comparison. */
const latencyWrites = 300
const wait = { replicas: 1, timeoutMs: 250 }
/** How long a failover may take: the promotion, then the cluster settled (each case's timeout allows both). */
const promotionMs = 10_000
const settleMs = 10_000
/** How long the replicas stay paused before a waited write's replica comes back (under the 1 s node timeout). */
const pausedMs = 600

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

/** One call of `driver.insert`: its id, when it was sent and settled (`performance.now()`), whether it succeeded. */
interface Attempt {
  readonly id: number
  readonly sent: number
  readonly settled: number
  readonly ok: boolean
}

/** When the fault's steps happened (`performance.now()`). */
interface Timeline {
  /** When the fault cuts the replication links first: the replicas refused, then their links dropped. */
  readonly cut?: Cut | undefined
  readonly killedAt: number
  /** A replica serves the namespace's slot. */
  readonly promotedAt: number
}

interface Stream extends Timeline {
  /** Ids whose insert succeeded. */
  readonly acknowledged: ReadonlyArray<number>
  /** Ids whose insert failed, and whose retry found the document there: never acknowledged. */
  readonly foundOnRetry: ReadonlyArray<number>
  readonly failures: ReadonlyArray<unknown>
  readonly attempts: ReadonlyArray<Attempt>
}

/** What the stream's attempts say about the fault. */
const summary = (s: Stream) => {
  const cutAt = s.cut?.cutAt
  const faultAt = cutAt ?? s.killedAt
  const latencies = s.attempts.filter((a) => a.ok && a.settled < faultAt).map((a) => a.settled - a.sent).sort((a, b) => a - b)
  const spanning = (at: number) => s.attempts.filter((a) => a.sent < at && a.settled > at)
  const acks = s.attempts.filter((a) => a.ok).map((a) => a.settled).sort((a, b) => a - b)
  return {
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    /** Calls in flight when the links were cut or sent during the cut: writes the primary alone may hold. */
    sentWhileCut: cutAt === undefined ? 0 : s.attempts.filter((a) => a.settled > cutAt && a.sent < s.killedAt).length,
    acknowledgedWhileCut: cutAt === undefined ? 0 : s.attempts.filter((a) => a.ok && a.settled > cutAt && a.settled < s.killedAt).length,
    /** Writes sent once the links were down and acknowledged before the kill: by the primary alone. */
    primaryOnly: s.cut === undefined ? [] : s.attempts.filter((a) => a.ok && a.sent > s.cut!.linksDownAt && a.settled < s.killedAt).map((a) => a.id),
    /** Calls that were in flight at the kill, and the longest of them. */
    heldThroughKill: spanning(s.killedAt).length,
    longestHeldMs: Math.max(0, ...spanning(s.killedAt).map((a) => a.settled - a.sent)),
    promotedMs: s.promotedAt - s.killedAt,
    /** The longest time without an acknowledgement: the outage writers saw. */
    stalledMs: Math.max(0, ...acks.slice(1).map((t, i) => t - acks[i]!)),
    acknowledgedAfter: s.attempts.filter((a) => a.ok && a.settled > s.promotedAt).length
  }
}

let cluster: RedisCluster

beforeAll(async () => {
  cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 2, nodeTimeoutMs: 1_000 })
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

/** When a cut began (its links still up, about to be dropped) and when its links were down. */
interface Cut {
  readonly cutAt: number
  readonly linksDownAt: number
}

/** Refuses the primary's replicas (their handshake needs REPLCONF and PSYNC) and drops their links. */
const cutReplication = async (port: number): Promise<Cut> => {
  await cluster.command(port, "ACL", "SETUSER", "default", "-psync", "-sync", "-replconf")
  const cutAt = performance.now()
  await cluster.command(port, "CLIENT", "KILL", "TYPE", "replica")
  const linksDownAt = performance.now()
  expect(await cluster.command(port, "INFO", "replication")).toMatch(/connected_slaves:0\b/)
  return { cutAt, linksDownAt }
}

/**
 * Lets the primary's replicas in again, and waits until each is linked anew. A replica that reconnected during
 * the cut may hold a half-made link (its REPLCONF refused, its PSYNC let through: the primary sees it online at
 * port 0 and never gets its acknowledgements), so every link is dropped once more and made again.
 */
const restoreReplication = async (port: number, replicas: number): Promise<void> => {
  await cluster.command(port, "ACL", "SETUSER", "default", "+@all")
  await cluster.command(port, "CLIENT", "KILL", "TYPE", "replica")
  const deadline = Date.now() + 15_000
  for (;;) {
    const links = [...(await cluster.command(port, "INFO", "replication")).matchAll(/slave\d+:ip=[^,]*,port=(\d+),state=(\w+)/g)]
    if (links.length === replicas && links.every(([, p, state]) => p !== "0" && state === "online")) break
    if (Date.now() > deadline) throw new Error(`the replicas of 127.0.0.1:${port} did not link again within 15 s`)
    await sleep(50)
  }
  await cluster.ready(settleMs)
}

/** Waits until a primary other than `port` serves `key`'s slot. */
const promoted = async (key: string, port: number): Promise<void> => {
  const deadline = Date.now() + promotionMs
  while ((await cluster.primaryOf(key).catch(() => port)) === port) {
    if (Date.now() > deadline) throw new Error(`no replica of 127.0.0.1:${port} was promoted within ${promotionMs} ms`)
    await sleep(50)
  }
}

/**
 * Kills the primary at `port`, which must serve `key` (its replication cut `cutMs` before, when `cut`); resolves
 * once a replica serves `key`.
 */
const fault = async (key: string, port: number, cut: boolean): Promise<Timeline> => {
  expect(await cluster.primaryOf(key), "the primary killed serves the namespace").toBe(port)
  let cuts: Cut | undefined
  if (cut) {
    cuts = await cutReplication(port)
    await sleep(cutMs)
  }
  const killedAt = performance.now()
  cluster.kill(port)
  await promoted(key, port)
  return { cut: cuts, killedAt, promotedAt: performance.now() }
}

/**
 * Four writers insert into `thing`, one document per call; `beforeFaultMs` after they start, `fault` runs; they
 * stop once every replica left is linked to its primary again (what `WAIT` and the next case need) and
 * `afterFaultMs` more have passed, or the test is aborted (its timeout). A failed insert is sent again, until
 * it succeeds or finds its document.
 */
const writeThroughFailover = async (
  driver: RedisStore.RedisDriver,
  key: string,
  port: number,
  cut: boolean,
  signal: AbortSignal
): Promise<Stream> => {
  await Effect.runPromise(driver.declare([thing]))
  let next = await Effect.runPromise(driver.reserveIds("thing", 1_000_000))
  const acknowledged: Array<number> = []
  const foundOnRetry: Array<number> = []
  const failures: Array<unknown> = []
  const attempts: Array<Attempt> = []
  let stop = false
  const stopped = () => stop || signal.aborted

  const writeOne = async (): Promise<void> => {
    const id = next++
    for (let attempt = 0; ; attempt++) {
      const sent = performance.now()
      const exit = await Effect.runPromiseExit(driver.insert("thing", [{ id, uid: `u${id}`, n: id }]))
      attempts.push({ id, sent, settled: performance.now(), ok: exit._tag === "Success" })
      if (exit._tag === "Success") return void acknowledged.push(id)
      const error = exit.cause.reasons.find((r) => r._tag === "Fail")
      const failure = error?._tag === "Fail" ? error.error : exit.cause
      failures.push(failure)
      if (failure instanceof StoreError && failure.reason._tag === "UniqueViolation") return void foundOnRetry.push(id)
      expect(attempt, `write ${id} still failing: ${String(failure)}`).toBeLessThan(400)
      if (signal.aborted) return
      await sleep(25)
    }
  }
  const writer = async () => {
    while (!stopped()) await writeOne()
  }

  const running = Array.from({ length: writers }, writer)
  try {
    await sleep(beforeFaultMs)
    const timeline = await fault(key, port, cut)
    await cluster.ready(settleMs)
    await sleep(afterFaultMs)
    stop = true
    await Promise.all(running)
    return { ...timeline, acknowledged, foundOnRetry, failures, attempts }
  } finally {
    stop = true
    await Promise.allSettled(running)
  }
}

const withWait = `waitForReplicas ${wait.replicas} (timeout ${wait.timeoutMs} ms)`
const cases = [
  { name: "primary SIGKILLed mid-stream", cut: false, wait: true, mode: withWait },
  { name: "replication cut, then primary SIGKILLed", cut: true, wait: true, mode: withWait },
  { name: "primary SIGKILLed mid-stream", cut: false, wait: false, mode: "async replication" },
  { name: "replication cut, then primary SIGKILLed", cut: true, wait: false, mode: "async replication" }
] as const

/** The primary with the most replicas (ties: the lowest port), and the ports of its replicas. */
const bestPrimary = async (): Promise<{ readonly port: number; readonly replicas: ReadonlyArray<number> }> => {
  const nodes = await cluster.nodes()
  const replicasOf = (port: number) => nodes.filter((n) => n.primaryId === nodes.find((p) => p.port === port)?.id).map((n) => n.port)
  const port = [...(await primaryPorts(cluster))].sort((a, b) => replicasOf(b).length - replicasOf(a).length || a - b)[0]!
  return { port, replicas: replicasOf(port) }
}

/**
 * Connections to replicas, each allowed to read (`READONLY`) the slots of its primary: a store opened on the
 * replica alone, as one server, for its client. `has(key)`: whether one of them holds `key` now.
 */
const replicaReaders = async (ports: ReadonlyArray<number>) => {
  const drivers = await Promise.all(
    ports.map((port) => Effect.runPromise(RedisStore.make({ url: `redis://127.0.0.1:${port}`, prefix: "replica-reader", connectionName: "lineage-test-replica" })))
  )
  for (const d of drivers) expect(await d.client.call("READONLY")).toBe("OK")
  return {
    has: async (key: string) => (await Promise.all(drivers.map((d) => d.client.exists(key)))).some((n) => n === 1),
    close: () => Promise.all(drivers.map((d) => Effect.runPromise(d.close())))
  }
}

describe("redis cluster failover", () => {
  it("waitForReplicas: what it costs in latency, beside no wait; what it refuses when no replica answers", async () => {
    const started = performance.now()
    const { port, replicas } = await bestPrimary()
    const placed = await prefixOn(cluster, port, "latency")
    const plain = await Effect.runPromise(RedisStore.make({ url: cluster.url, prefix: placed.prefix }))
    const open = (options: Omit<RedisStore.RedisStoreOptions, "url" | "prefix">) => Effect.runPromise(RedisStore.make({ url: cluster.url, prefix: placed.prefix, ...options }))
    const waiting = await open({ waitForReplicas: wait, retry: { times: 1, baseDelayMs: 20 } })
    const strict = await open({ waitForReplicas: { replicas: 1, timeoutMs: 100 }, retry: { times: 0, baseDelayMs: 1 } })
    const patient = await open({ waitForReplicas: { replicas: 1, timeoutMs: 5_000 } })
    const onReplica = await replicaReaders(replicas)
    try {
      await Effect.runPromise(plain.declare([thing]))
      const first = await Effect.runPromise(plain.reserveIds("thing", 2 * latencyWrites + 4))
      const times = { plain: [] as Array<number>, waiting: [] as Array<number> }
      // Interleaved, one write at a time: both see the same machine, the same cluster, the same moment.
      for (let i = 0; i < latencyWrites; i++) {
        for (const [name, driver] of [["plain", plain], ["waiting", waiting]] as const) {
          const id = first + 2 * i + (name === "waiting" ? 1 : 0)
          const sent = performance.now()
          await Effect.runPromise(driver.insert("thing", [{ id, uid: `u${id}`, n: id }]))
          times[name].push(performance.now() - sent)
          if (name === "waiting") expect(await onReplica.has(waiting.keys.doc("thing", id)), `write ${id} on no replica`).toBe(true)
        }
      }
      const [cutPlain, cutWaiting, pausedStrict, pausedPatient] = [0, 1, 2, 3].map((i) => first + 2 * latencyWrites + i) as [number, number, number, number]
      const one = (id: number) => [{ id, uid: `u${id}`, n: id }]
      // With the replicas paused, a waited write is refused, the refusal naming the acknowledgements; one with a
      // longer timeout returns only once a replica is back, and is then on it.
      for (const replica of replicas) cluster.kill(replica, "SIGSTOP")
      try {
        const refusedPaused = await Effect.runPromise(Effect.flip(strict.insert("thing", one(pausedStrict))))
        expect(refusedPaused.reason._tag).toBe("Unavailable")
        expect(refusedPaused.message).toContain("acknowledged by 0 of 1 replicas within 100 ms")
        const sent = performance.now()
        const tookMs = Effect.runPromise(patient.insert("thing", one(pausedPatient))).then(() => performance.now() - sent)
        await sleep(pausedMs)
        for (const replica of replicas) cluster.kill(replica, "SIGCONT")
        expect(await tookMs, "the waited write returned only once a replica was back").toBeGreaterThanOrEqual(pausedMs)
      } finally {
        for (const replica of replicas) cluster.kill(replica, "SIGCONT")
      }
      expect(await onReplica.has(patient.keys.doc("thing", pausedPatient)), "the waited write on a replica").toBe(true)
      await cluster.ready(settleMs)
      // With the replicas cut off, a write without the option is acknowledged though no replica has it; a write
      // with it is refused, typed and retryable (it is on the primary alone: a failover now would lose it).
      try {
        await cutReplication(port)
        await Effect.runPromise(plain.insert("thing", one(cutPlain)))
        expect(await onReplica.has(plain.keys.doc("thing", cutPlain))).toBe(false)
        const refused = await Effect.runPromise(Effect.flip(waiting.insert("thing", one(cutWaiting))))
        expect(refused.reason._tag).toBe("Unavailable")
        expect(refused.isRetryable).toBe(true)
      } finally {
        await restoreReplication(port, replicas.length)
      }
      const [plainSorted, waitingSorted] = [times.plain, times.waiting].map((t) => [...t].sort((a, b) => a - b)) as [Array<number>, Array<number>]
      const show = (sorted: ReadonlyArray<number>) => `p50 ${percentile(sorted, 0.5).toFixed(2)} ms, p99 ${percentile(sorted, 0.99).toFixed(2)} ms`
      record({
        target: "latency: Redis Cluster write, waitForReplicas beside none",
        store: "redis-cluster",
        processes: 1,
        operations: 2 * latencyWrites,
        faults: 0,
        inputs: 0,
        lost: 0,
        seconds: since(started),
        note:
          `one writer, ${latencyWrites} inserts each, interleaved: no wait ${show(plainSorted)}; ${withWait} ${show(waitingSorted)}; ` +
          `every waited write found on a replica; replicas paused: the wait refused a write (Unavailable), and held one until they were back (${pausedMs} ms); ` +
          "replicas cut off: no wait acknowledged a write no replica had, the wait refused one (Unavailable)"
      })
    } finally {
      await onReplica.close()
      await Effect.runPromise(Effect.andThen(Effect.ignore(plain.drop()), Effect.all([plain.close(), waiting.close(), strict.close(), patient.close()])))
    }
  })

  it.for(cases)("$name, $mode", { timeout: 40_000 }, async ({ name, cut, wait: waiting, mode }, { signal }) => {
    const started = performance.now()
    // `WAIT 1` needs a replica left after the failover: the cases with it run on primaries with two.
    const { port, replicas } = await bestPrimary()
    if (waiting) expect(replicas).toHaveLength(2)
    const placed = await prefixOn(cluster, port, "failover")
    const key = `{${placed.prefix}}:x`
    console.info(`[failover] namespace ${placed.prefix} → primary 127.0.0.1:${port} (${replicas.length} replicas), slot ${placed.slot}`)
    const driver = await Effect.runPromise(
      RedisStore.make({
        url: cluster.url,
        prefix: placed.prefix,
        retry: { times: 2, baseDelayMs: 20 },
        ...(waiting ? { waitForReplicas: wait } : {})
      })
    )
    try {
      const stream = await writeThroughFailover(driver, key, port, cut, signal)
      const seen = summary(stream)
      // The store went on: the new primary acknowledged writes through the same driver.
      expect(seen.acknowledgedAfter).toBeGreaterThan(0)
      expectTypedRetryable(stream.failures)
      const ids = [...stream.acknowledged, ...stream.foundOnRetry]
      const stored = new Set((await Effect.runPromise(driver.get("thing", ids))).map((d) => d["id"] as number))
      const lost = stream.acknowledged.filter((id) => !stored.has(id)).length
      const foundKept = stream.foundOnRetry.filter((id) => stored.has(id)).length
      const report = await Effect.runPromise(driver.verifyIndexes())
      expect(report.drift).toEqual([])
      expect(report.documents).toBe(stored.size)
      // The cut opened a window: writes reached the primary alone. Without the option it acknowledged them, and
      // the promoted replica never had them; with it, it acknowledged none.
      if (cut) expect(seen.sentWhileCut).toBeGreaterThan(0)
      if (cut && !waiting) {
        expect(seen.primaryOnly.length, "writes acknowledged by the primary alone").toBeGreaterThan(0)
        expect(seen.primaryOnly.filter((id) => stored.has(id)), "writes acknowledged by the primary alone, found after the failover").toEqual([])
        expect(lost).toBeGreaterThan(0)
      }
      if (cut && waiting) expect(seen.primaryOnly, "writes acknowledged though no replica could have them").toEqual([])
      if (waiting) expect(lost, "acknowledged writes lost though each waited for a replica").toBe(0)
      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
      record({
        target: `faults: Redis Cluster ${name}, ${mode}`,
        store: "redis-cluster",
        processes: 1,
        operations: stream.acknowledged.length,
        faults: 1,
        inputs: 0,
        lost,
        seconds: since(started),
        note:
          `3 primaries × 2 replicas, ${writers} writers; write p50 ${seen.p50.toFixed(2)} ms, p99 ${seen.p99.toFixed(2)} ms before the fault; ` +
          (cut ? `${seen.sentWhileCut} sent in the ${cutMs} ms cut, ${seen.acknowledgedWhileCut} acknowledged; ` : "") +
          `promoted ${s(seen.promotedMs)} after the kill, no write acknowledged for ${s(seen.stalledMs)}; ` +
          `${seen.heldThroughKill} in flight at the kill waited (up to ${s(seen.longestHeldMs)}); ` +
          `${stream.failures.length} failed (typed) and were sent again, ${stream.foundOnRetry.length} found on retry (${foundKept} kept); no drift`
      })
    } finally {
      await Effect.runPromise(Effect.andThen(Effect.ignore(driver.drop()), driver.close()))
    }
  })
})
