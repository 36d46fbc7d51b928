/**
 * What a write sends the server: its own statements between `BEGIN` and `COMMIT` at read committed (named,
 * whatever the server's default), no savepoint around a statement that cannot fail, the row an update reads
 * locked (`FOR UPDATE`), and a unique violation named from inside the transaction that hit it.
 */
import pg from "pg"
import { Cause, Effect, Exit } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Fixtures } from "@lineage/conformance"
import { Postgres } from "@lineage/sql"
import { makeDriver, type PostgresDriver } from "../src/index.js"
import { adminPool, closeAdmin, dropSchema, freshSchema, run, serverUrl } from "./support.js"

afterAll(closeAdmin)

/** A store on a pool whose clients record every statement they send, and the record. */
const recorded = async (): Promise<{ readonly driver: PostgresDriver; readonly pool: pg.Pool; readonly sent: Array<string> }> => {
  const sent: Array<string> = []
  const pool = new pg.Pool({ connectionString: serverUrl, max: 4 })
  pool.on("error", () => undefined)
  pool.on("connect", (client) => {
    const query = client.query.bind(client) as (...args: Array<unknown>) => unknown
    ;(client as { query: unknown }).query = (...args: Array<unknown>) => {
      sent.push(String(typeof args[0] === "string" ? args[0] : (args[0] as { text?: unknown }).text))
      return query(...args)
    }
  })
  const driver = await run(makeDriver({ pool, schema: freshSchema("tx") }))
  await run(driver.declare([Fixtures.thing]))
  return { driver, pool, sent }
}

const withRecorded = async (body: (r: Awaited<ReturnType<typeof recorded>>) => Promise<void>) => {
  const r = await recorded()
  try {
    await body(r)
  } finally {
    await run(r.driver.close())
    await r.pool.end()
    await dropSchema(r.driver.schema)
  }
}

describe("write transactions", () => {
  it("an insert sends its rows, the id counter and nothing else: no savepoints, read committed named", async () => {
    await withRecorded(async ({ driver, sent }) => {
      const from = sent.length
      await run(driver.insert("thing", [1, 2, 3].map((id) => ({ id, uid: `u${id}` }))))
      const statements = sent.slice(from)
      expect(statements[0]).toBe("BEGIN ISOLATION LEVEL READ COMMITTED")
      expect(statements.at(-1)).toBe("COMMIT")
      expect(statements.slice(1, -1).map((s) => s.split(/\s+/).slice(0, 2).join(" "))).toEqual(["INSERT INTO", "INSERT INTO"])
    })
  })

  it("an insert of ids below the id counter neither moves nor locks its row; one past the counter moves it", async () => {
    await withRecorded(async ({ driver }) => {
      // A row's xmin changes when it is updated, its xmax when a transaction locks it.
      const ids = Postgres.dialect(driver.schema).table("meta", "ids")
      const counter = async () => (await (await adminPool()).query(`SELECT xmin::text AS xmin, xmax::text AS xmax, next FROM ${ids} WHERE name = 'thing'`)).rows
      const first = await run(driver.reserveIds("thing", 3))
      const before = await counter()
      await run(driver.insert("thing", [0, 1, 2].map((i) => ({ id: first + i, uid: `u${i}` }))))
      expect(await counter()).toEqual(before)
      await run(driver.insert("thing", [{ id: first + 10, uid: "past" }]))
      expect(await run(driver.reserveIds("thing", 1))).toBe(first + 11)
    })
  })

  it("ids inserted by a handle that reserved ids before the schema was dropped and declared again are never reserved", async () => {
    const schema = freshSchema("recreated")
    const a = await run(makeDriver({ url: serverUrl, schema }))
    let b: PostgresDriver | undefined
    try {
      await run(a.declare([Fixtures.thing]))
      await run(a.reserveIds("thing", 100))
      await run(a.drop())
      b = await run(makeDriver({ url: serverUrl, schema }))
      await run(b.declare([Fixtures.thing]))
      await run(a.insert("thing", [{ id: 5, uid: "explicit" }]))
      const next = await run(b.reserveIds("thing", 10))
      expect(next).toBeGreaterThan(5)
      await run(b.insert("thing", Array.from({ length: 10 }, (_, i) => ({ id: next + i, uid: `b${i}` }))))
      expect(await run(b.count("thing", { _tag: "And", conds: [] }))).toBe(11)
    } finally {
      await run(a.close())
      if (b !== undefined) await run(b.close())
      await dropSchema(schema)
    }
  })

  it("an update locks the row it reads, and one that moves no unique value runs no savepoint", async () => {
    await withRecorded(async ({ driver, sent }) => {
      await run(driver.insert("thing", [{ id: 1, uid: "a", n: 0 }]))
      const from = sent.length
      await run(driver.update("thing", 1, { n: 1 }, { n: 0 }))
      const statements = sent.slice(from)
      expect(statements.map((s) => s.split(/\s+/)[0])).toEqual(["BEGIN", "SELECT", "UPDATE", "COMMIT"])
      expect(statements[1]).toMatch(/FOR UPDATE$/)
    })
  })

  it("a batch whose second insert takes a value its first wrote fails naming the constraint, and writes nothing", async () => {
    await withRecorded(async ({ driver }) => {
      const exit = await Effect.runPromiseExit(
        driver.batch!([{ _tag: "Insert", table: "thing", docs: [{ id: 1, uid: "same" }] }, { _tag: "Insert", table: "thing", docs: [{ id: 2, uid: "same" }] }])
      )
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      expect(error?._tag === "Some" ? error.value.reason : error).toMatchObject({ _tag: "UniqueViolation", constraint: "thing_uid", values: ["same"] })
      expect(await run(driver.count("thing", { _tag: "And", conds: [] }))).toBe(0)
    })
  })
})
