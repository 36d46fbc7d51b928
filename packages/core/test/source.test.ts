import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import { Transform } from "../src/Registry.js"
import { Store, make as makeStore } from "../src/Store.js"
import * as Tracking from "../src/Tracking.js"

const storage = mkdtempSync(join(tmpdir(), "lineage-source-test-"))
afterAll(() => rmSync(storage, { recursive: true, force: true }))
afterEach(() => {
  delete process.env[Tracking.storeSourceVariable]
})

const script = (source: string) => {
  const path = join(mkdtempSync(join(storage, "script-")), "job.ts")
  writeFileSync(path, source)
  return path
}

/** Tracks `path` (and calls one step in the run), then returns the transforms written. */
const trackScript = (path: string, options: Partial<Tracking.TrackOptions> = {}) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const run = yield* Tracking.track({ path, handleProcess: false, heartbeatMs: 60_000, ...options })
      const step = Tracking.step(() => Effect.succeed(1), { key: "inner" })
      yield* step()
      yield* Tracking.finish()
      return { script: yield* Transform.get(run.transformId), step: (yield* Transform.filter({ key: "job.ts/inner" }).first())! }
    }).pipe(Effect.provideServiceEffect(Store, makeStore(MemoryStore.makeDriver())), Effect.provideService(ArtifactStorage, storage))
  )

describe("source code", () => {
  it("is hashed as stored (redacted): changing only the secret in it reuses the transform", async () => {
    const path = script(`const password = "first-Secret1"\nconsole.log(1)\n`)
    const first = await trackScript(path)
    writeFileSync(path, `const password = "second-Secret2"\nconsole.log(1)\n`)
    const second = await trackScript(path)
    expect(first.script.sourceCode).toBe(`const password = "***REDACTED***"\nconsole.log(1)\n`)
    expect(first.script.hash).toBe(Tracking.hashSource(first.script.sourceCode!))
    expect(second.script.hash).toBe(first.script.hash)
  })

  it("LINEAGE_STORE_SOURCE=0 stores the hash, not the source, of the script and of its steps", async () => {
    process.env[Tracking.storeSourceVariable] = "0"
    const { script: t, step } = await trackScript(script("console.log('env')\n"))
    expect(t.sourceCode).toBeNull()
    expect(t.hash).toBe(Tracking.hashSource("console.log('env')\n"))
    expect(step.sourceCode).toBeNull()
    expect(step.hash).not.toBeNull()
  })

  it("storeSource: false on track() withholds the steps' source too; true overrides the variable", async () => {
    const withheld = await trackScript(script("console.log('option')\n"), { storeSource: false })
    expect(withheld.script.sourceCode).toBeNull()
    expect(withheld.step.sourceCode).toBeNull()
    process.env[Tracking.storeSourceVariable] = "0"
    const kept = await trackScript(script("console.log('kept')\n"), { storeSource: true })
    expect(kept.script.sourceCode).toBe("console.log('kept')\n")
  })

  it("an unreadable LINEAGE_STORE_SOURCE is a ValidationError naming the variable, not a silent default", async () => {
    process.env[Tracking.storeSourceVariable] = "off-ish"
    const error = await trackScript(script("console.log('bad')\n")).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(String(error)).toContain("ValidationError")
    expect(String(error)).toContain("LINEAGE_STORE_SOURCE")
    expect(String(error)).toContain("off-ish")
  })

  it.each(["constructor", "__proto__", "toString"])("LINEAGE_STORE_SOURCE=%s is refused like any unreadable value", async (raw) => {
    process.env[Tracking.storeSourceVariable] = raw
    const error = await trackScript(script("console.log('proto')\n")).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(String(error)).toContain("ValidationError")
    expect(String(error)).toContain(raw.toLowerCase())
  })
})
