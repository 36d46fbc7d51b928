/**
 * The PostgreSQL dialect's names and failure classes: table names stay one-to-one when a long name is hashed,
 * and only failures that may pass on a retry are transient.
 */
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { Postgres } from "@lineage/sql"

describe("PostgreSQL table names", () => {
  it("a readable name never equals the hashed form of a long one", () => {
    const d = Postgres.dialect("s")
    const long = "x".repeat(100)
    const hashed = `#${createHash("sha256").update(long).digest("hex").slice(0, 40)}`
    expect(d.table("data", hashed)).not.toBe(d.table("data", long))
    expect(d.table("data", "a#b")).not.toBe(d.table("data", "a%23b"))
  })
})

describe("PostgreSQL failure classes", () => {
  it("connection loss, shutdown, too many connections, serialization failures and a resolver hiccup are transient", () => {
    for (const code of ["08006", "57P01", "57P03", "53300", "40001", "40P01", "55P03", "ECONNREFUSED", "EAI_AGAIN"])
      expect(Postgres.isTransient({ code }), code).toBe(true)
  })

  it("bad input, refused statements, a read-only server and an unknown host are not", () => {
    for (const code of ["22P02", "22003", "42P01", "42501", "25006", "23505", "ENOTFOUND"]) expect(Postgres.isTransient({ code }), code).toBe(false)
  })
})
