/**
 * One racing process for test/redis-faults.test.ts: connects through `RedisStore.layer`, says `ready`, waits
 * for `go` on stdin (so every process starts together), then for each round does `Transform.getOrCreate`
 * on a shared (key, version) and `Transform.create` of its own version of a shared key, and prints the
 * uids it got as one JSON line.
 *
 * Run: node --import tsx --conditions=@lineage/source test/support/redis-race-worker.ts
 * with REDIS_URL, LINEAGE_PREFIX, WORKER and ROUNDS in the environment.
 */
import { createInterface } from "node:readline"
import { Effect, ManagedRuntime } from "effect"
import { Transform } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

const worker = Number(env("WORKER"))
const rounds = Number(env("ROUNDS"))
const runtime = ManagedRuntime.make(RedisStore.layer({ url: env("REDIS_URL"), prefix: env("LINEAGE_PREFIX") }))

const main = async () => {
  // Connecting and declaring happen before the start signal: the race is over the writes alone.
  await runtime.runPromise(Effect.void)
  process.stdout.write("ready\n")
  const lines = createInterface({ input: process.stdin })
  await new Promise<void>((resolve) => lines.once("line", () => resolve()))
  lines.close()
  const result = { worker, shared: [] as Array<string>, created: [] as Array<string> }
  for (let round = 0; round < rounds; round++) {
    const [shared, created] = await runtime.runPromise(
      Effect.all(
        [
          Transform.getOrCreate({ key: `shared-${round}`, version: "1" }),
          Transform.create({ key: `revised-${round}`, version: `w${worker}` })
        ],
        { concurrency: 2 }
      )
    )
    result.shared.push(shared.uid)
    result.created.push(created.uid)
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
  await runtime.dispose()
}

main().catch((e: unknown) => {
  process.stderr.write(`worker ${worker} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
  process.exit(1)
})
