/**
 * Runs a plan. Whatever the access path, each candidate document is checked against the whole condition
 * (and cursor) by the reference evaluator, so answers are exactly `Evaluator.find`'s. Only candidates are
 * fetched, in MGETs of bounded size; no query reads keys by pattern.
 */
import { Evaluator } from "@lineage/core"
import type { Ast, IndexPlanner } from "@lineage/core"
import { type Bound, idOfMember, type LexRange, rangesFor, valueOfMember, walkStart } from "./Encoding.js"
import { type Access, type FilterAccess, filterEstimate, type IndexAccess, lookupKey, rangesPerStep, type Sizes } from "./Planner.js"
import type { StoredTable } from "./Tables.js"
import type { Namespace } from "./Writes.js"

type Doc = Evaluator.Doc

/** Work done by queries, for tests and diagnostics. */
export interface Counters {
  /** Documents read by full scans. */
  scanned: number
  /** Documents fetched, whatever the access path. */
  fetched: number
  /** Documents checked with the evaluator. */
  examined: number
  /** Index entries read. */
  entries: number
}

const chunk = 500

/** Documents by id, in the order asked, skipping ids deleted since the index named them. */
export const fetchDocs = async (ns: Namespace, table: string, ids: ReadonlyArray<number>, counters?: Counters): Promise<Array<Doc>> => {
  const out: Array<Doc> = []
  for (let i = 0; i < ids.length; i += chunk) {
    const keys = ids.slice(i, i + chunk).map((id) => ns.keys.doc(table, id))
    const raws = await ns.client.mget(...keys)
    for (const raw of raws) if (raw !== null) out.push(JSON.parse(raw) as Doc)
  }
  if (counters !== undefined) counters.fetched += out.length
  return out
}

/** Index members one lookup command reads at most (well under a millisecond of server time). */
export const membersPerRead = 2_000

/**
 * The ids in an index's ranges, read in bounded steps: at most `rangesPerStep` ranges per pipeline and
 * `membersPerRead` members per range per command, a range that filled its read going on from its last
 * member. A read asks for one more member than the plan measured, so a range that did not grow since is
 * known complete without another trip.
 */
const lookupIds = async (
  ns: Namespace,
  table: StoredTable,
  access: IndexPlanner.Lookup,
  sizes: Sizes,
  counters: Counters
): Promise<Array<number>> => {
  const prefetched = sizes.members.get(lookupKey(access.path, access.op, access.value))
  if (prefetched !== undefined) {
    counters.entries += prefetched.length
    return [...new Set(prefetched.map(idOfMember))]
  }
  const ranges = rangesFor(access.op, access.value) ?? []
  const key = ns.keys.index(table.name, access.path)
  const ids = new Set<number>()
  const limit = Math.min(membersPerRead, access.estimated + 1)
  for (let at = 0; at < ranges.length; at += rangesPerStep) {
    let pending: ReadonlyArray<LexRange> = ranges.slice(at, at + rangesPerStep)
    while (pending.length > 0) {
      const pipeline = ns.client.pipeline()
      for (const r of pending) pipeline.zrangebylex(key, r.min, r.max, "LIMIT", 0, limit)
      const replies = (await pipeline.exec()) ?? []
      const more: Array<LexRange> = []
      replies.forEach(([err, reply], i) => {
        if (err) throw err
        const members = reply as Array<string>
        for (const m of members) ids.add(idOfMember(m))
        counters.entries += members.length
        if (members.length === limit) more.push({ min: `(${members[limit - 1]!}`, max: pending[i]!.max })
      })
      pending = more
    }
  }
  return [...ids]
}

/** Candidate ids of an index access, each once. */
const candidateIds = async (ns: Namespace, table: StoredTable, access: IndexAccess, sizes: Sizes, counters: Counters): Promise<Array<number>> => {
  switch (access._tag) {
    case "Lookup":
      return lookupIds(ns, table, access, sizes, counters)
    case "Union": {
      const parts = await Promise.all(access.parts.map((p) => candidateIds(ns, table, p, sizes, counters)))
      return [...new Set(parts.flat())]
    }
    case "Intersect": {
      const [first, ...rest] = await Promise.all(access.parts.map((p) => candidateIds(ns, table, p, sizes, counters)))
      const others = rest.map((ids) => new Set(ids))
      return (first ?? []).filter((id) => others.every((s) => s.has(id)))
    }
  }
}

/** Every document of a table, a chunk at a time, through the id index. */
export async function* scan(ns: Namespace, table: string, counters?: Counters): AsyncGenerator<Doc> {
  const key = ns.keys.index(table, ["id"])
  let min: Bound = "-"
  for (;;) {
    const members: Array<string> = await ns.client.zrangebylex(key, min, "+", "LIMIT", 0, chunk)
    if (counters !== undefined) counters.entries += members.length
    if (members.length === 0) return
    const docs = await fetchDocs(ns, table, members.map(idOfMember), counters)
    if (counters !== undefined) counters.scanned += docs.length
    yield* docs
    if (members.length < chunk) return
    min = `(${members[members.length - 1]!}`
  }
}

const page = (docs: Array<Doc>, spec: Ast.FindSpec): Array<Doc> => {
  const start = spec.offset ?? 0
  return docs.slice(start, spec.limit === undefined ? undefined : start + spec.limit)
}

/**
 * Reads documents in query order from the index on the first order key, a growing chunk at a time. When
 * the index order is already the query's whole order (the first key ascending with nothing but `id`
 * after it, or `id` itself) it stops at offset + limit matches. Otherwise it also reads the rest of the run
 * of equal first-key values holding the last of them (fetching only that run), and orders the matches by
 * the remaining keys. Top-k reads about k entries and documents, plus ties.
 */
const walk = async (
  ns: Namespace,
  table: StoredTable,
  access: IndexPlanner.IndexOrder,
  spec: Ast.FindSpec,
  sizes: Sizes,
  counters: Counters
): Promise<Array<Doc>> => {
  const asc = access.direction === "asc"
  const key = ns.keys.index(table.name, access.path)
  const order = Evaluator.fullOrder(spec.orderBy)
  const tail = order[1]
  const exact =
    order.length === 1 || (asc && order.length === 2 && tail!.direction === "asc" && tail!.path.length === 1 && tail!.path[0] === "id")
  const wanted = spec.limit === undefined ? Infinity : (spec.offset ?? 0) + spec.limit
  const accepted = Evaluator.accepts(spec)
  const after = spec.after
  // Documents before the cursor's first key cannot come after the cursor.
  let bound: Bound =
    after === undefined ? (asc ? "-" : "+") : walkStart(access.direction, spec.orderBy.length > 0 ? (after.values[0] ?? null) : after.id)
  const out: Array<Doc> = []
  let boundary: string | undefined
  // Read as many entries at once as should hold the matches wanted: one in `table / matching` entries matches,
  // by the sizes the plan measured (the filter's smallest indexed predicate), so a 10 % filter reads ten
  // entries per match from the start rather than doubling up to it a round trip at a time.
  const matching = filterEstimate(sizes, spec.where) ?? sizes.table
  let growth = Math.min(64, Math.max(1, Math.ceil(sizes.table / Math.max(1, matching))))
  for (;;) {
    const remaining = wanted - out.length
    const size = Number.isFinite(remaining) ? Math.min(Math.max(remaining + (exact ? 0 : 1), 1) * growth, 1_000) : chunk
    let members: Array<string> = asc
      ? await ns.client.zrangebylex(key, bound, "+", "LIMIT", 0, size)
      : await ns.client.zrevrangebylex(key, bound, "-", "LIMIT", 0, size)
    counters.entries += members.length
    const full = members.length === size
    let finished = false
    if (boundary !== undefined) {
      // Only the rest of the last run is still needed: do not fetch past it.
      const cut = members.findIndex((m) => valueOfMember(m) !== boundary)
      if (cut >= 0) {
        members = members.slice(0, cut)
        finished = true
      }
    }
    if (members.length === 0) break
    const docs = new Map((await fetchDocs(ns, table.name, members.map(idOfMember), counters)).map((d) => [d["id"] as number, d]))
    for (const m of members) {
      const value = valueOfMember(m)
      if (boundary !== undefined && value !== boundary) {
        finished = true
        break
      }
      const doc = docs.get(idOfMember(m))
      if (doc === undefined) continue
      counters.examined++
      if (!accepted(doc)) continue
      out.push(doc)
      if (out.length >= wanted) {
        if (exact) {
          finished = true
          break
        }
        boundary ??= value
      }
    }
    if (finished || !full) break
    bound = `(${members[members.length - 1]!}`
    // Matches are sparser than hoped: read more at a time.
    if (boundary === undefined) growth = Math.min(growth * 2, 64)
  }
  return page(out.sort(Evaluator.compareDocs(spec.orderBy)), spec)
}

/** Every document an access may match, counted as examined: a scan's chunks, or the candidates' documents. */
async function* candidates(
  ns: Namespace,
  table: StoredTable,
  access: FilterAccess,
  sizes: Sizes,
  counters: Counters
): AsyncGenerator<Doc> {
  const docs =
    access._tag === "Scan"
      ? scan(ns, table.name, counters)
      : await fetchDocs(ns, table.name, await candidateIds(ns, table, access, sizes, counters), counters)
  for await (const doc of docs) {
    counters.examined++
    yield doc
  }
}

export const find = async (
  ns: Namespace,
  table: StoredTable,
  access: Access,
  spec: Ast.FindSpec,
  sizes: Sizes,
  counters: Counters
): Promise<Array<Doc>> => {
  if (access._tag === "IndexOrder") return walk(ns, table, access, spec, sizes, counters)
  const accepted = Evaluator.accepts(spec)
  const hits: Array<Doc> = []
  for await (const doc of candidates(ns, table, access, sizes, counters)) if (accepted(doc)) hits.push(doc)
  return page(hits.sort(Evaluator.compareDocs(spec.orderBy)), spec)
}

/**
 * Counts matches. An index entry's value is exact (see Encoding), so a lone indexed predicate measured in
 * one script is counted from the index alone; anything else is checked document by document (sizes summed
 * over several scripts could count a document moved between them twice).
 */
export const count = async (
  ns: Namespace,
  table: StoredTable,
  access: FilterAccess,
  where: Ast.Cond,
  sizes: Sizes,
  counters: Counters
): Promise<number> => {
  if (where._tag === "And" && where.conds.length === 0) return sizes.table
  if (where._tag === "Field" && access._tag === "Lookup" && sizes.atomic) return access.estimated
  const accepted = Evaluator.predicate(where)
  let n = 0
  for await (const doc of candidates(ns, table, access, sizes, counters)) if (accepted(doc)) n++
  return n
}
