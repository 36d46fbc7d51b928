/**
 * How the SQLite store reaches its rows: the statements the driver sends (seen through a connection that
 * records them) read through indexes where a scan or a sort of every match would grow with the table, and
 * the faster paths return exactly what the evaluator does.
 */
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { Ast, Driver, Evaluator } from "@lineage/core"
import { Compile, Connection, Sqlite, SqlDriver } from "@lineage/sql"
import { fromDatabase, memory, open, rowsBetweenOptimize } from "../src/Connection.js"

type Doc = Driver.Doc

/** A driver on a fresh in-memory database, its statements recorded, and its plans readable. */
const recorded = async () => {
  const db = await Effect.runPromise(open({ filename: memory, busyTimeoutMs: 1_000 }))
  const conn = fromDatabase(db, true)
  const statements: Array<{ readonly text: string; readonly params: ReadonlyArray<Connection.Param> }> = []
  const recording = (session: Connection.Session): Connection.Session => ({
    query: (text, params) => {
      statements.push({ text, params })
      return session.query(text, params)
    }
  })
  const spy: Connection.Connection = {
    ...conn,
    ...recording(conn),
    transaction: (body, options) => conn.transaction((session) => body(recording(session)), options)
  }
  const driver = SqlDriver.make({ name: "sqlite", dialect: Sqlite.dialect, connection: spy })
  /** The plan of the last statement sent. */
  const plan = () => {
    const last = statements.at(-1)!
    return (db.prepare(`EXPLAIN QUERY PLAN ${last.text}`).all(...last.params) as Array<{ detail: string }>).map((p) => p.detail).join(" | ")
  }
  return { driver, statements, plan, run: <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e) }
}

const spec: Driver.TableSpec = {
  name: "run",
  unique: [{ name: "run_uid", fields: ["uid"] }],
  indexes: [
    { path: ["status"], kind: "hash" },
    { path: ["startedAt"], kind: "sorted" },
    { path: ["name"], kind: "sorted" }
  ]
}

const field = (path: ReadonlyArray<string>, op: Ast.Operator, value: Ast.Json): Ast.Cond => ({ _tag: "Field", path, op, value })

describe("sqlite query plans", () => {
  it("a uid prefix is a range of the unique index, and a prefix on an indexed path a range of its index", async () => {
    const s = await recorded()
    await s.run(s.driver.declare([spec]))
    const docs: Array<Doc> = Array.from({ length: 300 }, (_, i) => ({ id: i + 1, uid: `u${(i * 7919) % 1000}x`, name: `n${i % 37}`, status: "ok", startedAt: i }))
    await s.run(s.driver.insert("run", docs))
    await s.run(s.driver.find("run", { where: field(["uid"], "startsWith", "u12"), orderBy: [] }))
    expect(s.plan()).toMatch(/SEARCH .* USING INDEX .*run_uid/)
    await s.run(s.driver.find("run", { where: field(["name"], "startsWith", "n1"), orderBy: [] }))
    expect(s.plan()).toMatch(/SEARCH .* USING INDEX .*name/)
  })

  it("prefix ranges lose no string: quotes, backslashes, U+0000, astral and last code points", async () => {
    const s = await recorded()
    await s.run(s.driver.declare([spec]))
    const texts = ["a", "a\"", "a\"b", "a\\", "a\\b", "a\u0000", "a\u0000b", "a\u0001", "\ud7ff", "\ud7ffz", "\ue000", "😀", "😀x", "😁", "\u{10ffff}", "\u{10ffff}q", "ab", "b", ""]
    const docs: Array<Doc> = texts.flatMap((t, i) => [
      { id: 2 * i + 1, uid: t, name: t },
      { id: 2 * i + 2, uid: `${t}~`, name: `${t}~` }
    ])
    await s.run(s.driver.insert("run", docs))
    for (const prefix of [...texts, "\ud7ff", "\u{10ffff}", "😀"])
      for (const path of ["uid", "name"]) {
        const where = field([path], "startsWith", prefix)
        const found = await s.run(s.driver.find("run", { where, orderBy: [] }))
        expect(found.map((d) => d["id"]), `${path} startsWith ${JSON.stringify(prefix)}`).toEqual(Evaluator.find(docs, { where, orderBy: [] }).map((d) => d["id"]))
      }
  })

  it("a page of a broad filter walks the order's index instead of sorting every match, with the same rows", async () => {
    const s = await recorded()
    await s.run(s.driver.declare([spec]))
    const docs: Array<Doc> = Array.from({ length: 3_000 }, (_, i) => ({ id: i + 1, uid: `u${i}`, status: i % 10 === 3 ? "errored" : "ok", startedAt: i % 997 }))
    await s.run(s.driver.insert("run", docs))
    const page = (status: string, limit: number): Ast.FindSpec => ({ where: field(["status"], "eq", status), orderBy: [{ path: ["startedAt"], direction: "desc" }], limit })
    // 2,700 matches: past `broadFilter(10)`, so the page is read along the startedAt index.
    const broad = await s.run(s.driver.find("run", page("ok", 10)))
    expect(s.plan()).toMatch(/USING INDEX .*startedAt/)
    expect(s.plan()).not.toMatch(/TEMP B-TREE FOR ORDER BY/)
    expect(broad).toEqual(Evaluator.find(docs, page("ok", 10)))
    // 300 matches: found through the status index and sorted.
    const narrow = await s.run(s.driver.find("run", page("errored", 10)))
    expect(s.plan()).toMatch(/USING INDEX .*status/)
    expect(narrow).toEqual(Evaluator.find(docs, page("errored", 10)))
    expect(SqlDriver.broadFilter(10)).toBeGreaterThan(300)
  })

  it("a batch over several INSERT statements names the first document a row-by-row insert would fail on, and writes none", async () => {
    const s = await recorded()
    await s.run(s.driver.declare([spec]))
    const at = SqlDriver.rowsPerInsert + 17
    const docs: Array<Doc> = Array.from({ length: 3 * SqlDriver.rowsPerInsert }, (_, i) => ({ id: i + 1, uid: i === at ? "u3" : `u${i}` }))
    const failure = await Effect.runPromise(Effect.flip(s.driver.insert("run", docs)))
    expect(failure.message).toContain("run_uid")
    expect(failure.message).toContain("u3")
    expect(await s.run(s.driver.count("run", Ast.always))).toBe(0)
    expect(s.statements.filter((st) => st.text.startsWith(`INSERT INTO "t:run"`)).length).toBe(2)
  })

  it("once many rows are written, the planner has statistics: an `in` over ids is not read through an index every row shares", async () => {
    const s = await recorded()
    await s.run(s.driver.declare([{ ...spec, indexes: [...spec.indexes, { path: ["transformId"], kind: "hash" }, { path: ["branchId"], kind: "hash" }] }]))
    const total = rowsBetweenOptimize + 2_000
    const docs: Array<Doc> = Array.from({ length: total }, (_, i) => ({ id: i + 1, uid: `u${i}`, transformId: i % 1_000, branchId: 1 }))
    for (let i = 0; i < total; i += 5_000) await s.run(s.driver.insert("run", docs.slice(i, i + 5_000)))
    const where: Ast.Cond = { _tag: "And", conds: [field(["transformId"], "in", [3, 5, 7]), field(["branchId"], "eq", 1)] }
    const found = await s.run(s.driver.find("run", { where, orderBy: [] }))
    expect(s.plan()).toMatch(/USING INDEX .*transformId/)
    expect(found).toEqual(Evaluator.find(docs, { where, orderBy: [] }))
  })

  it("an `in` over 25,000 values compiles in linear time", () => {
    const values = Array.from({ length: 25_000 }, (_, i) => `name_${i}`)
    const start = performance.now()
    const compiled = Compile.compile(Sqlite.dialect, field(["name"], "in", values))
    expect(performance.now() - start).toBeLessThan(1_000)
    expect(compiled.exact).toBe(true)
  })
})
