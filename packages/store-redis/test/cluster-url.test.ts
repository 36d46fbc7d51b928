/**
 * Redis Cluster URLs (`redis+cluster://`, `rediss+cluster://`) and their option equivalents, and the
 * durability option (`waitReplicas`, `waitForReplicas`), as parsed: what they mean, and that hostile or
 * mistaken input is refused with `Invalid` naming the field and value, never the password. No server is
 * needed: every refusal here comes before connecting (a port nothing listens on would say `Unavailable`).
 */
import { readFileSync } from "node:fs"
import { Effect, Exit, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { failureOf } from "../../../test/support/failures.js"
import { freePort, run } from "../../../test/support/redis.js"
import { describeConnection, make, parseUrl, type RedisStoreOptions, urlOptions } from "../src/index.js"

const password = "hunter2-S3cr3t"

/** The refusal of `url`: `Invalid`, without the password, containing each of `named`. */
const refusal = async (url: string, ...named: ReadonlyArray<string>): Promise<string> => {
  const error = await failureOf(parseUrl(url))
  expect(error.reason._tag, error.message).toBe("Invalid")
  expect(error.message).not.toContain(password)
  expect(error.message).not.toContain("S3cr3t")
  for (const part of named) expect(error.message).toContain(part)
  return error.message
}

describe("redis+cluster:// URLs", () => {
  it("read seed nodes, credentials, prefix and TLS; the port defaults to 6379, the database is 0", async () => {
    const parsed = await run(parseUrl(`redis+cluster://alice:${encodeURIComponent("p@ss/w?rd#")}@10.0.0.1:7000,cache-2.internal:7001,[::1]:7002,h4?prefix=team-a`))
    expect(parsed.cluster).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "cache-2.internal", port: 7001 },
      { host: "::1", port: 7002 },
      { host: "h4", port: 6379 }
    ])
    expect(parsed).toMatchObject({ host: "10.0.0.1", port: 7000, username: "alice", db: 0, tls: false, prefix: "team-a" })
    expect(Redacted.value(parsed.password!)).toBe("p@ss/w?rd#")
    expect(JSON.stringify(parsed)).not.toContain("p@ss")
    expect(describeConnection(parsed)).toBe("redis+cluster://alice@10.0.0.1:7000,cache-2.internal:7001,[::1]:7002,h4:6379")
    const tls = await run(parseUrl("REDISS+CLUSTER://h:1/0"))
    expect(tls).toMatchObject({ tls: true, db: 0, cluster: [{ host: "h", port: 1 }] })
    expect([tls.username, tls.password, tls.prefix, tls.waitForReplicas]).toEqual([undefined, undefined, undefined, undefined])
    expect((await run(parseUrl("redis+cluster://h:1/"))).db).toBe(0)
  })

  it("take the password up to the last @, as redaction does, so a raw @ in it neither leaks nor splits the hosts", async () => {
    const parsed = await run(parseUrl(`redis+cluster://bob:p@${password}@h1:1,h2:2`))
    expect(Redacted.value(parsed.password!)).toBe(`p@${password}`)
    expect(parsed.cluster).toEqual([{ host: "h1", port: 1 }, { host: "h2", port: 2 }])
  })

  it("refuse a database path: a cluster has database 0 only", async () => {
    for (const path of ["/3", "/00", "/0/1", "/db"])
      await refusal(`redis+cluster://u:${password}@h:1${path}`, `redis+cluster://u:***@h:1${path}`, JSON.stringify(path), "database 0 only")
  })

  it("refuse a host list they cannot read for certain, naming the entry", async () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["", "no seed node"],
      ["h:1,", 'seed node ""'],
      [",h:1", 'seed node ""'],
      ["h:0", 'seed node "h:0": the port must be a number from 1 to 65535'],
      ["h:65536", 'seed node "h:65536"'],
      ["h:7000x", 'seed node "h:7000x"'],
      ["h:", 'seed node "h:"'],
      ["h:+1", 'seed node "h:+1"'],
      ["h:1:2", 'seed node "h:1:2": expected host:port'],
      ["::1", 'seed node "::1": expected host:port (an IPv6 address in brackets)'],
      ["[::g]:1", 'seed node "[::g]:1": the host is not a host name or an IP address'],
      ["h%41st:1", 'seed node "h%41st:1": the host is not'],
      ["a$b:1", 'seed node "a$b:1"'],
      ["a..b:1", 'seed node "a..b:1"'],
      ["h:1,H:1", 'seed node "h:1" is listed twice'],
      [`${"a".repeat(254)}:1`, "the host is not a host name"]
    ]
    for (const [hosts, named] of cases) await refusal(`redis+cluster://u:${password}@${hosts}`, named)
  })

  it("refuse what would change their meaning: a raw / ? # in the credentials, an @ after the hosts, a fragment, spaces and control characters", async () => {
    await refusal(`redis+cluster://u:pa/${password}@h:1`, "percent-encode")
    await refusal(`redis+cluster://u:pa?${password}@h:1`, "percent-encode")
    await refusal(`redis+cluster://h:1?prefix=a@b`, "percent-encode")
    await refusal(`redis+cluster://u:${password}@h:1#frag`, "no fragment")
    await refusal(`redis+cluster://u:${password}@h:1,\nh2:2`, "control character")
    await refusal(`redis+cluster://u:${password}@h:1 ,h2:2`, "space")
    await refusal(`redis+cluster://u:%zz${password}@h:1`, "percent-encoding")
  })

  it("refuse an unknown option or one given twice, naming it and the known ones, and a prefix that breaks the hash tag", async () => {
    await refusal(`redis+cluster://u:${password}@h:1?prefx=a`, '"prefx"', `known options: ${urlOptions.join(", ")}`)
    await refusal(`redis+cluster://u:${password}@h:1?prefix=a&prefix=b`, '"prefix" is given twice')
    await refusal(`redis+cluster://u:${password}@h:1?prefix=a%7Bb`, 'must not contain "{"')
  })

  it("are served by this package: its manifest declares both schemes", () => {
    const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { lineage: { schemes: Array<string> } }
    expect(manifest.lineage.schemes).toEqual(expect.arrayContaining(["redis+cluster:", "rediss+cluster:"]))
  })
})

describe("a refused URL never shows the password, whatever the credentials hold", () => {
  const secret = "S3cr3tPW"
  /** Fragments of the secret that a message must not hold either: a password cut by an inserted character is still one. */
  const fragments = [secret, secret.slice(0, 4), secret.slice(4)]
  const hides = (url: string, message: string) => {
    for (const fragment of fragments) expect(message, `${JSON.stringify(url)} => ${message}`).not.toContain(fragment)
  }

  it("a raw @ or / in the user name, on either scheme", async () => {
    for (const url of [
      `redis+cluster://alice@corp.example:${secret}@10.0.0.1:7000,10.0.0.2:70000`,
      `redis+cluster://alice@corp.example:${secret}@10.0.0.1:7000?prefix=a%7Bb`,
      `redis+cluster://team/a:${secret}@10.0.0.1:7000`,
      `redis://team/a:${secret}@10.0.0.1:7000`,
      `redis://alice@corp.example:${secret}@10.0.0.1:7000/x`,
      `redis://team/a:${secret}@10.0.0.1:7000/0?prefix=a%7Bb`
    ]) {
      const error = await failureOf(parseUrl(url))
      expect(error.reason._tag).toBe("Invalid")
      hides(url, error.message)
    }
  })

  it("says which seed is wrong and still names the user when the credentials are unambiguous", async () => {
    const error = await failureOf(parseUrl(`redis+cluster://alice@corp.example:${secret}@10.0.0.1:7000,10.0.0.2:70000`))
    expect(error.message).toContain('invalid Redis URL redis+cluster://alice@corp.example:***@10.0.0.1:7000,10.0.0.2:70000: seed node "10.0.0.2:70000"')
    const redis = await failureOf(parseUrl(`redis://team/a:${secret}@10.0.0.1:7000`))
    expect(redis.message).toContain("invalid Redis URL redis://***@10.0.0.1:7000: ")
  })

  it("fuzzed: credentials holding @ / : ? # % and more, on every scheme", async () => {
    const pieces = ["@", ",", "[", "]", ":", "/", "?", "#", "%", "%40", "%2", " ", "\n", "h", "h:1", "[::1]", "=", "&", "+", ";", "%00", "\u00e9"]
    // A fixed-seed generator: a failure names its URL and repeats on every run.
    let seed = 20_260_101
    const next = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n)
    const some = (max: number) => Array.from({ length: next(max + 1) }, () => pieces[next(pieces.length)]).join("")
    let refused = 0
    for (let i = 0; i < 4_000; i++) {
      const scheme = ["redis+cluster://", "rediss+cluster://", "redis://", "redis+cluster:/"][next(4)]
      const url = `${scheme}u${some(2)}:${secret.slice(0, 4)}${some(2)}${secret.slice(4)}@h:1${some(3)}`
      const exit = Effect.runSyncExit(parseUrl(url))
      if (Exit.isSuccess(exit)) continue
      refused++
      hides(url, String(exit.cause))
    }
    expect(refused, "most of these URLs are refused").toBeGreaterThan(1_000)
  })
})

describe("waitReplicas in a URL", () => {
  it("reads N and T on one server and on a cluster; T defaults to 1,000 ms", async () => {
    expect((await run(parseUrl("redis://h/0?waitReplicas=2&waitTimeoutMs=250"))).waitForReplicas).toEqual({ replicas: 2, timeoutMs: 250 })
    expect((await run(parseUrl("redis+cluster://h:1?waitReplicas=1"))).waitForReplicas).toEqual({ replicas: 1, timeoutMs: 1_000 })
    expect((await run(parseUrl("redis://h/0"))).waitForReplicas).toBeUndefined()
  })

  it("refuses what is not a whole number in range, and a timeout without replicas", async () => {
    for (const base of [`redis://u:${password}@h/0`, `redis+cluster://u:${password}@h:1`]) {
      await refusal(`${base}?waitReplicas=0`, "waitReplicas must be a whole number of replicas, 1 or more (got 0)")
      await refusal(`${base}?waitReplicas=-1`, 'waitReplicas', '(got "-1")')
      await refusal(`${base}?waitReplicas=1.5`, '(got "1.5")')
      await refusal(`${base}?waitReplicas=two`, '(got "two")')
      await refusal(`${base}?waitReplicas=99999999999`, "waitReplicas")
      await refusal(`${base}?waitReplicas=1&waitTimeoutMs=0`, "waitTimeoutMs must be a whole number of milliseconds from 1 to 60000 (got 0)")
      await refusal(`${base}?waitReplicas=1&waitTimeoutMs=60001`, "(got 60001)")
      await refusal(`${base}?waitReplicas=1&waitTimeoutMs=1e3`, '(got "1e3")')
      await refusal(`${base}?waitTimeoutMs=100`, "waitTimeoutMs needs waitReplicas")
    }
  })
})

describe("options", () => {
  /** The refusal of `options` (on a port nothing listens on: a refusal after connecting would be Unavailable). */
  const refused = async (options: RedisStoreOptions, ...named: ReadonlyArray<string>) => {
    const port = await freePort()
    const error = await failureOf(make({ url: `redis://u:${password}@127.0.0.1:${port}/0`, retry: { times: 0, baseDelayMs: 1 }, ...options }))
    expect(error.reason._tag, error.message).toBe("Invalid")
    expect(error.message).not.toContain(password)
    for (const part of named) expect(error.message).toContain(part)
  }

  it("nodes: seed nodes as options, checked like the URL's", async () => {
    await refused({ nodes: [] }, "nodes must be a non-empty list")
    await refused({ nodes: [{ host: "h", port: 0 }] }, 'nodes[0] "h:0": the port must be')
    await refused({ nodes: [{ host: "h", port: 1 }, { host: "a b", port: 2 }] }, 'nodes[1] "a b:2": the host is not')
    await refused({ nodes: [{ host: "h", port: 1 }, { host: "H", port: 1 }] }, 'nodes[1] "h:1" is listed twice')
    await refused({ nodes: [{ host: "h" } as never] }, "nodes[0] must be { host: string, port: number }")
    await refused({ nodes: [{ host: "h", port: 1 }], host: "other" }, "host and port name one server, nodes a Redis Cluster")
    await refused({ nodes: [{ host: "h", port: 1 }], db: 2 }, "db 2, but a Redis Cluster has database 0 only")
  })

  it("host and port beside a redis+cluster:// URL are refused: they name one server, the URL a cluster", async () => {
    for (const options of [{ host: "other" }, { port: 7001 }] as const) {
      const error = await failureOf(make({ url: `redis+cluster://u:${password}@127.0.0.1:1`, retry: { times: 0, baseDelayMs: 1 }, ...options }))
      expect(error.reason._tag, error.message).toBe("Invalid")
      expect(error.message).toContain("host and port name one server, the URL a Redis Cluster")
      expect(error.message).not.toContain(password)
    }
  })

  it("writeTokenTtlMs: a whole number of ms, longer than a write's retries can take", async () => {
    await refused({ writeTokenTtlMs: 0 }, "writeTokenTtlMs must be a whole number of milliseconds (got 0)")
    await refused({ writeTokenTtlMs: 1.5 }, "(got 1.5)")
    // Five attempts, each allowed its WAIT of 2 s and the command timeout, plus the backoff between them.
    const retry = { times: 4, baseDelayMs: 50 }
    await refused({ retry, writeTokenTtlMs: 10_000, waitForReplicas: { replicas: 1, timeoutMs: 2_000 } }, "writeTokenTtlMs 10000 is shorter than", "waitForReplicas.timeoutMs")
    await refused({ retry: { times: 99, baseDelayMs: 1 } }, "retry.times must be a whole number from 0 to 30 (got 99)")
    await refused({ commandTimeoutMs: -1 }, "commandTimeoutMs must be a whole number")
    await refused({ writeTokenTtlMs: 1_000, retry: { times: 8, baseDelayMs: 100 } }, "writeTokenTtlMs 1000 is shorter than")
  })

  it("waitForReplicas: checked like the URL's", async () => {
    await refused({ waitForReplicas: { replicas: 0 } }, "waitForReplicas.replicas must be a whole number of replicas, 1 or more (got 0)")
    await refused({ waitForReplicas: { replicas: 1, timeoutMs: 0 } }, "waitForReplicas.timeoutMs must be")
    await refused({ waitForReplicas: { replicas: 1, timeoutMs: 1.5 } }, "(got 1.5)")
    await refused({ waitForReplicas: { replicas: Number.NaN } }, "(got NaN)")
  })
})
