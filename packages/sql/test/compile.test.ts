/**
 * The compiler on real SQLite: every operator against the evaluator over values of every type, and hostile
 * strings in every input never reaching the SQL text.
 */
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { Ast, Evaluator, Regex } from "@lineage/core"
import { Compile, Sql, Sqlite } from "@lineage/sql"
import { make } from "@lineage/store-sqlite"

const hostile = ["'; DROP TABLE x; --", '"', "\\", "\u0000", "$.a", "a'b\"c", "%", "?", "😀", ""]
const values: ReadonlyArray<Ast.Json> = [null, true, false, 0, -1.5, 1e21, "", "a", "A", "é", "😀", "\uFFFD", [1], { a: 1 }, ...hostile]

describe("compile", () => {
  it("keeps every value out of the SQL text", () => {
    for (const h of hostile.filter((s) => s.length > 1)) {
      const c = Compile.compile(Sqlite.dialect, Ast.and(Ast.operators.map((op) => Ast.field(["a"], op, op === "in" || op === "notIn" || op === "range" ? [h, h] : h))))
      const after = Compile.after(Sqlite.dialect, [{ path: ["a"], direction: "asc" }], { values: [h], id: 1 })
      for (const f of [c.where, after]) expect(Sql.render(f, () => "?").text).not.toContain(h)
    }
  })

  it("answers every operator as the evaluator does, hostile paths and table names included", async () => {
    const driver = await Effect.runPromise(make({ filename: ":memory:" }))
    const table = hostile[0]!
    const key = "k'\"\\.\u0000"
    await Effect.runPromise(driver.declare([{ name: table, unique: [], indexes: [{ path: [key], kind: "sorted" }] }]))
    const docs = values.map((v, i) => ({ id: i + 1, uid: `u${i}`, [key]: v }))
    await Effect.runPromise(driver.insert(table, docs))
    for (const op of Ast.operators)
      for (const arg of values) {
        if (op === "regex" && (typeof arg !== "string" || "refused" in Regex.compile(arg))) continue
        const value = op === "in" || op === "notIn" ? [arg] : op === "range" ? [arg, arg] : arg
        const where = Ast.field([key], op, value)
        const got = await Effect.runPromise(driver.find(table, { where, orderBy: [{ path: [key], direction: "asc" }] }))
        const want = Evaluator.find(docs, { where, orderBy: [{ path: [key], direction: "asc" }] })
        expect(got.map((d) => d["id"]), `${op} ${JSON.stringify(value)}`).toEqual(want.map((d) => d["id"]))
      }
    await Effect.runPromise(driver.close())
  })
})
