/**
 * Id reservation: one counter document per table in the `<prefix>_lineage_ids` collection, advanced with an
 * atomic `$inc`, so every handle (every process) gets its own consecutive range and no id is handed out twice.
 *
 * An insert of an id past the counter (one no reservation gave) raises the counter to it with an atomic
 * `$max` before the document is written, so from the moment the document can be read no reservation hands
 * its id out. The raise is its own write, outside any transaction: it cannot lose a reservation made meanwhile
 * (both are single-document atomic updates), it never makes the counter a write conflict between
 * transactions, and a write that then fails only leaves ids unused.
 */
import type { Document } from "mongodb"
import { type Driver, StoreError } from "@lineage/core"
import { counters, type Namespace } from "./Namespace.js"

type Doc = Driver.Doc

/**
 * What this handle knows each table's counter to be at least: the end of its last reservation or raise.
 * Counters only grow, so an insert whose ids are all at or below it needs no raise; inserting reserved ids,
 * as core always does, costs no round trip.
 */
export class Floors {
  private readonly known = new Map<string, number>()

  covers(table: string, id: number): boolean {
    return id <= (this.known.get(table) ?? 0)
  }

  learn(table: string, seq: number): void {
    if (!this.covers(table, seq)) this.known.set(table, seq)
  }

  /** After the counters were dropped: they start again from zero. */
  forget(): void {
    this.known.clear()
  }
}

/**
 * Creates the tables' counters at zero when missing. Declaring does it before any reservation, so concurrent
 * first reservations never race an upsert.
 */
export const createCounters = async (ns: Namespace, tables: ReadonlyArray<string>): Promise<void> => {
  await counters(ns).bulkWrite(
    tables.map((table) => ({ updateOne: { filter: { _id: table } as Document, update: { $setOnInsert: { seq: 0 } }, upsert: true } })),
    { ordered: false }
  )
}

/** Reserves `count` consecutive ids of a declared table and returns the first. */
export const reserve = async (ns: Namespace, table: string, count: number): Promise<number> => {
  await ns.catalog.table(table)
  const after = await counters(ns).findOneAndUpdate({ _id: table } as Document, { $inc: { seq: count } }, { upsert: true, returnDocument: "after" })
  const seq = after?.["seq"]
  if (typeof seq !== "number") throw StoreError.unavailable(`reserveIds on ${table}: the counter did not answer`)
  ns.idFloors.learn(table, seq)
  return seq - count + 1
}

/** Raises the counter of a declared table past every id of `docs`, unless it is known to be past them. */
export const raisePast = async (ns: Namespace, table: string, docs: ReadonlyArray<Doc>): Promise<void> => {
  const highest = docs.reduce((max, doc) => Math.max(max, doc["id"] as number), 0)
  if (ns.idFloors.covers(table, highest)) return
  await counters(ns).updateOne({ _id: table } as Document, { $max: { seq: highest } }, { upsert: true })
  ns.idFloors.learn(table, highest)
}
