/**
 * What a PostgreSQL URL means, how options merge with it, and that the password never shows: not in a
 * parsed value's string forms, not in a refusal.
 */
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { failureOf } from "../../../test/support/failures.js"
import { parseUrl, resolve } from "../src/index.js"
import { run } from "./support.js"

describe("parseUrl", () => {
  it("reads host, port, user, password, database and schema; the password stays Redacted", async () => {
    const parsed = await run(parseUrl("postgres://alice:s3cr%40t@db.internal:6543/runs?schema=team_a"))
    expect(parsed).toMatchObject({ host: "db.internal", port: 6543, user: "alice", database: "runs", schema: "team_a" })
    expect(Redacted.value(parsed.password!)).toBe("s3cr@t")
    expect(String(parsed.password)).not.toContain("s3cr")
    expect(JSON.stringify(parsed)).not.toContain("s3cr")
  })

  it("takes postgresql:// too, leaves what is not given to pg, reads IPv6 hosts and a socket directory", async () => {
    const plain = await run(parseUrl("postgresql://localhost"))
    expect(plain).toMatchObject({ host: "localhost", pool: {} })
    expect([plain.port, plain.user, plain.password, plain.database, plain.schema]).toEqual([undefined, undefined, undefined, undefined, undefined])
    expect(await run(parseUrl("postgres://[::1]:7000/db"))).toMatchObject({ host: "::1", port: 7000, database: "db" })
    expect(await run(parseUrl("postgres:///db?host=%2Fvar%2Frun%2Fpostgresql"))).toMatchObject({ host: "/var/run/postgresql", database: "db" })
  })

  it("reads sslmode, connect_timeout and application_name as libpq does", async () => {
    expect((await run(parseUrl("postgres://h/d?sslmode=disable"))).pool).toEqual({ ssl: false })
    expect((await run(parseUrl("postgres://h/d?sslmode=require"))).pool).toEqual({ ssl: { rejectUnauthorized: false } })
    expect((await run(parseUrl("postgres://h/d?sslmode=verify-full&connect_timeout=3&application_name=etl"))).pool).toEqual({
      ssl: true,
      connectionTimeoutMillis: 3000,
      application_name: "etl"
    })
  })

  it("reads connection_limit as the most connections the pool opens", async () => {
    expect((await run(parseUrl("postgres://h/d?connection_limit=3"))).pool).toEqual({ max: 3 })
  })

  it("accepts a Redacted URL", async () => {
    expect(await run(parseUrl(Redacted.make("postgres://u:p@h:1/d")))).toMatchObject({ host: "h", port: 1, database: "d" })
  })

  it("refuses other schemes, unknown or repeated options, bad values and schema names, naming them and hiding the password", async () => {
    for (const [url, named] of [
      ["mysql://u:hunter2@h/d", "expected postgres:// or postgresql://, got mysql://"],
      ["postgres://u:hunter2@h/d?shema=x", '"shema"'],
      ["postgres://u:hunter2@h/d?schema=a&schema=b", '"schema" is given twice'],
      ["postgres://u:hunter2@h/d?sslmode=always", 'sslmode "always" is not one of disable, require, verify-ca, verify-full'],
      ["postgres://u:hunter2@h/d?sslmode=prefer", 'sslmode "prefer" is not one of'],
      ["postgres://u:hunter2@h/d?sslmode=allow", 'sslmode "allow" is not one of'],
      [`postgres://u:hunter2@h/d?schema=${"a".repeat(61)}%25`, "with % and # as 3 each"],
      ["postgres://u:hunter2@h/d?connect_timeout=soon", 'connect_timeout "soon" is not a number of seconds'],
      ["postgres://u:hunter2@h/d?connection_limit=0", 'connection_limit "0" is not a whole number of connections from 1 to 10000'],
      ["postgres://u:hunter2@h/d?connection_limit=2.5", 'connection_limit "2.5" is not a whole number'],
      ["postgres://u:hunter2@h/d?connection_limit=99999", 'connection_limit "99999" is not a whole number'],
      ["postgres://u:hunter2@h/d?schema=", "the schema name is empty"],
      ["postgres://u:hunter2@h/d?schema=pg_mine", 'starts with "pg_"'],
      [`postgres://u:hunter2@h/d?schema=${"x".repeat(64)}`, "at most 63"],
      ["postgres://u:hunter2@h/a/b", "one database name"],
      ["postgres://u:hunter2%zz@h/d", "percent-encoding"]
    ] as const) {
      const error = await failureOf(parseUrl(url))
      expect(error.reason._tag).toBe("Invalid")
      expect(error.message).toContain(named)
      expect(error.message).not.toContain("hunter2")
    }
  })

  it("refuses what is not a URL without quoting it", async () => {
    const error = await failureOf(parseUrl("not a url hunter2"))
    expect(error.reason._tag).toBe("Invalid")
    expect(error.message).toContain("expected postgres://")
  })
})

describe("resolve", () => {
  it("lets explicit options win over the URL, and poolOptions over both", async () => {
    const resolved = await run(
      resolve({ url: "postgres://u:urlpass@h:1/d?schema=s&sslmode=disable", database: "other", schema: "mine", poolOptions: { max: 3, ssl: true } })
    )
    expect(resolved.pool).toEqual({ host: "h", port: 1, user: "u", database: "other", ssl: true, max: 3 })
    expect(resolved.schema).toBe("mine")
    expect(Redacted.value(resolved.password!)).toBe("urlpass")
    expect(resolved.description).toBe("postgres://h:1/other")
    expect(JSON.stringify(resolved)).not.toContain("urlpass")
  })

  it("uses the schema lineage by default and refuses a bad one given as an option", async () => {
    expect((await run(resolve({ url: "postgres://h/d" }))).schema).toBe("lineage")
    const error = await failureOf(resolve({ schema: "a\u0000b" }))
    expect(error.reason._tag).toBe("Invalid")
    expect(error.message).toContain("U+0000")
  })

  it("holds a password given as a string as Redacted", async () => {
    const resolved = await run(resolve({ host: "h", password: "plain-secret" }))
    expect(Redacted.value(resolved.password!)).toBe("plain-secret")
    expect(JSON.stringify(resolved)).not.toContain("plain-secret")
  })

  it("reads a percent-encoded host (a socket directory) and verify-ca as a CA check without the host name's", async () => {
    expect(await run(parseUrl("postgres://%2Fvar%2Frun%2Fpostgresql/db"))).toMatchObject({ host: "/var/run/postgresql", database: "db" })
    const ssl = (await run(parseUrl("postgres://h/d?sslmode=verify-ca"))).pool.ssl as { checkServerIdentity?: () => unknown }
    expect(ssl).toMatchObject({ rejectUnauthorized: true })
    expect(ssl.checkServerIdentity?.()).toBeUndefined()
    expect(typeof ssl.checkServerIdentity).toBe("function")
  })
})
