/**
 * Query plans: the store's statements read through its indexes. Sequential scans are priced out of reach
 * (`enable_seqscan = off`), so the plan shows which index the condition itself can be looked up in.
 */
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Ast } from "@lineage/core"
import { Compile, Postgres, Sql } from "@lineage/sql"
import { adminPool, closeAdmin, freshDriver, run } from "./support.js"

afterAll(closeAdmin)

/** The plan of the `find` statement for `where` on `table`, as `EXPLAIN` shows it. */
const plan = async (schema: string, table: string, where: Ast.Cond): Promise<string> => {
  const d = Postgres.dialect(schema)
  const { text, params } = Sql.render(Sql.sql`SELECT id, doc FROM ${d.table("data", table)} WHERE ${Compile.compile(d, where).where} ORDER BY id`, d.placeholder)
  const client = await (await adminPool()).connect()
  try {
    await client.query("BEGIN")
    await client.query("SET LOCAL enable_seqscan = off")
    return (await client.query<{ "QUERY PLAN": string }>(`EXPLAIN ${text}`, [...params])).rows.map((r) => r["QUERY PLAN"]).join("\n")
  } finally {
    await client.query("ROLLBACK")
    client.release()
  }
}

/** Resolves once the server holds planner statistics for `table` (`reltuples` is -1 until it is analyzed). */
const analyzed = async (schema: string, table: string): Promise<void> => {
  const name = Postgres.dialect(schema).table("data", table)
  while ((await (await adminPool()).query(`SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, [name])).rows[0].reltuples < 0)
    await new Promise((resolve) => setTimeout(resolve, 20))
}

describe("plans", () => {
  it("a table has statistics once a hundred ids are written: a lookup by key beside a value every row shares reads the key's index", async () => {
    const driver = await freshDriver("plans")
    try {
      // `branchId` declared first, as the records declare it: without statistics its index wins the planner's tie.
      await run(driver.declare([{ name: "artifact", unique: [], indexes: [{ path: ["branchId"], kind: "hash" }, { path: ["key"], kind: "sorted" }] }]))
      const first = await run(driver.reserveIds("artifact", 100))
      await run(driver.insert("artifact", Array.from({ length: 100 }, (_, i) => ({ id: first + i, uid: `u${i}`, branchId: 1, key: `k${i}` }))))
      // Gathered after the write returned, by the handle's background work.
      await analyzed(driver.schema, "artifact")
      const where = Ast.and([Ast.field(["branchId"], "eq", 1), Ast.field(["key"], "eq", "k42")])
      const shown = await plan(driver.schema, "artifact", where)
      const d = Postgres.dialect(driver.schema)
      expect(shown).toContain(d.indexName(["index", "artifact", JSON.stringify(["key"])]))
      expect(shown).not.toContain(d.indexName(["index", "artifact", JSON.stringify(["branchId"])]))
      expect((await run(driver.find("artifact", { where, orderBy: [] }))).map((doc) => doc["key"])).toEqual(["k42"])
    } finally {
      await run(driver.drop())
      await run(driver.close())
    }
  })

  it("a write does not wait for statistics: an insert of a hundredth id returns while another transaction holds the lock ANALYZE takes", async () => {
    const driver = await freshDriver("plans")
    const other = await (await adminPool()).connect()
    try {
      await run(driver.declare([{ name: "thing", unique: [], indexes: [] }]))
      // What another process's CREATE INDEX or VACUUM holds; it conflicts with ANALYZE, not with an insert.
      await other.query("BEGIN")
      await other.query(`LOCK TABLE ${Postgres.dialect(driver.schema).table("data", "thing")} IN SHARE UPDATE EXCLUSIVE MODE`)
      const first = await run(driver.reserveIds("thing", 100))
      const written = Array.from({ length: 100 }, (_, i) => ({ id: first + i, uid: `u${i}` }))
      await run(driver.insert("thing", written).pipe(Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die("the insert waited for ANALYZE") })))
      expect(await run(driver.count("thing", Ast.and([])))).toBe(100)
    } finally {
      await other.query("ROLLBACK")
      other.release()
      await run(driver.drop())
      await run(driver.close())
    }
  })

  it("a uid prefix reads the unique index on uid (a range of its JSON text)", async () => {
    const driver = await freshDriver("plans")
    try {
      await run(driver.declare([{ name: "run", unique: [{ name: "run_uid", fields: ["uid"] }], indexes: [] }]))
      await run(driver.insert("run", [{ id: 1, uid: "abc123" }, { id: 2, uid: "abd000" }, { id: 3, uid: "x\"ab" }]))
      const where = Ast.field(["uid"], "startsWith", "ab")
      const shown = await plan(driver.schema, "run", where)
      // Read as a range of the index (an `Index Cond` under its scan), not the whole index walked and filtered.
      const unique = Postgres.dialect(driver.schema).indexName(["unique", "run", "run_uid"])
      expect(shown).toMatch(new RegExp(`${unique}[^\\n]*\\n\\s*Index Cond: `))
      expect((await run(driver.find("run", { where, orderBy: [] }))).map((d) => d["id"])).toEqual([1, 2])
    } finally {
      await run(driver.drop())
      await run(driver.close())
    }
  })
})
