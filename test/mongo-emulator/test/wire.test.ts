import { connect, type Socket } from "node:net"
import { Long, deserialize, serialize, type Document } from "bson"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startEmulator, type Emulator } from "@lineage/mongo-emulator"
import { Framer, MsgFlag, OpCode } from "../src/Wire.js"

/** A raw wire client: writes hand-built messages, reads whole replies. */
class RawClient {
  private readonly framer = new Framer()
  private readonly queue: Array<Buffer> = []
  private waiter: ((b: Buffer) => void) | undefined
  private nextId = 1
  closed = false

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      for (const message of this.framer.push(chunk)) {
        if (this.waiter !== undefined) {
          const w = this.waiter
          this.waiter = undefined
          w(message)
        } else this.queue.push(message)
      }
    })
    socket.on("close", () => {
      this.closed = true
    })
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new RawClient(socket)))
      socket.once("error", reject)
    })
  }

  send(opCode: number, payload: Buffer): number {
    const id = this.nextId++
    const header = Buffer.alloc(16)
    header.writeInt32LE(16 + payload.length, 0)
    header.writeInt32LE(id, 4)
    header.writeInt32LE(0, 8)
    header.writeInt32LE(opCode, 12)
    this.socket.write(Buffer.concat([header, payload]))
    return id
  }

  msg(body: Document, options: { flags?: number; sequences?: Record<string, Array<Document>>; checksum?: boolean } = {}): number {
    const parts: Array<Buffer> = []
    const flags = (options.flags ?? 0) | (options.checksum === true ? MsgFlag.checksumPresent : 0)
    const flagBuf = Buffer.alloc(4)
    flagBuf.writeUInt32LE(flags >>> 0, 0)
    parts.push(flagBuf, Buffer.from([0]), Buffer.from(serialize(body)))
    for (const [identifier, docs] of Object.entries(options.sequences ?? {})) {
      const content = Buffer.concat([Buffer.from(`${identifier}\0`), ...docs.map((d) => Buffer.from(serialize(d)))])
      const size = Buffer.alloc(4)
      size.writeInt32LE(content.length + 4, 0)
      parts.push(Buffer.from([1]), size, content)
    }
    if (options.checksum === true) parts.push(Buffer.from([0xde, 0xad, 0xbe, 0xef]))
    return this.send(OpCode.MSG, Buffer.concat(parts))
  }

  next(timeoutMs = 1_000): Promise<Buffer | undefined> {
    const queued = this.queue.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined
        resolve(undefined)
      }, timeoutMs)
      this.waiter = (b) => {
        clearTimeout(timer)
        resolve(b)
      }
    })
  }

  async command(body: Document, options: Parameters<RawClient["msg"]>[1] = {}): Promise<Document> {
    const id = this.msg(body, options)
    const reply = await this.next()
    if (reply === undefined) throw new Error("no reply")
    expect(reply.readInt32LE(8)).toBe(id)
    expect(reply.readInt32LE(12)).toBe(OpCode.MSG)
    return deserialize(reply.subarray(21), { promoteLongs: false })
  }

  close(): void {
    this.socket.destroy()
  }
}

let emulator: Emulator

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, host: "127.0.0.1" })
})

afterAll(async () => {
  await emulator.stop()
})

describe("wire protocol", () => {
  it("answers the OP_QUERY handshake with an OP_REPLY, and other OP_QUERY commands with an error", async () => {
    const client = await RawClient.open(emulator.port)
    const query = (doc: Document): Buffer =>
      Buffer.concat([Buffer.alloc(4), Buffer.from("admin.$cmd\0"), Buffer.alloc(4), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from(serialize(doc))])
    const id = client.send(OpCode.QUERY, query({ ismaster: 1, helloOk: true, client: { driver: { name: "raw" } } }))
    const reply = await client.next()
    expect(reply?.readInt32LE(12)).toBe(OpCode.REPLY)
    expect(reply?.readInt32LE(8)).toBe(id)
    expect(reply?.readInt32LE(16 + 16)).toBe(1) // numberReturned
    const hello = deserialize(reply?.subarray(36) ?? Buffer.alloc(5))
    expect(hello).toMatchObject({ ismaster: true, helloOk: true, ok: 1, maxWireVersion: 21 })
    expect(hello["topologyVersion"]).toBeUndefined()
    expect(hello["compression"]).toBeUndefined()
    client.send(OpCode.QUERY, query({ find: "x" }))
    const refused = deserialize((await client.next())?.subarray(36) ?? Buffer.alloc(5))
    expect(refused).toMatchObject({ ok: 0, code: 352 })
    client.close()
  })

  it("reads kind-1 document sequences and strips a checksum", async () => {
    const client = await RawClient.open(emulator.port)
    const inserted = await client.command(
      { insert: "seq", ordered: true, $db: "wire" },
      { sequences: { documents: [{ _id: 1 }, { _id: 2 }, { _id: 3 }] }, checksum: true }
    )
    expect(inserted).toEqual({ n: 3, ok: 1 })
    const found = await client.command({ find: "seq", filter: {}, batchSize: 2, $db: "wire" })
    const cursor = found["cursor"] as { firstBatch: Array<Document>; id: Long; ns: string }
    expect(cursor.firstBatch).toEqual([{ _id: 1 }, { _id: 2 }])
    expect(cursor.id).toBeInstanceOf(Long)
    expect(cursor.id.isZero()).toBe(false)
    expect(cursor.ns).toBe("wire.seq")
    const more = await client.command({ getMore: cursor.id, collection: "seq", $db: "wire" })
    const next = more["cursor"] as { nextBatch: Array<Document>; id: Long }
    expect(next.nextBatch).toEqual([{ _id: 3 }])
    expect(next.id).toEqual(Long.ZERO)
    const gone = await client.command({ getMore: cursor.id, collection: "seq", $db: "wire" })
    expect(gone).toMatchObject({ ok: 0, code: 43, codeName: "CursorNotFound" })
    const killed = await client.command({ killCursors: "seq", cursors: [Long.fromNumber(12345)], $db: "wire" })
    expect(killed).toEqual({ cursorsKilled: [], cursorsNotFound: [Long.fromNumber(12345)], cursorsAlive: [], cursorsUnknown: [], ok: 1 })
    client.close()
  })

  it("never replies to moreToCome requests but still executes them", async () => {
    const client = await RawClient.open(emulator.port)
    client.msg({ insert: "quiet", documents: [{ _id: "w0" }], writeConcern: { w: 0 }, $db: "wire" }, { flags: MsgFlag.moreToCome })
    client.msg({ endSessions: [], $db: "admin" }, { flags: MsgFlag.moreToCome })
    const count = await client.command({ count: "quiet", query: {}, $db: "wire" })
    expect(count).toEqual({ n: 1, ok: 1 })
    expect(await client.next(100)).toBeUndefined()
    client.close()
  })

  it("requires $db in OP_MSG and closes the connection on a malformed message", async () => {
    const client = await RawClient.open(emulator.port)
    expect(await client.command({ ping: 1 })).toMatchObject({ ok: 0, code: 40571 })
    const bad = Buffer.alloc(16)
    bad.writeInt32LE(3, 0) // a length below the header size
    client.socket.write(bad)
    await new Promise((r) => setTimeout(r, 50))
    expect(client.closed).toBe(true)
  })
})
