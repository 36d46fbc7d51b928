/**
 * Faults against a real Redis: connections killed (CLIENT KILL) in the middle of a stream of writes, and
 * separate OS processes racing on get-or-create and on Transform revisions. After each, `verifyIndexes`
 * must find no drift, and no acknowledged write may be missing.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Ast, Evaluator } from "@lineage/core"
import type { Driver } from "@lineage/core"
import { adminClient, freshDriver, redisServer, run } from "./support/redis.js"

type Doc = Evaluator.Doc

const thing: Driver.TableSpec = {
  name: "thing",
  unique: [{ name: "thing_uid", fields: ["uid"] }, { name: "thing_key_version", fields: ["key", "version"] }],
  indexes: [{ path: ["key"], kind: "hash" }, { path: ["n"], kind: "sorted" }]
}

/** What one document's chain of writes left: the last acknowledged state, and an unacknowledged attempt. */
interface Chain {
  readonly id: number
  acked: Doc | undefined
  attempted?: { readonly state: Doc | undefined } | undefined
}

describe("redis faults", () => {
  it("connections killed during a stream of writes: no drift, no acknowledged write lost", async () => {
    const name = `lineage-fault-${process.pid}-${Date.now()}`
    const driver = await freshDriver("kill", { connectionName: name })
    const { client: admin, close: closeAdmin } = await adminClient()
    try {
      await run(driver.declare([thing]))
      const docs = 150
      const first = await run(driver.reserveIds("thing", docs))
      let kills = 0
      let writing = true
      // Kills this driver's connection again and again while the writes run; ioredis reconnects each time.
      const killer = (async () => {
        while (writing) {
          const list = String(await admin.call("CLIENT", "LIST"))
          for (const line of list.split("\n")) {
            if (!line.includes(` name=${name} `)) continue
            const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1]
            if (id !== undefined) kills += Number(await admin.call("CLIENT", "KILL", "ID", id))
          }
          await new Promise((r) => setTimeout(r, 25))
        }
      })()

      const chains: Array<Chain> = Array.from({ length: docs }, (_, i) => ({ id: first + i, acked: undefined }))
      const step = async (chain: Chain, state: Doc | undefined, write: Effect.Effect<unknown, unknown>): Promise<boolean> => {
        const exit = await Effect.runPromiseExit(write)
        if (exit._tag === "Success") {
          chain.acked = state
          return true
        }
        chain.attempted = { state }
        return false
      }
      const writeChain = async (chain: Chain, i: number) => {
        const doc: Doc = { id: chain.id, uid: `u${i}`, key: `k${i % 7}`, version: String(i), n: 0 }
        if (!(await step(chain, doc, driver.insert("thing", [doc])))) return
        const one = { ...doc, n: 1 }
        if (!(await step(chain, one, driver.update("thing", chain.id, { n: 1 }, { n: 0 })))) return
        const two = { ...one, n: 2, note: "x".repeat(i * 40) }
        if (!(await step(chain, two, driver.update("thing", chain.id, { n: 2, note: two["note"]! })))) return
        if (i % 3 === 0) await step(chain, undefined, driver.remove("thing", [chain.id]))
      }
      // Eight writers at a time, each walking its documents' chains.
      let next = 0
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < docs) {
            const i = next++
            await writeChain(chains[i]!, i)
          }
        })
      )
      writing = false
      await killer

      console.info(`[redis faults] ${kills} connections killed; ${driver.stats().replayedWrites} re-sent writes found already applied; ${chains.filter((c) => c.attempted !== undefined).length} chains ended by a failed write`)
      expect(kills).toBeGreaterThanOrEqual(3)
      const report = await run(driver.verifyIndexes())
      expect(report.drift).toEqual([])
      const stored = new Map((await run(driver.find("thing", { where: Ast.always, orderBy: [] }))).map((d) => [d["id"] as number, d]))
      let exact = 0
      for (const chain of chains) {
        const got = stored.get(chain.id)
        if (chain.attempted === undefined) {
          // Every write of this chain was acknowledged: the store holds exactly its last state.
          expect(got).toEqual(chain.acked)
          exact++
        } else {
          // The last write failed (Redis unreachable too long): either it applied or it did not, never half.
          expect([chain.acked, chain.attempted.state]).toContainEqual(got)
        }
      }
      // Connection loss is retried: nearly every chain completes despite the kills.
      expect(exact).toBeGreaterThan(docs * 0.9)
    } finally {
      await closeAdmin()
      await run(driver.close())
    }
  }, 40_000)

  it("several processes race on Transform.getOrCreate and on revisions of one key", async () => {
    const server = await redisServer()
    const driver = await freshDriver("race")
    const workers = 4
    const rounds = 3
    const script = fileURLToPath(new URL("./support/redis-race-worker.ts", import.meta.url))
    try {
      const children = Array.from({ length: workers }, (_, worker) =>
        spawn(process.execPath, ["--import", "tsx", "--conditions=@lineage/source", script], {
          cwd: fileURLToPath(new URL("..", import.meta.url)),
          env: { ...process.env, REDIS_URL: server.url, LINEAGE_PREFIX: driver.prefix, WORKER: String(worker), ROUNDS: String(rounds) },
          stdio: ["pipe", "pipe", "pipe"]
        })
      )
      const outputs = children.map((child) => {
        const lines = createInterface({ input: child.stdout! })
        let stderr = ""
        child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
        const ready = new Promise<void>((resolve, reject) => {
          lines.once("line", (line) => (line === "ready" ? resolve() : reject(new Error(`unexpected: ${line}`))))
          child.once("exit", (code) => reject(new Error(`worker exited (${code}) before ready: ${stderr}`)))
        })
        const result = new Promise<{ readonly shared: ReadonlyArray<string>; readonly created: ReadonlyArray<string> }>((resolve, reject) => {
          let last = ""
          lines.on("line", (line) => (last = line))
          child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(last)) : reject(new Error(`worker exited ${code}: ${stderr}`))))
        })
        return { ready, result }
      })
      await Promise.all(outputs.map((o) => o.ready))
      for (const child of children) child.stdin!.write("go\n")
      const results = await Promise.all(outputs.map((o) => o.result))

      const transforms = await run(driver.find("transform", { where: Ast.always, orderBy: [] }))
      for (let round = 0; round < rounds; round++) {
        // get-or-create: one record, and every process got that one.
        const shared = transforms.filter((t) => t["key"] === `shared-${round}`)
        expect(shared).toHaveLength(1)
        expect(new Set(results.map((r) => r.shared[round]))).toEqual(new Set([shared[0]!["uid"]]))
        // Revisions: one record per (key, version), exactly one latest, one family stem.
        const revised = transforms.filter((t) => t["key"] === `revised-${round}`)
        expect(revised.map((t) => t["versionTag"]).sort()).toEqual(Array.from({ length: workers }, (_, w) => `w${w}`))
        expect(revised.filter((t) => t["isLatest"] === true)).toHaveLength(1)
        expect(new Set(revised.map((t) => String(t["uid"]).slice(0, 12))).size).toBe(1)
        expect(new Set(results.map((r) => r.created[round])).size).toBe(workers)
      }
      expect((await run(driver.verifyIndexes())).drift).toEqual([])
    } finally {
      await run(driver.close())
    }
  }, 60_000)
})
