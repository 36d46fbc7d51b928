/**
 * The expanded-size limits (`Limits.maxValues`, `Limits.maxQueryValues`) bound the work of every path a value
 * takes in: an array of a huge length and no elements, a large array met at many depths, one shared array
 * repeated in an `in` list, one object shared by many filter arguments or by many features. Arrays that count
 * the slots they are read at (and refuse to be read past a bound) show what each check walks. Error messages
 * show values as `JSON.stringify` would, bounded, and never throw.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Logger } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import * as Ast from "../src/Ast.js"
import { RunModel } from "../src/Records.js"
import { InvalidQuery, ValidationError } from "../src/Errors.js"
import * as Features from "../src/Features.js"
import * as Limits from "../src/Limits.js"
import { normalize } from "../src/Query.js"
import { Feature, Run, Transform } from "../src/Registry.js"
import { Store, make as makeStore } from "../src/Store.js"
import { isWellFormed } from "../src/Text.js"
import * as Tracking from "../src/Tracking.js"

const storage = mkdtempSync(join(tmpdir(), "lineage-expanded-size-paths-"))
afterAll(() => rmSync(storage, { recursive: true, force: true }))

const inStore = <A, E>(effect: Effect.Effect<A, E, Store>) =>
  effect.pipe(Effect.provideServiceEffect(Store, makeStore(MemoryStore.makeDriver())), Effect.provideService(ArtifactStorage, storage))

/** `target`, counting the elements read from it in `reads.n`, and throwing past `bound` of them. */
const counted = <T extends object>(target: T, reads: { n: number }, bound = 2_000_000): T =>
  new Proxy(target, {
    get(t, key, receiver) {
      if (typeof key === "string" && /^\d+$/.test(key) && ++reads.n > bound) throw new Error(`read more than ${bound} elements`)
      return Reflect.get(t, key, receiver)
    }
  })

const dag = (levels: number): Ast.Json => {
  let x: Ast.Json = 1
  for (let i = 0; i < levels; i++) x = { l: x, r: x }
  return x
}

describe("what the expanded-size checks walk", () => {
  it("an array of 2^32 - 1 holes is too large without a slot being read", () => {
    const reads = { n: 0 }
    expect(Limits.nesting(counted(new Array(2 ** 32 - 1), reads))).toBe("tooLarge")
    expect(reads.n).toBe(0)
    // As a JSON query operand too: the copier's check refuses it unwalked.
    const e = normalize(RunModel, [{ params__v: counted(new Array(2 ** 32 - 1), reads) }])
    expect(e).toBeInstanceOf(InvalidQuery)
    expect((e as InvalidQuery).expected).toContain("1,000,000 values")
    expect(reads.n).toBe(0)
  })

  it("a large array met at sixty depths is read about once, not once per depth", () => {
    const reads = { n: 0 }
    const big = counted(Array.from({ length: 900_000 }, () => 0), reads)
    let x: unknown = { big }
    for (let i = 0; i < 60; i++) x = { big, next: x }
    expect(Limits.nesting(x)).toBe("tooLarge")
    expect(reads.n).toBeLessThanOrEqual(Limits.maxValues)
  })

  it("an in list repeating one shared array of a million slots is refused before any element is copied", () => {
    const reads = { n: 0 }
    const holes = counted(new Array(999_999), reads)
    const e = normalize(RunModel, [{ params__v__in: Array.from({ length: 100_000 }, () => holes) }])
    expect(e).toBeInstanceOf(InvalidQuery)
    expect((e as InvalidQuery).field).toBe("(query)")
    expect((e as InvalidQuery).expected).toContain(`${Limits.maxQueryValues.toLocaleString("en-US")} values`)
    expect(reads.n).toBe(0)
  })

  it("filter arguments sharing one wide object walk it once, not once per argument", () => {
    const reads = { n: 0 }
    const wide = counted(Array.from({ length: 150_000 }, (_, i) => i), reads)
    const e = normalize(RunModel, Array.from({ length: 1_000 }, () => ({ params__v: wide })))
    expect(e).toBeInstanceOf(InvalidQuery)
    expect((e as InvalidQuery).expected).toContain(`${Limits.maxQueryValues.toLocaleString("en-US")} values`)
    expect(reads.n).toBeLessThanOrEqual(2 * 150_000)
  })

  it("a long in list still names its field and length", () => {
    const e = normalize(RunModel, [{ id__in: new Array(2 ** 32 - 1) }])
    expect((e as InvalidQuery).field).toBe("id")
    expect((e as InvalidQuery).expected).toContain(`got ${2 ** 32 - 1}`)
  })
})

describe("a record's feature values, together", () => {
  it("one value shared by several features counts once per feature: past the limit together, refused", async () => {
    const shared = dag(18) // 524,287 values
    const error = await Effect.runPromise(
      inStore(
        Effect.flip(
          Effect.gen(function* () {
            const transform = yield* Transform.create({ key: "shared.ts", version: "1", kind: "script" })
            return yield* Run.create({ transform, featureValues: { a: shared, b: shared, c: shared } })
          })
        )
      )
    )
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).field).toBe("featureValues")
    expect(String(error)).toContain("1,000,000 values")
    expect(String(error)).toContain("all features together")
  })

  it("a 150,000-element list feature value and a few others are stored", async () => {
    const values = await Effect.runPromise(
      inStore(
        Effect.gen(function* () {
          const transform = yield* Transform.create({ key: "list.ts", version: "1", kind: "script" })
          const run = yield* Run.create({ transform, params: Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i])) })
          yield* Feature.create({ name: "nums", dtype: "list[int]" })
          yield* Feature.create({ name: "config", dtype: "dict" })
          yield* Features.add(run, { nums: Array.from({ length: 150_000 }, (_, i) => i), config: { a: [1, 2, 3] } })
          return yield* Features.get(run)
        })
      )
    )
    expect((values["nums"] as ReadonlyArray<number>).length).toBe(150_000)
    expect(values["config"]).toEqual({ a: [1, 2, 3] })
  })
})

describe("feature values through features.add, sized before they are encoded", () => {
  const withRun = <A, E>(f: (run: import("../src/Records.js").Run) => Effect.Effect<A, E, Store>) =>
    Effect.runPromise(
      inStore(
        Effect.flip(
          Effect.gen(function* () {
            yield* Feature.create({ name: "ids", dtype: "list[int]" })
            yield* Feature.create({ name: "configs", dtype: "list[dict]" })
            const transform = yield* Transform.create({ key: "add.ts", version: "1", kind: "script" })
            return yield* f(yield* Run.create({ transform }))
          })
        )
      )
    )

  it("a list[int] of 2^32 - 1 holes is refused by its length, not walked", async () => {
    const reads = { n: 0 }
    const error = await withRun((run) => Features.add(run, { ids: counted(new Array(2 ** 32 - 1), reads) }))
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).field).toBe("ids")
    expect(String(error)).toContain("1,000,000 values")
  })

  it("a list[dict] of 100 references to one 524,287-value object is refused before it is copied", async () => {
    // Each level a counted pair of references to the level below: copying it whole reads 52 million slots.
    const reads = { n: 0 }
    let level: unknown = 1
    for (let i = 0; i < 18; i++) level = counted([level, level], reads)
    const shared = { level }
    const error = await withRun((run) => Features.add(run, { configs: Array.from({ length: 100 }, () => shared) }))
    expect(error).toBeInstanceOf(ValidationError)
    expect(String(error)).toContain("1,000,000 values")
  })

  it("appending to a list feature keeps the held items once and the new ones in order", async () => {
    const values = await Effect.runPromise(
      inStore(
        Effect.gen(function* () {
          yield* Feature.create({ name: "ids", dtype: "list[int]" })
          const transform = yield* Transform.create({ key: "append.ts", version: "1", kind: "script" })
          const run = yield* Run.create({ transform })
          yield* Features.add(run, { ids: Array.from({ length: 20_000 }, (_, i) => i) })
          yield* Features.add(run, { ids: Array.from({ length: 20_000 }, (_, i) => i + 10_000) })
          return yield* Features.get(run)
        })
      )
    )
    expect(values["ids"]).toEqual(Array.from({ length: 30_000 }, (_, i) => i))
  })
})

describe("what was asked, in DoesNotExist", () => {
  it("shows each filter as a value is shown, at most 200 characters of it", async () => {
    const error = await Effect.runPromise(inStore(Effect.flip(Run.filter({ name: "x".repeat(5_000_000) }).one())))
    expect(error._tag).toBe("DoesNotExist")
    expect(error.message.length).toBeLessThan(1_000)
    expect(error.message).toContain("xxxx")
  })
})

describe("the JSON copier", () => {
  it("keeps every array slot in place: a hole is a null, as params and JSON.stringify write it", () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(Ast.toJson([1, , 3])).toEqual({ json: [1, null, 3] })
    expect(Ast.toJson({ a: Object.assign(new Array(3), { 2: "x" }) })).toEqual({ json: { a: [null, null, "x"] } })
  })
})

describe("values in error messages", () => {
  const message = (value: unknown) => new ValidationError({ registry: "Run", field: "params", value, expected: "anything" }).message

  it("a date alone is its bare ISO text, as before", () => {
    expect(message(new Date(0))).toBe("Invalid Run.params: got 1970-01-01T00:00:00.000Z, expected anything")
    expect(message({ at: new Date(0) })).toContain(`got {"at":"1970-01-01T00:00:00.000Z"}`)
  })

  it("what JSON leaves out of an object is left out, and written as null in an array", () => {
    expect(message({ a: undefined, f: () => "function source", s: Symbol("s"), b: 1 })).toContain(`got {"b":1},`)
    expect(message([undefined, () => 1, 2])).toContain("got [null,null,2],")
  })

  it("toJSON is called once, as JSON.stringify calls it", () => {
    expect(message({ a: 1, toJSON() { return this } })).toContain(`got {"a":1},`)
    class Fresh {
      toJSON() {
        return new Fresh()
      }
    }
    expect(message(new Fresh())).toContain("got {},")
  })

  it("a value that throws as it is read gives a message, not an exception", () => {
    const value = {
      a: 1,
      get b(): number {
        throw new Error("boom")
      }
    }
    expect(() => message(value)).not.toThrow()
    expect(message(value)).toContain(`{"a":1,"b":[unprintable]`)
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    expect(message(proxy)).toContain("[unprintable]")
  })

  it("a value cut at the limit is never cut between the halves of a surrogate pair", () => {
    const shown = message(`${"a".repeat(198)}😀😀`)
    expect(isWellFormed(shown)).toBe(true)
    expect(shown).toContain("…")
  })
})

describe("params that cannot be stored", () => {
  it("are listed in a bounded warning, however many and however long their paths", async () => {
    const warnings: Array<string> = []
    const logger = Logger.make(({ message }) => {
      warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
    })
    const key = "k".repeat(2_000_000)
    const params = { [key]: Array.from({ length: 300 }, () => () => 1), lr: 0.1 }
    const run = await Effect.runPromise(
      inStore(
        Effect.gen(function* () {
          const started = yield* Tracking.track({ transform: { key: "dropped.ts", version: "1" }, params, handleProcess: false })
          yield* Tracking.finish()
          return started
        })
      ).pipe(Effect.provide(Logger.layer([logger])))
    )
    expect((run.params as { readonly lr?: unknown }).lr).toBe(0.1)
    const warning = warnings.find((w) => w.includes("params not recorded"))
    expect(warning).toBeDefined()
    expect(warning!.length).toBeLessThan(3_000)
    expect(warning).toContain("… and 280 more")
  })
})
