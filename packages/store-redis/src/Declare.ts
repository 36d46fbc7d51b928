/**
 * `declare`: tables, unique constraints and indexes are added to the namespace's schema. Every change bumps
 * the schema version in the script that makes it, so writes prepared against the old schema are refused and
 * re-prepared with the new one.
 *
 * A new table, or a constraint added to a table, is published by one script that also builds it (and any
 * index declared with it) over the stored documents. The script guards every document and the table's id
 * index, so a write that slipped in between the read and the build makes the declaration start over.
 *
 * An index added to a table that holds documents (a feature's, on tables that may hold millions of runs) is
 * built in bounded steps instead, so no script holds the server for long:
 *
 * 1. it is published as building: from then on every write keeps it up to date;
 * 2. the documents stored before are entered `docsPerStep` at a time, each step guarded by the SHA-1s of the
 *    documents it read, so a document changed in between is read again;
 * 3. it is published as ready, and queries start using it.
 *
 * A declaration that stops between 1 and 3 leaves the index building: kept by writes, unused by queries, and
 * built again (entering a document twice changes nothing) by the next declaration that names it; every
 * `Store.make` names every feature. An index added to an empty table is ready at once.
 */
import { Driver, Evaluator, StoreError } from "@lineage/core"
import type { Ast } from "@lineage/core"
import { type Bound, idOfMember, member } from "./Encoding.js"
import { entryOf, indexState, merge, withIndexes } from "./Tables.js"
import { ScriptCall } from "./WriteScript.js"
import { execute, type Namespace, newToken, schemaReplicated } from "./Writes.js"

type Doc = Evaluator.Doc

const chunk = 1_000

/**
 * Documents one build step enters into the indexes being built: each costs the server a SHA-1 guard and one
 * ZADD per index (about 15 µs), so a step of one index takes a few milliseconds, as a query's step does
 * (`Planner.rangesPerStep`).
 */
export const docsPerStep = 250

const maxAttempts = 50

const interrupted = () => StoreError.unavailable(`declaring tables was interrupted by concurrent writes ${maxAttempts} times; giving up`)

/** Every document of a table with its raw JSON, found through the id index. */
export const readTable = async (ns: Namespace, table: string): Promise<{ readonly members: ReadonlyArray<string>; readonly docs: ReadonlyArray<{ readonly key: string; readonly raw: string; readonly doc: Doc }> }> => {
  const members = await ns.client.zrange(ns.keys.index(table, ["id"]), 0, "-1")
  const docs: Array<{ key: string; raw: string; doc: Doc }> = []
  for (let i = 0; i < members.length; i += chunk) {
    const keys = members.slice(i, i + chunk).map((m) => ns.keys.doc(table, idOfMember(m)))
    const raws = keys.length === 0 ? [] : await ns.client.mget(...keys)
    raws.forEach((raw, j) => {
      if (raw !== null) docs.push({ key: keys[j]!, raw, doc: JSON.parse(raw) as Doc })
    })
  }
  return { members, docs }
}

/** The specs naming each table, as one spec per table. */
const combine = (specs: ReadonlyArray<Driver.TableSpec>): Array<Driver.TableSpec> => {
  const byName = new Map<string, Driver.TableSpec>()
  for (const spec of specs) {
    const prior = byName.get(spec.name)
    byName.set(
      spec.name,
      prior === undefined ? spec : { name: spec.name, unique: [...prior.unique, ...spec.unique], indexes: [...prior.indexes, ...spec.indexes] }
    )
  }
  return [...byName.values()]
}

/**
 * Adds to `call` the build of constraints and indexes over every stored document of `table`, guarded by
 * the documents and the id index as read (an empty table included).
 */
const buildWhole = async (
  ns: Namespace,
  call: ScriptCall,
  table: string,
  unique: ReadonlyArray<Driver.UniqueSpec>,
  paths: ReadonlyArray<Ast.Path>
): Promise<void> => {
  if (unique.length === 0 && paths.length === 0) return
  const { members, docs } = await readTable(ns, table)
  call.guardMembers(ns.keys.index(table, ["id"]), members)
  for (const { key, raw } of docs) call.guard(key, raw)
  for (const path of paths) {
    const key = ns.keys.index(table, path)
    for (const { doc } of docs) call.zadd(key, member(Evaluator.read(doc, path), doc["id"] as number))
  }
  for (const u of unique) {
    const key = ns.keys.unique(table, u.fields)
    const seen = new Set<string>()
    for (const { doc } of docs) {
      const field = Driver.uniqueKey(u, doc)
      if (field === undefined) continue
      // Stored documents that already break the new constraint: it cannot be added.
      if (seen.has(field)) throw StoreError.uniqueViolation(table, u.name, u.fields, Driver.uniqueValues(u, doc))
      seen.add(field)
      call.claim(key, field, doc["id"] as number, { table, unique: u, values: Driver.uniqueValues(u, doc) })
    }
  }
}

/** Indexes of a table to build step by step. */
interface Build {
  readonly table: string
  readonly paths: ReadonlyArray<Ast.Path>
}

const setIndexState = (ns: Namespace, call: ScriptCall, table: string, paths: ReadonlyArray<Ast.Path>, state: string): void => {
  for (const path of paths) call.hset(ns.keys.schemaIndexes, JSON.stringify([table, path]), state)
}

/** Publishes what `specs` add to the schema (step 1), and returns the indexes left to build. */
const publish = async (ns: Namespace, specs: ReadonlyArray<Driver.TableSpec>): Promise<ReadonlyArray<Build>> => {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const schema = await ns.catalog.refresh()
    const tables = new Map(schema.tables)
    const call = new ScriptCall(ns.keys, newToken())
    const builds: Array<Build> = []
    for (const spec of specs) {
      const { table, rewrite, addedUnique, addedIndexes, pending } = merge(schema.tables.get(spec.name), spec)
      const paths = [...addedIndexes, ...pending]
      if (rewrite) {
        const settled = withIndexes(table, paths, [])
        call.hset(ns.keys.schema, spec.name, entryOf(settled))
        setIndexState(ns, call, spec.name, pending, indexState.ready)
        await buildWhole(ns, call, spec.name, addedUnique, paths)
        tables.set(spec.name, settled)
      } else if (paths.length > 0) {
        const idIndex = ns.keys.index(spec.name, ["id"])
        if ((await ns.client.zcard(idIndex)) === 0) {
          // Nothing to enter: ready at once, if the table is still empty when the script runs.
          call.guardMembers(idIndex, [])
          setIndexState(ns, call, spec.name, paths, indexState.ready)
          tables.set(spec.name, withIndexes(table, paths, []))
        } else {
          setIndexState(ns, call, spec.name, addedIndexes, indexState.building)
          tables.set(spec.name, withIndexes(table, [], addedIndexes))
          builds.push({ table: spec.name, paths })
        }
      }
    }
    if (call.count("hsets") === 0) return builds
    call.bump = true
    const outcome = await execute(ns, call, schema.version)
    if (outcome._tag === "Done") {
      // The script applied on `schema.version` and bumped it by one: the new schema is known without a read.
      ns.catalog.adopt({ version: String(Number(schema.version) + 1), tables })
      return builds
    }
  }
  throw interrupted()
}

/** Enters the documents `ids` into the indexes being built (step 2), reading again any that change meanwhile. */
const enter = async (ns: Namespace, { table, paths }: Build, ids: ReadonlyArray<number>): Promise<void> => {
  const keys = ids.map((id) => ns.keys.doc(table, id))
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const { version } = await ns.catalog.current()
    const raws = await ns.client.mget(keys)
    const call = new ScriptCall(ns.keys, newToken())
    raws.forEach((raw, i) => {
      // Removed since the id index named it: nothing to enter (ids are never reused).
      if (raw === null) return
      call.guard(keys[i]!, raw)
      const doc = JSON.parse(raw) as Doc
      for (const path of paths) call.zadd(ns.keys.index(table, path), member(Evaluator.read(doc, path), ids[i]!))
    })
    if (call.isEmpty) return
    const outcome = await execute(ns, call, version)
    if (outcome._tag === "Done") return
    if (outcome.reloadSchema) await ns.catalog.reload()
  }
  throw interrupted()
}

/** Publishes built indexes as ready (step 3). */
const settle = async (ns: Namespace, { table, paths }: Build): Promise<void> => {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const schema = await ns.catalog.refresh()
    const stored = schema.tables.get(table)
    if (stored === undefined) throw StoreError.unavailable(`table "${table}" disappeared while its indexes were built`)
    const call = new ScriptCall(ns.keys, newToken())
    setIndexState(ns, call, table, paths, indexState.ready)
    call.bump = true
    const outcome = await execute(ns, call, schema.version)
    if (outcome._tag === "Done") {
      ns.catalog.adopt({ version: String(Number(schema.version) + 1), tables: new Map(schema.tables).set(table, withIndexes(stored, paths, [])) })
      return
    }
  }
  throw interrupted()
}

/** Builds indexes over the documents stored before they were published, `docsPerStep` at a time. */
const build = async (ns: Namespace, job: Build): Promise<void> => {
  const idIndex = ns.keys.index(job.table, ["id"])
  let from: Bound = "-"
  for (;;) {
    const members: Array<string> = await ns.client.zrangebylex(idIndex, from, "+", "LIMIT", 0, docsPerStep)
    if (members.length > 0) await enter(ns, job, members.map(idOfMember))
    if (members.length < docsPerStep) break
    from = `(${members[members.length - 1]!}`
  }
  await settle(ns, job)
}

/** Declares `specs`; with `waitForReplicas`, returns once replicas hold the schema, whether this call or an earlier one made it. */
export const declare = async (ns: Namespace, specs: ReadonlyArray<Driver.TableSpec>): Promise<void> => {
  for (const job of await publish(ns, combine(specs))) await build(ns, job)
  await schemaReplicated(ns, (await ns.catalog.current()).version)
}
