/**
 * The write path. Documents are stored as described in Encoding and measured against the server's document
 * limit before anything is sent. An insert of several documents is all or none: in a transaction when the
 * deployment has them, else an ordered `insertMany` whose written part is taken back on failure. An update is
 * a compare-and-set on the document's version `v`, retried while other writers race it. Before documents are
 * written, the table's id counter is raised past their ids (see Ids).
 *
 * An update's replace names the uid it read as well (`o.uid`), so that on a cluster sharded on the uid, as
 * the README recommends, mongos routes it to the shard holding the document, also when the update changes
 * the uid (mongod moves the document, and refuses that move to a filter without the shard key).
 */
import type { ClientSession, Filter } from "mongodb"
import { Driver, StoreError } from "@lineage/core"
import { checkSize } from "./DocumentSize.js"
import { fromStored, type Stored, toStored } from "./Encoding.js"
import { failure } from "./Failures.js"
import { raisePast } from "./Ids.js"
import { atomically, documents, inSession, type Namespace } from "./Namespace.js"

type Doc = Driver.Doc
type Session = ClientSession | undefined

/** Compare-and-set retries of an update racing other updates of the same document. */
const maxUpdateAttempts = 100

export const insert = (ns: Namespace, table: string, docs: ReadonlyArray<Doc>): Promise<void> =>
  docs.length > 1 ? atomically(ns, (session) => insertIn(ns, table, docs, session)) : insertIn(ns, table, docs, undefined)

export const update = (ns: Namespace, table: string, id: number, patch: Doc, expect: Doc | undefined): Promise<Doc> =>
  updateIn(ns, table, id, patch, expect, undefined)

export const remove = (ns: Namespace, table: string, ids: ReadonlyArray<number>): Promise<number> => removeIn(ns, table, ids, undefined)

/** Applies the writes in order, in one transaction (only offered when the deployment has them). */
export const batch = (ns: Namespace, ops: ReadonlyArray<Driver.WriteOp>): Promise<void> =>
  atomically(ns, async (session) => {
    for (const op of ops) await apply(ns, op, session)
  })

const apply = async (ns: Namespace, op: Driver.WriteOp, session: Session): Promise<void> => {
  switch (op._tag) {
    case "Insert":
      return insertIn(ns, op.table, op.docs, session)
    case "Update":
      await updateIn(ns, op.table, op.id, op.patch, op.expect, session)
      return
    case "Delete":
      await removeIn(ns, op.table, op.ids, session)
      return
    default:
      return op satisfies never
  }
}

/** The stored forms of documents to insert, each measured. */
const storedForms = (ns: Namespace, table: string, docs: ReadonlyArray<Doc>): Array<Stored> =>
  docs.map((d) => {
    const s = toStored(d, 0)
    checkSize(table, d, s, ns.maxDocumentBytes, docs.length > 1)
    return s
  })

const insertIn = async (ns: Namespace, table: string, docs: ReadonlyArray<Doc>, session: Session): Promise<void> => {
  await ns.catalog.table(table)
  if (docs.length === 0) return
  const stored = storedForms(ns, table, docs)
  await raisePast(ns, table, docs)
  try {
    if (stored.length === 1) await documents(ns, table).insertOne(stored[0]!, inSession(session))
    else await documents(ns, table).insertMany(stored, { ordered: true, ...inSession(session) })
  } catch (e) {
    if (session === undefined && stored.length > 1) await takeBack(ns, table, e)
    return writeFailure(ns, table, docs, e)
  }
}

/**
 * Without a transaction, an ordered insert stops at its first failure: removes the documents it wrote (their
 * ids were reserved for us, and `v: 0` means nobody has updated them since).
 */
const takeBack = async (ns: Namespace, table: string, e: unknown): Promise<void> => {
  const inserted = (e as { readonly insertedIds?: Record<string, unknown> }).insertedIds
  const written = inserted === undefined ? [] : Object.values(inserted).filter((x): x is number => typeof x === "number")
  if (written.length > 0) await documents(ns, table).deleteMany({ _id: { $in: written }, v: 0 }).catch(() => undefined)
}

const updateIn = async (ns: Namespace, table: string, id: number, patch: Doc, expect: Doc | undefined, session: Session): Promise<Doc> => {
  await ns.catalog.table(table)
  for (let i = 0; i < maxUpdateAttempts; i++) {
    const raw = await documents(ns, table).findOne({ _id: id }, { projection: { j: 1, v: 1, "o.uid": 1 }, ...inSession(session) })
    if (raw === null) throw StoreError.notFound(table, id)
    const current = fromStored(raw)
    Driver.checkExpect(table, id, current, expect)
    const next: Doc = JSON.parse(JSON.stringify({ ...current, ...patch, id })) as Doc
    const version = typeof raw.v === "number" ? raw.v : 0
    if (await replaceAt(ns, table, next, { version, uid: raw.o?.["uid"] }, session)) return next
    // Someone else changed (or removed) it between our read and write: read again, check `expect` again.
  }
  throw StoreError.unavailable(`update of ${table} ${id} kept racing other writers`)
}

/** What an update read of the document it replaces: its version and its uid's order key (`o.uid`), if it has one. */
interface Read {
  readonly version: number
  readonly uid: string | undefined
}

/** Replaces a document if it is still at the version read, found by its id and the uid read; whether it was. */
const replaceAt = async (ns: Namespace, table: string, next: Doc, read: Read, session: Session): Promise<boolean> => {
  const stored = toStored(next, read.version + 1)
  checkSize(table, next, stored, ns.maxDocumentBytes)
  // A document without a uid has a null shard key: an equality on null is one mongos can route too.
  const filter: Filter<Stored> = { _id: stored._id, v: read.version, "o.uid": read.uid ?? null }
  try {
    return (await documents(ns, table).replaceOne(filter, stored, inSession(session))).matchedCount === 1
  } catch (e) {
    return writeFailure(ns, table, [next], e)
  }
}

const removeIn = async (ns: Namespace, table: string, ids: ReadonlyArray<number>, session: Session): Promise<number> => {
  await ns.catalog.table(table)
  if (ids.length === 0) return 0
  return (await documents(ns, table).deleteMany({ _id: { $in: [...ids] } }, inSession(session))).deletedCount
}

/** A write's failure; a duplicate key's constraint may have been declared by another handle: mapped with a fresh catalog. */
const writeFailure = async (ns: Namespace, table: string, docs: ReadonlyArray<Doc>, e: unknown): Promise<never> => {
  const mapped = async () => failure("write", e, ns.secret, { table, unique: (await ns.catalog.table(table)).unique, docs })
  const first = await mapped()
  if (first.reason._tag === "UniqueViolation" && first.reason.fields.length === 0 && first.reason.constraint !== "id") {
    await ns.catalog.reload().catch(() => undefined)
    throw await mapped()
  }
  throw first
}
