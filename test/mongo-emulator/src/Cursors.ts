/**
 * Server-side cursors. Results are materialised when the cursor opens (a snapshot); batches are handed out
 * by `getMore`. Ids are int64 (`Long`); `Long.ZERO` means the cursor is exhausted or was never kept.
 */
import { Long, type Document } from "bson"
import { CommandError } from "./Errors.js"

/** mongod's default size of a first batch. */
export const DEFAULT_FIRST_BATCH = 101

interface OpenCursor {
  readonly id: Long
  readonly ns: string
  readonly docs: ReadonlyArray<Document>
  position: number
}

export interface Batch {
  readonly id: Long
  readonly ns: string
  readonly batch: Array<Document>
}

const toLong = (u: unknown): Long | undefined => {
  if (u instanceof Long) return u
  if (typeof u === "number" && Number.isInteger(u)) return Long.fromNumber(u)
  if (typeof u === "bigint") return Long.fromBigInt(u)
  return undefined
}

export class Cursors {
  private readonly open = new Map<string, OpenCursor>()
  private next = Long.fromNumber(1_000_000 + Math.floor(Math.random() * 1_000_000))

  get size(): number {
    return this.open.size
  }

  /** Opens a cursor over `docs` and returns its first batch. */
  first(ns: string, docs: ReadonlyArray<Document>, batchSize: number | undefined, singleBatch: boolean): Batch {
    const size = batchSize ?? DEFAULT_FIRST_BATCH
    const batch = docs.slice(0, size)
    if (singleBatch || batch.length >= docs.length) return { id: Long.ZERO, ns, batch }
    const id = this.next
    this.next = this.next.add(1)
    this.open.set(id.toString(), { id, ns, docs, position: batch.length })
    return { id, ns, batch }
  }

  more(rawId: unknown, ns: string, batchSize: number | undefined): Batch {
    const id = toLong(rawId)
    if (id === undefined) throw CommandError.of("TypeMismatch", "Field 'getMore' must be of type long in: { getMore: ... }")
    const cursor = this.open.get(id.toString())
    if (cursor === undefined) throw CommandError.of("CursorNotFound", `cursor id ${id.toString()} not found`)
    if (cursor.ns !== ns) {
      throw new CommandError(13, `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${cursor.ns}`, {}, "Unauthorized")
    }
    const end = batchSize === undefined || batchSize <= 0 ? cursor.docs.length : cursor.position + batchSize
    const batch = cursor.docs.slice(cursor.position, end)
    cursor.position += batch.length
    if (cursor.position >= cursor.docs.length) {
      this.open.delete(id.toString())
      return { id: Long.ZERO, ns, batch }
    }
    return { id, ns, batch }
  }

  kill(ids: ReadonlyArray<unknown>): { killed: Array<Long>; notFound: Array<Long> } {
    const killed: Array<Long> = []
    const notFound: Array<Long> = []
    for (const raw of ids) {
      const id = toLong(raw)
      if (id === undefined) continue
      if (this.open.delete(id.toString())) killed.push(id)
      else notFound.push(id)
    }
    return { killed, notFound }
  }

  clear(): void {
    this.open.clear()
  }
}
