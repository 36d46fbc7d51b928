/**
 * The TCP server: one framer per connection, requests handled in arrival order, replies in the opcode the
 * request used (OP_REPLY for the OP_QUERY handshake, OP_MSG otherwise), nothing sent for `moreToCome`.
 */
import { createServer, type Server as NetServer, type Socket } from "node:net"
import type { Document } from "bson"
import { Catalog } from "./Catalog.js"
import { execute, type Context, type Metrics } from "./Commands.js"
import { Cursors } from "./Cursors.js"
import { CommandError } from "./Errors.js"
import type { Topology } from "./Sharding.js"
import { Framer, MsgFlag, RefusedMessage, decodeMessage, encodeMsg, encodeReply, type Request } from "./Wire.js"

export interface EmulatorOptions {
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number
  readonly host?: "127.0.0.1"
  /**
   * `"standalone"` (the default): a standalone mongod. `"sharded"`: a mongos in front of one shard, which
   * shards collections on `shardCollection` and refuses what a sharded cluster refuses (see Sharding).
   */
  readonly topology?: Topology
}

export interface EmulatorStats {
  /** Client sockets open now. */
  readonly openConnections: number
  /** Client sockets accepted since start. */
  readonly totalConnections: number
  /** Commands executed, by name (handshakes and heartbeats included). */
  readonly commands: Readonly<Record<string, number>>
  /** Server cursors still open. */
  readonly openCursors: number
  /** Connections closed by `dropConnections()`. */
  readonly droppedConnections: number
  /**
   * Documents a filter or a leading `$match` was evaluated on since start, every candidate even where one
   * match was enough: all of a collection for a scan, only those an index's lookup yields when the filter
   * starts with an equality on its first field.
   */
  readonly docsExamined: number
}

export interface Emulator {
  /** `mongodb://127.0.0.1:<port>/?directConnection=true` */
  readonly url: string
  readonly port: number
  /** Closes the listener and every client socket. */
  stop(): Promise<void>
  /** Destroys every open client socket (fault injection): in-flight and next operations see network errors. */
  dropConnections(): void
  stats(): EmulatorStats
  /** Forgets all databases and cursors. */
  reset(): void
}

const commandName = (body: Document): string => Object.keys(body)[0] ?? ""

export const startEmulator = async (options: EmulatorOptions = {}): Promise<Emulator> => {
  const host = options.host ?? "127.0.0.1"
  const catalog = new Catalog()
  const cursors = new Cursors()
  const sockets = new Set<Socket>()
  const commands: Record<string, number> = {}
  const metrics: Metrics = { docsExamined: 0 }
  let nextConnection = 1
  let nextRequest = 1
  let totalConnections = 0
  let droppedConnections = 0

  const respond = (socket: Socket, context: Context, request: Request): void => {
    if (request.kind === "query") {
      const body = request.query.view
      const name = commandName(body)
      commands[name] = (commands[name] ?? 0) + 1
      const db = request.fullCollectionName.split(".")[0] ?? "admin"
      const isCommand = request.fullCollectionName.endsWith(".$cmd")
      const reply =
        isCommand && (name === "ismaster" || name === "isMaster" || name === "hello")
          ? execute(context, { db, name, body: request.query, sequences: new Map(), legacy: true })
          : new CommandError(
              352,
              `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade.`,
              {},
              "UnsupportedOpQueryCommand"
            ).toReply()
      socket.write(encodeReply(nextRequest++, request.header.requestId, reply))
      return
    }
    const body = request.body.view
    const name = commandName(body)
    commands[name] = (commands[name] ?? 0) + 1
    const db: unknown = body["$db"]
    const reply =
      typeof db === "string"
        ? execute(context, { db, name, body: request.body, sequences: request.sequences, legacy: false })
        : new CommandError(40571, "OP_MSG requests require a $db argument", {}, "Location40571").toReply()
    if ((request.flagBits & MsgFlag.moreToCome) !== 0) return
    socket.write(encodeMsg(nextRequest++, request.header.requestId, reply))
  }

  const server: NetServer = createServer((socket) => {
    totalConnections++
    sockets.add(socket)
    socket.setNoDelay(true)
    const context: Context = { catalog, cursors, metrics, connectionId: nextConnection++, topology: options.topology ?? "standalone" }
    const framer = new Framer()
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const message of framer.push(chunk)) {
          if (socket.destroyed) return
          let request: Request
          try {
            request = decodeMessage(message)
          } catch (e) {
            if (!(e instanceof RefusedMessage)) throw e
            if ((e.flagBits & MsgFlag.moreToCome) === 0) socket.write(encodeMsg(nextRequest++, e.header.requestId, e.error.toReply()))
            continue
          }
          respond(socket, context, request)
        }
      } catch {
        // Malformed traffic: mongod closes the connection.
        socket.destroy()
      }
    })
    socket.on("error", () => socket.destroy())
    socket.on("close", () => sockets.delete(socket))
  })

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("mongo-emulator: no TCP address")
  const port = address.port

  return {
    url: `mongodb://${host}:${port}/?directConnection=true`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        sockets.clear()
        cursors.clear()
        server.close(() => resolve())
      }),
    dropConnections: () => {
      for (const socket of sockets) {
        droppedConnections++
        socket.destroy()
      }
      sockets.clear()
    },
    stats: () => ({
      openConnections: sockets.size,
      totalConnections,
      commands: { ...commands },
      openCursors: cursors.size,
      droppedConnections,
      docsExamined: metrics.docsExamined
    }),
    reset: () => {
      catalog.clear()
      cursors.clear()
    }
  }
}
