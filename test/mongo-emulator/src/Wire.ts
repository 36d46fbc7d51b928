/**
 * Wire-protocol framing: message headers, OP_QUERY (handshake only), OP_REPLY and OP_MSG.
 *
 * https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/
 */
import { deserialize, serialize, type Document } from "bson"
import { type CommandError, MAX_BSON_INTERNAL_SIZE, tooLarge } from "./Errors.js"

export const OpCode = {
  REPLY: 1,
  QUERY: 2004,
  COMPRESSED: 2012,
  MSG: 2013
} as const

export const MsgFlag = {
  checksumPresent: 1 << 0,
  moreToCome: 1 << 1,
  exhaustAllowed: 1 << 16
} as const

/** Largest message the emulator accepts (mongod's maxMessageSizeBytes). */
export const MAX_MESSAGE_SIZE = 48_000_000
export const HEADER_SIZE = 16

export interface Header {
  readonly messageLength: number
  readonly requestId: number
  readonly responseTo: number
  readonly opCode: number
}

/** The same document in the two shapes the emulator needs. */
export interface DecodedDocument {
  /** Numbers promoted to JS numbers: what queries and update operators evaluate against. */
  readonly view: Document
  /** Int32/Double/Long kept as bson wrappers: what gets stored so types survive exactly. */
  readonly exact: Document
}

export interface MsgRequest {
  readonly kind: "msg"
  readonly header: Header
  readonly flagBits: number
  readonly body: DecodedDocument
  /** Kind-1 sections, by identifier (`documents`, `updates`, `deletes`). */
  readonly sequences: ReadonlyMap<string, ReadonlyArray<DecodedDocument>>
}

export interface QueryRequest {
  readonly kind: "query"
  readonly header: Header
  readonly flags: number
  readonly fullCollectionName: string
  readonly query: DecodedDocument
}

export type Request = MsgRequest | QueryRequest

export class ProtocolError extends Error {
  override readonly name = "ProtocolError"
}

/** A well-framed OP_MSG that mongod answers with an error instead of closing the connection. */
export class RefusedMessage extends Error {
  override readonly name = "RefusedMessage"
  constructor(
    readonly header: Header,
    readonly flagBits: number,
    readonly error: CommandError
  ) {
    super(error.message)
  }
}

export const decodeDocument = (bytes: Uint8Array): DecodedDocument => ({
  view: deserialize(bytes),
  exact: deserialize(bytes, { promoteValues: false })
})

const readHeader = (buf: Buffer): Header => ({
  messageLength: buf.readInt32LE(0),
  requestId: buf.readInt32LE(4),
  responseTo: buf.readInt32LE(8),
  opCode: buf.readInt32LE(12)
})

/** Splits a TCP byte stream into whole messages. */
export class Framer {
  private pending: Buffer = Buffer.alloc(0)

  /** Feeds bytes; returns every complete message now available. Throws ProtocolError on a bad length. */
  push(chunk: Buffer): Array<Buffer> {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    const out: Array<Buffer> = []
    while (this.pending.length >= 4) {
      const length = this.pending.readInt32LE(0)
      if (length < HEADER_SIZE || length > MAX_MESSAGE_SIZE) {
        throw new ProtocolError(`invalid message length ${length}`)
      }
      if (this.pending.length < length) break
      out.push(this.pending.subarray(0, length))
      this.pending = this.pending.subarray(length)
    }
    return out
  }
}

const readCString = (buf: Buffer, offset: number): { value: string; next: number } => {
  const end = buf.indexOf(0, offset)
  if (end < 0) throw new ProtocolError("unterminated cstring")
  return { value: buf.toString("utf8", offset, end), next: end + 1 }
}

const documentAt = (buf: Buffer, offset: number, limit: number): { bytes: Buffer; next: number } => {
  if (offset + 4 > limit) throw new ProtocolError("truncated document")
  const size = buf.readInt32LE(offset)
  if (size < 5 || offset + size > limit) throw new ProtocolError("invalid document size")
  return { bytes: buf.subarray(offset, offset + size), next: offset + size }
}

/** Decodes one whole message (as returned by Framer). OP_COMPRESSED is refused: it is never advertised. */
export const decodeMessage = (message: Buffer): Request => {
  const header = readHeader(message)
  if (header.opCode === OpCode.MSG) {
    const flagBits = message.readUInt32LE(HEADER_SIZE)
    // A CRC-32C trailer may follow the sections: it is not verified, only stripped.
    const end = (flagBits & MsgFlag.checksumPresent) !== 0 ? message.length - 4 : message.length
    let offset = HEADER_SIZE + 4
    let body: DecodedDocument | undefined
    const sequences = new Map<string, Array<DecodedDocument>>()
    const decode = (bytes: Buffer): DecodedDocument => {
      // mongod validates every section's object against its internal limit before running the command.
      if (bytes.length > MAX_BSON_INTERNAL_SIZE) throw new RefusedMessage(header, flagBits, tooLarge(bytes.length, deserialize(bytes)))
      return decodeDocument(bytes)
    }
    while (offset < end) {
      const kind = message.readUInt8(offset)
      offset += 1
      if (kind === 0) {
        if (body !== undefined) throw new ProtocolError("OP_MSG has more than one body section")
        const doc = documentAt(message, offset, end)
        body = decode(doc.bytes)
        offset = doc.next
      } else if (kind === 1) {
        const size = message.readInt32LE(offset)
        const sectionEnd = offset + size
        if (size < 5 || sectionEnd > end) throw new ProtocolError("invalid document sequence size")
        const id = readCString(message, offset + 4)
        let cursor = id.next
        const docs: Array<DecodedDocument> = []
        while (cursor < sectionEnd) {
          const doc = documentAt(message, cursor, sectionEnd)
          docs.push(decode(doc.bytes))
          cursor = doc.next
        }
        const existing = sequences.get(id.value)
        if (existing !== undefined) existing.push(...docs)
        else sequences.set(id.value, docs)
        offset = sectionEnd
      } else {
        throw new ProtocolError(`unknown OP_MSG section kind ${kind}`)
      }
    }
    if (body === undefined) throw new ProtocolError("OP_MSG without a body section")
    return { kind: "msg", header, flagBits, body, sequences }
  }
  if (header.opCode === OpCode.QUERY) {
    const flags = message.readInt32LE(HEADER_SIZE)
    const name = readCString(message, HEADER_SIZE + 4)
    // numberToSkip and numberToReturn (8 bytes) are irrelevant for commands.
    const doc = documentAt(message, name.next + 8, message.length)
    return { kind: "query", header, flags, fullCollectionName: name.value, query: decodeDocument(doc.bytes) }
  }
  throw new ProtocolError(`unsupported opCode ${header.opCode}`)
}

const writeHeader = (buf: Buffer, requestId: number, responseTo: number, opCode: number): void => {
  buf.writeInt32LE(buf.length, 0)
  buf.writeInt32LE(requestId, 4)
  buf.writeInt32LE(responseTo, 8)
  buf.writeInt32LE(opCode, 12)
}

/** OP_REPLY carrying one document: the answer to an OP_QUERY command. */
export const encodeReply = (requestId: number, responseTo: number, doc: Document): Buffer => {
  const bytes = serialize(doc)
  const buf = Buffer.alloc(HEADER_SIZE + 20 + bytes.length)
  writeHeader(buf, requestId, responseTo, OpCode.REPLY)
  buf.writeInt32LE(8, HEADER_SIZE) // responseFlags: AwaitCapable
  buf.writeBigInt64LE(0n, HEADER_SIZE + 4) // cursorID
  buf.writeInt32LE(0, HEADER_SIZE + 12) // startingFrom
  buf.writeInt32LE(1, HEADER_SIZE + 16) // numberReturned
  buf.set(bytes, HEADER_SIZE + 20)
  return buf
}

/** OP_MSG with a single kind-0 section and no flags. */
export const encodeMsg = (requestId: number, responseTo: number, doc: Document): Buffer => {
  const bytes = serialize(doc)
  const buf = Buffer.alloc(HEADER_SIZE + 5 + bytes.length)
  writeHeader(buf, requestId, responseTo, OpCode.MSG)
  buf.writeUInt32LE(0, HEADER_SIZE)
  buf.writeUInt8(0, HEADER_SIZE + 4)
  buf.set(bytes, HEADER_SIZE + 5)
  return buf
}
