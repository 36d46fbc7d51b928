import { describe, expect, it } from "vitest"
import { Effect, Exit, Redacted } from "effect"
import type { StoreError } from "@lineage/core"
import { fromUrl, make, parseUrl, redactUrl, resolve } from "@lineage/store-mongodb"

const run = <A>(e: Effect.Effect<A, StoreError>) => Effect.runPromise(e)
const failure = async <A>(e: Effect.Effect<A, StoreError>): Promise<StoreError> => {
  const exit = await Effect.runPromiseExit(e)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = exit.cause.reasons.flatMap((r) => (r._tag === "Fail" ? [r.error] : []))[0]
  if (error === undefined) throw new Error("expected a typed failure")
  return error
}

describe("parseUrl", () => {
  it("reads hosts, credentials, database and our own options", async () => {
    const p = await run(parseUrl("mongodb://ann:s3cr%40t@h1:27017,h2:27018/lab?replicaSet=rs0&prefix=team_&authSource=admin"))
    expect(p.hosts).toEqual(["h1:27017", "h2:27018"])
    expect(p.username).toBe("ann")
    expect(Redacted.value(p.password!)).toBe("s3cr@t")
    expect(String(p.password)).not.toContain("s3cr")
    expect(p.database).toBe("lab")
    expect(p.prefix).toBe("team_")
    expect(p.query).toBe("replicaSet=rs0&authSource=admin")
  })

  it("accepts mongodb+srv with one host and no database", async () => {
    const p = await run(parseUrl("mongodb+srv://cluster0.example.net/?retryWrites=true"))
    expect(p.scheme).toBe("mongodb+srv")
    expect(p.database).toBeUndefined()
  })

  it("refuses other schemes and bad database names without showing the password", async () => {
    const e1 = await failure(parseUrl("redis://u:hunter2@h:1/db"))
    expect(e1.reason._tag).toBe("Invalid")
    expect(e1.message).toContain("expected mongodb://")
    expect(e1.message).not.toContain("hunter2")
    const e2 = await failure(parseUrl("mongodb://u:hunter2@h/bad.name"))
    expect(e2.message).toContain("not a valid database name")
    expect(e2.message).not.toContain("hunter2")
  })

  it("takes our own options once each, matched ignoring case as MongoDB matches its own; the driver's pass through", async () => {
    const p = await run(parseUrl("mongodb://h/?PREFIX=team_&retryWrites=true&Database=lab&w=majority"))
    expect(p.prefix).toBe("team_")
    expect(p.database).toBe("lab")
    expect(p.query).toBe("retryWrites=true&w=majority")
    const e = await failure(parseUrl("mongodb://ann:hunter2@h/lab?prefix=a&prefix=b"))
    expect(e.reason._tag).toBe("Invalid")
    expect(e.message).toContain('option "prefix" is given twice (known options: prefix, database)')
    expect(e.message).not.toContain("hunter2")
  })

  it("redactUrl hides the password only", () => {
    expect(redactUrl("mongodb://ann:p%40ss@h1,h2/db?x=1")).toBe("mongodb://ann:***@h1,h2/db?x=1")
    expect(redactUrl("mongodb+srv://ann:pw@c.example.net/")).toBe("mongodb+srv://ann:***@c.example.net/")
    expect(redactUrl("mongodb://h/db")).toBe("mongodb://h/db")
  })
})

describe("resolve", () => {
  it("puts no credentials in the connection string, and options win over the URL", async () => {
    const r = await run(resolve({ url: "mongodb://ann:hunter2@h1/lab?prefix=p_", database: "other", tls: true }))
    expect(r.connectionString).toBe("mongodb://h1/?tls=true")
    expect(r.connectionString).not.toContain("hunter2")
    expect(r.database).toBe("other")
    expect(r.prefix).toBe("p_")
    expect(r.description).toBe("mongodb://h1/other")
    expect(Redacted.value(r.password!)).toBe("hunter2")
  })
})

describe("connecting", () => {
  it("an unreachable server is Unavailable, retryable, and the message has no password", async () => {
    const e = await failure(make({ url: "mongodb://ann:hunter2@127.0.0.1:1/lab", serverSelectionTimeoutMs: 300 }))
    expect(e.reason._tag).toBe("Unavailable")
    expect(e.isRetryable).toBe(true)
    expect(e.message).toContain("mongodb://127.0.0.1:1/lab")
    expect(e.message).not.toContain("hunter2")
  })

  it("an option neither lineage nor the driver knows is Invalid at once, naming lineage's options, without the password", async () => {
    for (const [url, named] of [
      ["mongodb://ann:hunter2@127.0.0.1:1/lab?prefx=team", "prefx"],
      ["mongodb://ann:hunter2@127.0.0.1:1/lab?replicaSet=rs0&namspace=x", "namspace"]
    ] as const) {
      const started = Date.now()
      const e = await failure(make({ url, serverSelectionTimeoutMs: 5_000 }))
      expect(e.reason._tag).toBe("Invalid")
      expect(e.isRetryable).toBe(false)
      expect(e.message).toContain(named)
      expect(e.message).toContain("lineage's options: prefix, database")
      expect(e.message).not.toContain("hunter2")
      // Refused before any server selection.
      expect(Date.now() - started).toBeLessThan(1_000)
    }
  })

  it("fromUrl works with the URL alone, as Lineage.connect calls it", async () => {
    const connect: (url: string) => Effect.Effect<unknown, StoreError> = fromUrl
    const e = await failure(connect("mongodb://127.0.0.1:1/lab?serverSelectionTimeoutMS=200"))
    expect(e.reason._tag).toBe("Unavailable")
  })
})
