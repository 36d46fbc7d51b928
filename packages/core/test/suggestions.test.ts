/**
 * Errors that say how to fix a query: a misspelt key suggests the nearest field, relation or alias of the
 * registry, then the nearest feature, and only when nothing is near, creating a feature; an operator that does
 * not fit its field lists those that do; `create` on a taken value points to `getOrCreate`. Suggestions are
 * bounded and escaped like every other name in an error.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as DamerauLevenshtein from "../src/DamerauLevenshtein.js"
import { InvalidQuery, UniqueViolation, ValidationError } from "../src/Errors.js"
import * as Lineage from "../src/Lineage.js"
import { maxShownNameLength } from "../src/Limits.js"
import * as Ast from "../src/Ast.js"
import { F, type FieldDef, type FieldKind, type Model } from "../src/Model.js"
import { normalize } from "../src/Query.js"
import { ULabel } from "../src/Registry.js"
import { make as makeStore, Store } from "../src/Store.js"
import * as Suggestions from "../src/Suggestions.js"

const storage = mkdtempSync(join(tmpdir(), "lineage-suggestions-"))
afterAll(() => rmSync(storage, { recursive: true, force: true }))

let ln: Lineage.Client
beforeEach(async () => {
  ln = await Lineage.connect("memory:", { storage })
})
afterEach(async () => {
  await ln.close()
})

/**
 * A filter or order key as JavaScript, or code building keys at run time, passes it: the types refuse these
 * misspellings at compile time, and the errors below are what such callers get instead.
 */
const js = <A>(input: A): never => input as never

/** The error a promise rejects with, which must be an InvalidQuery. */
const invalid = async (promise: Promise<unknown>): Promise<InvalidQuery> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(InvalidQuery)
  return error as InvalidQuery
}

describe("DamerauLevenshtein.distance", () => {
  it("counts an adjacent transposition as one edit", () => {
    expect(DamerauLevenshtein.distance("statsu", "status", 3)).toBe(1)
    expect(DamerauLevenshtein.distance("kye", "key", 3)).toBe(1)
  })
  it("counts insertions, deletions and substitutions", () => {
    expect(DamerauLevenshtein.distance("strtedAt", "startedAt", 3)).toBe(1)
    expect(DamerauLevenshtein.distance("kitten", "sitting", 5)).toBe(3)
    expect(DamerauLevenshtein.distance("", "abc", 5)).toBe(3)
    expect(DamerauLevenshtein.distance("same", "same", 0)).toBe(0)
  })
  it("stops at max + 1", () => {
    expect(DamerauLevenshtein.distance("abcdef", "uvwxyz", 2)).toBe(3)
    expect(DamerauLevenshtein.distance("a", "abcdefgh", 2)).toBe(3)
  })

  /** The whole table, one fresh row at a time: what the banded computation must agree with. */
  const fullTable = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++) {
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
      }
    return d[a.length]![b.length]!
  }

  it("agrees with the whole table on every pair of strings of up to four letters of three, for every bound", () => {
    const words = [""]
    for (let n = 0; n < words.length && words[n]!.length < 4; n++) for (const c of "abc") words.push(words[n]! + c)
    for (const a of words)
      for (const b of words) {
        const exact = fullTable(a, b)
        // Calls of different lengths in turn: the reused rows must never leak a value from the call before.
        for (let max = 0; max <= 5; max++) expect(DamerauLevenshtein.distance(a, b, max), `${a} ${b} ${max}`).toBe(Math.min(exact, max + 1))
      }
  })

  it("measures 10,000 names of 100 characters, each within the bound for most of its length, in well under a second", () => {
    const asked = "a".repeat(96) + "wxyz"
    // Four edits from `asked`, all at the end: only the last rows of the band exceed the bound of three.
    const names = Array.from({ length: 10_000 }, (_, i) => "a".repeat(96) + String(i).padStart(4, "0"))
    const started = performance.now()
    expect(Suggestions.nearest(asked, names)).toEqual([])
    // The whole table took 3.4 s here; the band a few tens of milliseconds.
    expect(performance.now() - started).toBeLessThan(500)
  })
})

describe("Suggestions.nearest", () => {
  it("finds names within a distance bounded by the name's length, ignoring case and underscores", () => {
    expect(Suggestions.nearest("statsu", ["name", "status", "startedAt"])).toEqual(["status"])
    expect(Suggestions.nearest("STARTED_AT", ["startedAt", "finishedAt"])).toEqual(["startedAt"])
    // Two edits are too many for a name of fewer than six characters.
    expect(Suggestions.nearest("xy", ["id"])).toEqual([])
    expect(Suggestions.nearest("ix", ["id"])).toEqual(["id"])
    expect(Suggestions.nearest("zzzzzz", ["status"])).toEqual([])
  })
  it("gives every candidate at the nearest distance, in the candidates' order, at most three", () => {
    expect(Suggestions.nearest("cat", ["bat", "cab", "car", "cap", "dog"])).toEqual(["bat", "cab", "car"])
    expect(Suggestions.nearest("keys", ["key", "keyz"])).toEqual(["key", "keyz"])
  })
  it("suggests nothing for a name too long to be a typo of a name, without measuring it", () => {
    expect(Suggestions.nearest("s".repeat(1_000_000), ["status"])).toEqual([])
  })
  it("measures candidates only within maxSuggestionSteps: one past them is not suggested", () => {
    const asked = "x".repeat(99) + "a"
    // Each costs (2 × 3 + 1) × 100 steps; the match comes just past the budget, then just within it.
    const within = Math.floor(Suggestions.maxSuggestionSteps / 700)
    const far = Array.from({ length: within }, (_, i) => `${"y".repeat(96)}${String(i).padStart(4, "0")}`)
    const match = "x".repeat(99) + "b"
    expect(Suggestions.nearest(asked, [...far, match])).toEqual([])
    expect(Suggestions.nearest(asked, [...far.slice(1), match])).toEqual([match])
  })
})

describe("a misspelt filter or order key", () => {
  it("suggests the registry's nearest field before any feature, without suggesting to create one", async () => {
    const e = await invalid(ln.Run.filter(js({ statsu: "completed" })).all())
    expect(e.field).toBe("statsu")
    expect(e.message).toContain('did you mean "status"?')
    expect(e.message).not.toContain("Feature.create")
  })
  it("suggests the nearest field for an order key on a registry with features, keeping its direction", async () => {
    const e = await invalid(ln.Run.filter().orderBy(js("-strtedAt")).all())
    expect(e.field).toBe("strtedAt")
    expect(e.message).toContain('did you mean "-startedAt"?')
    expect(e.message).not.toContain("Feature.create")
  })
  it("suggests only what orderBy accepts for an order key: a field, not a relation", async () => {
    const e = await invalid(ln.Run.filter().orderBy(js("transfrom")).all())
    expect(e.message).toContain('did you mean "transformId"?')
    expect(e.expected).toContain("a field of Run to order by")
    await expect(ln.Run.filter().orderBy("transformId").count()).resolves.toBe(0)
  })
  it("suggests the nearest feature for an order key, keeping its direction", async () => {
    await ln.Feature.create({ name: "accuracy", dtype: "float" })
    const e = await invalid(ln.Run.filter().orderBy(js("-acuracy")).all())
    expect(e.message).toContain('did you mean the feature "-accuracy"?')
  })
  it("suggests the nearest field for an order key on a registry without features, keeping its direction", async () => {
    const e = await invalid(ln.Transform.filter().orderBy(js("-kye")).all())
    expect(e.message).toContain('did you mean "-key"?')
  })
  it("suggests an operator on a relation for a misspelt one, on a registry with features or without", async () => {
    const e = await invalid(ln.Run.filter(js({ transform__inn: [1] })).all())
    expect(e.message).toContain('did you mean "transform__in"?')
    const featured = await invalid(ln.Run.filter(js({ inputArtifacts__inn: [1] })).all())
    expect(featured.field).toBe("inputArtifacts__inn")
    expect(featured.message).toContain('did you mean "inputArtifacts__in"?')
  })
  it("suggests through relation paths, with the path written out", async () => {
    const e = await invalid(ln.Run.filter(js({ transform__kye: "x" })).all())
    expect(e.field).toBe("transform__kye")
    expect(e.message).toContain('did you mean "transform__key"?')
  })
  it("suggests aliases: a name the registry accepts for a field", async () => {
    const e = await invalid(ln.Transform.filter(js({ verison: "1" })).all())
    expect(e.message).toContain('did you mean "version"?')
  })
  it("suggests the nearest feature when no field is near", async () => {
    await ln.Feature.create({ name: "learning_rate", dtype: "float" })
    const e = await invalid(ln.Run.filter(js({ learning_rat: 0.1 })).all())
    expect(e.message).toContain('did you mean the feature "learning_rate"?')
    expect(e.message).not.toContain("Feature.create")
  })
  it("checks features named through a relation, as on the registry itself", async () => {
    await ln.Feature.create({ name: "accuracy", dtype: "float" })
    const e = await invalid(ln.Run.filter(js({ inputArtifacts__acuracy: 0.9 })).all())
    expect(e.field).toBe("inputArtifacts__acuracy")
    expect(e.message).toContain('did you mean the feature "accuracy"?')
    expect(await ln.Run.filter(js({ inputArtifacts__accuracy: 0.9 })).count()).toBe(0)
  })
  it("suggests the nearest feature for a misspelt name in features.add, else how to create it", async () => {
    await ln.Feature.create({ name: "learning_rate", dtype: "float" })
    const run = await ln.track({ transform: { key: "add.ts", kind: "script" }, handleProcess: false })
    const near = await run.features.add({ learning_rat: 0.1 }).catch((x: unknown) => x)
    expect(near).toBeInstanceOf(ValidationError)
    expect((near as ValidationError).message).toContain('did you mean the feature "learning_rate"?')
    const far = await run.features.add({ batch_size: 32 }).catch((x: unknown) => x)
    expect((far as ValidationError).message).toContain('Feature.create({ name: "batch_size"')
    await ln.finish()
  })
  it("says how to create a feature only when nothing is near", async () => {
    const e = await invalid(ln.Run.filter(js({ batch_size: 32 })).all())
    expect(e.message).toContain('Feature.create({ name: "batch_size"')
    expect(e.message).not.toContain("did you mean")
  })
  it("suggests nothing inside a JSON field, whose paths are free-form", async () => {
    await expect(ln.Run.filter(js({ params__statsu: 1 })).count()).resolves.toBe(0)
    const e = await invalid(ln.Run.filter(js({ params__statsu__gt: true })).all())
    expect(e.message).not.toContain("did you mean")
  })
  it("shows a hostile key bounded and escaped, and suggests nothing for it", async () => {
    const hostile = `statsu${"\u0000\n\"".repeat(50_000)}`
    const e = await invalid(ln.Transform.filter(js({ [hostile]: 1 })).all())
    expect(e.message.length).toBeLessThan(2_000)
    expect(e.message).not.toContain("\n")
    expect(e.message).not.toContain("did you mean")
  })
  it("shows a suggested feature name escaped and bounded", async () => {
    // One character longer than a name an error shows whole, and one edit from the key asked for.
    const name = `a"b${"c".repeat(maxShownNameLength - 2)}`
    await ln.Feature.create({ name, dtype: "float" })
    const e = await invalid(ln.Run.filter(js({ [name.slice(0, -1)]: 1 })).all())
    expect(e.message).toContain(`did you mean the feature "a\\"b${"c".repeat(maxShownNameLength - 5)}…?`)
  })
})

describe("an operator that does not fit its field", () => {
  it("is refused exactly when the operators listed for its kind leave it out", () => {
    const samples: { readonly [K in Exclude<FieldKind, "json">]: readonly [def: FieldDef, value: unknown] } = {
      int: [F.int(), 1],
      float: [F.float(), 1.5],
      string: [F.string(), "x"],
      bool: [F.bool(), true],
      datetime: [F.datetime(), new Date(0)],
      enum: [F.enum(["x"]), "x"],
      ref: [F.ref("Run", "protect"), 1]
    }
    const model: Model = {
      name: "Kinds",
      table: "kinds",
      fields: Object.fromEntries(Object.entries(samples).map(([kind, [def]]) => [kind, def])),
      uidLength: 8,
      versioned: false,
      trash: false,
      nameField: "string",
      unique: [],
      relations: {}
    }
    for (const [kind, [, sample]] of Object.entries(samples)) {
      for (const op of Ast.operators) {
        const value = op === "in" || op === "notIn" ? [sample] : op === "range" ? [sample, sample] : op === "isNull" ? true : sample
        const result = normalize(model, [{ [`${kind}__${op}`]: value }])
        const fits = Suggestions.fittingOperators(kind as FieldKind).includes(op)
        expect(result instanceof InvalidQuery ? result.expected : "accepted", `${kind} ${op}`).toBe(
          fits ? "accepted" : Suggestions.expectedOperator(kind as FieldKind)
        )
      }
    }
  })
  it("lists the operators that fit a datetime field", async () => {
    const e = await invalid(ln.Run.filter(js({ startedAt__contains: "2026" })).all())
    expect(e.operator).toBe("contains")
    expect(e.expected).toContain("eq, ne, gt, gte, lt, lte, in, notIn, isNull, range")
    expect(e.expected).not.toContain("startsWith")
  })
  it("lists the operators that fit a bool field", async () => {
    const e = await invalid(ln.Transform.filter(js({ isLatest__gt: true })).all())
    expect(e.expected).toContain("eq, ne, in, notIn, isNull")
    expect(e.expected).not.toContain("gte")
  })
  it("names a feature's path without the field that holds feature values", async () => {
    const e = await invalid(ln.Run.filter(js({ isLatest__gt: true })).all())
    expect(e.field).toBe("isLatest")
  })
  it("names a path inside a JSON field as written, a segment named featureValues included", async () => {
    const e = await invalid(ln.Run.filter(js({ params__featureValues__x__gt: true })).all())
    expect(e.field).toBe("params__featureValues__x")
  })
  it("says an int and an enum field with their articles", async () => {
    expect((await invalid(ln.Run.filter(js({ id__contains: "1" })).all())).expected).toMatch(/^an operator that fits an int field/)
    expect((await invalid(ln.Run.filter(js({ status__gtt: "started" })).all())).expected).toMatch(/^an operator that fits an enum field/)
    expect((await invalid(ln.Run.filter(js({ name__gtt: "x" })).all())).expected).toMatch(/^an operator that fits a string field/)
  })
  it("suggests the nearest operator that fits, and lists those that fit", async () => {
    const e = await invalid(ln.Run.filter(js({ startedAt__gtee: new Date() })).all())
    expect(e.message).toContain('did you mean "startedAt__gte"?')
    expect(e.expected).not.toContain("icontains")
    const object = await invalid(ln.Run.filter(js({ startedAt: { lts: new Date() } })).all())
    expect(object.message).toContain('did you mean "lt" or "lte"?')
  })
})

describe("create on a taken value", () => {
  it("points to getOrCreate with the registry and the constraint's fields", async () => {
    await ln.ULabel.create({ name: "reviewed" })
    const e = await ln.ULabel.create({ name: "reviewed" }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(UniqueViolation)
    expect((e as UniqueViolation).message).toContain('ULabel.getOrCreate({ name: "reviewed" })')
  })
  it("points to getOrCreate on a versioned registry's (key, version)", async () => {
    await ln.Transform.create({ key: "clean.ts", version: "1", kind: "script" })
    const e = await ln.Transform.create({ key: "clean.ts", version: "1", kind: "script" }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(UniqueViolation)
    expect((e as UniqueViolation).message).toMatch(/Transform\.getOrCreate\(\{ key: "clean\.ts"/)
  })
  it("says a value was cut rather than print a getOrCreate call that would not find the record", async () => {
    const name = "n".repeat(300)
    await ln.ULabel.create({ name })
    const e = await ln.ULabel.create({ name }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(UniqueViolation)
    const message = (e as UniqueViolation).message
    expect(message).not.toContain("getOrCreate({")
    expect(message).toContain("call ULabel.getOrCreate with name as given to create (a value above is cut at 200 characters)")
    await expect(ln.ULabel.getOrCreate({ name })).resolves.toMatchObject({ name })
  })
  it("points createMany's refusal to getOrCreate too", async () => {
    const store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
    const run = <A, E>(effect: Effect.Effect<A, E, Store>) => Effect.runPromise(Effect.provideService(effect, Store, store))
    await run(ULabel.createMany([{ name: "reviewed" }]))
    const e = await run(Effect.flip(ULabel.createMany([{ name: "fresh" }, { name: "reviewed" }])))
    expect(e).toBeInstanceOf(UniqueViolation)
    expect(e.message).toContain('ULabel.getOrCreate({ name: "reviewed" })')
  })
  it("does not point getOrCreate's own refusal back to getOrCreate", async () => {
    await ln.ULabel.create({ name: "reviewed" })
    // No label has both: getOrCreate creates one, which the name refuses.
    const e = await ln.ULabel.getOrCreate({ name: "reviewed", description: "by two people" }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(UniqueViolation)
    expect((e as UniqueViolation).message).not.toContain("getOrCreate")
  })
})
