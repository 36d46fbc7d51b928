/**
 * Database commands, dispatched by name. Each handler answers what mongod (standalone, 7.0) answers, or in
 * the sharded topology what mongos 7.0 answers (see Sharding); failures throw CommandError and become
 * `{ ok: 0, errmsg, code, codeName }`.
 */
import { Double, Long, ObjectId, calculateObjectSize, type Document } from "bson"
import { CommandError, MAX_BSON_INTERNAL_SIZE, tooLarge } from "./Errors.js"
import { Catalog, validateCollectionName, validateDbName, type Collection } from "./Catalog.js"
import { Cursors, type Batch } from "./Cursors.js"
import { canonical, collectPath, freshView, idFirst, isPlainObject, store, type StoredDoc } from "./Documents.js"
import { compareWithExisting, parseIndexSpec, type IndexSpec } from "./Indexes.js"
import { baseOptions, compileFilter, fromMingo, project, runPipeline, sortViews, validateSort, type Options } from "./Query.js"
import { applyUpdate, buildUpsert, classify, typeName } from "./Update.js"
import * as Sharding from "./Sharding.js"
import type { DecodedDocument } from "./Wire.js"

export const MAX_WIRE_VERSION = 21 // MongoDB 7.0
export const SERVER_VERSION = "7.0.0"
/** mongod's BSONObjMaxUserSize: the largest document stored, as hello's `maxBsonObjectSize` says. */
export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024
export const MAX_MESSAGE_SIZE_BYTES = 48_000_000
export const MAX_WRITE_BATCH_SIZE = 100_000

const OK = new Double(1)

/** Counters kept across connections. */
export interface Metrics {
  /** Documents a query's filter or a leading `$match` was evaluated on, all of them even when one was enough. */
  docsExamined: number
}

export interface Context {
  readonly catalog: Catalog
  readonly cursors: Cursors
  readonly metrics: Metrics
  readonly connectionId: number
  readonly topology: Sharding.Topology
}

export interface CommandRequest {
  readonly db: string
  readonly name: string
  readonly body: DecodedDocument
  readonly sequences: ReadonlyMap<string, ReadonlyArray<DecodedDocument>>
  /** Arrived as OP_QUERY (the handshake). */
  readonly legacy: boolean
}

type Handler = (ctx: Context, req: CommandRequest) => Document

// ---------------------------------------------------------------------------------------------- arguments

const field = (req: CommandRequest, name: string): unknown => req.body.view[name]

const exactField = (req: CommandRequest, name: string): unknown => req.body.exact[name]

const optionalNumber = (u: unknown, name: string): number | undefined => {
  if (u === undefined || u === null) return undefined
  if (typeof u === "number") return u
  if (u instanceof Long) return u.toNumber()
  throw CommandError.of("TypeMismatch", `BSON field '${name}' is the wrong type '${typeName(u)}', expected types '[long, int, decimal, double]'`)
}

const nonNegative = (u: unknown, name: string): number | undefined => {
  const n = optionalNumber(u, name)
  if (n !== undefined && n < 0) throw new CommandError(51024, `BSON field '${name}' value must be >= 0, actual value '${n}'`, {}, "Location51024")
  return n
}

const optionalDocument = (u: unknown, name: string): Document | undefined => {
  if (u === undefined || u === null) return undefined
  if (!isPlainObject(u)) throw CommandError.of("TypeMismatch", `BSON field '${name}' is the wrong type '${typeName(u)}', expected type 'object'`)
  return u
}

const collectionName = (req: CommandRequest): string => {
  const name: unknown = field(req, req.name)
  if (typeof name !== "string") {
    throw CommandError.of("InvalidNamespace", `collection name has invalid type ${typeName(name)}`)
  }
  validateDbName(req.db)
  validateCollectionName(req.db, name)
  return name
}

/** A list argument given inline in the body or as an OP_MSG document sequence. */
const listArgument = (req: CommandRequest, name: string): Array<DecodedDocument> => {
  const sequence = req.sequences.get(name)
  const view: unknown = req.body.view[name]
  const exact: unknown = req.body.exact[name]
  const out: Array<DecodedDocument> = []
  if (Array.isArray(view) && Array.isArray(exact)) {
    view.forEach((v: unknown, i) => {
      const e: unknown = exact[i]
      if (!isPlainObject(v) || !isPlainObject(e)) throw CommandError.of("TypeMismatch", `${name}.${i} must be an object`)
      out.push({ view: v, exact: e })
    })
  } else if (view !== undefined) {
    throw CommandError.of("TypeMismatch", `BSON field '${req.name}.${name}' is the wrong type '${typeName(view)}', expected type 'array'`)
  }
  if (sequence !== undefined) out.push(...sequence)
  if (out.length === 0 && sequence === undefined && view === undefined) {
    throw new CommandError(40414, `BSON field '${req.name}.${name}' is missing but a required field`, {}, "Location40414")
  }
  return out
}

const cursorBatchSize = (req: CommandRequest): number | undefined => {
  const cursor = optionalDocument(field(req, "cursor"), "cursor")
  return nonNegative(cursor?.["batchSize"], "batchSize")
}

const cursorReply = (batch: Batch, key: "firstBatch" | "nextBatch"): Document => ({
  cursor: { [key]: batch.batch, id: batch.id, ns: batch.ns },
  ok: OK
})

const queryOptions = (ctx: Context, req: CommandRequest): Options =>
  baseOptions((name) => (ctx.catalog.get(req.db, name)?.docs() ?? []).map(freshView), field(req, "collation"))

/**
 * The records to test a filter on: narrowed by a lookup (see `Collection.candidates`), except under a
 * collation, whose string equality is not the lookups' `===`.
 */
const candidates = (ctx: Context, collection: Collection, filter: unknown, options: Options): Array<[number, StoredDoc]> => {
  const records = options.collation === undefined ? collection.candidates(filter) : collection.entries()
  ctx.metrics.docsExamined += records.length
  return records
}

/** Matching records in natural order, then sorted. */
const select = (
  ctx: Context,
  collection: Collection | undefined,
  filter: unknown,
  sort: unknown,
  options: Options
): Array<[number, StoredDoc]> => {
  const test = compileFilter(filter, options)
  const validSort = validateSort(sort)
  if (collection === undefined) return []
  const matched = candidates(ctx, collection, filter, options).filter(([, doc]) => test(doc.view))
  if (validSort === undefined) return matched
  const byView = new Map<Document, [number, StoredDoc]>(matched.map((entry) => [entry[1].view, entry]))
  return sortViews(matched.map(([, doc]) => doc.view), validSort, options).flatMap((view) => {
    const entry = byView.get(view)
    return entry === undefined ? [] : [entry]
  })
}

const checkHint = (collection: Collection | undefined, hint: unknown): void => {
  if (hint === undefined || hint === null) return
  if (typeof hint === "string" && hint.length === 0) return
  if (isPlainObject(hint) && (Object.keys(hint).length === 0 || "$natural" in hint)) return
  const found = collection?.indexes().some((spec) =>
    typeof hint === "string" ? spec.name === hint : canonical(spec.key) === canonical(hint)
  )
  if (found !== true) throw CommandError.of("BadValue", "hint provided does not correspond to an existing index")
}

const toCommandError = (e: unknown): CommandError => fromMingo(e)

// ---------------------------------------------------------------------------------------------- handshake

const hello: Handler = (ctx, req) => {
  const reply: Document = {}
  if (req.name === "hello") reply["isWritablePrimary"] = true
  else reply["ismaster"] = true
  if (field(req, "helloOk") === true) reply["helloOk"] = true
  // What tells a driver it speaks to a mongos.
  if (ctx.topology === "sharded") reply["msg"] = "isdbgrid"
  Object.assign(reply, {
    maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_SIZE_BYTES,
    maxWriteBatchSize: MAX_WRITE_BATCH_SIZE,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.connectionId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: OK
  })
  return reply
}

const buildInfo: Handler = () => ({
  version: SERVER_VERSION,
  gitVersion: "0000000000000000000000000000000000000000",
  modules: [],
  allocator: "system",
  javascriptEngine: "none",
  sysInfo: "deprecated",
  versionArray: [7, 0, 0, 0],
  bits: 64,
  debug: false,
  maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
  storageEngines: ["emulator"],
  ok: OK
})

const PARAMETERS: Document = {
  featureCompatibilityVersion: { version: "7.0" },
  authenticationMechanisms: ["SCRAM-SHA-1", "SCRAM-SHA-256"],
  internalQueryMaxBlockingSortMemoryUsageBytes: 104857600
}

const getParameter: Handler = (_ctx, req) => {
  const all = field(req, "getParameter") === "*" || (isPlainObject(field(req, "getParameter")) && field(req, "allParameters") === true)
  const reply: Document = {}
  for (const [name, value] of Object.entries(PARAMETERS)) {
    if (all || field(req, name) !== undefined) reply[name] = value
  }
  if (Object.keys(reply).length === 0) throw CommandError.of("InvalidOptions", "no option found to get")
  return { ...reply, ok: OK }
}

// ---------------------------------------------------------------------------------------------- catalog

const listDatabases: Handler = (ctx, req) => {
  const test = compileFilter(field(req, "filter"))
  const nameOnly = field(req, "nameOnly") === true
  const databases = ctx.catalog
    .databases()
    .map(([name]) => (nameOnly ? { name } : { name, sizeOnDisk: 8192, empty: false }))
    .filter((d) => test(d))
  return nameOnly ? { databases, ok: OK } : { databases, totalSize: 8192 * databases.length, totalSizeMb: 0, ok: OK }
}

const collectionInfo = (c: Collection, nameOnly: boolean): Document =>
  nameOnly
    ? { name: c.name, type: "collection" }
    : {
        name: c.name,
        type: "collection",
        options: c.options,
        info: { readOnly: false, uuid: c.uuid },
        idIndex: { v: 2, key: { _id: 1 }, name: "_id_" }
      }

const listCollections: Handler = (ctx, req) => {
  validateDbName(req.db)
  const test = compileFilter(field(req, "filter"))
  const nameOnly = field(req, "nameOnly") === true
  const infos = ctx.catalog.collections(req.db).map((c) => collectionInfo(c, nameOnly)).filter((d) => test(d))
  return cursorReply(ctx.cursors.first(`${req.db}.$cmd.listCollections`, infos, cursorBatchSize(req), false), "firstBatch")
}

const CREATE_OPTIONS = new Set(["capped", "size", "max", "validator", "validationLevel", "validationAction", "collation", "timeseries", "expireAfterSeconds", "clusteredIndex", "changeStreamPreAndPostImages", "storageEngine", "indexOptionDefaults", "viewOn", "pipeline", "comment", "writeConcern", "lsid", "$db", "$clusterTime", "$readPreference", "apiVersion", "apiStrict", "apiDeprecationErrors", "create", "txnNumber", "autocommit"])

const create: Handler = (ctx, req) => {
  const name = collectionName(req)
  const options: Document = {}
  for (const [key, value] of Object.entries(req.body.exact)) {
    if (!CREATE_OPTIONS.has(key)) throw new CommandError(40415, `BSON field 'create.${key}' is an unknown field.`, {}, "Location40415")
    if (["capped", "size", "max", "validator", "validationLevel", "validationAction", "collation", "timeseries", "expireAfterSeconds", "clusteredIndex", "viewOn", "pipeline"].includes(key)) options[key] = value
  }
  if (options["viewOn"] !== undefined || options["timeseries"] !== undefined || options["validator"] !== undefined) {
    throw CommandError.of("IllegalOperation", "views, time-series collections and validators are not emulated")
  }
  ctx.catalog.create(req.db, name, options)
  return { ok: OK }
}

const drop: Handler = (ctx, req) => {
  const name = collectionName(req)
  const dropped = ctx.catalog.drop(req.db, name)
  return dropped === undefined ? { ok: OK } : { nIndexesWas: dropped.indexes().length, ns: dropped.ns, ok: OK }
}

const dropDatabase: Handler = (ctx, req) => {
  validateDbName(req.db)
  ctx.catalog.dropDatabase(req.db)
  return { ok: OK }
}

/** `db.collection` as its two parts. */
const splitNamespace = (ns: string): [string, string] => {
  const dot = ns.indexOf(".")
  if (dot <= 0) throw CommandError.of("InvalidNamespace", `Invalid namespace specified '${ns}'`)
  return [ns.slice(0, dot), ns.slice(dot + 1)]
}

const renameCollection: Handler = (ctx, req) => {
  if (req.db !== "admin") throw new CommandError(13, "renameCollection may only be run against the admin database.", {}, "Unauthorized")
  const from = field(req, "renameCollection")
  const to = field(req, "to")
  if (typeof from !== "string" || typeof to !== "string") throw CommandError.of("TypeMismatch", "'renameCollection' and 'to' must be strings")
  const [fromDb, fromName] = splitNamespace(from)
  const [toDb, toName] = splitNamespace(to)
  const source = ctx.catalog.get(fromDb, fromName)
  if (source === undefined) throw CommandError.of("NamespaceNotFound", "Source collection " + from + " does not exist")
  if (ctx.catalog.get(toDb, toName) !== undefined) {
    if (field(req, "dropTarget") !== true) throw CommandError.of("NamespaceExists", "target namespace exists")
    ctx.catalog.drop(toDb, toName)
  }
  ctx.catalog.rename(source, toDb, toName)
  return { ok: OK }
}

// ---------------------------------------------------------------------------------------------- writes

const validateForInsert = (doc: Document): Document => {
  const id: unknown = doc["_id"]
  if (Array.isArray(id)) throw CommandError.of("InvalidIdField", "The '_id' value cannot be of type array")
  if (id instanceof RegExp) throw CommandError.of("InvalidIdField", "can't use a regex for _id")
  if (isPlainObject(id)) {
    for (const key of Object.keys(id)) {
      if (key.startsWith("$")) {
        throw CommandError.of("DollarPrefixedFieldName", `_id fields may not contain '$'-prefixed fields: ${key} is not valid for storage.`)
      }
    }
  }
  // mongod stores `_id` first whatever its position in the inserted document.
  return idFirst(doc, id === undefined ? new ObjectId() : id)
}

/** mongod's fixDocumentForInsert (src/mongo/db/ops/insert.cpp): code 2, measured as sent. */
const checkInsertSize = (doc: Document): void => {
  const size = calculateObjectSize(doc)
  if (size > MAX_BSON_OBJECT_SIZE) {
    throw CommandError.of("BadValue", `object to insert too large. size in bytes: ${size}, max size: ${MAX_BSON_OBJECT_SIZE}`)
  }
}

/**
 * A document an update produced, refused above 16 MiB as mongod's update stage does (17419), or its upsert
 * stage for a document it inserts (17420, src/mongo/db/exec/upsert_stage.cpp); past the wire limit mongod
 * fails earlier, building the object (10334).
 */
const produced = (code: 17419 | 17420, message: string) => (exact: Document): StoredDoc => {
  const doc = store(exact)
  if (doc.bytes.length > MAX_BSON_INTERNAL_SIZE) throw tooLarge(doc.bytes.length, exact)
  if (doc.bytes.length > MAX_BSON_OBJECT_SIZE) throw new CommandError(code, `${message} ${MAX_BSON_OBJECT_SIZE}`, {}, `Location${code}`)
  return doc
}
const updated = produced(17419, "Resulting document after update is larger than")
const toUpsert = produced(17420, "Document to upsert is larger than")

const writeReply = (n: number, writeErrors: Array<Document>, extra: Document = {}): Document => {
  const reply: Document = { n, ...extra }
  if (writeErrors.length > 0) reply["writeErrors"] = writeErrors
  reply["ok"] = OK
  return reply
}

const isOrdered = (req: CommandRequest): boolean => field(req, "ordered") !== false

/** A write sent as a retryable write (with a `txnNumber`): only accepted by the sharded topology. */
const isRetryable = (req: CommandRequest): boolean => field(req, "txnNumber") !== undefined

const insert: Handler = (ctx, req) => {
  const name = collectionName(req)
  const docs = listArgument(req, "documents")
  const ordered = isOrdered(req)
  const { collection } = ctx.catalog.getOrCreate(req.db, name)
  let n = 0
  const writeErrors: Array<Document> = []
  for (const [index, doc] of docs.entries()) {
    try {
      checkInsertSize(doc.exact)
      if (collection.shardKey !== undefined) Sharding.checkInsert(collection.shardKey, doc.view)
      collection.insert(store(validateForInsert(doc.exact)))
      n++
    } catch (e) {
      writeErrors.push(toCommandError(e).toWriteError(index))
      if (ordered) break
    }
  }
  return writeReply(n, writeErrors)
}

const arrayFiltersOf = (u: unknown): Array<Document> | undefined =>
  Array.isArray(u) ? u.filter((x): x is Document => isPlainObject(x)) : undefined

const update: Handler = (ctx, req) => {
  const name = collectionName(req)
  const statements = listArgument(req, "updates")
  const ordered = isOrdered(req)
  const options = queryOptions(ctx, req)
  let n = 0
  let nModified = 0
  const upserted: Array<Document> = []
  const writeErrors: Array<Document> = []
  for (const [index, statement] of statements.entries()) {
    try {
      const u = { view: statement.view["u"], exact: statement.exact["u"] }
      if (u.view === undefined) throw new CommandError(40414, "BSON field 'update.updates.u' is missing but a required field", {}, "Location40414")
      const multi = statement.view["multi"] === true
      const kind = classify(u.view)
      if (multi && kind === "replacement") throw CommandError.of("FailedToParse", "multi update is not supported for replacement-style update")
      const existing = ctx.catalog.get(req.db, name)
      const shardKey = existing?.shardKey
      if (shardKey !== undefined) Sharding.routeUpdate(shardKey, statement.view, kind === "replacement")
      checkHint(existing, statement.view["hint"])
      const arrayFilters = arrayFiltersOf(statement.view["arrayFilters"])
      const condition = optionalDocument(statement.view["q"], "q")
      const matches = select(ctx, ctx.catalog.get(req.db, name), statement.view["q"], undefined, options)
      const targets = multi ? matches : matches.slice(0, 1)
      if (targets.length === 0) {
        if (statement.view["upsert"] === true) {
          const doc = toUpsert(validateForInsert(buildUpsert(statement.exact["q"], u, arrayFilters)))
          ctx.catalog.getOrCreate(req.db, name).collection.insert(doc)
          n++
          upserted.push({ index, _id: doc.exact["_id"] })
        }
        continue
      }
      const collection = ctx.catalog.getOrCreate(req.db, name).collection
      for (const [record, current] of targets) {
        const next = updated(applyUpdate(current, u, arrayFilters, condition))
        if (shardKey !== undefined) Sharding.checkShardKeyChange(shardKey, current.view, next.view, statement.view["q"], multi, isRetryable(req))
        n++
        if (!Buffer.from(next.bytes).equals(current.bytes)) {
          collection.replace(record, next)
          nModified++
        }
      }
    } catch (e) {
      writeErrors.push(toCommandError(e).toWriteError(index))
      if (ordered) break
    }
  }
  const extra: Document = { nModified }
  if (upserted.length > 0) extra["upserted"] = upserted
  return writeReply(n, writeErrors, extra)
}

const del: Handler = (ctx, req) => {
  const name = collectionName(req)
  const statements = listArgument(req, "deletes")
  const ordered = isOrdered(req)
  const options = queryOptions(ctx, req)
  let n = 0
  const writeErrors: Array<Document> = []
  for (const [index, statement] of statements.entries()) {
    try {
      const limit = optionalNumber(statement.view["limit"], "limit")
      if (limit !== 0 && limit !== 1) {
        throw CommandError.of("FailedToParse", `The limit field in delete objects must be 0 or 1. Got ${String(limit)}`)
      }
      const collection = ctx.catalog.get(req.db, name)
      if (collection?.shardKey !== undefined) Sharding.routeDelete(collection.shardKey, statement.view)
      checkHint(collection, statement.view["hint"])
      const matches = select(ctx, collection, statement.view["q"], undefined, options)
      for (const [record] of limit === 1 ? matches.slice(0, 1) : matches) {
        collection?.remove(record)
        n++
      }
    } catch (e) {
      writeErrors.push(toCommandError(e).toWriteError(index))
      if (ordered) break
    }
  }
  return writeReply(n, writeErrors)
}

const findAndModify: Handler = (ctx, req) => {
  const name = collectionName(req)
  const options = queryOptions(ctx, req)
  const remove = field(req, "remove") === true
  const u = { view: field(req, "update"), exact: exactField(req, "update") }
  const returnNew = field(req, "new") === true
  const upsert = field(req, "upsert") === true
  const fields = field(req, "fields")
  if (remove && u.view !== undefined) throw CommandError.of("FailedToParse", "Cannot specify both an update and remove=true")
  if (!remove && u.view === undefined) throw CommandError.of("FailedToParse", "Either an update or remove=true must be specified")
  if (remove && returnNew) throw CommandError.of("FailedToParse", "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document")
  if (remove && upsert) throw CommandError.of("FailedToParse", "Cannot specify both upsert=true and remove=true")
  const collection = ctx.catalog.get(req.db, name)
  if (collection?.shardKey !== undefined) Sharding.routeFindAndModify(collection.shardKey, field(req, "query"))
  checkHint(collection, field(req, "hint"))
  const [match] = select(ctx, collection, field(req, "query"), field(req, "sort"), options)
  const shown = (doc: Document | undefined): Document | null => {
    if (doc === undefined) return null
    return project([doc], fields, options)[0] ?? null
  }
  if (remove) {
    if (match === undefined || collection === undefined) return { lastErrorObject: { n: 0 }, value: null, ok: OK }
    collection.remove(match[0])
    return { lastErrorObject: { n: 1 }, value: shown(match[1].exact), ok: OK }
  }
  const arrayFilters = arrayFiltersOf(field(req, "arrayFilters"))
  if (match !== undefined && collection !== undefined) {
    const [record, current] = match
    const next = updated(applyUpdate(current, u, arrayFilters, optionalDocument(field(req, "query"), "query")))
    if (collection.shardKey !== undefined) Sharding.checkShardKeyChange(collection.shardKey, current.view, next.view, field(req, "query"), false, isRetryable(req))
    if (!Buffer.from(next.bytes).equals(current.bytes)) collection.replace(record, next)
    return { lastErrorObject: { n: 1, updatedExisting: true }, value: shown(returnNew ? next.exact : current.exact), ok: OK }
  }
  if (upsert) {
    const doc = toUpsert(validateForInsert(buildUpsert(exactField(req, "query"), u, arrayFilters)))
    ctx.catalog.getOrCreate(req.db, name).collection.insert(doc)
    return {
      lastErrorObject: { n: 1, updatedExisting: false, upserted: doc.exact["_id"] },
      value: returnNew ? shown(doc.exact) : null,
      ok: OK
    }
  }
  return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: OK }
}

// ---------------------------------------------------------------------------------------------- reads

const find: Handler = (ctx, req) => {
  const name = collectionName(req)
  const options = queryOptions(ctx, req)
  const collection = ctx.catalog.get(req.db, name)
  const skip = nonNegative(field(req, "skip"), "skip") ?? 0
  const limit = nonNegative(field(req, "limit"), "limit") ?? 0
  const batchSize = nonNegative(field(req, "batchSize"), "batchSize")
  if (field(req, "tailable") === true) throw CommandError.of("BadValue", "error processing query: tailable cursor requested on non capped collection")
  checkHint(collection, field(req, "hint"))
  const selected = select(ctx, collection, field(req, "filter"), field(req, "sort"), options)
  const window = selected.slice(skip, limit > 0 ? skip + limit : undefined).map(([, doc]) => doc.exact)
  const docs = project(window, field(req, "projection"), options)
  const singleBatch = field(req, "singleBatch") === true
  return cursorReply(ctx.cursors.first(`${req.db}.${name}`, docs, batchSize, singleBatch), "firstBatch")
}

const getMore: Handler = (ctx, req) => {
  const collection = field(req, "collection")
  if (typeof collection !== "string") throw CommandError.of("TypeMismatch", "BSON field 'getMore.collection' is missing or not a string")
  const batchSize = nonNegative(field(req, "batchSize"), "batchSize")
  return cursorReply(ctx.cursors.more(exactField(req, "getMore"), `${req.db}.${collection}`, batchSize), "nextBatch")
}

const killCursors: Handler = (ctx, req) => {
  collectionName(req)
  const ids = exactField(req, "cursors")
  if (!Array.isArray(ids)) throw CommandError.of("TypeMismatch", "BSON field 'killCursors.cursors' must be an array")
  const { killed, notFound } = ctx.cursors.kill(ids)
  return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: OK }
}

const count: Handler = (ctx, req) => {
  const name = collectionName(req)
  const collection = ctx.catalog.get(req.db, name)
  checkHint(collection, field(req, "hint"))
  const skip = nonNegative(field(req, "skip"), "skip") ?? 0
  const limit = Math.abs(optionalNumber(field(req, "limit"), "limit") ?? 0)
  const matched = select(ctx, collection, field(req, "query"), undefined, queryOptions(ctx, req)).length
  const afterSkip = Math.max(0, matched - skip)
  return { n: limit > 0 ? Math.min(limit, afterSkip) : afterSkip, ok: OK }
}

const distinct: Handler = (ctx, req) => {
  const name = collectionName(req)
  const key = field(req, "key")
  if (typeof key !== "string") throw CommandError.of("TypeMismatch", "BSON field 'distinct.key' is the wrong type, expected type 'string'")
  if (key.length === 0) throw CommandError.of("BadValue", "FieldPath cannot be constructed with empty string")
  const seen = new Set<string>()
  const values: Array<unknown> = []
  for (const [, doc] of select(ctx, ctx.catalog.get(req.db, name), field(req, "query"), undefined, queryOptions(ctx, req))) {
    const found: Array<unknown> = []
    collectPath(doc.exact, key.split("."), found)
    for (const value of found) {
      const k = canonical(value)
      if (!seen.has(k)) {
        seen.add(k)
        values.push(value)
      }
    }
  }
  return { values, ok: OK }
}

/** A pipeline's documents: for a leading `$match`, only those its filter must be tested on (see `candidates`). */
const pipelineInput = (ctx: Context, collection: Collection, first: Document | undefined, options: Options): Array<StoredDoc> =>
  first !== undefined && "$match" in first ? candidates(ctx, collection, first["$match"], options).map(([, doc]) => doc) : collection.docs()

const aggregate: Handler = (ctx, req) => {
  const target = field(req, "aggregate")
  const pipeline = field(req, "pipeline")
  if (!Array.isArray(pipeline)) throw CommandError.of("TypeMismatch", "'pipeline' option must be specified as an array")
  if (field(req, "explain") !== true && !isPlainObject(field(req, "cursor"))) {
    throw CommandError.of("FailedToParse", "The 'cursor' option is required, except for aggregate with the explain argument")
  }
  if (field(req, "explain") === true) throw CommandError.of("IllegalOperation", "explain is not emulated")
  const stages: Array<Document> = []
  for (const stage of pipeline) {
    if (!isPlainObject(stage) || Object.keys(stage).length !== 1) {
      throw new CommandError(40323, "A pipeline stage specification object must contain exactly one field.", {}, "Location40323")
    }
    stages.push(stage)
  }
  let name: string
  let source: Collection | undefined
  if (target === 1) {
    const first = stages[0]
    if (first === undefined || !("$documents" in first)) {
      throw CommandError.of("InvalidNamespace", "{aggregate: 1} is not valid for '$match'; a collection is required.")
    }
    name = "$cmd.aggregate"
  } else {
    name = collectionName(req)
    source = ctx.catalog.get(req.db, name)
  }
  const last = stages[stages.length - 1]
  let out: string | undefined
  if (last !== undefined && "$merge" in last) throw CommandError.of("IllegalOperation", "$merge is not emulated")
  if (last !== undefined && "$out" in last) {
    const spec: unknown = last["$out"]
    if (typeof spec !== "string") throw CommandError.of("IllegalOperation", "$out is emulated only with a collection name in the same database")
    validateCollectionName(req.db, spec)
    out = spec
    stages.pop()
  }
  for (const stage of stages) {
    if ("$out" in stage || "$merge" in stage) throw new CommandError(40601, "$out can only be the final stage in the pipeline", {}, "Location40601")
  }
  const options = queryOptions(ctx, req)
  const input = source === undefined ? [] : pipelineInput(ctx, source, stages[0], options)
  const views = input.map((doc) => ({ view: freshView(doc), exact: doc.exact }))
  const exactOf = new Map<Document, Document>(views.map((v) => [v.view, v.exact]))
  const results = runPipeline(stages, views.map((v) => v.view), options).map((doc) => exactOf.get(doc) ?? doc)
  if (out !== undefined) {
    ctx.catalog.drop(req.db, out)
    const { collection } = ctx.catalog.getOrCreate(req.db, out)
    for (const doc of results) collection.insert(store(validateForInsert(doc)))
    return cursorReply(ctx.cursors.first(`${req.db}.${name}`, [], cursorBatchSize(req), false), "firstBatch")
  }
  return cursorReply(ctx.cursors.first(`${req.db}.${name}`, results, cursorBatchSize(req), false), "firstBatch")
}

// ---------------------------------------------------------------------------------------------- indexes

const createIndexes: Handler = (ctx, req) => {
  const name = collectionName(req)
  const raw = field(req, "indexes")
  if (!Array.isArray(raw) || raw.length === 0) throw CommandError.of("BadValue", "Must specify at least one index to create")
  const specs = raw.map(parseIndexSpec)
  const shardKey = ctx.catalog.get(req.db, name)?.shardKey
  for (const spec of specs) Sharding.checkNewIndex(shardKey, spec)
  const { collection, created } = ctx.catalog.getOrCreate(req.db, name)
  const before = collection.indexes().length
  const fresh: Array<IndexSpec> = []
  for (const spec of specs) {
    if (compareWithExisting(spec, [...collection.indexes(), ...fresh]) === "new") fresh.push(spec)
  }
  collection.addIndexes(fresh)
  const after = collection.indexes().length
  const reply: Document = { numIndexesBefore: before, numIndexesAfter: after, createdCollectionAutomatically: created }
  if (before === after) reply["note"] = "all indexes already exist"
  reply["ok"] = OK
  return reply
}

const listIndexes: Handler = (ctx, req) => {
  const name = collectionName(req)
  const collection = ctx.catalog.get(req.db, name)
  if (collection === undefined) throw CommandError.of("NamespaceNotFound", `ns does not exist: ${req.db}.${name}`)
  const docs = collection.indexes().map((spec) => spec.description)
  return cursorReply(ctx.cursors.first(`${req.db}.${name}`, docs, cursorBatchSize(req), false), "firstBatch")
}

const dropIndexes: Handler = (ctx, req) => {
  const name = collectionName(req)
  const collection = ctx.catalog.get(req.db, name)
  if (collection === undefined) throw CommandError.of("NamespaceNotFound", `ns not found ${req.db}.${name}`)
  const before = collection.indexes().length
  const index = field(req, "index")
  const byName = (n: string): void => {
    if (n === "_id_") throw CommandError.of("InvalidOptions", "cannot drop _id index")
    if (!collection.indexes().some((s) => s.name === n)) throw CommandError.of("IndexNotFound", `index not found with name [${n}]`)
    collection.dropIndex(n)
  }
  if (index === "*") {
    for (const spec of collection.indexes()) if (spec.name !== "_id_") collection.dropIndex(spec.name)
  } else if (typeof index === "string") {
    byName(index)
  } else if (Array.isArray(index)) {
    for (const n of index) if (typeof n === "string") byName(n)
  } else if (isPlainObject(index)) {
    const spec = collection.indexes().find((s) => canonical(s.key) === canonical(index))
    if (spec === undefined) throw CommandError.of("IndexNotFound", `can't find index with key: ${JSON.stringify(index)}`)
    byName(spec.name)
  } else {
    throw CommandError.of("TypeMismatch", "BSON field 'dropIndexes.index' is the wrong type")
  }
  return { nIndexesWas: before, ok: OK }
}

// ---------------------------------------------------------------------------------------------- sharding

/** mongos's `shardCollection`: gives a collection (created if missing) a shard key; see Sharding. */
const shardCollection: Handler = (ctx, req) => {
  if (req.db !== "admin") throw new CommandError(13, "shardCollection may only be run against the admin database.", {}, "Unauthorized")
  const ns = field(req, req.name)
  if (typeof ns !== "string") throw CommandError.of("TypeMismatch", `BSON field 'shardCollection.shardCollection' is the wrong type '${typeName(ns)}', expected type 'string'`)
  const [db, name] = splitNamespace(ns)
  validateDbName(db)
  validateCollectionName(db, name)
  if (name.startsWith("system.")) throw CommandError.of("IllegalOperation", "can't shard system namespaces")
  const key = optionalDocument(field(req, "key"), "key")
  if (key === undefined) throw new CommandError(40414, "BSON field 'shardCollection.key' is missing but a required field", {}, "Location40414")
  const existing = ctx.catalog.get(db, name)
  const { shardKey, index } = Sharding.planShardCollection(ns, existing, key, field(req, "unique") === true)
  const collection = existing ?? ctx.catalog.create(db, name, {})
  if (index !== undefined) collection.addIndexes([index])
  collection.shardKey = shardKey
  return { collectionsharded: ns, ok: OK }
}

/** Since 6.0 databases need no `enableSharding` before `shardCollection`; it is accepted as mongos does. */
const enableSharding: Handler = (_ctx, req) => {
  if (req.db !== "admin") throw new CommandError(13, "enableSharding may only be run against the admin database.", {}, "Unauthorized")
  const db = field(req, req.name)
  if (typeof db !== "string") throw CommandError.of("TypeMismatch", "BSON field 'enableSharding.enableSharding' must be a string")
  validateDbName(db)
  return { ok: OK }
}

// ---------------------------------------------------------------------------------------------- sessions

const okOnly: Handler = () => ({ ok: OK })

const TRANSACTIONS_ON_STANDALONE = "Transaction numbers are only allowed on a replica set member or mongos"
/** mongos runs transactions; the emulator does not: refused with the standalone's code, in its own words. */
const TRANSACTIONS_NOT_EMULATED = "Multi-document transactions are not emulated (the emulator's sharded topology accepts retryable writes only)"

const transactionsRefused = (ctx: Context): CommandError =>
  CommandError.of("IllegalOperation", ctx.topology === "standalone" ? TRANSACTIONS_ON_STANDALONE : TRANSACTIONS_NOT_EMULATED)

const transactionsUnsupported: Handler = (ctx) => {
  throw transactionsRefused(ctx)
}

/** Commands a `txnNumber` may come with outside a transaction (mongod's retryable write commands). */
const RETRYABLE_WRITE_COMMANDS = new Set(["insert", "update", "delete", "findAndModify", "findandmodify"])

/**
 * Sessions' transaction fields: a standalone refuses any of them (20); the sharded topology accepts a
 * `txnNumber` alone on a retryable write command (executed once: retries are not deduplicated) and refuses
 * it elsewhere as mongod does (50768), and refuses transactions (not emulated).
 */
const checkTransactionFields = (ctx: Context, req: CommandRequest): void => {
  const body = req.body.view
  if (body["startTransaction"] !== undefined || body["autocommit"] !== undefined) throw transactionsRefused(ctx)
  if (body["txnNumber"] === undefined) return
  if (ctx.topology === "standalone") throw transactionsRefused(ctx)
  if (!RETRYABLE_WRITE_COMMANDS.has(req.name)) {
    throw new CommandError(
      50768,
      `txnNumber may only be provided for multi-document transactions and retryable write commands. autocommit:false was not provided, and ${req.name} is not a retryable write command.`,
      {},
      "NotARetryableWriteCommand"
    )
  }
}

const HANDLERS: Readonly<Record<string, Handler>> = {
  hello,
  isMaster: hello,
  ismaster: hello,
  ping: okOnly,
  buildInfo,
  buildinfo: buildInfo,
  getParameter,
  listDatabases,
  listCollections,
  create,
  drop,
  dropDatabase,
  renameCollection,
  insert,
  update,
  delete: del,
  findAndModify,
  findandmodify: findAndModify,
  find,
  getMore,
  killCursors,
  count,
  distinct,
  aggregate,
  createIndexes,
  listIndexes,
  dropIndexes,
  endSessions: okOnly,
  killSessions: okOnly,
  killAllSessions: okOnly,
  refreshSessions: okOnly,
  abortTransaction: transactionsUnsupported,
  commitTransaction: transactionsUnsupported
}

/** mongos has the cluster's administration commands besides; a mongod answers them 59. */
const MONGOS_HANDLERS: Readonly<Record<string, Handler>> = {
  ...HANDLERS,
  shardCollection,
  shardcollection: shardCollection,
  enableSharding,
  enablesharding: enableSharding
}

const handlersOf = (topology: Sharding.Topology): Readonly<Record<string, Handler>> => (topology === "sharded" ? MONGOS_HANDLERS : HANDLERS)

/** Runs one command and returns its reply document (errors included). */
export const execute = (ctx: Context, req: CommandRequest): Document => {
  try {
    const handlers = handlersOf(ctx.topology)
    const handler = Object.prototype.hasOwnProperty.call(handlers, req.name) ? handlers[req.name] : undefined
    if (handler === undefined) {
      throw CommandError.of("CommandNotFound", `no such command: '${req.name}'`)
    }
    checkTransactionFields(ctx, req)
    return handler(ctx, req)
  } catch (e) {
    return toCommandError(e).toReply()
  }
}
