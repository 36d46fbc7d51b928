/**
 * Scaling by namespaces on Redis Cluster. A namespace's keys share one hash tag, so a namespace lives on one
 * primary and a cluster scales by holding many namespaces. Measured: many namespaces (48; 12 with `--quick`)
 * queried, then written, by several client processes at once, on a cluster of one primary and on one of three
 * primaries, both started in this run (test/support/redis-cluster.ts; no replicas, so every server process
 * counted serves clients). On three primaries the namespaces are dealt to the primaries in turn; each client
 * process holds namespaces of every primary.
 *
 * Both clusters run at once, each with its own client processes; each phase runs for the same time on both, in
 * slices taken in turns (so other work on the machine weighs on both alike), every namespace keeping one
 * operation in flight: a query of a rare feature value (50 runs, decoded into `Run` records), or a
 * `Run.createMany` of `batch` runs. Reported: the aggregate queries/s and runs written/s, their ratio three
 * primaries against one, and where the CPU went: the client processes' (`process.cpuUsage` in each), each
 * primary's (`INFO cpu`) and the rest of the machine's (/proc/stat), as cores kept busy.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import { spreadNamespaces } from "../test/support/cluster-namespaces.js"
import { startRedisCluster, type RedisCluster } from "../test/support/redis-cluster.js"
import type { PhaseResult } from "./cluster-worker.js"
import { log } from "./common.js"
import type { Row } from "./report.js"

export interface ClusterOptions {
  readonly namespaces: number
  readonly workers: number
  /** Runs loaded into each namespace before the phases: what the queries read. */
  readonly preload: number
  /** Runs per `Run.createMany` of the write phase. */
  readonly batch: number
  /** Each phase's time on each cluster, run in `rounds` slices taken in turns. */
  readonly phaseMs: number
  readonly rounds: number
}

export interface PhaseFigures {
  /** Queries answered or runs written, per second, all processes together. */
  readonly perSec: number
  readonly seconds: number
  /** CPU seconds of the client processes, together. */
  readonly clientCpu: number
  /** CPU seconds of each primary. */
  readonly serverCpu: ReadonlyArray<number>
  /** CPU seconds of the whole machine, every process (Linux's /proc/stat; NaN elsewhere). */
  readonly machineCpu: number
}

export interface ClusterRun {
  readonly primaries: number
  /** Namespaces on each primary. */
  readonly spread: ReadonlyArray<number>
  readonly query: PhaseFigures
  readonly write: PhaseFigures
}

export interface ClusterFigures extends ClusterOptions {
  readonly cores: number
  /** One primary, then three. */
  readonly runs: readonly [ClusterRun, ClusterRun]
}

/** Whether a cluster can be started here: `redis-server`, and `redis-cli` to form it. */
export const available = (): boolean =>
  spawnSync("redis-server", ["--version"]).status === 0 && spawnSync("redis-cli", ["--version"]).status === 0

const workerScript = fileURLToPath(new URL("./cluster-worker.ts", import.meta.url))

/** A client process and its messages, in order. */
interface Worker {
  readonly child: ChildProcess
  readonly next: <A>() => Promise<A>
}

const startWorker = (env: Record<string, string>): Worker => {
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@lineage/source", workerScript], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const queue: Array<unknown> = []
  const waiting: Array<{ resolve: (m: unknown) => void; reject: (e: Error) => void }> = []
  child.on("message", (m) => (waiting.length > 0 ? waiting.shift()!.resolve(m) : queue.push(m)))
  child.once("exit", (code, signal) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`bench client exited (${code ?? signal})`))
  })
  const next = <A>() =>
    new Promise<A>((resolve, reject) => {
      if (queue.length > 0) return resolve(queue.shift() as A)
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`bench client exited (${child.exitCode ?? child.signalCode})`))
      waiting.push({ resolve: resolve as (m: unknown) => void, reject })
    })
  return { child, next }
}

/** Asks a client to close its stores and exit; kills it if it has not within 10 s. */
const stopWorker = async ({ child }: Worker): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once("exit", r))
  if (child.connected) child.send({ phase: "exit" })
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
  await exited
  clearTimeout(timer)
}

/** CPU seconds (user + system) a node has used since it started. */
const serverCpu = async (cluster: RedisCluster, port: number): Promise<number> => {
  const info = await cluster.command(port, "INFO", "cpu")
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN)
  return field("used_cpu_user") + field("used_cpu_sys")
}

/** The machine's CPU time so far, busy and in all, in ticks (the first line of /proc/stat); undefined off Linux. */
const machineTicks = (): { readonly busy: number; readonly total: number } | undefined => {
  try {
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, ...rest] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
    const total = user + nice + system + idle + iowait + rest.slice(0, 3).reduce((a, b) => a + b, 0)
    return { busy: total - idle - iowait, total }
  } catch {
    return undefined
  }
}

/** Every client runs `phase` for `ms` at once; the aggregate rate and the CPU spent by clients and primaries. */
const runPhase = async (cluster: RedisCluster, primaries: ReadonlyArray<number>, workers: ReadonlyArray<Worker>, phase: "query" | "write", ms: number): Promise<PhaseFigures> => {
  const before = await Promise.all(primaries.map((p) => serverCpu(cluster, p)))
  const ticks = machineTicks()
  for (const w of workers) w.child.send({ phase, ms })
  const results = await Promise.all(workers.map((w) => w.next<PhaseResult>()))
  const ticksAfter = machineTicks()
  const after = await Promise.all(primaries.map((p) => serverCpu(cluster, p)))
  const seconds = Math.max(...results.map((r) => r.ms)) / 1000
  // The busy share of every core's ticks, as CPU seconds over the phase.
  const machineCpu =
    ticks === undefined || ticksAfter === undefined
      ? Number.NaN
      : ((ticksAfter.busy - ticks.busy) / (ticksAfter.total - ticks.total)) * cpus().length * seconds
  return {
    perSec: results.reduce((n, r) => n + r.ops, 0) / seconds,
    seconds,
    clientCpu: results.reduce((n, r) => n + r.cpuMs, 0) / 1000,
    serverCpu: after.map((a, i) => a - before[i]!),
    machineCpu
  }
}

/** A cluster with its namespaces placed and loaded, and its client processes ready. */
interface Setup {
  readonly cluster: RedisCluster
  readonly primaryCount: number
  /** The primaries' ports, ascending. */
  readonly primaries: ReadonlyArray<number>
  readonly spread: ReadonlyArray<number>
  readonly workers: ReadonlyArray<Worker>
}

const prepare = async (primaryCount: number, o: ClusterOptions): Promise<Setup> => {
  const cluster = await startRedisCluster({ primaries: primaryCount, replicasPerPrimary: 0 })
  const workers: Array<Worker> = []
  try {
    const placed = await spreadNamespaces(cluster, o.namespaces, "bench-cluster")
    const primaries = [...new Set(placed.map((p) => p.port))].sort((a, b) => a - b)
    const spread = primaries.map((port) => placed.filter((p) => p.port === port).length)
    for (let w = 0; w < o.workers; w++) {
      const prefixes = placed.filter((_, i) => i % o.workers === w).map((p) => p.prefix)
      workers.push(startWorker({ CLUSTER_URL: cluster.url, PREFIXES: prefixes.join(","), PRELOAD: String(o.preload), BATCH: String(o.batch) }))
    }
    await Promise.all(workers.map((w) => w.next()))
    return { cluster, primaryCount, primaries, spread, workers }
  } catch (e) {
    await Promise.all(workers.map(stopWorker))
    await cluster.stop()
    throw e
  }
}

const release = async (setup: Setup): Promise<void> => {
  await Promise.all(setup.workers.map(stopWorker))
  await setup.cluster.stop()
}

/** Two slices of one phase together: operations, seconds and CPU added up. */
const add = (a: PhaseFigures, b: PhaseFigures): PhaseFigures => {
  const seconds = a.seconds + b.seconds
  return {
    perSec: (a.perSec * a.seconds + b.perSec * b.seconds) / seconds,
    seconds,
    clientCpu: a.clientCpu + b.clientCpu,
    serverCpu: a.serverCpu.map((x, i) => x + b.serverCpu[i]!),
    machineCpu: a.machineCpu + b.machineCpu
  }
}

/**
 * Both clusters are set up at once, then measured in turns: each phase is cut into `rounds` slices, run on one
 * cluster, then on the other, so that whatever else the machine runs meanwhile weighs on both alike. Which one
 * goes first alternates by round, so neither always follows the other's load (or always runs on a fresh one).
 */
export const measure = async (o: ClusterOptions): Promise<ClusterFigures> => {
  const setups: Array<Setup> = []
  try {
    for (const primaryCount of [1, 3]) setups.push(await prepare(primaryCount, o))
    const runs = setups.map((): { query?: PhaseFigures; write?: PhaseFigures } => ({}))
    for (const phase of ["query", "write"] as const)
      for (let round = 0; round < o.rounds; round++)
        for (const [i, setup] of round % 2 === 0 ? [...setups.entries()] : [...setups.entries()].reverse()) {
          const slice = await runPhase(setup.cluster, setup.primaries, setup.workers, phase, o.phaseMs / o.rounds)
          const sofar = runs[i]![phase]
          runs[i]![phase] = sofar === undefined ? slice : add(sofar, slice)
        }
    const [one, three] = setups.map((setup, i): ClusterRun => ({ primaries: setup.primaryCount, spread: setup.spread, query: runs[i]!.query!, write: runs[i]!.write! }))
    for (const run of [one!, three!]) log(`  ${describeRun(run)}`)
    return { ...o, cores: cpus().length, runs: [one!, three!] }
  } finally {
    for (const setup of setups) await release(setup)
  }
}

const cores = (cpuSeconds: number, seconds: number) => (cpuSeconds / seconds).toFixed(2)
const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)

/** Where a phase's CPU went, as cores kept busy: the clients, each primary, every other process of the machine. */
const cpuSplit = (p: PhaseFigures): string =>
  `clients ${cores(p.clientCpu, p.seconds)}, primaries ${p.serverCpu.map((s) => cores(s, p.seconds)).join(" + ")}, ` +
  `other processes ${cores(p.machineCpu - p.clientCpu - sum(p.serverCpu), p.seconds)}`

const describeRun = (r: ClusterRun): string =>
  `${r.primaries} primar${r.primaries === 1 ? "y" : "ies"} (namespaces ${r.spread.join("/")}): ` +
  `${Math.round(r.query.perSec).toLocaleString("en")} queries/s [${cpuSplit(r.query)}], ` +
  `${Math.round(r.write.perSec).toLocaleString("en")} runs written/s [${cpuSplit(r.write)}]`

/** CPU seconds per operation: the clients', and the primaries' together. */
const perOp = (p: PhaseFigures) => {
  const ops = p.perSec * p.seconds
  return { client: p.clientCpu / ops, server: sum(p.serverCpu) / ops }
}

const µs = (seconds: number) => `${Math.round(seconds * 1e6).toLocaleString("en")} µs`
const rate = (x: number) => Math.round(x).toLocaleString("en")

/**
 * A phase's row: the rate on three primaries against one, where the CPU went in each, the CPU per operation,
 * what bounded the rate (the clients or the busiest primary), and the primaries' own ceiling: a primary runs
 * on one core, so it cannot serve more than one second of CPU ÷ its CPU per operation.
 */
const phaseRow = (f: ClusterFigures, phase: string, unit: string, pick: (r: ClusterRun) => PhaseFigures): Row => {
  const [one, three] = f.runs.map(pick) as [PhaseFigures, PhaseFigures]
  const [costOne, costThree] = [perOp(one), perOp(three)]
  const busiest = Math.max(...one.serverCpu) / one.seconds
  const machine = one.machineCpu / one.seconds
  const bound =
    busiest >= 0.9
      ? `the one primary, saturated (${busiest.toFixed(2)} of a core)`
      : machine >= 0.9 * f.cores
        ? `the machine's ${f.cores} cores, all busy (the one primary used ${busiest.toFixed(2)} of a core)`
        : `neither the primary (${busiest.toFixed(2)} of a core) nor the cores (${machine.toFixed(2)} of ${f.cores} busy): each namespace keeps one operation in flight`
  return {
    what: `redis cluster, ${f.namespaces} namespaces, ${f.workers} client processes: ${phase}`,
    measured: `${rate(three.perSec)} ${unit}/s on 3 primaries = ${(three.perSec / one.perSec).toFixed(2)}× 1 primary`,
    target: "none (scaling, reported)",
    verdict: "reported",
    baseline:
      `1 primary: ${rate(one.perSec)} ${unit}/s. CPU, cores busy: 1 primary ${cpuSplit(one)}; 3 primaries ${cpuSplit(three)}. ` +
      `Per op: client ${µs(costOne.client)}, server ${µs(costOne.server)} (1 primary); client ${µs(costThree.client)}, server ${µs(costThree.server)} (3). ` +
      `Bound here by ${bound}. Server ceiling (1 core ÷ server CPU per op): ${rate(1 / costOne.server)}/s per primary, ${rate(3 / costThree.server)}/s on 3`
  }
}

export const clusterRows = (f: ClusterFigures): Array<Row> => [
  phaseRow(f, "queries (rare feature value, 50 runs)", "queries", (r) => r.query),
  phaseRow(f, `writes (Run.createMany, ${f.batch} per call)`, "runs", (r) => r.write)
]
