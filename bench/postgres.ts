/**
 * The PostgreSQL store at 1,000,000 runs (a fresh schema of the server, dropped afterwards): the target
 * queries, each beside the same query written by hand in SQL on the same database (`pg` directly, using the
 * store's own index expressions as the catalog shows them, rows parsed from JSON as the store returns them)
 * and beside a full scan (that SQL with index scans turned off); batch insert beside raw multi-row `INSERT`s of
 * the same rows into a table with the same indexes; and the plan of each of the store's statements, so a
 * sequential scan is seen.
 */
import { type Ast, Store } from "@lineage/core"
import { Compile, Postgres, Sql } from "@lineage/sql"
import * as PostgresStore from "@lineage/store-postgres"
import { Effect } from "effect"
import pg from "pg"
import { randomBytes } from "node:crypto"
import { log, medianOf, quick, runner, type SqlFigures, sqlQueries } from "./common.js"
import { load } from "./data.js"
import { cases, relatedIds } from "./memory.js"

export const url = process.env["LINEAGE_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

export interface PostgresFigures extends SqlFigures {
  /** `ANALYZE` of the run table after the load, ms (the store leaves statistics to autovacuum). */
  readonly analyzeMs: number
}

/** Whether a server answers at `url`. */
export const available = async (): Promise<boolean> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 })
  client.on("error", () => undefined)
  try {
    await client.connect()
    await client.query("SELECT 1")
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** A path's index expressions (`rank`, `number`, `string`, `json`), as `pg_get_indexdef` shows the store's index on it. */
type Exprs = { readonly rank: string; readonly number: string; readonly string: string; readonly json: string }

const indexExprs = async (pool: pg.Pool, schema: string, path: ReadonlyArray<string>): Promise<Exprs> => {
  const name = Postgres.dialect(schema).indexName(["index", "run", JSON.stringify(path)])
  const { rows } = await pool.query<{ e: string }>(
    "SELECT pg_get_indexdef(c.oid, k, true) AS e FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, generate_series(1, 4) k " +
      "WHERE c.relname = $1 AND n.nspname = $2 ORDER BY k",
    [name, schema]
  )
  if (rows.length !== 4) throw new Error(`no index on ${JSON.stringify(path)} in ${schema}`)
  // A column's definition leaves out its collation: strings are indexed `COLLATE "C"`.
  const [rank, number, string, json] = rows.map((r, k) => (k < 2 ? `(${r.e})` : `(${r.e} COLLATE "C")`))
  return { rank: rank!, number: number!, string: string!, json: json! }
}

/** The unique index on `uid`: its key (the JSON text, `COLLATE "C"`) and its predicate. */
const uidIndex = async (pool: pg.Pool, schema: string): Promise<{ readonly json: string; readonly where: string }> => {
  const { rows } = await pool.query<{ e: string; w: string }>(
    "SELECT pg_get_indexdef(x.indexrelid, 1, true) AS e, pg_get_expr(x.indpred, x.indrelid, true) AS w FROM pg_index x " +
      "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace " +
      "WHERE t.relname = 't:run' AND n.nspname = $1 AND x.indisunique AND x.indnatts = 1 AND pg_get_indexdef(x.indexrelid, 1, true) LIKE '%{uid}%'",
    [schema]
  )
  if (rows.length !== 1) throw new Error(`expected one unique index on uid, found ${rows.length}`)
  return { json: `(${rows[0]!.e} COLLATE "C")`, where: `(${rows[0]!.w})` }
}

interface Hand {
  readonly sql: string
  readonly params: ReadonlyArray<unknown>
}

/**
 * The cases of `memory.ts` written by hand, in the same order, returning the same rows in the same order (the
 * store's order ends with the id). `uid` has only its unique index, on the JSON text: the prefix is a range there.
 */
const handWritten = async (pool: pg.Pool, schema: string, total: number, transformId: number, uidPrefix: string, related: ReadonlyArray<number>): Promise<ReadonlyArray<Hand>> => {
  const [transform, batch, score, branch, status, startedAt] = await Promise.all(
    [["transformId"], ["featureValues", "batch"], ["featureValues", "score"], ["branchId"], ["status"], ["startedAt"]].map((p) => indexExprs(pool, schema, p))
  )
  const uid = await uidIndex(pool, schema)
  const live = `${branch!.rank} = 2 AND ${branch!.number} = 1`
  const num = (e: Exprs) => `${e.rank} = 2 AND ${e.number}`
  const desc = [startedAt!.rank, startedAt!.number, startedAt!.string, startedAt!.json].map((e) => `${e} DESC`).join(", ")
  const uidText = JSON.stringify(uidPrefix).slice(0, -1)
  return [
    { sql: `WHERE ${num(transform!)} = $1 AND ${live} ORDER BY id`, params: [transformId] },
    { sql: `WHERE ${num(batch!)} = $1 AND ${live} ORDER BY id`, params: [Math.floor(total / 2 / 50)] },
    { sql: `WHERE ${uid.where} AND ${uid.json} >= $1 AND ${uid.json} < $2 ORDER BY id`, params: [uidText, Compile.prefixEnd(uidText)] },
    { sql: `WHERE ${num(score!)} BETWEEN $1 AND $2 AND ${live} ORDER BY id`, params: [0.5, 0.51] },
    { sql: `WHERE ${num(transform!)} = ANY($1::float8[]) AND ${live} ORDER BY id`, params: [related] },
    { sql: `WHERE ${status!.rank} = 3 AND ${status!.string} = $1 AND ${live} ORDER BY ${desc}, id LIMIT 10`, params: ["errored"] }
  ]
}

/**
 * Rows the raw insert writes again: its cost per row is the index expressions' (each parses the document),
 * the same at any size, and writing a million rows twice would double the section's ten minutes.
 */
export const rawSample = 100_000

/** Loads `total` runs into a fresh schema and measures everything at that size. */
export const measure = async (total: number, batch = 5_000): Promise<PostgresFigures> => {
  const schema = `lineage_bench_${process.pid}_${randomBytes(3).toString("hex")}`
  const driver = await Effect.runPromise(PostgresStore.makeDriver({ url, schema }))
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  pool.on("error", () => undefined)
  const table = `"${schema}"."t:run"`
  try {
    const store = await Effect.runPromise(Store.make(driver))
    const run = runner(store)
    const loaded = await load(run, total, batch)
    const insertPerSec = total / (loaded.insertMs / 1000)
    const rawInsertPerSec = await rawInsert(pool, table, Math.min(total, rawSample), batch)
    log(`  postgres ${total.toLocaleString("en")}: insert ${Math.round(insertPerSec).toLocaleString("en")} runs/s, raw multi-row INSERT ${Math.round(rawInsertPerSec).toLocaleString("en")} rows/s`)
    // Fresh statistics, as autovacuum would gather them a little later: without them the planner guesses.
    const analyzeStart = performance.now()
    await pool.query(`ANALYZE ${table}`)
    const analyzeMs = performance.now() - analyzeStart
    log(`  postgres ${total.toLocaleString("en")}: ANALYZE ${Math.round(analyzeMs).toLocaleString("en")} ms`)

    const uidPrefix = String(JSON.parse((await pool.query<{ doc: string }>(`SELECT doc FROM ${table} WHERE id = 8`)).rows[0]!.doc).uid).slice(0, 8)
    const transformId = loaded.transformIds[7]!
    const related = await relatedIds(run)
    const list = cases(run, total, transformId, uidPrefix, related)
    const hands = await handWritten(pool, schema, total, transformId, uidPrefix, related)
    const hand = (h: Hand) => async () => (await pool.query<{ doc: string }>(`SELECT doc FROM ${table} ${h.sql}`, [...h.params])).rows.map((r) => JSON.parse(r.doc) as unknown)
    const queries = await sqlQueries(list, driver, (i) => hand(hands[i]!), async (c, i) => ({
      scanMs: await scan(pool, table, hands[i]!),
      indexed: await usesIndexes(pool, schema, table, c.spec)
    }))
    return { total, insertPerSec, rawInsertPerSec, analyzeMs, queries }
  } finally {
    await pool.end().catch(() => undefined)
    await Effect.runPromise(Effect.ignore(driver.drop()))
    await Effect.runPromise(driver.close())
  }
}

/** The hand-written query's median with every index scan turned off (in its own transaction): a sequential scan. */
const scan = async (pool: pg.Pool, table: string, h: Hand): Promise<number> => {
  const client = await pool.connect()
  try {
    await client.query("BEGIN")
    await client.query("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_indexonlyscan = off")
    return await medianOf(quick ? 1 : 3, () => client.query(`SELECT doc FROM ${table} ${h.sql}`, [...h.params]).then((r) => r.rows.map((x) => JSON.parse(x.doc))))
  } finally {
    await client.query("ROLLBACK").catch(() => undefined)
    client.release()
  }
}

/**
 * Rows/s of raw multi-row `INSERT`s of the store's own rows (read back in id order), `batch` rows per
 * transaction, into a new table carrying the run table's indexes (`LIKE … INCLUDING INDEXES`): what writing
 * the same data costs without validation, encoding, id reservation or the store.
 */
const rawInsert = async (pool: pg.Pool, table: string, total: number, batch: number): Promise<number> => {
  const copy = table.replace(/"t:run"$/, `"raw-run"`)
  await pool.query(`CREATE TABLE ${copy} (LIKE ${table} INCLUDING INDEXES)`)
  const perStatement = 250 // as many rows as the store puts in one INSERT
  const client = await pool.connect()
  let elapsed = 0
  let done = 0
  let from = 0
  try {
    while (done < total) {
      const { rows } = await client.query<{ id: string; doc: string }>(`SELECT id, doc FROM ${table} WHERE id >= $1 ORDER BY id LIMIT $2`, [from, batch])
      if (rows.length === 0) break
      const start = performance.now()
      await client.query("BEGIN")
      for (let i = 0; i < rows.length; i += perStatement) {
        const part = rows.slice(i, i + perStatement)
        await client.query(`INSERT INTO ${copy} (id, doc) VALUES ${part.map((_, j) => `($${2 * j + 1}, $${2 * j + 2})`).join(", ")}`, part.flatMap((r) => [r.id, r.doc]))
      }
      await client.query("COMMIT")
      elapsed += performance.now() - start
      done += rows.length
      from = Number(rows.at(-1)!.id) + 1
    }
  } finally {
    client.release()
  }
  await pool.query(`DROP TABLE ${copy}`)
  return done / (elapsed / 1000)
}

/** Whether the plan of the store's statement for `spec` (as `find` sends it) reads the table through an index. */
const usesIndexes = async (pool: pg.Pool, schema: string, table: string, spec: Ast.FindSpec): Promise<boolean> => {
  const d = Postgres.dialect(schema)
  const where = Compile.compile(d, spec.where).where
  const order = Compile.orderBy(d, spec.orderBy)
  const page = spec.limit === undefined ? "" : ` LIMIT ${spec.limit}`
  const { text, params } = Sql.render(Sql.sql`SELECT id, doc FROM ${table} WHERE ${where}${order === undefined ? "" : ` ORDER BY ${order}`}${page}`, d.placeholder)
  const plan = (await pool.query<{ "QUERY PLAN": string }>(`EXPLAIN ${text}`, [...params])).rows.map((r) => r["QUERY PLAN"]).join("\n")
  if (process.env["LINEAGE_BENCH_PLANS"] !== undefined) log(`${JSON.stringify(spec.where)}\n${plan}\n`)
  return !/Seq Scan/.test(plan)
}
