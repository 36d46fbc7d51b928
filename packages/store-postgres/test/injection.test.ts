/**
 * Hostile input: every value (documents, uids, query arguments, cursors, patches, expectations) reaches
 * PostgreSQL only as a bound parameter, never in a statement's text; hostile keys in paths and table names
 * are quoted, so they name one key or one table and run nothing. Statements are logged as the pool's clients
 * receive them.
 */
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { Ast } from "@lineage/core"
import { adminPool, closeAdmin, dropSchema, freshSchema, run, serverUrl } from "./support.js"
import { makeDriver } from "../src/index.js"

afterAll(closeAdmin)

const statements: Array<string> = []
const query = pg.Client.prototype.query
pg.Client.prototype.query = function (this: pg.Client, ...args: Array<unknown>) {
  const first = args[0]
  statements.push(typeof first === "string" ? first : String((first as { readonly text?: unknown })?.text))
  return (query as (...a: Array<unknown>) => unknown).apply(this, args)
} as typeof query

/** A value that would end a string literal, an identifier, a statement and a JSON path, and hold U+0000. */
const hostile = (tag: string) => `${tag}'); DROP TABLE canary; --"\\$1\u0000\u0001`

describe("injection", () => {
  it("values never enter SQL text; hostile keys and table names run nothing", async () => {
    const schema = freshSchema("inject")
    const driver = await run(makeDriver({ url: serverUrl, schema }))
    const admin = await adminPool()
    await admin.query(`CREATE TABLE "${schema}".canary (x int)`)
    const key = `k'"\\.{}[]$1`
    const table = `t'"; DROP TABLE canary; --`
    try {
      await run(driver.declare([{ name: table, unique: [{ name: "by uid'", fields: ["uid"] }], indexes: [{ path: [key], kind: "sorted" }] }]))
      const doc = { id: 1, uid: hostile("uid"), [key]: hostile("value"), nested: { [key]: [hostile("deep")] } }
      statements.length = 0
      await run(driver.insert(table, [doc]))
      const where = (op: Ast.Operator, value: Ast.Json) => Ast.field([key], op, value)
      for (const cond of [
        where("eq", hostile("value")),
        where("in", [hostile("value"), hostile("other")]),
        where("contains", hostile("value").slice(3)),
        where("startsWith", hostile("value").slice(0, 9)),
        where("endsWith", hostile("value").slice(4)),
        where("range", [hostile("value"), hostile("valuf")]),
        Ast.field(["nested", key], "eq", [hostile("deep")])
      ]) {
        expect(await run(driver.find(table, { where: cond, orderBy: [{ path: [key], direction: "desc" }] }))).toEqual([doc])
        expect(await run(driver.count(table, cond))).toBe(1)
      }
      const page = await run(driver.find(table, { where: Ast.always, orderBy: [{ path: [key], direction: "asc" }], after: { values: [hostile("cursor")], id: 0 } }))
      expect(page).toEqual([doc])
      const updated = await run(driver.update(table, 1, { note: hostile("patch") }, { uid: hostile("uid") }))
      expect(updated["note"]).toBe(hostile("patch"))
      await expect(run(driver.insert(table, [{ ...doc, id: 2 }]))).rejects.toMatchObject({ reason: { _tag: "UniqueViolation", constraint: "by uid'" } })
      for (const text of statements) {
        for (const tag of ["uid'", "value'", "deep'", "other'", "cursor'", "patch'", "valuf'"]) expect(text).not.toContain(tag)
      }
      expect(statements.length).toBeGreaterThan(10)
      expect((await admin.query(`SELECT count(*)::int AS n FROM "${schema}".canary`)).rows).toEqual([{ n: 0 }])
    } finally {
      await run(driver.close())
      await dropSchema(schema)
    }
  })
})
