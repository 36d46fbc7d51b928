/**
 * A store URL refused at connect never shows a secret: not a password holding a `?` (which MongoDB's URL
 * form allows), not the value of an option whose secret name is percent-encoded, and not a value the MongoDB
 * driver quotes back. Messages show the URL without its query: option names at most, never their values.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Lineage } from "@lineage/core"
import * as MemoryStore from "@lineage/store-memory"
import * as MongoStore from "@lineage/store-mongodb"
import * as RedisStore from "@lineage/store-redis"

const secret = "S3cr3tV4lue"

const messageOf = (attempt: () => Promise<unknown>): Promise<string> =>
  attempt().then(
    () => {
      throw new Error("expected a refusal")
    },
    (e: unknown) => `${String(e)}\n${e instanceof Error ? (e.stack ?? "") : ""}\n${JSON.stringify(e)}`
  )

const mongo = (url: string) => () => Effect.runPromise(MongoStore.make({ url, serverSelectionTimeoutMs: 200 }))
const redis = (url: string) => () => Effect.runPromise(RedisStore.fromUrl(url))

describe("a refused store URL shows no secret", () => {
  it.each([
    ["a MongoDB password holding '?', in an option refusal", mongo(`mongodb://ann:${secret}?x@127.0.0.1:1/db?prefix=a&prefix=b`)],
    ["a MongoDB option with a percent-encoded secret name", mongo(`mongodb://127.0.0.1:1/bad.db?tlsCertificateKeyFile%50assword=${secret}`)],
    ["a MongoDB secret with a percent-encoded label", mongo(`mongodb://127.0.0.1:1/bad.db?authMechanismProperties=AWS_SESSION_TOKEN%3A${secret}`)],
    ["a secret in an option value the driver quotes back", mongo(`mongodb://127.0.0.1:1/db?authMechanism=PLAIN,password=${secret}`)],
    ["a MongoDB secret option's value, quoted back by the driver", mongo(`mongodb://127.0.0.1:1/db?proxyPassword=${secret}&proxyPort=${secret}`)],
    ["a Redis option with a percent-encoded secret name, in a path refusal", redis(`redis://127.0.0.1:6379/x?sentinel%50assword=${secret}`)],
    ["a memory URL with a percent-encoded secret name", () => Effect.runPromise(MemoryStore.fromUrl(`memory:x?pass%77ord=${secret}`))],
    ["an unknown scheme with a percent-encoded secret name", () => Lineage.connect(`mongo://h/?pass%77ord=${secret}`)]
  ])("%s", async (_, attempt) => {
    const text = await messageOf(attempt)
    expect(text).toMatch(/invalid|not supported/)
    expect(text).not.toContain(secret)
  })

  it("the refusal still says what is wrong, naming the URL up to its query", async () => {
    expect(await messageOf(mongo(`mongodb://ann:${secret}?x@127.0.0.1:1/db?prefix=a&prefix=b`))).toContain(
      'invalid MongoDB URL mongodb://ann:***@127.0.0.1:1/db?…: option "prefix" is given twice'
    )
    expect(await messageOf(redis(`redis://127.0.0.1:6379/x?sentinel%50assword=${secret}`))).toContain(
      "invalid Redis URL redis://127.0.0.1:6379/x?…: the path must be a database number"
    )
  })
})
