/**
 * The same bytes registered again, as lamindb does it: an artifact without a key takes the key (its bytes live
 * under its uid, so a key only names them), checked as any key is; one with another key keeps it, and the
 * caller is warned. A key that another artifact family holds is refused with a `UniqueViolation` on `key` that
 * says why. A description given is applied (lamindb's `update_attributes`), a kind or suffix that differs is
 * kept with a warning, and an option no registration reads is refused before anything is written.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Logger } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as Artifacts from "../src/Artifacts.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import type { Driver } from "../src/Driver.js"
import { type StoreError, UniqueViolation, ValidationError } from "../src/Errors.js"
import { Artifact } from "../src/Registry.js"
import { make as makeStore, Store, type StoreShape } from "../src/Store.js"

let dir: string
let store: StoreShape
let warnings: Array<string>

const exec = <A, E>(effect: Effect.Effect<A, E, Store>): Promise<A> =>
  Effect.runPromise(
    effect.pipe(
      Effect.provideService(Store, store),
      Effect.provideService(ArtifactStorage, join(dir, "storage")),
      Effect.provide(
        Logger.layer([
          Logger.make(({ message }) => {
            warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
          })
        ])
      )
    )
  )

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "lineage-artifact-keys-"))
  store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
  warnings = []
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe("the same bytes registered again with a key", () => {
  it("give the key to the artifact that had none", async () => {
    const first = await exec(Artifacts.fromBytes("a,b\n1,2\n", { suffix: ".csv" }))
    expect(first.key).toBeNull()
    const again = await exec(Artifacts.fromBytes("a,b\n1,2\n", { key: "data/table.csv" }))
    expect(again.uid).toBe(first.uid)
    expect(again.key).toBe("data/table.csv")
    expect((await exec(Artifact.get({ key: "data/table.csv" }))).uid).toBe(first.uid)
    expect(warnings).toEqual([])
  })

  it("give the key from a path too", async () => {
    const path = join(dir, "table.csv")
    writeFileSync(path, "x\n1\n")
    const first = await exec(Artifacts.fromPath(path))
    const again = await exec(Artifacts.fromPath(path, { key: "tables/x.csv" }))
    expect([again.uid, again.key]).toEqual([first.uid, "tables/x.csv"])
  })

  it("leave another key in place, with a warning naming both", async () => {
    const first = await exec(Artifacts.fromBytes("same", { key: "one.txt" }))
    const again = await exec(Artifacts.fromBytes("same", { key: "two.txt" }))
    expect([again.uid, again.key]).toEqual([first.uid, "one.txt"])
    expect(warnings.some((w) => w.includes('"one.txt"') && w.includes('"two.txt"'))).toBe(true)
  })

  it("refuse a key whose suffix is not the artifact's", async () => {
    const first = await exec(Artifacts.fromBytes("plain", { suffix: ".txt" }))
    const e = await exec(Effect.flip(Artifacts.fromBytes("plain", { key: "plain.csv" })))
    expect(e).toBeInstanceOf(ValidationError)
    expect((await exec(Artifact.get(first.uid))).key).toBeNull()
  })

  it("refuse a key another artifact family holds, saying so", async () => {
    await exec(Artifacts.fromBytes("version one", { key: "model.txt" }))
    const keyless = await exec(Artifacts.fromBytes("other bytes", { suffix: ".txt" }))
    const e = await exec(Effect.flip(Artifacts.fromBytes("other bytes", { key: "model.txt" })))
    expect(e).toBeInstanceOf(UniqueViolation)
    expect((e as UniqueViolation).fields).toEqual(["key"])
    expect((e as UniqueViolation).message).toContain(keyless.uid)
    expect((await exec(Artifact.get(keyless.uid))).key).toBeNull()
  })

  it("name the artifact once when two registrations race to name it: the compare-and-set decides", async () => {
    const { driver, updates } = latched(MemoryStore.makeDriver())
    store = await Effect.runPromise(makeStore(driver))
    await exec(Artifacts.fromBytes("raced", { suffix: ".txt" }))
    const named = await Promise.all([
      exec(Artifacts.fromBytes("raced", { key: "a.txt" })),
      exec(Artifacts.fromBytes("raced", { key: "b.txt" }))
    ])
    // Both read the key as null and asked to set it on that condition; the first, held until the second was
    // applied, found the condition broken, and the registration behind it read the artifact again.
    expect(updates.map((u) => [u.expected, u.outcome])).toEqual([
      [null, "Conflict"],
      [null, "applied"]
    ])
    const winner = updates[1]!.key
    expect(named.map((a) => [a.uid, a.key])).toEqual([
      [named[0].uid, winner],
      [named[0].uid, winner]
    ])
    expect((await exec(Artifact.get(named[0].uid))).key).toBe(winner)
    expect(warnings).toHaveLength(1)
  })
})

interface KeyUpdate {
  readonly key: unknown
  readonly expected: unknown
  outcome?: string
}

/**
 * `inner`, with its updates that set an artifact's key recorded, and the first of them held until a second one
 * has been applied: two registrations racing to name one artifact, the second overtaking the first.
 */
const latched = (inner: Driver): { readonly driver: Driver; readonly updates: Array<KeyUpdate> } => {
  const updates: Array<KeyUpdate> = []
  let release = () => {}
  const released = new Promise<void>((resolve) => (release = resolve))
  const update: Driver["update"] = (table, id, patch, expected) => {
    if (table !== "artifact" || !("key" in patch)) return inner.update(table, id, patch, expected)
    const entry: KeyUpdate = { key: patch["key"], expected: expected?.["key"] }
    updates.push(entry)
    const first = updates.length === 1
    return Effect.promise(() => (first ? released : Promise.resolve())).pipe(
      Effect.andThen(inner.update(table, id, patch, expected)),
      Effect.tap(() => Effect.sync(() => (entry.outcome = "applied"))),
      Effect.tapError((e: StoreError) => Effect.sync(() => (entry.outcome = e.reason._tag))),
      Effect.ensuring(Effect.sync(() => (first ? undefined : release())))
    )
  }
  return { driver: { ...inner, update }, updates }
}

describe("the same bytes registered again with other options", () => {
  it("take a description, as lamindb applies it, with a warning when it replaces one", async () => {
    const first = await exec(Artifacts.fromBytes("described", { suffix: ".txt" }))
    const described = await exec(Artifacts.fromBytes("described", { description: "raw counts" }))
    expect([described.uid, described.description]).toEqual([first.uid, "raw counts"])
    expect(warnings).toEqual([])
    const redescribed = await exec(Artifacts.fromBytes("described", { key: "counts.txt", description: "filtered counts" }))
    expect([redescribed.key, redescribed.description]).toEqual(["counts.txt", "filtered counts"])
    expect((await exec(Artifact.get(first.uid))).description).toBe("filtered counts")
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('updated its description from "raw counts" to "filtered counts"')
  })

  it("keep the artifact's kind and suffix, with a warning naming both", async () => {
    const first = await exec(Artifacts.fromBytes("kept", { suffix: ".txt", kind: "dataset" }))
    const again = await exec(Artifacts.fromBytes("kept", { suffix: ".csv", kind: "model" }))
    expect([again.uid, again.kind, again.suffix]).toEqual([first.uid, "dataset", ".txt"])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('the kind "dataset", not "model"')
    expect(warnings[0]).toContain('the suffix ".txt", not ".csv"')
  })

  it("refuse an option no registration reads, before anything is written", async () => {
    const first = await exec(Artifacts.fromBytes("c", { suffix: ".txt" }))
    const e = await exec(Effect.flip(Artifacts.fromBytes("c", { key: "n.txt", version: "7" } as never)))
    expect(e).toBeInstanceOf(ValidationError)
    expect((e as ValidationError).field).toBe("version")
    expect((e as ValidationError).message).toContain("one of the options key, description, kind, run, suffix")
    expect((await exec(Artifact.get(first.uid))).key).toBeNull()
    const path = join(dir, "c.txt")
    writeFileSync(path, "c")
    const byPath = await exec(Effect.flip(Artifacts.fromPath(path, { suffix: ".csv" } as never)))
    expect((byPath as ValidationError).field).toBe("suffix")
  })
})
