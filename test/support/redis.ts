/**
 * A Redis server for tests: the one at 127.0.0.1:6379 when it answers, else a private `redis-server` on a
 * free port (stopped when the process exits), else a failure that says how to get one. Tests isolate
 * themselves by a unique prefix per run and case, and drop what they made.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import { createServer, Socket } from "node:net"
import { Effect } from "effect"
import type { Backdoor } from "@lineage/conformance"
import type { Driver } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"

export interface RedisServer {
  readonly url: string
  readonly port: number
  /** Stops the server if this process started it. */
  readonly stop: () => Promise<void>
}

const ping = (port: number, timeoutMs = 500): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = new Socket()
    let reply = ""
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once("error", () => done(false))
    socket.on("data", (chunk) => {
      reply += chunk.toString()
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"))
    })
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"))
  })

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/**
 * Kills `servers` and removes `dir` once this process is gone, however it ends: a test worker that is torn
 * down or killed gets no `exit` event, and its servers would run on for ever. A detached shell polls this
 * process's pid; it kills a pid only while that pid is still the server on that port (redis-server's
 * process title names its port), so a pid reused meanwhile is spared. Returns a function that ends the
 * watch (and its shell).
 */
export const dieWithThisProcess = (servers: ReadonlyArray<{ readonly pid: number; readonly port: number }>, dir?: string): (() => void) => {
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    `for s in ${servers.map((s) => `${s.pid}:${s.port}`).join(" ")}; do`,
    '  pid=${s%%:*}; port=${s#*:}',
    `  tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null | grep -q "redis-server [^ ]*:$port\\b" && kill -9 "$pid"`,
    "done",
    dir === undefined ? "" : `rm -rf '${dir}'`
  ].join("\n")
  const shell = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" })
  shell.unref()
  return () => void shell.kill("SIGKILL")
}

/**
 * A `redis-server` of the caller's own on a free port, with `args` added (e.g. `--replicaof`), stopped by
 * `stop()`, and killed when the process ends (`dieWithThisProcess`).
 */
export const startPrivateRedis = async (args: ReadonlyArray<string> = []): Promise<RedisServer> => {
  const port = await freePort()
  let child: ChildProcess
  try {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...args], { stdio: "ignore" })
    await new Promise<void>((resolve, reject) => {
      child.once("error", reject)
      child.once("spawn", () => resolve())
    })
  } catch (e) {
    throw new Error(
      `No Redis server for the tests: redis-server could not be started (${String(e)}). ` +
        "install redis-server: apt-get install redis-server (or start one on port 6379)"
    )
  }
  const unwatch = dieWithThisProcess([{ pid: child.pid!, port }])
  const stop = async () => {
    unwatch()
    if (child.exitCode === null) child.kill("SIGTERM")
  }
  for (let i = 0; i < 100; i++) {
    if (await ping(port)) return { url: `redis://127.0.0.1:${port}`, port, stop }
    await new Promise((r) => setTimeout(r, 50))
  }
  await stop()
  throw new Error(`redis-server on port ${port} did not answer within 5 s; install redis-server: apt-get install redis-server`)
}

const start = async (): Promise<RedisServer> =>
  (await ping(6379)) ? { url: "redis://127.0.0.1:6379", port: 6379, stop: async () => {} } : startPrivateRedis()

let shared: Promise<RedisServer> | undefined

/** The server for this test process, found or started once. */
export const redisServer = (): Promise<RedisServer> => (shared ??= start())

/** Namespaces of this run start with this, so a crashed run's leftovers are recognisable. */
export const runId = `lineage-test:${process.pid}-${randomBytes(4).toString("hex")}`

let counter = 0
export const freshPrefix = (label: string): string => `${runId}:${label}:${counter++}`

export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

/** A driver on a fresh namespace (of the test server unless `options.url` says otherwise) whose `close` also deletes the namespace. */
export const freshDriver = async (label: string, options: RedisStore.RedisStoreOptions = {}): Promise<RedisStore.RedisDriver> => {
  const url = options.url ?? (await redisServer()).url
  const driver = await run(RedisStore.make({ url, prefix: freshPrefix(label), ...options }))
  return { ...driver, close: () => Effect.andThen(Effect.ignore(driver.drop()), driver.close()) }
}

/** Another handle onto the same namespace, as a second process would open (`options` as `freshDriver`'s). */
export const reopen = async (driver: RedisStore.RedisDriver, options: RedisStore.RedisStoreOptions = {}): Promise<RedisStore.RedisDriver> => {
  const url = options.url ?? (await redisServer()).url
  return run(RedisStore.make({ url, prefix: driver.prefix, ...options }))
}

/** Reads persisted documents through the raw client (SCAN of every primary of a cluster), not the driver's queries. */
export const backdoor = (driver: RedisStore.RedisDriver): Backdoor => ({
  all: async (table) => {
    const keys = await RedisStore.scanKeys(driver.client, driver.keys.docPattern(table))
    if (keys.length === 0) return []
    const raws = await driver.client.mget(...keys)
    return raws.flatMap((raw): Array<Driver.Doc> => (raw === null ? [] : [JSON.parse(raw) as Driver.Doc]))
  },
  get: async (table, id) => {
    const raw = await driver.client.get(driver.keys.doc(table, id))
    return raw === null ? undefined : (JSON.parse(raw) as Driver.Doc)
  }
})

/**
 * A raw client for what tests do behind the store's back (CLIENT KILL, …). The root package does not
 * depend on ioredis itself, so the client comes from a driver on a namespace of its own.
 */
export const adminClient = async (): Promise<{ readonly client: RedisStore.RedisDriver["client"]; readonly close: () => Promise<void> }> => {
  const server = await redisServer()
  const driver = await run(RedisStore.make({ url: server.url, prefix: freshPrefix("admin"), connectionName: "lineage-test-admin" }))
  return { client: driver.client, close: () => run(driver.close()) }
}

/**
 * Counts commands sent and round trips (a command sent while no reply is outstanding starts one; commands
 * of one pipeline or sent concurrently share it).
 */
export const countRoundTrips = (client: RedisStore.RedisDriver["client"]): { commands: number; roundTrips: number } => {
  const counts = { commands: 0, roundTrips: 0 }
  let outstanding = 0
  const original = client.sendCommand.bind(client)
  client.sendCommand = ((command: { promise: Promise<unknown> }, ...rest: Array<unknown>) => {
    counts.commands++
    if (outstanding === 0) counts.roundTrips++
    outstanding++
    const done = () => void outstanding--
    command.promise.then(done, done)
    return (original as (...a: Array<unknown>) => unknown)(command, ...rest)
  }) as typeof client.sendCommand
  return counts
}

/** A command as the client sends it: its name and arguments. */
export interface SentCommand {
  readonly name: string
  readonly args: ReadonlyArray<string | Buffer | number>
}

/** Shows `watch` every command the client sends while `f` runs; the client is as it was afterwards. */
export const watchCommands = async (
  client: RedisStore.RedisDriver["client"],
  watch: (command: SentCommand) => void,
  f: () => Promise<unknown>
): Promise<void> => {
  const original = client.sendCommand
  client.sendCommand = ((command: SentCommand, ...rest: Array<unknown>) => {
    watch(command)
    return (original as (...a: Array<unknown>) => unknown).call(client, command, ...rest)
  }) as typeof client.sendCommand
  try {
    await f()
  } finally {
    client.sendCommand = original
  }
}
