/**
 * Connection by URL or options: what a URL means, that a password never shows in an error, and that a
 * missing Redis is a prompt, typed `Unavailable`.
 */
import { spawn, spawnSync } from "node:child_process"
import { Effect, Exit, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { Ast } from "@lineage/core"
import { failureOf } from "../../../test/support/failures.js"
import { describeConnection, make, parseUrl, redactUrl } from "../src/index.js"
import { freePort, freshPrefix, redisServer, run, startPrivateRedis } from "../../../test/support/redis.js"

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("parseUrl", () => {
  it("reads host, port, db, user, password and prefix", async () => {
    const parsed = await run(parseUrl("redis://alice:s3cr%40t@cache.internal:6380/4?prefix=team-a"))
    expect(parsed).toMatchObject({ host: "cache.internal", port: 6380, db: 4, username: "alice", tls: false, prefix: "team-a" })
    expect(Redacted.value(parsed.password!)).toBe("s3cr@t")
    // The password is kept out of logs and string forms.
    expect(String(parsed.password)).not.toContain("s3cr")
    expect(JSON.stringify(parsed)).not.toContain("s3cr")
    expect(describeConnection(parsed)).toBe("redis://alice@cache.internal:6380/4")
  })

  it("defaults: port 6379, db 0, no credentials, no prefix; rediss means TLS; IPv6 hosts", async () => {
    expect(await run(parseUrl("redis://localhost"))).toMatchObject({ host: "localhost", port: 6379, db: 0, tls: false })
    const plain = await run(parseUrl("redis://localhost"))
    expect([plain.username, plain.password, plain.prefix]).toEqual([undefined, undefined, undefined])
    expect(await run(parseUrl("rediss://:pw@h:1/2"))).toMatchObject({ tls: true, port: 1, db: 2 })
    expect(await run(parseUrl("redis://[::1]:7000"))).toMatchObject({ host: "::1", port: 7000 })
  })

  it("accepts a Redacted URL", async () => {
    expect(await run(parseUrl(Redacted.make("redis://u:p@h:1/3")))).toMatchObject({ host: "h", db: 3 })
  })

  it("refuses other schemes, bad db numbers and prefixes that would break the hash tag, without showing the password", async () => {
    for (const url of ["mongodb://u:hunter2@h/1", "redis://u:hunter2@h/notanumber", "redis://u:hunter2@h/0?prefix=a%7Bb", "not a url hunter2"]) {
      const error = await failureOf(parseUrl(url))
      expect(error.reason._tag).toBe("Invalid")
      if (url.startsWith("not")) continue
      expect(error.message).not.toContain("hunter2")
      expect(error.message).toContain("***")
    }
  })

  it("refuses an option it does not know, or one given twice, listing the known ones and hiding the password", async () => {
    for (const [url, named] of [
      ["redis://u:hunter2@h/0?prefx=team", '"prefx"'],
      ["redis://u:hunter2@h/0?prefix=a&namespace=b", '"namespace"'],
      ["redis://u:hunter2@h/0?prefix=a&prefix=b", '"prefix" is given twice']
    ] as const) {
      const error = await failureOf(parseUrl(url))
      expect(error.reason._tag).toBe("Invalid")
      expect(error.message).toContain(named)
      expect(error.message).toContain("known options: prefix")
      expect(error.message).not.toContain("hunter2")
    }
  })

  it("redactUrl hides only the password", () => {
    expect(redactUrl("redis://bob:pa:ss@h:1/0")).toBe("redis://bob:***@h:1/0")
    expect(redactUrl("redis://h:1/0")).toBe("redis://h:1/0")
  })
})

describe("connecting", () => {
  it("a server that is not there is a prompt, retryable Unavailable naming it but not the password", async () => {
    const port = await freePort()
    const started = Date.now()
    const error = await failureOf(make({ url: `redis://me:topsecret@127.0.0.1:${port}/0`, retry: { times: 1, baseDelayMs: 10 } }))
    expect(error.reason._tag).toBe("Unavailable")
    expect(error.isRetryable).toBe(true)
    expect(error.message).toContain(`127.0.0.1:${port}`)
    expect(error.message).not.toContain("topsecret")
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it("a server that stops answering without closing its connection fails requests Unavailable within the command timeout, not never", async () => {
    const server = await startPrivateRedis()
    const pid = Number(/process_id:(\d+)/.exec(spawnSync("redis-cli", ["-p", String(server.port), "INFO", "server"], { encoding: "utf8" }).stdout)?.[1])
    const driver = await run(make({ url: server.url, prefix: freshPrefix("paused"), commandTimeoutMs: 300, retry: { times: 1, baseDelayMs: 10 } }))
    try {
      await run(driver.declare([{ name: "thing", unique: [], indexes: [] }]))
      process.kill(pid, "SIGSTOP")
      const started = Date.now()
      const outcome = await Promise.race([failureOf(driver.get("thing", [1])), pause(8_000).then(() => undefined)])
      expect(outcome, "still pending after 8 s").toBeDefined()
      expect(outcome!.reason._tag).toBe("Unavailable")
      expect(outcome!.isRetryable).toBe(true)
      expect(outcome!.message).toContain("Command timed out")
      expect(Date.now() - started).toBeLessThan(8_000)
    } finally {
      process.kill(pid, "SIGCONT")
      await run(driver.close())
      await server.stop()
    }
  }, 20_000)

  it("a wrong password fails without echoing it", async () => {
    const server = await redisServer()
    const url = new URL(server.url)
    url.username = "nobody"
    url.password = "wrong-pass-123"
    const error = await failureOf(make({ url: url.toString(), retry: { times: 0, baseDelayMs: 10 } }))
    expect(error.message).not.toContain("wrong-pass-123")
    expect(error.reason._tag).toBe("Unavailable")
  })

  it("a database the server refuses (/99 of 16) fails at connect, naming the database and the reply", async () => {
    const server = await redisServer()
    const error = await failureOf(make({ url: `${server.url}/99`, prefix: freshPrefix("db99"), retry: { times: 2, baseDelayMs: 10 } }))
    expect(error.reason._tag).toBe("Invalid")
    expect(error.isRetryable).toBe(false)
    expect(error.message).toContain("database 99")
    expect(error.message).toContain("DB index is out of range")
  })

  it("a database number that is not one is refused before connecting, from the URL or the options", async () => {
    const server = await redisServer()
    for (const db of [-1, 1.5, Number.NaN]) {
      const error = await failureOf(make({ url: server.url, db }))
      expect(error.reason._tag).toBe("Invalid")
      expect(error.message).toContain(`db ${db}`)
    }
    for (const path of ["/abc", "/-1"]) expect((await failureOf(make({ url: `${server.url}${path}` }))).reason._tag).toBe("Invalid")
  })

  it("options override the URL, and a prefix with a brace is refused", async () => {
    const server = await redisServer()
    const error = await failureOf(make({ url: server.url, prefix: "a}b" }))
    expect(error.reason._tag).toBe("Invalid")
    expect(error.message).toMatch(/prefix/)
  })
})

describe("losing Redis", () => {
  it("a Redis that goes away mid-session is a retryable Unavailable within a bounded time, not a hang", async () => {
    const port = await freePort()
    const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" })
    try {
      let driver = undefined
      for (let i = 0; i < 100 && driver === undefined; i++) {
        const exit = await Effect.runPromiseExit(make({ url: `redis://127.0.0.1:${port}`, prefix: "gone", retry: { times: 0, baseDelayMs: 10 } }))
        if (Exit.isSuccess(exit)) driver = exit.value
        else await pause(50)
      }
      if (driver === undefined) throw new Error("the private redis-server did not start")
      await run(driver.declare([{ name: "t", unique: [], indexes: [] }]))
      expect(await run(driver.count("t", Ast.always))).toBe(0)
      child.kill("SIGKILL")
      await new Promise((r) => child.once("exit", r))
      const started = Date.now()
      const error = await failureOf(driver.count("t", Ast.always))
      expect(error.reason._tag).toBe("Unavailable")
      expect(error.isRetryable).toBe(true)
      expect(Date.now() - started).toBeLessThan(15_000)
      await run(driver.close())
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
    }
  }, 30_000)

  it("a reconnect to a server that no longer has the database fails typed and writes nothing to database 0", async () => {
    const port = await freePort()
    const start = (databases: number) =>
      spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--databases", String(databases)], { stdio: "ignore" })
    const answers = () => spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout.trim() === "PONG"
    const waitForServer = async () => {
      for (let i = 0; i < 100 && !answers(); i++) await pause(50)
      if (!answers()) throw new Error("the private redis-server did not start")
    }
    let child = start(16)
    try {
      await waitForServer()
      const driver = await run(make({ url: `redis://127.0.0.1:${port}/10`, prefix: "reselect", retry: { times: 1, baseDelayMs: 10 } }))
      await run(driver.declare([{ name: "t", unique: [], indexes: [] }]))
      expect(await run(driver.reserveIds("t", 1))).toBe(1)
      child.kill("SIGKILL")
      await new Promise((r) => child.once("exit", r))
      child = start(4)
      await waitForServer()
      // A request in flight when the refusal came fails Unavailable (connection closed); its retry sees the refusal.
      const error = await failureOf(driver.reserveIds("t", 1))
      expect(error.reason._tag).toBe("Invalid")
      expect(error.message).toContain("database 10")
      expect(error.message).toContain("DB index is out of range")
      // Nothing reached the server's database 0 in place of database 10.
      expect(spawnSync("redis-cli", ["-p", String(port), "dbsize"], { encoding: "utf8" }).stdout.trim()).toBe("0")
      await run(driver.close())
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
    }
  }, 30_000)
})
