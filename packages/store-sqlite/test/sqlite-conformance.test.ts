/**
 * The SQLite store against the whole contract: each case on a database file of its own under a temp
 * directory (deleted afterwards) — on the RAM-backed /dev/shm where there is one, so that the ~430 cases
 * creating, syncing and deleting files do not wait on a disk other processes share; the store's code path
 * (WAL, its synchronous mode) is the same on either — a backdoor reading the file through a separate better-sqlite3 handle, and
 * second handles opening the same file as another process would.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { conformance } from "@lineage/conformance/vitest"
import type { Driver } from "@lineage/core"
import { make, type SqliteDriver } from "@lineage/store-sqlite"

const shm = "/dev/shm"
const root = mkdtempSync(join(existsSync(shm) ? shm : tmpdir(), "lineage-sqlite-conformance-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let cases = 0
const fresh = () => Effect.runPromise(make({ filename: join(root, `case-${++cases}`, "store.db") }))

/** Reads the table's rows through a handle of its own, not the driver's queries. */
const backdoor = (driver: SqliteDriver) => {
  const read = <A>(f: (db: Database.Database) => A): A => {
    const db = new Database(driver.filename, { readonly: true, fileMustExist: true })
    try {
      return f(db)
    } finally {
      db.close()
    }
  }
  const table = (name: string) => `"t:${name.replace(/[%\u0000]/g, (c) => (c === "%" ? "%25" : "%00")).replace(/"/g, '""')}"`
  const exists = (db: Database.Database, name: string) =>
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(`t:${name}`) !== undefined
  return {
    all: async (name: string) =>
      read((db) => (exists(db, name) ? (db.prepare(`SELECT doc FROM ${table(name)}`).all() as Array<{ doc: string }>).map((r) => JSON.parse(r.doc) as Driver.Doc) : [])),
    get: async (name: string, id: number) =>
      read((db) => {
        if (!exists(db, name)) return undefined
        const row = db.prepare(`SELECT doc FROM ${table(name)} WHERE id = ?`).get(id) as { doc: string } | undefined
        return row === undefined ? undefined : (JSON.parse(row.doc) as Driver.Doc)
      })
  }
}

conformance<SqliteDriver>({
  name: "sqlite store",
  makeDriver: fresh,
  backdoor,
  reopen: (driver) => Effect.runPromise(make({ filename: driver.filename })),
  teardown: async (driver) => rmSync(join(driver.filename, ".."), { recursive: true, force: true }),
  timeoutMs: 90_000
})
