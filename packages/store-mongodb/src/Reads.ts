/**
 * The read path: documents by id, and finds and counts compiled as described in Compile. When the compiled
 * filter is exact and the order native, the server filters, orders, skips and limits in one round trip;
 * otherwise candidates stream in batches and the reference evaluator re-checks them, orders them if the order
 * is not native, and pages them.
 */
import type { Document, Filter, FindCursor, Sort } from "mongodb"
import { type Ast, type Driver, Evaluator } from "@lineage/core"
import { afterFilter, compile, nativeSort } from "./Compile.js"
import { fromStored, type Stored } from "./Encoding.js"
import { documents, type Namespace } from "./Namespace.js"

type Doc = Driver.Doc

/** What `find` would send: the server filter and sort, and what is left to do in memory. */
export interface Explained {
  readonly filter: Document
  /** `[field, direction]` pairs, `_id` last. */
  readonly sort: ReadonlyArray<readonly [string, 1 | -1]> | undefined
  /** The filter alone is the answer; otherwise candidates are re-checked with `Evaluator.predicate`. */
  readonly exact: boolean
  /** The order is applied in memory (an order key on a nested path). */
  readonly sortInMemory: boolean
}

const projection = { projection: { j: 1 } } as const
/** Candidates are read in batches, so a page stops fetching once it is full. */
const batchSize = 200

/** Documents by id, in the order asked, skipping missing ones. */
export const get = async (ns: Namespace, table: string, ids: ReadonlyArray<number>): Promise<ReadonlyArray<Doc>> => {
  await ns.catalog.table(table)
  if (ids.length === 0) return []
  const raws = await documents(ns, table)
    .find({ _id: { $in: [...new Set(ids)] } }, projection)
    .toArray()
  const byId = new Map(raws.map((r) => [r._id, r]))
  return ids.flatMap((id) => {
    const raw = byId.get(id)
    return raw === undefined ? [] : [fromStored(raw)]
  })
}

/** The server's part of a find whose condition passed `Evaluator.check`. */
export const explain = (spec: Ast.FindSpec): Explained => {
  const compiled = compile(spec.where)
  const sort = nativeSort(spec.orderBy)
  const filter =
    sort !== undefined && spec.after !== undefined ? { $and: [compiled.filter, afterFilter(spec.orderBy, spec.after)] } : compiled.filter
  return { filter, sort, exact: compiled.exact, sortInMemory: sort === undefined }
}

export const find = async (ns: Namespace, table: string, spec: Ast.FindSpec): Promise<ReadonlyArray<Doc>> => {
  await ns.catalog.table(table)
  const ex = explain(spec)
  if (spec.limit === 0) return []
  const cursor = documents(ns, table).find(ex.filter as Filter<Stored>, projection)
  const sort: Sort | undefined = ex.sort?.map(([f, d]): [string, 1 | -1] => [f, d])
  if (sort === undefined) return sortedInMemory(cursor, spec)
  cursor.sort(sort)
  return ex.exact ? pagedOnServer(cursor, spec) : filteredInOrder(cursor, spec)
}

/** Filter, order, skip and limit all on the server: one round trip (plus a getMore per batch). */
const pagedOnServer = async (cursor: FindCursor<Stored>, spec: Ast.FindSpec): Promise<Array<Doc>> => {
  if (spec.offset !== undefined && spec.offset > 0) cursor.skip(spec.offset)
  if (spec.limit !== undefined) cursor.limit(spec.limit)
  return (await cursor.toArray()).map(fromStored)
}

/** Server order is the evaluator's order: re-checks candidates as they stream, until the page is full. */
const filteredInOrder = async (cursor: FindCursor<Stored>, spec: Ast.FindSpec): Promise<Array<Doc>> => {
  const matches = Evaluator.predicate(spec.where)
  const offset = spec.offset ?? 0
  const out: Array<Doc> = []
  let skipped = 0
  await eachCandidate(cursor, (doc) => {
    if (!matches(doc)) return true
    if (skipped < offset) {
      skipped++
      return true
    }
    out.push(doc)
    return spec.limit === undefined || out.length < spec.limit
  })
  return out
}

/** An order on a nested path: every match after the cursor, ordered and paged by the evaluator. */
const sortedInMemory = async (cursor: FindCursor<Stored>, spec: Ast.FindSpec): Promise<Array<Doc>> => {
  const matches = Evaluator.predicate(spec.where)
  const out: Array<Doc> = []
  await eachCandidate(cursor, (doc) => {
    if (matches(doc) && (spec.after === undefined || Evaluator.isAfter(spec.orderBy, spec.after, doc))) out.push(doc)
    return true
  })
  out.sort(Evaluator.compareDocs(spec.orderBy))
  const offset = spec.offset ?? 0
  return out.slice(offset, spec.limit === undefined ? undefined : offset + spec.limit)
}

/** Streams a cursor's documents in batches while `take` answers true, then closes it. */
const eachCandidate = async (cursor: FindCursor<Stored>, take: (doc: Doc) => boolean): Promise<void> => {
  try {
    for await (const raw of cursor.batchSize(batchSize)) if (!take(fromStored(raw))) break
  } finally {
    await cursor.close()
  }
}

export const count = async (ns: Namespace, table: string, where: Ast.Cond): Promise<number> => {
  await ns.catalog.table(table)
  const compiled = compile(where)
  const filter = compiled.filter as Filter<Stored>
  if (compiled.exact) return documents(ns, table).countDocuments(filter)
  const matches = Evaluator.predicate(where)
  let n = 0
  await eachCandidate(documents(ns, table).find(filter, projection), (doc) => {
    if (matches(doc)) n++
    return true
  })
  return n
}
