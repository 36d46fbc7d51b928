/**
 * A record cannot make `load` read a file it should not, and tampered bytes never come back. Per store,
 * fast-check builds hostile strings from path syntax (`/`, `..`, `\`, NUL, newlines, `%2e%2e`, `file://`,
 * credentials, queries, drive letters) and aims each at an artifact's suffix, key and storage through
 * `Artifact.update`, and at its suffix, storage and uid straight through the driver (as another client of a
 * shared store could), and most cases also rewrite the stored bytes (another file's, truncated, extended, one
 * byte changed). Secrets sit next to the storage root, where
 * `..` leads. Every load must return the artifact's own bytes or fail with a typed error: "lost" counts loads
 * that returned anything else. 300 cases per store (LINEAGE_ARTIFACT_PATH_RUNS to change).
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import fc from "fast-check"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Artifact, Artifacts, type Records, type Driver, Store } from "@lineage/core"
import * as MemoryStore from "@lineage/store-memory"
import * as PostgresStore from "@lineage/store-postgres"
import * as SqliteStore from "@lineage/store-sqlite"
import { closeAll, freshDriver as mongoDriver } from "../support/mongo.js"
import { freshDriver as redisDriver } from "../support/redis.js"
import { record, since } from "./support/figures.js"
import { postgres, sqlite, type Target } from "./support/stores.js"
import { isTyped } from "./support/typed.js"

const runs = Number(process.env["LINEAGE_ARTIFACT_PATH_RUNS"] ?? 300)

const secret = "SECRET BYTES NOT YOURS"
const own = "the artifact's own bytes"

/** The SQL stores' namespaces, removed after the file's tests. */
const disposers: Array<() => Promise<void>> = []
const sqlDriver = (target: Target, fromUrl: (url: string) => Effect.Effect<Driver.Driver, unknown>) => async () => {
  const opened = await target.open("artifact_paths")
  disposers.push(opened.dispose)
  return Effect.runPromise(fromUrl(opened.url))
}

const targets: ReadonlyArray<{ readonly name: string; readonly open: () => Promise<Driver.Driver> }> = [
  { name: "memory", open: async () => MemoryStore.makeDriver() },
  { name: "redis", open: () => redisDriver("artifact-paths") },
  ...(process.env["LINEAGE_RELIABILITY_MONGODB"] === "0" ? [] : [{ name: "mongodb", open: () => mongoDriver("artifact_paths") }]),
  { name: "sqlite", open: sqlDriver(sqlite, SqliteStore.fromUrl) },
  { name: "postgres", open: sqlDriver(postgres, PostgresStore.fromUrl) }
]

afterAll(async () => {
  await closeAll()
  for (const dispose of disposers) await dispose()
})

describe.each(targets)("$name: hostile artifact paths and tampered bytes", (target) => {
  it(`${runs} hostile suffixes, keys, storages and uids; no load returns another file's bytes`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "lineage-artifact-paths-"))
    const root = join(dir, "storage")
    writeFileSync(join(dir, "secret.txt"), secret)
    writeFileSync(join(dir, "secret"), secret)
    const driver = await target.open()
    const store = await Effect.runPromise(Store.make(driver))
    const run = <A, E>(effect: Effect.Effect<A, E, Store.Store>) =>
      Effect.runPromiseExit(effect.pipe(Effect.provideService(Store.Store, store), Effect.provideService(Artifacts.ArtifactStorage, root)))
    const start = performance.now()
    const tally = { loads: 0, returned: 0, refusedWrites: 0, refusedLoads: {} as Record<string, number>, lost: 0 }
    try {
      const created = await run(Artifacts.fromBytes(own, { suffix: ".txt", run: null }))
      if (created._tag === "Failure") throw new Error(String(created.cause))
      const original = created.value
      const file = join(root, `${original.uid}.txt`)
      const pristine: Driver.Doc = {
        uid: original.uid,
        suffix: ".txt",
        key: null,
        latestKey: null,
        familyKey: null,
        storage: original.storage,
        hash: original.hash,
        size: original.size
      }
      // A symlink in the root that leads out: a suffix may try to name it.
      symlinkSync(join(dir, "secret.txt"), join(root, `${original.uid}.lnk`))

      /** Loads `artifact`: its own bytes or a typed error pass; anything else is lost. */
      const check = async (artifact: Records.Artifact) => {
        tally.loads++
        const exit = await run(Artifacts.load(artifact, { isRunInput: false }))
        if (exit._tag === "Success") {
          const text = new TextDecoder().decode(exit.value)
          if (text === own) tally.returned++
          else tally.lost++
          expect(text).toBe(own)
          return
        }
        const error = exit.cause.reasons.find((r) => r._tag === "Fail")
        expect(error !== undefined && isTyped(error.error), `a typed failure, got ${String(exit.cause)}`).toBe(true)
        const tag = (error as { readonly error: { readonly reason?: string; readonly _tag: string } }).error
        const name = tag.reason ?? tag._tag
        tally.refusedLoads[name] = (tally.refusedLoads[name] ?? 0) + 1
      }
      const reset = async () => {
        await Effect.runPromise(driver.update("artifact", original.id, pristine))
        writeFileSync(file, own)
      }

      const token = fc.constantFrom(
        "/", "..", ".", "\\", "\0", "\n", "%2e%2e", "%2f", "~", "etc", "secret", "secret.txt", ".txt", ".lnk", "C:",
        "file://", "file:///", "s3://", "user:pw@", "?sig=x", "#", "csv", "a", original.uid, dir
      )
      const aimed = fc.constantFrom(
        "/../secret.txt", "/../../secret.txt", "/../../../etc/hostname", ".lnk", "/.", "\\..\\secret.txt",
        pathToFileURL(dir).href, pathToFileURL(join(dir, "storage", "..")).href, `${pathToFileURL(root).href}/..`,
        "../secret", "../../secret", `${original.uid.slice(0, 19)}/`
      )
      const hostile = fc.oneof(aimed, fc.array(token, { maxLength: 8 }).map((parts) => parts.join("")))
      const tamper = fc.option(
        fc.oneof(
          fc.constant(secret),
          fc.constant(own.slice(0, -1)),
          fc.constant(`${own}!`),
          fc.integer({ min: 0, max: own.length - 1 }).map((i) => `${own.slice(0, i)}${own[i] === "x" ? "y" : "x"}${own.slice(i + 1)}`)
        )
      )

      await fc.assert(
        fc.asyncProperty(hostile, fc.constantFrom("suffix", "key", "storage"), fc.constantFrom("suffix", "storage", "uid", "none"), tamper, async (value, viaRegistry, viaDriver, bytes) => {
          await reset()
          const reloaded = async () => {
            const got = await run(Artifact.get(original.id))
            if (got._tag === "Failure") throw new Error(String(got.cause))
            return got.value
          }
          // Through the registry: refused with a ValidationError, or accepted and then harmless.
          const updated = await run(Artifact.update(await reloaded(), { [viaRegistry]: value }))
          if (updated._tag === "Failure") tally.refusedWrites++
          await check(updated._tag === "Success" ? updated.value : await reloaded())
          await reset()
          // Straight through the driver, past every check of core's.
          if (viaDriver !== "none") await Effect.runPromise(driver.update("artifact", original.id, { [viaDriver]: value }))
          if (bytes !== null) writeFileSync(file, bytes)
          await check(await reloaded())
        }),
        { numRuns: runs, seed: 11 }
      )
      await reset()
      expect(new TextDecoder().decode(await Effect.runPromise(Effect.orDie(Artifacts.load(original, { isRunInput: false }).pipe(Effect.provideService(Store.Store, store), Effect.provideService(Artifacts.ArtifactStorage, root)))))).toBe(own)
      expect(readFileSync(join(dir, "secret.txt"), "utf8")).toBe(secret)
    } finally {
      record({
        target: "artifacts: hostile paths and tampered bytes",
        store: target.name,
        processes: 1,
        operations: tally.loads,
        faults: 0,
        inputs: runs,
        lost: tally.lost,
        seconds: since(start),
        note: `${tally.returned} own bytes returned; ${tally.refusedWrites} updates refused; loads refused: ${JSON.stringify(tally.refusedLoads)}`
      })
      await Effect.runPromise(driver.close())
      rmSync(dir, { recursive: true, force: true })
    }
    expect(tally.lost).toBe(0)
    // A few seconds per store on a quiet machine; the whole suite's load can make it many times that.
  }, 120_000)
})
