/**
 * The Redis store on a real Redis Cluster (three primaries with a replica each, test/support/redis-cluster.ts):
 * the whole conformance suite, every case on a fresh namespace (namespaces fall on different primaries), and
 * what a cluster adds: a namespace's keys share one hash slot; `drop`, `verifyIndexes` and the backdoor scan
 * every primary; `waitForReplicas` waits on the node serving the namespace; `Lineage.connect` serves
 * `redis+cluster://` URLs with this store; and a process that forgets `close()` still exits by itself.
 */
import { spawn, spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { conformance } from "@lineage/conformance/vitest"
import { Lineage, type Driver } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import type { RedisDriver } from "@lineage/store-redis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failureOf } from "./support/failures.js"
import { type RedisCluster, redisCluster, startRedisCluster, stopRedisCluster } from "./support/redis-cluster.js"
import { backdoor, freePort, freshDriver, freshPrefix, redisServer, reopen, run } from "./support/redis.js"

/** A driver on a fresh namespace of the shared cluster; its `close` drops the namespace. */
const onCluster = async (label: string, options: RedisStore.RedisStoreOptions = {}): Promise<RedisDriver> =>
  freshDriver(label, { url: (await redisCluster()).url, ...options })

// The shared cluster is this file's: stopped when the file is done (its watchdog kills it only once the worker is gone).
afterAll(() => stopRedisCluster())

conformance<RedisDriver>({
  name: "redis store on a Redis Cluster",
  makeDriver: () => onCluster("cluster-conformance"),
  backdoor: (driver) => backdoor(driver),
  reopen: async (driver) => reopen(driver, { url: (await redisCluster()).url })
})

const table: Driver.TableSpec = {
  name: "thing",
  unique: [{ name: "thing_uid", fields: ["uid"] }],
  indexes: [{ path: ["n"], kind: "sorted" }]
}

const things = (from: number, to: number): Array<Driver.Doc> =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ id: from + i, uid: `u${from + i}`, n: (from + i) % 7 }))

/** A namespace with a table, a unique constraint, an index and `n` documents: keys of every kind. */
const filled = async (label: string, n: number, options: RedisStore.RedisStoreOptions = {}): Promise<RedisDriver> => {
  const driver = await onCluster(label, options)
  await run(driver.declare([table]))
  await run(driver.insert("thing", things(1, n)))
  return driver
}

describe("the Redis store on a Redis Cluster", () => {
  let cluster: RedisCluster
  let primaries: ReadonlyArray<number>
  const opened: Array<RedisDriver> = []
  beforeAll(async () => {
    cluster = await redisCluster()
    primaries = (await cluster.nodes()).filter((n) => n.role === "primary").map((n) => n.port)
  })
  afterAll(async () => {
    for (const driver of opened) await run(driver.close())
  })

  /** The keys of a namespace on one node, by that node's own SCAN (no cluster routing). */
  const keysOn = async (port: number, keys: RedisStore.KeySpace): Promise<Array<string>> =>
    (await cluster.command(port, "--scan", "--pattern", keys.all)).split("\n").filter((k) => k !== "")

  it("spreads namespaces over the primaries, each namespace whole on the primary serving its slot", async () => {
    const drivers = await Promise.all(Array.from({ length: 12 }, () => onCluster("spread")))
    opened.push(...drivers)
    const owners = new Map<number, RedisDriver>()
    for (const driver of drivers) owners.set(await cluster.primaryOf(driver.keys.schema), driver)
    expect(owners.size, "12 namespaces over 3 primaries").toBeGreaterThanOrEqual(2)
    for (const [owner, driver] of owners) {
      await run(driver.declare([table]))
      await run(driver.insert("thing", things(1, 3)))
      for (const port of primaries) expect((await keysOn(port, driver.keys)).length > 0, `keys on ${port}, served by ${owner}`).toBe(port === owner)
    }
  })

  it("puts every key of a namespace in one hash slot: its prefix's", async () => {
    const driver = await filled("slot", 20)
    opened.push(driver)
    const keys = await RedisStore.scanKeys(driver.client, driver.keys.all)
    // The schema, its version, a table's documents, id counter, indexes and unique hash, and write tokens.
    for (const kind of [/:schema$/, /:schema:version$/, /:d:\d+$/, /:seq$/, /:x:/, /:u:/, /:w:/]) expect(keys.some((k) => kind.test(k)), String(kind)).toBe(true)
    const port = primaries[0]!
    const slotOf = async (key: string) => cluster.command(port, "CLUSTER", "KEYSLOT", key)
    const slot = await slotOf(`{${driver.prefix}}`)
    const slots = new Set(await Promise.all(keys.map(slotOf)))
    expect([...slots]).toEqual([slot])
  })

  it("drop removes every key of the namespace but its schema version wherever it is, and nothing of another namespace", async () => {
    const [doomed, kept] = await Promise.all([filled("drop", 30), filled("kept", 30)])
    opened.push(doomed, kept)
    const before = await RedisStore.scanKeys(doomed.client, doomed.keys.all)
    expect(await run(doomed.drop())).toBe(before.length - 1)
    expect((await Promise.all(primaries.map((port) => keysOn(port, doomed.keys)))).flat()).toEqual([doomed.keys.schemaVersion])
    expect(await run(kept.count("thing", { _tag: "And", conds: [] }))).toBe(30)
    expect((await run(kept.verifyIndexes())).ok).toBe(true)
  })

  it("verifyIndexes finds every document on the primary that holds it, no drift, and drift made by hand", async () => {
    const driver = await filled("verify", 50)
    opened.push(driver)
    expect(await run(driver.verifyIndexes())).toMatchObject({ ok: true, tables: 1, documents: 50, drift: [] })
    const entries = await driver.client.zrange(driver.keys.index("thing", ["n"]), 0, "0")
    await driver.client.zrem(driver.keys.index("thing", ["n"]), entries[0]!)
    const report = await run(driver.verifyIndexes())
    expect(report.drift).toEqual([expect.objectContaining({ kind: "missingEntry", structure: '["n"]' })])
  })

  describe("waitForReplicas", () => {
    it("asking for more replicas than a primary has fails typed within the timeout, the write applied on the primary", async () => {
      const driver = await onCluster("wait-two", { waitForReplicas: { replicas: 2, timeoutMs: 50 }, retry: { times: 0, baseDelayMs: 1 } })
      opened.push(driver)
      expect((await failureOf(driver.declare([table]))).message).toContain("the declaration is applied on the primary; acknowledged by 1 of 2 replicas within 50 ms")
      const error = await failureOf(driver.insert("thing", things(2, 2)))
      expect(error.reason._tag).toBe("Unavailable")
      expect(error.isRetryable).toBe(true)
      expect(error.message).toContain("the write is applied on the primary; acknowledged by 1 of 2 replicas within 50 ms")
      expect(await run(driver.get("thing", [2]))).toEqual(things(2, 2))
    })
  })

  it("Lineage.connect serves redis+cluster:// URLs with this store", async () => {
    const prefix = freshPrefix("connect")
    const url = `${cluster.url}?prefix=${encodeURIComponent(prefix)}`
    const ln = await Lineage.connect(url)
    try {
      const transform = await ln.Transform.create({ key: "on-a-cluster", kind: "script" })
      const again = await Lineage.connect(url)
      expect((await again.Transform.get({ key: "on-a-cluster" })).uid).toBe(transform.uid)
      await again.close()
      expect((await keysOn(await cluster.primaryOf(`{${prefix}}`), RedisStore.keySpace(prefix))).length).toBeGreaterThan(0)
    } finally {
      await ln.close()
      const driver = await run(RedisStore.fromUrl(url))
      await run(driver.drop())
      await run(driver.close())
    }
  })

  describe("connecting", () => {
    const secret = "hunter2-S3cr3t"

    it("a seed that is a server without cluster mode is Invalid, saying to use redis://", async () => {
      const server = await redisServer()
      const error = await failureOf(RedisStore.fromUrl(`redis+cluster://127.0.0.1:${server.port}`, { retry: { times: 0, baseDelayMs: 1 } }))
      expect(error.reason._tag).toBe("Invalid")
      expect(error.message).toContain(`redis+cluster://127.0.0.1:${server.port} is not a Redis Cluster`)
      expect(error.message).toContain("use a redis:// URL")
    })

    it("a wrong password, or no seed answering, is a retryable Unavailable naming the seeds, never the password", async () => {
      const wrong = await failureOf(RedisStore.fromUrl(`redis+cluster://bob:${secret}@127.0.0.1:${primaries[0]}`, { retry: { times: 0, baseDelayMs: 1 } }))
      expect(wrong.reason._tag).toBe("Unavailable")
      expect(wrong.message).toContain(`cannot connect to redis+cluster://bob@127.0.0.1:${primaries[0]}: WRONGPASS`)
      expect(JSON.stringify(wrong)).not.toContain(secret)
      const [a, b] = [await freePort(), await freePort()]
      const started = Date.now()
      const gone = await failureOf(RedisStore.fromUrl(`redis+cluster://u:${secret}@127.0.0.1:${a},127.0.0.1:${b}`, { retry: { times: 1, baseDelayMs: 1 } }))
      expect(gone.reason._tag).toBe("Unavailable")
      expect(gone.isRetryable).toBe(true)
      expect(gone.message).toContain(`redis+cluster://u@127.0.0.1:${a},127.0.0.1:${b}`)
      expect(JSON.stringify(gone)).not.toContain(secret)
      expect(Date.now() - started).toBeLessThan(10_000)
    })

    it("a redis:// URL naming one node of a cluster fails Invalid on a namespace another node serves, saying to use redis+cluster://", async () => {
      const node = primaries[0]!
      let prefix = freshPrefix("elsewhere")
      while ((await cluster.primaryOf(`{${prefix}}`)) === node) prefix = freshPrefix("elsewhere")
      const driver = await run(RedisStore.fromUrl(`redis://127.0.0.1:${node}/0?prefix=${encodeURIComponent(prefix)}`))
      try {
        const error = await failureOf(driver.declare([table]))
        expect(error.reason._tag).toBe("Invalid")
        expect(error.message).toMatch(/Redis replied MOVED \d+ 127\.0\.0\.1:\d+: the server is a node of a Redis Cluster: connect with a redis\+cluster:\/\/ URL/)
      } finally {
        await run(driver.close())
      }
    })
  })

  it("a cluster that goes away mid-session is a retryable Unavailable within a bounded time, not a hang", async () => {
    const doomed = await startRedisCluster({ primaries: 1, replicasPerPrimary: 0 })
    try {
      const driver = await run(RedisStore.fromUrl(`${doomed.url}?prefix=gone`, { retry: { times: 1, baseDelayMs: 10 } }))
      await run(driver.declare([table]))
      expect(await run(driver.count("thing", { _tag: "And", conds: [] }))).toBe(0)
      await doomed.stop()
      const started = Date.now()
      const error = await failureOf(driver.count("thing", { _tag: "And", conds: [] }))
      expect(error.reason._tag).toBe("Unavailable")
      expect(error.isRetryable).toBe(true)
      expect(Date.now() - started).toBeLessThan(15_000)
      await run(driver.close())
    } finally {
      await doomed.stop()
    }
  }, 30_000)

  describe("a script that forgets close()", () => {
    const script = fileURLToPath(new URL("./fixtures/no-close.ts", import.meta.url))

    /**
     * Runs the script on `store`, busy for `busyMs` after its writes; `onWrote` runs once it printed its run's
     * uid. Killed 10 s after that uid (or 60 s after its start, for a start-up slowed by a loaded machine).
     * `lingeredMs`: from the uid to the exit.
     */
    const runScript = (store: string, busyMs: number, onWrote: () => void = () => {}) =>
      new Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly out: string; readonly lingeredMs: number }>((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@lineage/source", script], {
          env: { ...process.env, LINEAGE_STORE: store, BUSY_MS: String(busyMs) },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let out = ""
        let wroteAt = Date.now()
        let killer = setTimeout(() => child.kill("SIGKILL"), 60_000)
        child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()))
        child.stdout.on("data", (chunk: Buffer) => {
          const wrote = /run [0-9A-Za-z]{16}/.test(out)
          out += chunk.toString()
          if (wrote || !/run [0-9A-Za-z]{16}/.test(out)) return
          wroteAt = Date.now()
          clearTimeout(killer)
          killer = setTimeout(() => child.kill("SIGKILL"), 10_000)
          onWrote()
        })
        child.once("exit", (code, signal) => {
          clearTimeout(killer)
          resolve({ code, signal, out, lingeredMs: Date.now() - wroteAt })
        })
      })

    it("exits by itself once done, its writes stored", async () => {
      const prefix = freshPrefix("no-close")
      const url = `${cluster.url}?prefix=${encodeURIComponent(prefix)}`
      const ended = await runScript(url, 0)
      expect(ended.signal, "killed after 10 s: the idle cluster client kept the process alive").toBeNull()
      expect(ended.code, ended.out).toBe(0)
      expect(ended.lingeredMs).toBeLessThan(2_000)
      const driver = await run(RedisStore.fromUrl(url))
      try {
        expect((await run(driver.verifyIndexes())).documents).toBeGreaterThan(1)
      } finally {
        await run(driver.drop())
        await run(driver.close())
      }
    }, 90_000)

    it("exits by itself when the whole cluster went away while it was busy (the client keeps reconnecting)", async () => {
      const doomed = await startRedisCluster({ primaries: 1, replicasPerPrimary: 0 })
      try {
        const ended = await runScript(`${doomed.url}?prefix=gone`, 1_000, () => doomed.ports.forEach((port) => doomed.kill(port)))
        expect(ended.signal, "killed after 10 s: the reconnecting cluster client kept the process alive").toBeNull()
        expect(ended.code, ended.out).toBe(0)
        expect(ended.lingeredMs).toBeLessThan(1_000 + 2_000)
      } finally {
        await doomed.stop()
      }
    }, 90_000)
  })
})

/**
 * Faults on clusters of their own (a failover changes a cluster for good): a paused replica, a primary
 * killed, a primary paused (it keeps its connections open but answers nothing), a cluster in `fail` state.
 */
describe("the Redis store on a Redis Cluster that fails", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
  let own: RedisCluster
  beforeAll(async () => {
    own = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 1_000 })
  }, 30_000)
  afterAll(async () => {
    for (const port of own?.ports ?? []) own.kill(port, "SIGCONT")
    await own?.stop()
  })

  /** A namespace of `own` with `n` documents, on a primary that has a replica; that primary and replica. */
  const namespace = async (label: string, n: number, options: RedisStore.RedisStoreOptions = {}) => {
    const nodes = await own.nodes()
    const withReplica = new Set(nodes.filter((r) => r.role === "replica").map((r) => nodes.find((p) => p.id === r.primaryId)?.port))
    let prefix = freshPrefix(label)
    while (!withReplica.has(await own.primaryOf(`{${prefix}}`))) prefix = freshPrefix(label)
    const driver = await run(RedisStore.make({ url: own.url, prefix, ...options }))
    await run(driver.declare([table]))
    if (n > 0) await run(driver.insert("thing", things(1, n)))
    const primary = await own.primaryOf(driver.keys.schema)
    const primaryId = nodes.find((node) => node.port === primary)!.id
    const replica = nodes.find((node) => node.primaryId === primaryId)!.port
    return { driver, primary, replica }
  }

  /** Waits until a replica serves `key`'s slot in place of `port`; the new primary. */
  const failedOver = async (key: string, port: number): Promise<number> => {
    for (;;) {
      const now = await own.primaryOf(key).catch(() => port)
      if (now !== port) return now
      await sleep(50)
    }
  }

  /** How far `replica` has acknowledged `primary`'s replication stream, and how far the stream goes. */
  const replication = async (primary: number, replica: number) => {
    const info = await own.command(primary, "INFO", "replication")
    const acked = Number(new RegExp(`port=${replica},state=\\w+,offset=(\\d+)`).exec(info)?.[1])
    return { acked, written: Number(/master_repl_offset:(\d+)/.exec(info)?.[1]) }
  }

  it("waitForReplicas: while the replica is paused a plain write is not on it, a waited one fails typed or waits for it to come back", async () => {
    const { driver: plain, primary, replica } = await namespace("paused-replica", 1)
    const strict = await run(RedisStore.make({ url: own.url, prefix: plain.prefix, waitForReplicas: { replicas: 1, timeoutMs: 200 }, retry: { times: 0, baseDelayMs: 1 } }))
    const patient = await run(RedisStore.make({ url: own.url, prefix: plain.prefix, waitForReplicas: { replicas: 1, timeoutMs: 5_000 } }))
    try {
      own.kill(replica, "SIGSTOP")
      try {
        await run(plain.insert("thing", things(2, 2)))
        const { acked, written } = await replication(primary, replica)
        expect(acked, "the paused replica has not acknowledged the plain write").toBeLessThan(written)
        const error = await failureOf(strict.insert("thing", things(3, 3)))
        expect(error.reason._tag).toBe("Unavailable")
        expect(error.message).toContain("acknowledged by 0 of 1 replicas within 200 ms")
        const started = Date.now()
        const resumed = sleep(600).then(() => own.kill(replica, "SIGCONT"))
        await run(patient.insert("thing", things(4, 4)))
        expect(Date.now() - started, "the waited write returned only once the replica was back").toBeGreaterThanOrEqual(600)
        await resumed
      } finally {
        own.kill(replica, "SIGCONT")
      }
      const read = spawnSync("redis-cli", ["-p", String(replica)], { input: `READONLY\nGET ${plain.keys.doc("thing", 4)}\n`, encoding: "utf8" }).stdout
      expect(JSON.parse(read.split("\n")[1] ?? "null")).toEqual(things(4, 4)[0])
    } finally {
      await Promise.all([run(strict.close()), run(patient.close()), run(plain.drop()).then(() => run(plain.close()))])
    }
  }, 20_000)

  it("a scan begun the moment a primary is killed, and one after its replica is promoted, find every key of the namespace; drop removes all but its schema version", async () => {
    const { driver, primary } = await namespace("scan-failover", 20)
    try {
      const before = (await RedisStore.scanKeys(driver.client, driver.keys.all)).length
      own.kill(primary)
      expect((await RedisStore.scanKeys(driver.client, driver.keys.all)).length).toBe(before)
      const now = await failedOver(driver.keys.schema, primary)
      expect((await RedisStore.scanKeys(driver.client, driver.keys.all)).length).toBe(before)
      expect(await run(driver.drop())).toBe(before - 1)
      expect(await own.command(now, "--scan", "--pattern", driver.keys.all)).toBe(driver.keys.schemaVersion)
    } finally {
      await run(driver.close())
    }
  }, 20_000)

  it("after a primary stops answering (its connections left open) and its replica is promoted, requests go to the new primary", async () => {
    const { driver, primary } = await namespace("paused-primary", 3, { commandTimeoutMs: 500 })
    own.kill(primary, "SIGSTOP")
    try {
      await failedOver(driver.keys.schema, primary)
      const started = Date.now()
      const outcome = await Promise.race([run(driver.get("thing", [1, 2, 3])), sleep(10_000).then(() => "still pending after 10 s")])
      expect(outcome).toEqual(things(1, 3))
      expect(Date.now() - started).toBeLessThan(10_000)
    } finally {
      own.kill(primary, "SIGCONT")
      await run(driver.close())
    }
  }, 30_000)

  it("a cluster whose state is fail makes make() fail Unavailable, retryable, rather than hang", async () => {
    const failing = await startRedisCluster({ primaries: 3, replicasPerPrimary: 0, nodeTimeoutMs: 1_000 })
    try {
      const [dead, live] = failing.ports as [number, number]
      failing.kill(dead)
      while (!(await failing.command(live, "CLUSTER", "INFO")).includes("cluster_state:fail")) await sleep(100)
      const outcome = await Promise.race([
        failureOf(RedisStore.make({ url: `redis+cluster://127.0.0.1:${live}`, retry: { times: 0, baseDelayMs: 1 } })),
        sleep(10_000).then(() => undefined)
      ])
      expect(outcome, "make() still pending after 10 s").toBeDefined()
      expect(outcome!.reason._tag).toBe("Unavailable")
      expect(outcome!.isRetryable).toBe(true)
      expect(outcome!.message).toContain("cluster_state:fail")
    } finally {
      await failing.stop()
    }
  }, 30_000)
})
