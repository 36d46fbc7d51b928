/**
 * What is stored and what is read back when callers or other programs hand the store odd input: members set
 * to `undefined` and nested dates (stored as `JSON.stringify` makes them), rows and catalog entries another
 * program damaged (a typed `Invalid` naming them, never a crash), a constraint declared over colliding rows,
 * and text with unpaired surrogates (refused, naming where).
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import Database from "better-sqlite3"
import { Cause, Effect, Exit } from "effect"
import { Ast, type Driver, StoreError } from "@lineage/core"
import { make, type SqliteDriver } from "@lineage/store-sqlite"

const table: Driver.TableSpec = { name: "t", unique: [], indexes: [{ path: ["n"], kind: "sorted" }] }

/** The `StoreError` an effect failed with (never a defect). */
const failure = async (effect: Effect.Effect<unknown, StoreError>): Promise<StoreError> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got success")
  const error = Cause.squash(exit.cause)
  if (!(error instanceof StoreError)) throw new Error(`expected a StoreError, got ${String(error)}`)
  return error
}

describe("sqlite documents", () => {
  let file: string
  let driver: SqliteDriver
  beforeEach(async () => {
    file = join(mkdtempSync(join(tmpdir(), "lineage-sqlite-docs-")), "store.db")
    driver = await Effect.runPromise(make({ filename: file }))
    await Effect.runPromise(driver.declare([table]))
  })
  afterEach(() => Effect.runPromise(driver.close()))

  const run = <A>(effect: Effect.Effect<A, StoreError>) => Effect.runPromise(effect)
  const raw = (f: (db: Database.Database) => void) => {
    const db = new Database(file)
    try {
      f(db)
    } finally {
      db.close()
    }
  }

  it("stores members set to undefined and nested dates as JSON.stringify does, and the table stays readable", async () => {
    const at = new Date("2024-03-01T12:34:56.789Z")
    const doc = { id: 1, uid: "a", gone: undefined, n: 1, nested: { gone: undefined, at }, list: [undefined, 2] }
    await run(driver.insert("t", [doc as unknown as Driver.Doc]))
    const want = { id: 1, uid: "a", n: 1, nested: { at: "2024-03-01T12:34:56.789Z" }, list: [null, 2] }
    expect(await run(driver.get("t", [1]))).toStrictEqual([want])
    expect(await run(driver.find("t", { where: Ast.field(["n"], "eq", 1), orderBy: [] }))).toStrictEqual([want])
    const updated = await run(driver.update("t", 1, { n: undefined, m: at } as unknown as Driver.Doc))
    const after = { id: 1, uid: "a", m: "2024-03-01T12:34:56.789Z", nested: want.nested, list: want.list }
    expect(updated).toStrictEqual(after)
    expect(await run(driver.find("t", { where: Ast.field(["n"], "isNull", true), orderBy: [] }))).toStrictEqual([after])
  })

  it("a damaged row fails Invalid naming the table and the row; the other rows stay readable", async () => {
    // No index on the table: an index on a path would make SQLite itself refuse the damaging write.
    await run(driver.declare([{ name: "b", unique: [], indexes: [] }]))
    await run(driver.insert("b", [{ id: 1, uid: "a", n: 1 }, { id: 2, uid: "b", n: 2 }]))
    raw((db) => db.prepare(`UPDATE "t:b" SET doc = 'not json' WHERE id = 2`).run())
    for (const read of [driver.get("b", [2]), driver.find("b", { where: Ast.always, orderBy: [] })]) {
      const error = await failure(read)
      expect(error.reason._tag).toBe("Invalid")
      expect(error.message).toContain("b row 2")
    }
    expect(await run(driver.get("b", [1]))).toStrictEqual([{ id: 1, uid: "a", n: 1 }])
    const updateError = await failure(driver.update("b", 2, { n: 3 }))
    expect(updateError.reason._tag).toBe("Invalid")
  })

  it("a damaged catalog entry fails Invalid naming it, for its table only", async () => {
    await run(driver.insert("t", [{ id: 1, uid: "a" }]))
    raw((db) => {
      db.prepare(`INSERT INTO "lineage:catalog" (name, spec) VALUES ('u', 'not json'), ('v', '{"name":"v","unique":7}')`).run()
    })
    const other = await run(make({ filename: file }))
    try {
      expect(await run(other.get("t", [1]))).toStrictEqual([{ id: 1, uid: "a" }])
      for (const name of ["u", "v"]) {
        const error = await failure(other.get(name, [1]))
        expect(error.reason._tag).toBe("Invalid")
        expect(error.message).toContain(`damaged entry for "${name}"`)
      }
      expect((await failure(other.declare([{ name: "u", unique: [], indexes: [] }]))).reason._tag).toBe("Invalid")
    } finally {
      await run(other.close())
    }
  })

  it("declaring a constraint over colliding rows names it and the colliding values", async () => {
    await run(driver.insert("t", [{ id: 1, uid: "a", c: [1, "x"] }, { id: 2, uid: "b", c: [1, "x"] }]))
    const error = await failure(driver.declare([{ ...table, unique: [{ name: "uc", fields: ["c"] }] }]))
    expect(error.reason).toMatchObject({ _tag: "UniqueViolation", table: "t", constraint: "uc", fields: ["c"], values: [[1, "x"]] })
    expect(error.isRetryable).toBe(false)
  })

  it("refuses unpaired surrogates in documents, patches, queries and specs, naming where", async () => {
    await run(driver.insert("t", [{ id: 1, uid: "a", n: 1 }]))
    const attempts: ReadonlyArray<readonly [Effect.Effect<unknown, StoreError>, string]> = [
      [driver.insert("t", [{ id: 2, uid: "b", deep: { list: ["ok", "x\uD800"] } }]), `["deep"]["list"][1]`],
      [driver.insert("t", [{ id: 2, uid: "b", "k\uDC00": 1 }]), `["k\\udc00"]`],
      [driver.update("t", 1, { s: "\uDBFF" }), `["s"]`],
      [driver.find("t", { where: Ast.field(["s"], "gt", "\uD83D"), orderBy: [] }), "condition"],
      [driver.find("t", { where: Ast.field(["\uD800"], "eq", 1), orderBy: [] }), "path"],
      [driver.find("t", { where: Ast.always, orderBy: [{ path: ["s"], direction: "asc" }], after: { values: ["\uDFFF"], id: 1 } }), "cursor"],
      [driver.count("t", Ast.field(["s"], "iexact", "\uD800")), "condition"],
      [driver.declare([{ name: "v", unique: [{ name: "u\uD800", fields: ["x"] }], indexes: [] }]), "constraint"]
    ]
    for (const [attempt, where] of attempts) {
      const error = await failure(attempt)
      expect(error.reason._tag).toBe("Invalid")
      expect(error.message).toContain("unpaired UTF-16 surrogate")
      expect(error.message).toContain(where)
    }
    expect(await run(driver.get("t", [1, 2]))).toStrictEqual([{ id: 1, uid: "a", n: 1 }])
  })
})
