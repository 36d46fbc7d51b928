/**
 * What the store assumes of a session, whatever the server, database or role sets by default (isolation,
 * string literals), and how its failures are classified once open: the server out of reach is `Unavailable`
 * (retryable) from every operation, a statement the server refuses is `Invalid` (sending it again cannot help).
 */
import { connect, createServer, type Socket } from "node:net"
import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { Ast } from "@lineage/core"
import { Fixtures } from "@lineage/conformance"
import { failureOf } from "../../../test/support/failures.js"
import { makeDriver } from "../src/index.js"
import { adminPool, closeAdmin, dropSchema, freshDriver, freshSchema, run, serverUrl } from "./support.js"

afterAll(closeAdmin)

/** A role whose sessions default to repeatable read and non-standard string literals; dropped after `body`. */
const withAwkwardRole = async (body: (url: string) => Promise<void>): Promise<void> => {
  const admin = await adminPool()
  const role = `lineage_awkward_${randomBytes(4).toString("hex")}`
  const database = new URL(serverUrl).pathname.slice(1)
  await admin.query(`CREATE ROLE ${role} LOGIN`)
  try {
    await admin.query(`GRANT CREATE ON DATABASE "${database}" TO ${role}`)
    await admin.query(`ALTER ROLE ${role} SET default_transaction_isolation = 'repeatable read'`)
    await admin.query(`ALTER ROLE ${role} SET standard_conforming_strings = off`)
    const url = new URL(serverUrl)
    url.username = role
    url.password = ""
    await body(url.toString())
  } finally {
    await admin.query(`DROP OWNED BY ${role} CASCADE`)
    await admin.query(`REVOKE ALL ON DATABASE "${database}" FROM ${role}`)
    await admin.query(`DROP ROLE ${role}`)
  }
}

describe("session settings", () => {
  it("with repeatable read and standard_conforming_strings off as defaults, declare works and concurrent updates succeed", async () => {
    await withAwkwardRole(async (url) => {
      const schema = freshSchema("awkward")
      const a = await run(makeDriver({ url, schema }))
      const b = await run(makeDriver({ url, schema }))
      try {
        await run(a.declare([Fixtures.thing]))
        await run(a.insert("thing", [{ id: 1, uid: "u\u0000v" }]))
        const updates = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).update("thing", 1, { [`f${i}`]: i }))
        await run(Effect.all(updates, { concurrency: "unbounded" }))
        const [doc] = await run(b.get("thing", [1]))
        expect(Object.keys(doc!).filter((k) => k.startsWith("f")).length).toBe(12)
        expect((await run(b.find("thing", { where: Ast.field(["uid"], "startsWith", "u\u0000"), orderBy: [] }))).length).toBe(1)
      } finally {
        await run(a.close())
        await run(b.close())
      }
    })
  }, 30_000)
})

/** A TCP proxy to the test server; `cut` closes it with every connection through it. */
const proxy = async (): Promise<{ readonly url: string; readonly cut: () => Promise<void> }> => {
  const target = new URL(serverUrl)
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on("error", () => undefined)
      s.on("close", () => sockets.delete(s))
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const url = new URL(serverUrl)
  url.host = `127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
  return {
    url: url.toString(),
    cut: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}

describe("failures once open", () => {
  it("a handle that has not seen the table, with the server out of reach, is Unavailable from find as from insert", async () => {
    const declared = await freshDriver("reach")
    const through = await proxy()
    const handle = await run(makeDriver({ url: through.url, schema: declared.schema }))
    try {
      await run(declared.declare([Fixtures.thing]))
      await through.cut()
      for (const attempt of [handle.find("thing", { where: Ast.always, orderBy: [] }), handle.insert("thing", [{ id: 1, uid: "a" }])]) {
        const error = await failureOf(attempt)
        expect(error.reason._tag).toBe("Unavailable")
        expect(error.isRetryable).toBe(true)
      }
    } finally {
      await run(handle.close())
      await run(declared.close())
      await dropSchema(declared.schema)
    }
  })

  it("a statement the server refuses (a read-only session) is Invalid, not retryable", async () => {
    const pool = new pg.Pool({ connectionString: serverUrl, max: 1 })
    pool.on("error", () => undefined)
    const driver = await run(makeDriver({ pool, schema: freshSchema("readonly") }))
    try {
      await run(driver.declare([Fixtures.thing]))
      await pool.query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
      const error = await failureOf(driver.insert("thing", [{ id: 1, uid: "a" }]))
      expect(error.reason._tag).toBe("Invalid")
      expect(error.isRetryable).toBe(false)
      expect(String(error.message)).toContain("read-only transaction")
    } finally {
      await pool.end()
      await dropSchema(driver.schema)
    }
  })
})
