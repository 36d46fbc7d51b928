/**
 * Opening the store against real and missing servers: a server that does not answer is a prompt, retryable
 * `Unavailable`; a refused login or a missing database is `Invalid`; neither names the password. The schema
 * is created when missing, `close` ends only a pool the store opened, and an idle client's error (a server
 * restart) does not end the process.
 */
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { Fixtures } from "@lineage/conformance"
import { failureOf } from "../../../test/support/failures.js"
import { freePort } from "../../../test/support/redis.js"
import { makeDriver } from "../src/index.js"
import { adminPool, closeAdmin, dropSchema, freshSchema, run, serverUrl } from "./support.js"

afterAll(closeAdmin)

describe("opening", () => {
  it("a server that does not answer is Unavailable (retryable), promptly, without the password", async () => {
    const port = await freePort()
    const started = Date.now()
    const error = await failureOf(makeDriver({ url: `postgres://alice:hunter2@127.0.0.1:${port}/test` }))
    expect(error.reason._tag).toBe("Unavailable")
    expect(error.isRetryable).toBe(true)
    expect(error.message).toContain(`127.0.0.1:${port}`)
    expect(error.message).not.toContain("hunter2")
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it("a database that does not exist is Invalid, naming it, without the password", async () => {
    const url = new URL(serverUrl)
    url.password = "hunter2"
    url.pathname = "/no_such_database_lineage"
    const error = await failureOf(makeDriver({ url: url.toString() }))
    expect(error.reason._tag).toBe("Invalid")
    expect(error.isRetryable).toBe(false)
    expect(error.message).toContain("no_such_database_lineage")
    expect(error.message).toContain("3D000")
    expect(error.message).not.toContain("hunter2")
  })

  it("a role that does not exist is Invalid (SQLSTATE class 28), without the password", async () => {
    const url = new URL(serverUrl)
    url.username = "no_such_role_lineage"
    url.password = "hunter2"
    const error = await failureOf(makeDriver({ url: url.toString() }))
    expect(error.reason._tag).toBe("Invalid")
    expect(error.message).toMatch(/SQLSTATE 28/)
    expect(error.message).not.toContain("hunter2")
  })

  it("creates the schema when missing, with any name, and two stores in one database stay apart", async () => {
    const a = freshSchema("a") + ' "quoted". name'
    const b = freshSchema("b")
    const first = await run(makeDriver({ url: serverUrl, schema: a }))
    const second = await run(makeDriver({ url: serverUrl, schema: b }))
    try {
      await run(first.declare([Fixtures.thing]))
      await run(second.declare([Fixtures.thing]))
      await run(first.insert("thing", [{ id: 1, uid: "only-in-a" }]))
      const schemas = await (await adminPool()).query("SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)", [[a, b]])
      expect(schemas.rows.map((r) => r.nspname).sort()).toEqual([a, b].sort())
      expect(await run(second.count("thing", { _tag: "And", conds: [] }))).toBe(0)
      expect(await run(first.count("thing", { _tag: "And", conds: [] }))).toBe(1)
    } finally {
      await run(first.close())
      await run(second.close())
      await dropSchema(a)
      await dropSchema(b)
    }
  })
})

describe("pools", () => {
  it("close ends a pool the store opened, and leaves a pool the caller passed open", async () => {
    const schema = freshSchema("pool")
    const own = await run(makeDriver({ url: serverUrl, schema }))
    await run(own.close())
    expect(own.pool.ended).toBe(true)
    const given = new pg.Pool({ connectionString: serverUrl, max: 2 })
    given.on("error", () => undefined)
    try {
      const driver = await run(makeDriver({ pool: given, schema }))
      await run(driver.close())
      expect(given.ended).toBe(false)
      expect((await given.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }])
    } finally {
      await given.end()
      await dropSchema(schema)
    }
  })

  it("statements keep running on a client whose session state was reset (DEALLOCATE ALL, as a pooler's reset runs)", async () => {
    const schema = freshSchema("reset")
    // One client: every statement of the store and the reset below run on it.
    const given = new pg.Pool({ connectionString: serverUrl, max: 1 })
    given.on("error", () => undefined)
    try {
      const driver = await run(makeDriver({ pool: given, schema }))
      await run(driver.declare([Fixtures.thing]))
      for (const id of [1, 2, 3]) await run(driver.insert("thing", [{ id, uid: `u${id}` }]))
      await given.query("DEALLOCATE ALL")
      for (const id of [4, 5]) await run(driver.insert("thing", [{ id, uid: `u${id}` }]))
      expect((await run(driver.get("thing", [1, 2, 3, 4, 5]))).map((d) => d["uid"])).toEqual(["u1", "u2", "u3", "u4", "u5"])
      await run(driver.close())
    } finally {
      await given.end()
      await dropSchema(schema)
    }
  })

  it("an idle client killed by the server does not end the process, and the next request reconnects", async () => {
    const schema = freshSchema("idle")
    const driver = await run(makeDriver({ url: serverUrl, schema, poolOptions: { application_name: schema } }))
    try {
      await run(driver.declare([Fixtures.thing]))
      expect(driver.pool.idleCount).toBeGreaterThan(0)
      // The store's own listener: without one, the pool's `error` event is an uncaught exception (vitest
      // reports it and fails the run).
      expect(driver.pool.listenerCount("error")).toBe(1)
      await (await adminPool()).query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [schema])
      for (let i = 0; i < 100 && driver.pool.totalCount > 0; i++) await new Promise((r) => setTimeout(r, 20))
      expect(driver.pool.totalCount).toBe(0)
      expect(await run(driver.count("thing", { _tag: "And", conds: [] }))).toBe(0)
    } finally {
      await run(driver.close())
      await dropSchema(schema)
    }
  })
})
