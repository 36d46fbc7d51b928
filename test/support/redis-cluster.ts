/**
 * A real Redis Cluster for tests and benches: `redis-server` processes on free loopback ports, each with
 * cluster mode on and its state in a temporary directory, formed by `redis-cli --cluster create` (three
 * primaries or more), or, for a single primary, which `--cluster create` refuses, by giving that node every
 * slot with `CLUSTER ADDSLOTSRANGE`. Replicas follow their primaries. Nodes are killed and the directory
 * removed by `stop()`, and by a watchdog once the process is gone, however it ends (`dieWithThisProcess`).
 *
 * Talks to the nodes through `redis-cli` (Debian's redis-tools, installed with redis-server), so the helper
 * depends on no client library.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { dieWithThisProcess, freePort } from "./redis.js"

const exec = promisify(execFile)

export interface ClusterOptions {
  /** Primaries, each serving an equal share of the 16,384 slots: 1, or 3 and more. */
  readonly primaries?: number | undefined
  /** Replicas of each primary. */
  readonly replicasPerPrimary?: number | undefined
  /**
   * `cluster-node-timeout`: how long a primary may be unreachable before its replicas fail over. Short by
   * default, so a failover test waits a couple of seconds rather than fifteen.
   */
  readonly nodeTimeoutMs?: number | undefined
}

export interface ClusterNodeInfo {
  readonly port: number
  readonly id: string
  readonly role: "primary" | "replica"
  /** The primary's id, for a replica. */
  readonly primaryId?: string | undefined
  /** Slot ranges served, for a primary: `[first, last]` each. */
  readonly slots: ReadonlyArray<readonly [number, number]>
}

export interface RedisCluster {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…`: every node as a seed. */
  readonly url: string
  /** Every node's port, primaries first (as formed). */
  readonly ports: ReadonlyArray<number>
  /** The cluster as one live node sees it now (`CLUSTER NODES`), failed nodes left out. */
  readonly nodes: () => Promise<ReadonlyArray<ClusterNodeInfo>>
  /** The port of the primary that serves `key`'s slot now. */
  readonly primaryOf: (key: string) => Promise<number>
  /** A command on one node through redis-cli; its reply as text. */
  readonly command: (port: number, ...args: ReadonlyArray<string>) => Promise<string>
  /**
   * Kills one node (SIGKILL unless told): the others go on. SIGSTOP pauses it (it keeps its connections but
   * answers nothing) until SIGCONT; meanwhile the helper's own commands leave it out.
   */
  readonly kill: (port: number, signal?: NodeJS.Signals) => void
  /**
   * Waits until every live node reports `cluster_state:ok` and agrees on one primary per slot range, and every
   * replica has finished its sync with its primary.
   */
  readonly ready: (timeoutMs?: number) => Promise<void>
  readonly stop: () => Promise<void>
}

const cli = async (port: number, args: ReadonlyArray<string>): Promise<string> =>
  (await exec("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 30_000 })).stdout.trim()

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `CLUSTER NODES` parsed: one entry per node that is not failed or without an address. */
export const parseClusterNodes = (text: string): ReadonlyArray<ClusterNodeInfo> =>
  text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .flatMap((line): Array<ClusterNodeInfo> => {
      const [id = "", address = "", flags = "", primaryId = "", , , , , ...slots] = line.trim().split(" ")
      const flagSet = new Set(flags.split(","))
      if (["fail", "fail?", "noaddr", "handshake"].some((f) => flagSet.has(f))) return []
      const port = Number(/:(\d+)@/.exec(address)?.[1])
      const ranges = slots
        .filter((s) => !s.startsWith("["))
        .map((s): readonly [number, number] => {
          const [from, to = from] = s.split("-").map(Number) as [number, number?]
          return [from, to]
        })
      return flagSet.has("master")
        ? [{ port, id, role: "primary", slots: ranges }]
        : [{ port, id, role: "replica", primaryId, slots: [] }]
    })

const waitForPing = async (port: number, child: ChildProcess): Promise<void> => {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`)
    if ((await cli(port, ["PING"]).catch(() => "")) === "PONG") return
    await sleep(25)
  }
  throw new Error(`redis-server on port ${port} did not answer within 5 s`)
}

const startNodeOn = async (dir: string, nodeTimeoutMs: number, port: number): Promise<{ port: number; child: ChildProcess }> => {
  const args = [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
    "--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`,
    "--cluster-node-timeout", String(nodeTimeoutMs),
    // A replica may be promoted however long it was cut off: tests kill primaries on purpose.
    "--cluster-replica-validity-factor", "0",
    // A replica's first sync starts at once, not after the default 5 s wait for more replicas to join it.
    "--repl-diskless-sync-delay", "0",
    // A node learns its own address from the nodes that meet it: a lone primary would announce none.
    "--cluster-announce-ip", "127.0.0.1"
  ]
  const child = spawn("redis-server", args, { stdio: "ignore" })
  await new Promise<void>((resolve, reject) => {
    child.once("error", (e) =>
      reject(new Error(`cannot start redis-server (${String(e)}); install it: apt-get install redis-server`))
    )
    child.once("spawn", () => resolve())
  })
  try {
    await waitForPing(port, child)
  } catch (e) {
    // A node that never answered is not the cluster's: nothing else would kill it.
    child.kill("SIGKILL")
    throw e
  }
  return { port, child }
}

/** Redis refuses a port whose cluster bus port, 10,000 above, would not exist. */
const highestPort = 55_535

/**
 * A node on a free port. Another port is tried when the server exits at start: its port or its bus port was
 * taken meanwhile (other tests start servers and clusters at the same time).
 */
const startNode = async (dir: string, nodeTimeoutMs: number): Promise<{ port: number; child: ChildProcess }> => {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    if (port > highestPort) continue
    try {
      return await startNodeOn(dir, nodeTimeoutMs, port)
    } catch (e) {
      if (attempt >= 5 || !/exited/.test(String(e))) throw e
    }
  }
}

/** Forms a cluster of one primary (which `--cluster create` refuses) and its replicas, by hand. */
const formSingle = async (ports: ReadonlyArray<number>): Promise<void> => {
  const [primary, ...replicas] = ports as [number, ...Array<number>]
  await cli(primary, ["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])
  const primaryId = await cli(primary, ["CLUSTER", "MYID"])
  for (const port of replicas) await cli(port, ["CLUSTER", "MEET", "127.0.0.1", String(primary)])
  for (const port of replicas) {
    for (let i = 0; ; i++) {
      const reply = await cli(port, ["CLUSTER", "REPLICATE", primaryId]).catch((e: unknown) => String(e))
      if (reply === "OK") break
      if (i >= 200) throw new Error(`node ${port} could not replicate ${primary}: ${reply}`)
      await sleep(25)
    }
  }
}

/** Starts a cluster and waits until it serves every slot. */
export const startRedisCluster = async (options: ClusterOptions = {}): Promise<RedisCluster> => {
  const primaries = options.primaries ?? 3
  const replicasPerPrimary = options.replicasPerPrimary ?? 1
  if (!(primaries === 1 || primaries >= 3)) throw new Error(`a cluster needs 1 or at least 3 primaries, got ${primaries}`)
  const dir = mkdtempSync(join(tmpdir(), "lineage-redis-cluster-"))
  const children = new Map<number, ChildProcess>()
  let unwatch = () => {}
  const stopNow = () => {
    unwatch()
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    rmSync(dir, { recursive: true, force: true })
  }
  process.once("exit", stopNow)
  try {
    const count = primaries * (1 + replicasPerPrimary)
    // Every start is waited for, so that a node answering after another failed is registered, and killed, too.
    const starts = await Promise.allSettled(
      Array.from({ length: count }, () => startNode(dir, options.nodeTimeoutMs ?? 1_000).then((node) => (children.set(node.port, node.child), node)))
    )
    const failed = starts.find((s) => s.status === "rejected")
    if (failed !== undefined) throw failed.reason
    const started = starts.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []))
    unwatch = dieWithThisProcess(started.map(({ port, child }) => ({ port, pid: child.pid! })), dir)
    const ports = started.map((s) => s.port)
    if (primaries === 1) await formSingle(ports)
    else
      await exec(
        "redis-cli",
        ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", String(replicasPerPrimary), "--cluster-yes"],
        { timeout: 60_000 }
      )
    const paused = new Set<number>()
    const live = () => ports.filter((p) => !paused.has(p) && children.get(p)?.exitCode === null && children.get(p)?.signalCode === null)
    const nodes = async () => parseClusterNodes(await cli(live()[0]!, ["CLUSTER", "NODES"]))
    const ready = async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const states = await Promise.all(
          live().map((p) => Promise.all([cli(p, ["CLUSTER", "INFO"]), cli(p, ["INFO", "replication"])]).then((r) => r.join("\n")).catch(() => ""))
        )
        const views = await Promise.all(live().map((p) => cli(p, ["CLUSTER", "NODES"]).then(parseClusterNodes).catch(() => [])))
        const agreed = views.every((v) => v.filter((n) => n.role === "primary" && n.slots.length > 0).length === primaries)
        const synced = views.every((v) => v.filter((n) => n.role === "replica").length === live().length - primaries)
        // A replica that has not finished its sync holds none of its primary's data: failing over to it loses all.
        const linked = states.every((s) => !s.includes("role:slave") || s.includes("master_link_status:up"))
        if (states.every((s) => s.includes("cluster_state:ok")) && agreed && synced && linked) return
        if (Date.now() > deadline) throw new Error(`Redis Cluster on ${ports.join(", ")} not ready within ${timeoutMs} ms`)
        await sleep(100)
      }
    }
    await ready()
    const cluster: RedisCluster = {
      url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(",")}`,
      ports,
      nodes,
      primaryOf: async (key) => {
        const slot = Number(await cli(live()[0]!, ["CLUSTER", "KEYSLOT", key]))
        const owner = (await nodes()).find((n) => n.slots.some(([from, to]) => slot >= from && slot <= to))
        if (owner === undefined) throw new Error(`no primary serves slot ${slot} (key ${JSON.stringify(key)})`)
        return owner.port
      },
      command: (port, ...args) => cli(port, args),
      kill: (port, signal = "SIGKILL") => {
        if (signal === "SIGSTOP") paused.add(port)
        if (signal === "SIGCONT") paused.delete(port)
        children.get(port)?.kill(signal)
      },
      ready,
      stop: async () => {
        process.removeListener("exit", stopNow)
        stopNow()
      }
    }
    return cluster
  } catch (e) {
    stopNow()
    process.removeListener("exit", stopNow)
    throw e
  }
}

let shared: Promise<RedisCluster> | undefined

/** The three-primary, three-replica cluster of this test process, started once. */
export const redisCluster = (): Promise<RedisCluster> => (shared ??= startRedisCluster())

/** Stops the shared cluster, if one was started (a test file's `afterAll`); the next `redisCluster()` starts another. */
export const stopRedisCluster = async (): Promise<void> => {
  const cluster = shared
  shared = undefined
  await (await cluster?.catch(() => undefined))?.stop()
}
