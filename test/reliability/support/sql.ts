/**
 * The SQL stores as reliability targets: SQLite (a fresh database file per namespace, in a temp directory) and
 * PostgreSQL (a fresh schema per namespace on `LINEAGE_POSTGRES_URL`, else the server at 127.0.0.1:5432,
 * database `test`). What they persisted is read through a client of the tests' own (better-sqlite3, pg), never
 * through the store.
 *
 * The drift check holds a store to what it declared, three ways:
 * - the engine's own check: SQLite's `PRAGMA integrity_check` (every index entry matches its row, every row is
 *   in every index) must say `ok`; on PostgreSQL `amcheck`'s `bt_index_check(index, heapallindexed)` on every
 *   index of the schema, when the server has the extension (it is created once in `public` and left there);
 * - every constraint and index in the store's catalog exists in the engine, and no two rows share a unique key
 *   (found by a full scan);
 * - for every declared path, equality queries through the store (which the path's index answers) count what a
 *   full scan of the raw rows counts, for up to `valuesPerPath` of the values found there.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { randomBytes } from "node:crypto"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Database from "better-sqlite3"
import pg from "pg"
import { Effect } from "effect"
import { Ast, Driver, Evaluator } from "@lineage/core"
import { Compile, type Dialect, Postgres, Sqlite } from "@lineage/sql"
import * as PostgresStore from "@lineage/store-postgres"
import * as SqliteStore from "@lineage/store-sqlite"
import { openPool, serverUrl } from "../../support/postgres.js"

/** Values checked per declared path: spread over the distinct values, so big namespaces stay quick. */
const valuesPerPath = 40

/** A SQL store's persisted rows, read around the store. */
interface RawSql {
  readonly dialect: Dialect.Dialect
  readonly query: (text: string) => Promise<ReadonlyArray<{ readonly [column: string]: unknown }>>
  /** The names of the indexes the engine holds on the store's tables. */
  readonly indexes: () => Promise<ReadonlySet<string>>
  /** Problems the engine's own consistency check reports (none: empty). */
  readonly engineCheck: () => Promise<ReadonlyArray<string>>
  /** The document text as the store wrote it (PostgreSQL stores text in its own form). */
  readonly decode: (text: string) => string
  readonly close: () => Promise<void>
}

const specs = async (raw: RawSql): Promise<ReadonlyArray<Driver.TableSpec>> =>
  (await raw.query(`SELECT spec FROM ${raw.dialect.table("meta", "catalog")}`)).map((r) => JSON.parse(String(r["spec"])) as Driver.TableSpec)

const docs = async (raw: RawSql, table: string): Promise<ReadonlyArray<Driver.Doc>> =>
  (await raw.query(`SELECT doc FROM ${raw.dialect.table("data", table)} ORDER BY id`)).map(
    (r) => JSON.parse(raw.decode(String(r["doc"]))) as Driver.Doc
  )

/** Every persisted document of every declared table, as JSON text. */
const everything = async (raw: RawSql): Promise<string> => {
  const tables = await specs(raw)
  return JSON.stringify(await Promise.all(tables.map(async (t) => ({ table: t.name, docs: await docs(raw, t.name) }))))
}

/** Up to `n` items spread evenly over `xs` (first and last included). */
const spread = <A>(xs: ReadonlyArray<A>, n: number): ReadonlyArray<A> =>
  xs.length <= n ? xs : Array.from({ length: n }, (_, i) => xs[Math.round((i * (xs.length - 1)) / (n - 1))]!)

const samePath = (a: Ast.Path, b: Ast.Path) => JSON.stringify(a) === JSON.stringify(b)

/** The store's answers against full scans, for one table (see the module comment). */
const tableDrift = async (raw: RawSql, driver: Driver.Driver, present: ReadonlySet<string>, spec: Driver.TableSpec): Promise<Array<string>> => {
  const d = raw.dialect
  const problems: Array<string> = []
  const rows = await docs(raw, spec.name)
  for (const u of spec.unique) {
    if (!present.has(d.indexName(["unique", spec.name, u.name]))) problems.push(`${spec.name}: no index for unique constraint ${u.name}`)
    const holders = new Map<string, unknown>()
    for (const doc of rows) {
      const key = Driver.uniqueKey(u, doc)
      if (key === undefined) continue
      if (holders.has(key)) problems.push(`${spec.name}: ids ${String(holders.get(key))} and ${String(doc["id"])} share the key of ${u.name}`)
      holders.set(key, doc["id"])
    }
  }
  const paths: Array<Ast.Path> = []
  for (const path of [...spec.unique.flatMap((u) => u.fields.map((f) => [f])), ...spec.indexes.map((i) => i.path)])
    if (!paths.some((p) => samePath(p, path))) paths.push(path)
  for (const index of spec.indexes) {
    const indexed = Compile.pathSql(d, index.path) !== undefined && !samePath(index.path, ["id"])
    if (indexed && !present.has(d.indexName(["index", spec.name, JSON.stringify(index.path)])))
      problems.push(`${spec.name}: no index for path ${JSON.stringify(index.path)}`)
  }
  for (const path of paths) {
    const counts = new Map<string, { readonly value: Ast.Json; n: number }>()
    for (const doc of rows) {
      const value = Evaluator.read(doc, path)
      if (value === null) continue
      const key = Evaluator.canonical(value)
      const seen = counts.get(key) ?? { value, n: 0 }
      seen.n++
      counts.set(key, seen)
    }
    for (const { value, n } of spread([...counts.values()], valuesPerPath)) {
      const got = await Effect.runPromise(driver.count(spec.name, Ast.field(path, "eq", value)))
      if (got !== n) problems.push(`${spec.name}.${path.join(".")} = ${Evaluator.canonical(value)}: the store counts ${got}, a full scan ${n}`)
    }
  }
  return problems
}

/** Every problem found; empty when the store is consistent. `driver` is a handle of the store's own. */
const drift = async (raw: RawSql, driver: Driver.Driver): Promise<ReadonlyArray<string>> => {
  const problems = [...(await raw.engineCheck())]
  const present = await raw.indexes()
  for (const spec of await specs(raw)) problems.push(...(await tableDrift(raw, driver, present, spec)))
  return problems
}

/** A store URL with a raw view, a drift check and a cleanup: what `stores.ts` hands each test. */
export interface SqlOpened {
  readonly url: string
  readonly raw: () => Promise<string>
  readonly drift: () => Promise<ReadonlyArray<unknown>>
  readonly dispose: () => Promise<void>
}

const opened = (url: string, raw: RawSql, driver: () => Effect.Effect<Driver.Driver, unknown>, cleanup: () => Promise<void>): SqlOpened => ({
  url,
  raw: () => everything(raw),
  drift: async () => {
    const handle = await Effect.runPromise(driver())
    try {
      return await drift(raw, handle)
    } finally {
      await Effect.runPromise(handle.close())
    }
  },
  dispose: async () => {
    await raw.close()
    await cleanup()
  }
})

// --- SQLite ------------------------------------------------------------------------------------------------

const sqliteRaw = (filename: string): RawSql => {
  let db: Database.Database | undefined
  // Opened on first use: the store creates the file.
  const handle = () => (db ??= new Database(filename, { fileMustExist: true }))
  return {
    dialect: Sqlite.dialect,
    query: async (text) => handle().prepare(text).all() as ReadonlyArray<{ readonly [column: string]: unknown }>,
    indexes: async () => {
      const rows = handle().prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all() as Array<{ name: string }>
      return new Set(rows.map((r) => r.name))
    },
    engineCheck: async () => {
      const answer = (handle().pragma("integrity_check") as Array<{ integrity_check: string }>).map((r) => r.integrity_check)
      return answer.length === 1 && answer[0] === "ok" ? [] : answer.map((line) => `integrity_check: ${line}`)
    },
    decode: (text) => text,
    close: async () => {
      db?.close()
    }
  }
}

/** A fresh database file per namespace, removed with its directory (and its WAL files) by `dispose`. */
export const openSqlite = async (label: string): Promise<SqlOpened> => {
  const dir = mkdtempSync(join(tmpdir(), "lineage-reliability-sqlite-"))
  const filename = join(dir, `${label}.db`)
  const url = `sqlite:${filename}`
  return opened(url, sqliteRaw(filename), () => SqliteStore.fromUrl(url), async () => rmSync(dir, { recursive: true, force: true }))
}

// --- PostgreSQL --------------------------------------------------------------------------------------------

let admin: Promise<pg.Pool> | undefined

/** The tests' own pool onto the server; fails saying how to start one when none answers. */
const adminPool = (): Promise<pg.Pool> => (admin ??= openPool({ max: 2, idleTimeoutMillis: 1_000, allowExitOnIdle: true }))

/** Per pool: the schema `amcheck`'s functions live in, creating the extension when the server has it; undefined when not. */
const amcheck = new WeakMap<pg.Pool, Promise<string | undefined>>()
const amcheckSchema = (pool: pg.Pool): Promise<string | undefined> => {
  const known = amcheck.get(pool)
  if (known !== undefined) return known
  const found = (async () => {
    const find = async () =>
      (await pool.query("SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'amcheck'"))
        .rows[0]?.schema as string | undefined
    const available = (await pool.query("SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'")).rowCount ?? 0
    if (available === 0) return undefined
    // Another test process may create it at the same moment: whoever loses finds the winner's.
    await pool.query("CREATE EXTENSION IF NOT EXISTS amcheck SCHEMA public").catch(() => undefined)
    return find()
  })()
  amcheck.set(pool, found)
  return found
}

const postgresRaw = (pool: pg.Pool, schema: string): RawSql => {
  const dialect = Postgres.dialect(schema)
  return {
    dialect,
    query: async (text) => (await pool.query(text)).rows,
    indexes: async () => {
      const rows = (await pool.query("SELECT indexname FROM pg_indexes WHERE schemaname = $1", [schema])).rows
      return new Set(rows.map((r) => String(r.indexname)))
    },
    engineCheck: async () => {
      const functions = await amcheckSchema(pool)
      if (functions === undefined) return []
      const indexes = await pool.query(
        "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace " +
          "JOIN pg_am a ON a.oid = c.relam WHERE n.nspname = $1 AND a.amname = 'btree'",
        [schema]
      )
      const problems: Array<string> = []
      for (const { oid, relname } of indexes.rows as Array<{ oid: number; relname: string }>)
        await pool
          .query(`SELECT ${dialect.quote(functions)}.bt_index_check($1::oid, true)`, [oid])
          .catch((e: unknown) => problems.push(`amcheck ${relname}: ${String(e)}`))
      return problems
    },
    decode: Postgres.decodeText,
    close: async () => undefined
  }
}

/** The drift check (see the module comment) of the store in `schema`, read through `pool`, answered by `driver`. */
export const postgresDrift = (pool: pg.Pool, schema: string, driver: Driver.Driver): Promise<ReadonlyArray<string>> =>
  drift(postgresRaw(pool, schema), driver)

/** A fresh schema per namespace on the test server, dropped by `dispose`. */
export const openPostgres = async (label: string): Promise<SqlOpened> => {
  const pool = await adminPool()
  const schema = `lineage_rel_${label.replace(/[^a-z0-9_]/gi, "_").slice(0, 20)}_${process.pid}_${randomBytes(4).toString("hex")}`
  const url = new URL(serverUrl)
  url.searchParams.set("schema", schema)
  // 20 racing processes at pg's default of 10 each, beside other files' tests, pass the server's 100.
  url.searchParams.set("connection_limit", "3")
  const text = url.toString()
  return opened(text, postgresRaw(pool, schema), () => PostgresStore.fromUrl(text), async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${Postgres.dialect(schema).quote(schema)} CASCADE`)
  })
}
