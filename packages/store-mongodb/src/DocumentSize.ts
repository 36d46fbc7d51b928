/**
 * MongoDB refuses a document above its limit (16 MiB of BSON) with a message naming neither the record nor
 * the limit, and the official driver may fail before sending with a bare RangeError. The store measures each
 * stored document first and refuses it as `Invalid`, naming the table, the record, its size and the limit,
 * so nothing of an oversized write is ever sent.
 */
import { BSON, type Document } from "mongodb"
import { type Driver, StoreError } from "@lineage/core"
import type { Stored } from "./Encoding.js"

/**
 * MongoDB's largest document, 16 MiB of BSON (mongod's BSONObjMaxUserSize): the limit when the server's hello
 * does not announce one as `maxBsonObjectSize`.
 */
export const maxDocumentBytes = 16 * 1024 * 1024

/** The server's document limit from its hello reply, else `maxDocumentBytes`. */
export const documentLimit = (hello: Document): number => {
  const announced: unknown = hello["maxBsonObjectSize"]
  return typeof announced === "number" && Number.isSafeInteger(announced) && announced > 0 ? announced : maxDocumentBytes
}

const bytes = (n: number): string => n.toLocaleString("en")

/**
 * Throws `Invalid` when `stored` (the record `doc` of `table`) would exceed `limit` bytes of BSON. In a bulk
 * write (`bulk`: insertMany) the driver itself refuses a document of exactly `limit` bytes, naming nothing, so
 * there the limit is exclusive.
 */
export const checkSize = (table: string, doc: Driver.Doc, stored: Stored, limit: number, bulk = false): void => {
  const size = BSON.calculateObjectSize(stored as unknown as Document)
  if (bulk ? size < limit : size <= limit) return
  const uid = typeof doc["uid"] === "string" ? `${doc["uid"]} ` : ""
  throw StoreError.invalid(
    `${table} ${uid}(id ${String(doc["id"])}) would be stored as ${bytes(size)} bytes of BSON, ` +
      `${size > limit ? "above" : "at"} the server's document limit of ` +
      `${bytes(limit)} bytes (maxDocumentBytes); the store keeps each top-level value up to three times (JSON text, order key, ` +
      `escaped copy), so a record's JSON must stay under about a third of the limit: keep large data in an artifact`
  )
}
