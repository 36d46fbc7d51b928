/**
 * The ioredis clients the store opens: one server (`Redis`) or a Redis Cluster (`Cluster`), each with
 * bounded reconnects and a command timeout, holding the process only while a command is pending. And what
 * the store does that is not a command on one key: scanning for keys, on every primary of a cluster.
 */
import { type Command, Cluster, Redis } from "ioredis"
import { Effect, Redacted } from "effect"
import { Driver, StoreError } from "@lineage/core"
import type { ClusterNode } from "./ClusterUrl.js"
import { type Connection, describe } from "./Connection.js"

/** A client the store runs on: one server, or a Redis Cluster. */
export type RedisClient = Redis | Cluster

export const isCluster = (client: RedisClient): client is Cluster => (client as { readonly isCluster?: unknown }).isCluster === true

/**
 * Keeps the process alive while a command is pending, and only then, as the memory store does: the client's
 * sockets and reconnect timers are unref'd, so an idle client never holds the process.
 */
class Pending {
  #count = 0
  #keepAlive: ReturnType<typeof setInterval> | undefined

  /**
   * Counts `command` until it settles. ioredis may send one command several times (offline queue, resend
   * after a reconnect, a cluster's redirects): each send is counted and uncounted once.
   */
  hold(command: Command): void {
    if (this.#count++ === 0) this.#keepAlive = setInterval(() => {}, 2 ** 31 - 1)
    const settled = () => {
      if (--this.#count === 0) clearInterval(this.#keepAlive)
    }
    command.promise.then(settled, settled)
  }
}

/** Capped exponential backoff between reconnect attempts: Redis may come back, so they go on forever. */
const reconnectDelay = (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1_000)

/** How long to wait for a connection, and for a command's reply (a write's WAIT included). */
export interface Timeouts {
  readonly connectMs: number
  readonly commandMs: number
}

/**
 * What every connection to a server needs to log in and be found in `CLIENT LIST`, and a command timeout:
 * a server that stops answering without closing its connection (a paused process, a partition) would
 * otherwise hold every request sent to it for ever.
 */
const serverOptions = (c: Connection, timeouts: Timeouts, connectionName: string) => ({
  ...(c.username === undefined ? {} : { username: c.username }),
  ...(c.password === undefined ? {} : { password: Redacted.value(c.password) }),
  ...(c.tls ? { tls: {} } : {}),
  connectionName,
  connectTimeout: timeouts.connectMs,
  commandTimeout: timeouts.commandMs
})

/**
 * Client options: reconnect forever with a capped delay (Redis may come back), but fail each request after
 * two reconnect attempts, so a caller learns soon that Redis is gone; our own retry schedule is bounded.
 * Requests in flight when a connection drops are re-sent after reconnecting: writes carry a token that
 * makes a re-sent write a no-op.
 */
export const clientOptions = (c: Connection, timeouts: Timeouts, connectionName: string) => ({
  host: c.host,
  port: c.port,
  ...serverOptions(c, timeouts, connectionName),
  db: c.db,
  lazyConnect: true,
  maxRetriesPerRequest: 2,
  retryStrategy: reconnectDelay,
  autoResendUnfulfilledCommands: true,
  enableOfflineQueue: true
})

/**
 * An ioredis client with two guarantees ioredis lacks. It keeps the process alive only while a command is
 * pending (`Pending`). And once the server refused the database (`SELECT` fails during a connection's
 * handshake, which ioredis only reports as an `error` event before going on in database 0), it refuses every
 * command with that refusal, so none reaches the wrong database.
 */
class StoreClient extends Redis {
  readonly #pending = new Pending()
  #refusal: StoreError | undefined

  constructor(options: ReturnType<typeof clientOptions>) {
    super(options)
    this.on("connect", () => this.stream.unref())
    // ioredis holds its reconnect timer in a private field: unref'ing it is the only way to let an idle
    // process exit while Redis is down. The timer is set in the tick that schedules this event. Read by name
    // through the type ioredis declares, so an ioredis without the field fails to compile here.
    this.on("reconnecting", () => (this["reconnectTimeout"] as ReturnType<typeof setTimeout> | null | undefined)?.unref())
  }

  get refusal(): StoreError | undefined {
    return this.#refusal
  }

  /** Ends the client for good: every command from now on fails with `refusal`. */
  refuse(refusal: StoreError): void {
    if (this.#refusal !== undefined) return
    this.#refusal = refusal
    this.disconnect()
  }

  override sendCommand(command: Command, stream?: Parameters<Redis["sendCommand"]>[1]): unknown {
    if (this.#refusal !== undefined) {
      command.reject(this.#refusal)
      return command.promise
    }
    this.#pending.hold(command)
    return super.sendCommand(command, stream)
  }
}

/**
 * Cluster options: commands go to primaries only (a replica may lag behind a write the same process just
 * made); MOVED, ASK, TRYAGAIN, CLUSTERDOWN and a lost node are retried by ioredis, a bounded number of times
 * (`maxRedirections`, 16, each after `retryDelayOn…`, 100 ms), then by the store's own schedule. The
 * cluster is reconnected forever with a capped delay when every node is lost. A database other than 0 does
 * not exist on a cluster: none is selected.
 */
export const clusterOptions = (c: Connection, timeouts: Timeouts, connectionName: string) => ({
  scaleReads: "master" as const,
  lazyConnect: true,
  enableOfflineQueue: true,
  clusterRetryStrategy: reconnectDelay,
  slotsRefreshTimeout: timeouts.connectMs,
  // With TLS, certificates name hosts: connect to the names given, not to the addresses they resolve to.
  ...(c.tls ? { dnsLookup: (address: string, callback: (e: null, address: string) => void) => callback(null, address) } : {}),
  redisOptions: {
    ...serverOptions(c, timeouts, connectionName),
    // A connection ioredis disconnects is destroyed after this long if it has not closed. The cluster asks
    // for the slots on a connection of its own, and disconnects it even when it never connected (every
    // node down): the timer then waits its whole length, and holds the process. Short, it leaves the
    // process free between reconnect attempts (`reconnectDelay`, 100 ms or more).
    disconnectTimeout: 50
  }
})

/** Why a command waiting in a cluster's offline queue fails: the cluster was lost and is being reconnected. */
const clusterLost = "the Redis Cluster is unreachable: reconnecting"

/** ioredis's rejection of a command whose reply did not come within `commandTimeout`. */
const isTimeout = (e: unknown): boolean => e instanceof Error && e.message === "Command timed out"

/**
 * An ioredis Cluster that holds the process only while a command is pending, like `StoreClient`: through the
 * cluster (waiting between redirects or for a reconnect) or sent to one node directly (`scanBatches`). Its
 * node connections' sockets and its reconnect timer are unref'd. A command queued while the cluster is
 * unreachable fails when a reconnect attempt fails, rather than waiting for the cluster for ever.
 */
class StoreCluster extends Cluster {
  readonly #pending = new Pending()

  constructor(nodes: ReadonlyArray<ClusterNode>, options: ReturnType<typeof clusterOptions>) {
    super(
      nodes.map(({ host, port }) => ({ host, port })),
      options
    )
    this.on("+node", (node: Redis) => {
      node.on("connect", () => node.stream.unref())
      const send = node.sendCommand.bind(node)
      node.sendCommand = (command, stream) => {
        this.#pending.hold(command)
        return send(command, stream)
      }
    })
    // Both private fields of ioredis, read by name through the types it declares (see `StoreClient`). The
    // timer is set in the tick that schedules this event.
    this.on("reconnecting", () => {
      ;(this["reconnectTimeout"] as ReturnType<typeof setTimeout> | null | undefined)?.unref()
      this["flushQueue"](new Error(clusterLost))
    })
  }

  override sendCommand(command: Command, stream?: Parameters<Cluster["sendCommand"]>[1], node?: unknown): unknown {
    this.#pending.hold(command)
    return super.sendCommand(command, stream, node)
  }
}

/** Asks the cluster for its slot map again; settles once ioredis has it, or fails when no node could tell. */
const refreshSlots = (client: Cluster): Promise<void> =>
  new Promise((resolve, reject) => client.refreshSlotsCache((e) => (e ? reject(e) : resolve())))

/**
 * What a failed request does before it is retried. A cluster node that stopped answering may have been
 * failed over while its connection stayed open: nothing else tells ioredis (no MOVED comes, no connection
 * closes), so after a timeout the slot map is asked for again, and the retry goes to the new primary.
 */
export const beforeRetry = async (client: RedisClient, failed: unknown): Promise<void> => {
  if (isCluster(client) && isTimeout(failed)) await refreshSlots(client).catch(() => {})
}

/** A handshake's failed `SELECT`: ioredis reports it only as an `error` event. */
const isSelectRefusal = (e: unknown): e is Error =>
  e instanceof Error && e.name === "ReplyError" && (e as { command?: { name?: unknown } }).command?.name === "select"

/** One server: a database the server refuses is `Invalid`, at connect or at any later reconnect. */
const openServer = async (c: Connection, timeouts: Timeouts, connectionName: string): Promise<Redis> => {
  const client = new StoreClient(clientOptions(c, timeouts, connectionName))
  // Without a listener ioredis prints every reconnect failure; requests report failures themselves.
  client.on("error", (e) => {
    if (isSelectRefusal(e))
      client.refuse(StoreError.invalid(`database ${c.db} of ${describe(c)} refused: Redis replied ${Driver.failureText(e, [c.password])}`))
  })
  try {
    await client.connect()
    return client
  } catch (e) {
    client.disconnect()
    throw client.refusal ?? e
  }
}

/**
 * Settles when `client` is ready, or fails when its first attempt did: ioredis's `connect()` never settles
 * when the slots were read but the ready check failed (`cluster_state:fail`, or no reply), for it goes on
 * reconnecting with a new promise.
 */
const firstConnect = async (client: Cluster): Promise<void> => {
  let notReady = () => {}
  try {
    await new Promise<void>((resolve, reject) => {
      notReady = () =>
        reject(new Error("the cluster is not ready: its nodes report cluster_state:fail, or did not answer (a failover may be under way)"))
      client.once("reconnecting", notReady)
      client.once("end", notReady)
      client.connect().then(resolve, reject)
    })
  } finally {
    client.removeListener("reconnecting", notReady)
    client.removeListener("end", notReady)
  }
}

/**
 * A cluster, discovered from its seed nodes. ioredis reports why no seed could tell it the slots only as an
 * `error` event (the last node's failure inside it): that is what a failed connect says. A seed that is a
 * server without cluster mode is `Invalid`: no retry makes it a cluster.
 */
const openCluster = async (c: Connection, nodes: ReadonlyArray<ClusterNode>, timeouts: Timeouts, connectionName: string): Promise<Cluster> => {
  const client = new StoreCluster(nodes, clusterOptions(c, timeouts, connectionName))
  let reported: Error | undefined
  client.on("error", (e: Error & { readonly lastNodeError?: unknown }) => {
    reported = e.lastNodeError instanceof Error ? e.lastNodeError : e
  })
  try {
    await firstConnect(client)
    return client
  } catch (e) {
    client.disconnect()
    const cause = reported ?? e
    const text = Driver.failureText(cause, [c.password])
    if (/cluster support disabled/i.test(text))
      throw StoreError.invalid(`${describe(c)} is not a Redis Cluster (Redis replied ${text}): use a redis:// URL for one server`)
    throw cause
  }
}

/**
 * Opens a client: a cluster when the connection names seed nodes, else one server. A failure to connect is
 * `Unavailable` unless no retry can help (see `openServer`, `openCluster`). Errors name the server or the
 * seeds but never the password.
 */
export const open = (c: Connection, timeouts: Timeouts, connectionName = "lineage"): Effect.Effect<RedisClient, StoreError> =>
  Effect.tryPromise({
    try: (): Promise<RedisClient> =>
      c.cluster === undefined ? openServer(c, timeouts, connectionName) : openCluster(c, c.cluster, timeouts, connectionName),
    catch: (e) =>
      e instanceof StoreError ? e : StoreError.unavailable(`cannot connect to ${describe(c)}: ${Driver.failureText(e, [c.password])}`, undefined)
  })

async function* scanServer(server: Redis, pattern: string): AsyncGenerator<ReadonlyArray<string>> {
  let cursor = "0"
  do {
    const [next, keys] = await server.scan(cursor, "MATCH", pattern, "COUNT", 1_000)
    cursor = next
    if (keys.length > 0) yield keys
  } while (cursor !== "0")
}

/**
 * The primaries of a cluster as the cluster tells them now, and what identifies that topology (each slot's
 * owner). ioredis's own list changes only on a MOVED or a lost connection: after a failover it may still
 * call the promoted replica a replica, and a SCAN, sent to nodes directly, would never correct it.
 */
const currentPrimaries = async (client: Cluster): Promise<{ readonly servers: ReadonlyArray<Redis>; readonly topology: string }> => {
  await refreshSlots(client)
  return { servers: client.nodes("master"), topology: client.slots.map((owners) => owners[0] ?? "").join(",") }
}

/** Passes over a cluster whose slot owners keep changing, or whose nodes drop, during the scan, before giving up. */
const maxScanPasses = 5

/** A node lost mid-scan: not a reply from Redis, so a pass over the topology as it settles may succeed. */
const isNodeLoss = (e: unknown): boolean => e instanceof Error && e.name !== "ReplyError"

/**
 * The keys matching `pattern`, a SCAN batch at a time, on every server that holds keys: the one server, or
 * every primary of a cluster (a cluster's SCAN would go to one node chosen at random), as the cluster names
 * them when the scan starts; when a slot changed owner meanwhile (a failover, a migration that completed), or
 * a node was lost mid-scan (a primary killed before every node learnt of its replica's promotion), every
 * primary is scanned again after a pause. A key may come twice. None is missed that exists throughout and
 * stays on one node; a key moved by a slot migration while the scan runs may be missed (see the README).
 */
export async function* scanBatches(client: RedisClient, pattern: string): AsyncGenerator<ReadonlyArray<string>> {
  if (!isCluster(client)) return yield* scanServer(client, pattern)
  let { servers, topology } = await currentPrimaries(client)
  for (let pass = 1; ; pass++) {
    let lost: unknown
    try {
      for (const server of servers) yield* scanServer(server, pattern)
    } catch (e) {
      if (!isNodeLoss(e) || pass >= maxScanPasses) throw e
      lost = e
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** pass))
    }
    const now = await currentPrimaries(client)
    if (lost === undefined && now.topology === topology) return
    if (pass >= maxScanPasses) throw new Error(`the Redis Cluster's slot owners changed during each of ${maxScanPasses} scans`)
    ;({ servers, topology } = now)
  }
}

/** Every key matching `pattern` (see `scanBatches`), each once. */
export const scanKeys = async (client: RedisClient, pattern: string): Promise<Array<string>> => {
  const keys = new Set<string>()
  for await (const batch of scanBatches(client, pattern)) for (const key of batch) keys.add(key)
  return [...keys]
}
