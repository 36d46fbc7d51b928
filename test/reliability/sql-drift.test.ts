/**
 * The SQL stores' drift check (support/sql.ts) finds drift when there is some, so the empty reports of the other
 * reliability tests mean something: on a consistent namespace it reports nothing; with a declared index dropped
 * behind the store's back, or two rows holding one unique key (its index dropped first, as a corrupt or
 * hand-edited database could hold them), it names the table, the index and the rows.
 */
import Database from "better-sqlite3"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { Lineage } from "@lineage/core"
import { Postgres, Sqlite } from "@lineage/sql"
import { postgres, sqlite, type Target } from "./support/stores.js"

/** Runs statements on the namespace's database through a client of the test's own. */
interface Statements {
  readonly exec: (text: string) => Promise<void>
  readonly close: () => Promise<void>
}

const rawStatements = async (target: Target, url: string): Promise<Statements> => {
  if (target.name === "sqlite") {
    const db = new Database(url.slice("sqlite:".length), { fileMustExist: true })
    return { exec: async (text) => void db.exec(text), close: async () => void db.close() }
  }
  const parsed = new URL(url)
  const schema = parsed.searchParams.get("schema")!
  parsed.search = ""
  const client = new pg.Client({ connectionString: parsed.toString() })
  await client.connect()
  await client.query(`SET search_path TO ${Postgres.dialect(schema).quote(schema)}`)
  return { exec: async (text) => void (await client.query(text)), close: () => client.end() }
}

describe.each([sqlite, postgres])("$name: the drift check", (target) => {
  it("reports nothing on a consistent store, and a dropped index and a shared unique key when there are some", async () => {
    const opened = await target.open("drift_check")
    const ln = await Lineage.connect(opened.url)
    const raw = await rawStatements(target, opened.url)
    try {
      await ln.Feature.create({ name: "drift_score", dtype: "int" })
      const transform = await ln.Transform.create({ key: "drift.py", version: "1" })
      for (let i = 0; i < 5; i++) await (await ln.Run.create({ transform, name: `r${i}` })).features.add({ drift_score: i })
      expect(await opened.drift!()).toEqual([])

      const dialect = target.name === "sqlite" ? Sqlite.dialect : Postgres.dialect(new URL(opened.url).searchParams.get("schema")!)
      await raw.exec(`DROP INDEX ${dialect.quote(dialect.indexName(["unique", "run", "run_uid"]))}`)
      // A second row holding the first run's uid (and, like every doc, its own id).
      const table = dialect.table("data", "run")
      await raw.exec(
        `INSERT INTO ${table} (id, doc) SELECT id + 1000, replace(doc, '"id":' || id || ',', '"id":' || (id + 1000) || ',') FROM ${table} ` +
          `WHERE id = (SELECT min(id) FROM ${table})`
      )
      const problems = (await opened.drift!()).map(String)
      expect(problems).toContain("run: no index for unique constraint run_uid")
      expect(problems.some((p) => /^run: ids \d+ and \d+ share the key of run_uid$/.test(p))).toBe(true)
    } finally {
      await raw.close()
      await ln.close()
      await opened.dispose()
    }
  })
})
