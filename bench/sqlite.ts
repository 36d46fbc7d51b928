/**
 * The SQLite store at 1,000,000 runs (a database file under the temp directory, deleted afterwards): the
 * target queries, each beside the same query written by hand in SQL on the same database (better-sqlite3
 * directly, using the store's own indexes, rows parsed from JSON as the store returns them) and beside a full
 * scan (that SQL with `NOT INDEXED`); batch insert beside raw multi-row `INSERT`s of the same rows into a
 * table with the same indexes; and the query plan of each hand-written query, so a scan is seen.
 */
import { type Ast, Store } from "@lineage/core"
import { Compile, Sql, Sqlite } from "@lineage/sql"
import * as SqliteStore from "@lineage/store-sqlite"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { log, medianOf, quick, runner, type SqlFigures, sqlQueries } from "./common.js"
import { load } from "./data.js"
import { cases, relatedIds } from "./memory.js"

export type SqliteFigures = SqlFigures

const table = `"t:run"`
const at = (path: ReadonlyArray<string>) => `'$${path.map((s) => `."${s}"`).join("")}'`
/** A path's value and type rank: the expressions of the store's indexes (as `sqlite_master` shows them). */
const value = (...path: ReadonlyArray<string>) => `json_extract(doc, ${at(path)})`
const rank = (...path: ReadonlyArray<string>) =>
  `CASE json_type(doc, ${at(path)}) WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 2 WHEN 'real' THEN 2 ` +
  `WHEN 'text' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 0 END`
const number = (...path: ReadonlyArray<string>) => `${rank(...path)} = 2 AND ${value(...path)}`
const live = `${value("branchId")} = 1`


interface Hand {
  /** The index to read through (`INDEXED BY`), when the planner alone would pick a worse one. */
  readonly index?: string
  readonly sql: string
  readonly params: ReadonlyArray<unknown>
}

/**
 * The cases of `memory.ts` written by hand, in the same order, returning the same rows in the same order (the
 * store's order ends with the id). `uid` has only its unique index, on the JSON text: the prefix is a range there.
 */
const handWritten = (total: number, transformId: number, uidPrefix: string, related: ReadonlyArray<number>): ReadonlyArray<Hand> => [
  { sql: `WHERE ${number("transformId")} = ? AND ${live} ORDER BY id`, params: [transformId] },
  { sql: `WHERE ${number("featureValues", "batch")} = ? AND ${live} ORDER BY id`, params: [Math.floor(total / 2 / 50)] },
  {
    sql: `WHERE ${rank("uid")} <> 0 AND (doc -> ${at(["uid"])}) >= ? AND (doc -> ${at(["uid"])}) < ? ORDER BY id`,
    params: [`"${uidPrefix}`, `"${Compile.prefixEnd(uidPrefix)}`]
  },
  { sql: `WHERE ${number("featureValues", "score")} BETWEEN ? AND ? AND ${live} ORDER BY id`, params: [0.5, 0.51] },
  { sql: `WHERE ${number("transformId")} IN (${related.map(() => "?").join(", ")}) AND ${live} ORDER BY id`, params: related },
  {
    // SQLite's planner, without statistics, would find the 10 % errored runs and sort them all: whoever writes
    // this by hand, knowing the data, names the index the page is read along.
    index: startedAtIndex,
    sql: `WHERE ${rank("status")} = 3 AND ${value("status")} = ? AND ${live} ORDER BY ${rank("startedAt")} DESC, ${value("startedAt")} DESC, id LIMIT 10`,
    params: ["errored"]
  }
]

const startedAtIndex = `"${JSON.stringify(["index", "run", JSON.stringify(["startedAt"])]).replace(/"/g, '""')}"`

/** Loads `total` runs into a fresh database file and measures everything at that size. */
export const measure = async (total: number, batch = 5_000): Promise<SqliteFigures> => {
  const dir = mkdtempSync(join(tmpdir(), "lineage-bench-sqlite-"))
  const filename = join(dir, "bench.db")
  const driver = await Effect.runPromise(SqliteStore.make({ filename }))
  const db = new Database(filename)
  try {
    const store = await Effect.runPromise(Store.make(driver))
    const run = runner(store)
    const loaded = await load(run, total, batch)
    const insertPerSec = total / (loaded.insertMs / 1000)
    const rawInsertPerSec = rawInsert(db, total, batch)
    log(`  sqlite ${total.toLocaleString("en")}: insert ${Math.round(insertPerSec).toLocaleString("en")} runs/s, raw multi-row INSERT ${Math.round(rawInsertPerSec).toLocaleString("en")} rows/s`)

    const uidPrefix = String(JSON.parse((db.prepare(`SELECT doc FROM ${table} WHERE id = 8`).get() as { doc: string }).doc).uid).slice(0, 8)
    const transformId = loaded.transformIds[7]!
    const related = await relatedIds(run)
    const list = cases(run, total, transformId, uidPrefix, related)
    const hands = handWritten(total, transformId, uidPrefix, related)
    const hand = (h: Hand, scan = false) => {
      const st = db.prepare(`SELECT doc FROM ${table}${scan ? " NOT INDEXED" : h.index === undefined ? "" : ` INDEXED BY ${h.index}`} ${h.sql}`)
      return () => (st.all(...h.params) as Array<{ doc: string }>).map((r) => JSON.parse(r.doc) as unknown)
    }
    const queries = await sqlQueries(list, driver, (i) => hand(hands[i]!), async (c, i) => ({
      scanMs: await medianOf(quick ? 1 : 3, hand(hands[i]!, true)),
      indexed: usesIndexes(db, c.spec)
    }))
    return { total, insertPerSec, rawInsertPerSec, queries }
  } finally {
    db.close()
    await Effect.runPromise(driver.close())
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Rows/s of raw multi-row `INSERT`s of the store's own rows (read back in id order), `batch` rows per
 * transaction, into a new table carrying the run table's indexes: what writing the same data costs without
 * validation, encoding, id reservation or the store.
 */
const rawInsert = (db: Database.Database, total: number, batch: number): number => {
  const copy = `"raw-run"`
  db.exec(`CREATE TABLE ${copy} (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)`)
  const indexes = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 't:run' AND sql IS NOT NULL`).all() as Array<{ sql: string }>
  indexes.forEach((ix, i) => db.exec(ix.sql.replace(/^CREATE (UNIQUE )?INDEX (.+?) ON "t:run"/, `CREATE $1INDEX "raw-${i}" ON ${copy}`)))
  const read = db.prepare(`SELECT id, doc FROM ${table} WHERE id >= ? ORDER BY id LIMIT ?`)
  const perStatement = 500 // 1,000 bound values: well under SQLite's limit
  const many = db.prepare(`INSERT INTO ${copy} (id, doc) VALUES ${Array.from({ length: perStatement }, () => "(?, ?)").join(", ")}`)
  let elapsed = 0
  let done = 0
  let from = 0
  while (done < total) {
    const rows = read.all(from, batch) as Array<{ id: number; doc: string }>
    if (rows.length === 0) break
    const start = performance.now()
    db.transaction(() => {
      for (let i = 0; i < rows.length; i += perStatement) {
        const part = rows.slice(i, i + perStatement)
        const params = part.flatMap((r) => [r.id, r.doc])
        if (part.length === perStatement) many.run(...params)
        else db.prepare(`INSERT INTO ${copy} (id, doc) VALUES ${part.map(() => "(?, ?)").join(", ")}`).run(...params)
      }
    }).immediate()
    elapsed += performance.now() - start
    done += rows.length
    from = rows.at(-1)!.id + 1
  }
  db.exec(`DROP TABLE ${copy}`)
  return done / (elapsed / 1000)
}

/**
 * Whether every table access of the store's statement for `spec` goes through an index: the compiler's
 * condition and order, as the driver's `find` sends them, under `EXPLAIN QUERY PLAN`.
 */
const usesIndexes = (db: Database.Database, spec: Ast.FindSpec): boolean => {
  const where = Compile.compile(Sqlite.dialect, spec.where).where
  const order = Compile.orderBy(Sqlite.dialect, spec.orderBy)
  const page = spec.limit === undefined ? "" : ` LIMIT ${spec.limit}`
  const { text, params } = Sql.render(Sql.sql`SELECT doc FROM ${table} WHERE ${where}${order === undefined ? "" : ` ORDER BY ${order}`}${page}`, () => "?")
  const plan = db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...params) as Array<{ detail: string }>
  return plan.every((p) => !/^SCAN /.test(p.detail) || / USING (COVERING )?INDEX /.test(p.detail))
}

