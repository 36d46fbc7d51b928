/**
 * The storage-format marker: `Store.make` marks a fresh namespace with the format it writes, opens a namespace
 * so marked, and refuses, writing nothing, one in another format: records without a marker (written before
 * markers existed) or a marker of another format. Two first opens racing to mark a namespace both succeed.
 */
import assert from "node:assert/strict"
import { type Driver, Records, Store, StorageFormat, Transform } from "@lineage/core"
import { Effect } from "effect"
import type { Case, CaseContext } from "../../Case.js"
import { failsWith, findAll, persisted, run, seedOne } from "../../Fixtures.js"
import { newTransform, open } from "./support.js"

const group = "storageFormat"

/** Every table core declares: the marker's and the registries'. */
const tables = [StorageFormat.table, ...Object.values(Records.models).map((m) => m.table)]

/** What the store persisted in `table`, read without a `Store` (through the backdoor when there is one). */
const stored = (ctx: CaseContext, table: string) =>
  ctx.backdoor === undefined ? findAll(ctx, table) : persisted(ctx.backdoor, table)

const snapshot = (ctx: CaseContext) => Promise.all(tables.map((t) => stored(ctx, t)))

/** The formats of the stored markers. */
const markers = async (ctx: CaseContext) => (await stored(ctx, StorageFormat.table)).map((m) => m["format"])

/** A second handle onto the case's store where the store has them, else the case's own driver. */
const another = (ctx: CaseContext): Promise<Driver.Driver> =>
  ctx.reopen === undefined ? Promise.resolve(ctx.driver) : ctx.reopen()

/**
 * Part of a Transform as lineage stored one before the marker existed: `version` where the current format has
 * `versionTag`, and no live copies of unique fields.
 */
const legacyTransform = {
  uid: "Lgcy0000000000000000",
  key: "pipeline.py",
  version: "1",
  isLatest: true,
  branchId: 1,
  createdAt: "2024-01-01T00:00:00.000Z",
  updatedAt: "2024-01-01T00:00:00.000Z"
}

/** Opening `driver` fails with `Invalid`, naming the store, the format found, the one this version reads and a way out. */
const refused = async (driver: Driver.Driver, found: string): Promise<void> => {
  const { message } = await failsWith(() => Store.make(driver), "Invalid")
  assert.ok(message.includes(`the ${driver.name} store`), message)
  // A store exposing its database or prefix is named by them.
  const named = driver as { readonly database?: unknown; readonly prefix?: unknown }
  for (const [name, value] of Object.entries({ database: named.database, prefix: named.prefix }))
    if (typeof value === "string" && value !== "") assert.ok(message.includes(`${name} ${JSON.stringify(value)}`), message)
  assert.ok(message.includes(`format ${found}`), message)
  assert.ok(message.includes(`reads format ${StorageFormat.current} only`), message)
  assert.ok(message.includes("open it with the lineage version that wrote it, or use a new namespace/database"), message)
  assert.ok(message.includes("no migration exists yet"), message)
}

/** Sets the stored marker's format behind the store's back. */
const remark = async (ctx: CaseContext, format: unknown): Promise<void> => {
  const [marker] = await findAll(ctx, StorageFormat.table)
  assert.ok(marker !== undefined, "the store was marked when it was opened")
  await run(ctx.driver.update(StorageFormat.table, marker["id"] as number, { format: format as Driver.Json }))
}

/** Held by the first `parties` callers of `pass` until all of them called it (or a second passed). */
const gate = (parties: number): { readonly pass: Effect.Effect<void> } => {
  let arrived = 0
  let release!: () => void
  const opened = new Promise<void>((r) => (release = r))
  return {
    pass: Effect.promise(() => {
      if (++arrived >= parties) release()
      return Promise.race([opened, new Promise<void>((r) => setTimeout(r, 1_000))])
    })
  }
}

/** `driver` whose inserts into the marker table pass `through` first. */
const gated = (driver: Driver.Driver, through: { readonly pass: Effect.Effect<void> }): Driver.Driver => ({
  ...driver,
  insert: (table, docs) =>
    table === StorageFormat.table ? Effect.andThen(through.pass, driver.insert(table, docs)) : driver.insert(table, docs)
})

export const storageFormat: ReadonlyArray<Case> = [
  {
    group,
    name: "a fresh store is marked with the current format",
    run: async (ctx) => {
      await open(ctx)
      assert.deepStrictEqual(await markers(ctx), [StorageFormat.current])
    }
  },
  {
    group,
    name: "a marked store opens again, keeping its records and one marker",
    run: async (ctx) => {
      const s = await open(ctx)
      const t = await newTransform(s)
      const again = await open(ctx, await another(ctx))
      assert.deepStrictEqual(await again.run(Transform.get(t.id)), t)
      assert.deepStrictEqual(await markers(ctx), [StorageFormat.current])
    }
  },
  {
    group,
    name: "records without a marker are format 1: refused, and the store is left as it was",
    run: async (ctx) => {
      await run(ctx.driver.declare([{ name: "transform", unique: [], indexes: [] }]))
      const legacy = await seedOne(ctx, "transform", legacyTransform)
      await refused(ctx.driver, String(StorageFormat.unmarked))
      // Refused again: the first refusal marked nothing.
      await refused(await another(ctx), String(StorageFormat.unmarked))
      assert.deepStrictEqual(await stored(ctx, "transform"), [legacy])
      assert.deepStrictEqual(await stored(ctx, StorageFormat.table), [])
    }
  },
  {
    group,
    name: "a marker of another format is refused, and the store is left as it was",
    run: async (ctx) => {
      const s = await open(ctx)
      await newTransform(s)
      for (const [format, shown] of [[3, "3"], ["2", "\"2\""], [null, "null"]] as const) {
        await remark(ctx, format)
        const before = await snapshot(ctx)
        await refused(ctx.driver, shown)
        assert.deepStrictEqual(await snapshot(ctx), before)
      }
    }
  },
  {
    group,
    name: "two first opens at once both succeed, with one marker",
    run: async (ctx) => {
      // Both read "no marker" before either writes one: one write wins, the other open reads it.
      const both = gate(2)
      const [a, b] = await Promise.all([open(ctx, gated(ctx.driver, both)), open(ctx, gated(await another(ctx), both))])
      assert.deepStrictEqual(await markers(ctx), [StorageFormat.current])
      const t = await newTransform(a)
      assert.deepStrictEqual(await b.run(Transform.get(t.id)), t)
    }
  }
]
