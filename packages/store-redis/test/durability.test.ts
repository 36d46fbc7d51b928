/**
 * `waitForReplicas` on one server (a private primary, and a replica the test attaches): a write no replica
 * acknowledged fails typed and retryable, applied on the primary; a retry finds it applied by its token and
 * waits again, never applying it twice; a write that resolved is on the replica; declarations and reserved ids
 * wait too. The same option on a cluster is tested in test/redis-cluster-conformance.test.ts.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Driver, StoreError } from "@lineage/core"
import { failureOf } from "../../../test/support/failures.js"
import { freshDriver, type RedisServer, reopen, run, startPrivateRedis, watchCommands } from "../../../test/support/redis.js"
import type { RedisDriver } from "../src/index.js"

const table: Driver.TableSpec = { name: "t", unique: [], indexes: [] }

/** The names of the commands `driver` sends while `f` runs. */
const commandsSent = async (driver: RedisDriver, f: () => Promise<unknown>): Promise<Array<string>> => {
  const names: Array<string> = []
  await watchCommands(driver.client, (command) => names.push(command.name), f)
  return names
}

const count = (names: ReadonlyArray<string>, ...of: ReadonlyArray<string>) => names.filter((n) => of.includes(n)).length

/** `table` declared through a handle that does not wait: a declaration waits for replicas too. */
const declared = async (driver: RedisDriver, url: string): Promise<void> => {
  const plain = await reopen(driver, { url })
  try {
    await run(plain.declare([table]))
  } finally {
    await run(plain.close())
  }
}

describe("waitForReplicas on one server", () => {
  let primary: RedisServer
  const servers: Array<RedisServer> = []
  const dir = mkdtempSync(join(tmpdir(), "lineage-redis-replica-"))
  beforeAll(async () => {
    // A replica attaching gets its first copy at once, not after the default 5 s of waiting for others.
    primary = await startPrivateRedis(["--repl-diskless-sync-delay", "0"])
    servers.push(primary)
  })
  afterAll(async () => {
    for (const server of servers) await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it("a write no replica acknowledges fails Unavailable saying so; it is applied, and each retry waits again without applying it twice", async () => {
    const driver = await freshDriver("wait-none", { url: primary.url, waitForReplicas: { replicas: 1, timeoutMs: 50 }, retry: { times: 2, baseDelayMs: 1 } })
    try {
      await declared(driver, primary.url)
      let error: StoreError | undefined
      const sent = await commandsSent(driver, async () => (error = await failureOf(driver.insert("t", [{ id: 1, uid: "a" }]))))
      expect(error!.reason._tag).toBe("Unavailable")
      expect(error!.isRetryable).toBe(true)
      expect(error!.message).toContain("the write is applied on the primary; acknowledged by 0 of 1 replicas within 50 ms")
      // One script; a WAIT after it and after each of the two retries, which found the write by its token.
      expect(count(sent, "evalsha", "eval")).toBe(1)
      expect(count(sent, "wait")).toBe(3)
      expect(driver.stats().replayedWrites).toBe(2)
      expect(await run(driver.get("t", [1]))).toEqual([{ id: 1, uid: "a" }])
    } finally {
      await run(driver.close())
    }
  })

  it("a declaration and a reservation of ids no replica acknowledges fail Unavailable saying so, applied on the primary", async () => {
    const driver = await freshDriver("wait-declare", { url: primary.url, waitForReplicas: { replicas: 1, timeoutMs: 50 }, retry: { times: 0, baseDelayMs: 1 } })
    try {
      const refusedDeclare = await failureOf(driver.declare([table]))
      expect([refusedDeclare.reason._tag, refusedDeclare.isRetryable]).toEqual(["Unavailable", true])
      expect(refusedDeclare.message).toContain("the declaration is applied on the primary; acknowledged by 0 of 1 replicas within 50 ms")
      expect(await driver.client.hexists(driver.keys.schema, "t")).toBe(1)
      const refusedIds = await failureOf(driver.reserveIds("t", 10))
      expect([refusedIds.reason._tag, refusedIds.isRetryable]).toEqual(["Unavailable", true])
      expect(refusedIds.message).toContain("the ids are reserved on the primary; acknowledged by 0 of 1 replicas within 50 ms")
      expect(await driver.client.get(driver.keys.seq("t"))).toBe("10")
    } finally {
      await run(driver.close())
    }
  })

  /** A replica of the primary; the copy it receives goes to a temporary directory, not the working one. */
  const startReplica = () => startPrivateRedis(["--replicaof", "127.0.0.1", String(primary.port), "--dir", dir])

  /** Redis's reply on `server` to a command, through redis-cli. */
  const cli = (server: RedisServer, ...args: ReadonlyArray<string>) =>
    spawnSync("redis-cli", ["-p", String(server.port), ...args], { encoding: "utf8" }).stdout.trim()

  /**
   * Waits until `replica` follows the primary, in sync, and is the only one that does (another test's is
   * gone), as the primary sees it (a replica re-attached still says its link is up while it resyncs).
   */
  const linkedUp = async (replica: RedisServer) => {
    const linked = () => {
      const info = cli(primary, "INFO", "replication")
      return info.includes("connected_slaves:1") && info.includes(`port=${replica.port},state=online`)
    }
    for (let i = 0; i < 200 && !linked(); i++) await new Promise((resolve) => setTimeout(resolve, 25))
    expect(linked(), "the replica follows the primary, alone").toBe(true)
  }

  it("a write waiting when a replica attaches succeeds, applied once, and is on the replica when it resolves", async () => {
    const driver = await freshDriver("wait-attach", { url: primary.url, waitForReplicas: { replicas: 1, timeoutMs: 200 }, retry: { times: 8, baseDelayMs: 50 } })
    try {
      await declared(driver, primary.url)
      let replica: RedisServer | undefined
      const sent = await commandsSent(driver, async () => {
        const write = run(driver.insert("t", [{ id: 1, uid: "a" }]))
        // After the first WAIT has timed out on the server, with no replica to acknowledge it.
        await new Promise((resolve) => setTimeout(resolve, 300))
        servers.push((replica = await startReplica()))
        await write
      })
      expect(count(sent, "evalsha", "eval")).toBe(1)
      expect(count(sent, "wait")).toBeGreaterThan(1)
      expect(JSON.parse(cli(replica!, "GET", driver.keys.doc("t", 1)))).toEqual({ id: 1, uid: "a" })
      await replica!.stop()
    } finally {
      await run(driver.close())
    }
  })

  it("a replica that stops replicating makes a write fail typed, applied on the primary only; writes resume when it is back", async () => {
    const replica = await startReplica()
    servers.push(replica)
    // Retries enough that a replica slowed by a loaded machine still acknowledges the steps meant to succeed.
    const driver = await freshDriver("wait-detach", { url: primary.url, waitForReplicas: { replicas: 1, timeoutMs: 100 }, retry: { times: 4, baseDelayMs: 10 } })
    const key = (id: number) => driver.keys.doc("t", id)
    try {
      await linkedUp(replica)
      // Waited for, now that the replica follows.
      await run(driver.declare([table]))
      expect(await run(driver.reserveIds("t", 5))).toBe(1)
      await run(driver.insert("t", [{ id: 1, uid: "a" }]))
      expect(cli(replica, "REPLICAOF", "NO", "ONE")).toBe("OK")
      const error = await failureOf(driver.insert("t", [{ id: 2, uid: "b" }]))
      expect(error.reason._tag).toBe("Unavailable")
      expect(error.message).toContain("acknowledged by 0 of 1 replicas within 100 ms")
      expect(JSON.parse(cli(primary, "GET", key(2)))).toEqual({ id: 2, uid: "b" })
      expect(cli(replica, "GET", key(2))).toBe("")
      expect(cli(replica, "REPLICAOF", "127.0.0.1", String(primary.port))).toBe("OK")
      await linkedUp(replica)
      await run(driver.insert("t", [{ id: 3, uid: "c" }]))
      expect(JSON.parse(cli(replica, "GET", key(2)))).toEqual({ id: 2, uid: "b" })
      expect(JSON.parse(cli(replica, "GET", key(3)))).toEqual({ id: 3, uid: "c" })
    } finally {
      await run(driver.close())
    }
  })
})
