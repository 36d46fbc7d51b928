/**
 * A filter on a feature asks what `features.add` stored: its operand is normalised with the feature's dtype the
 * way values are stored (a `Date` on a `date` feature is its UTC date, any datetime text its canonical ISO
 * form, a record its name), and what cannot be a value of the dtype, an operator that does not fit it or a
 * path inside a value with no fields (a misspelt operator, most often) is refused with `InvalidQuery`, never
 * answered with nothing. A trashed feature takes no values.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import { InvalidQuery, ValidationError } from "../src/Errors.js"
import * as Lineage from "../src/Lineage.js"
import type * as Records from "../src/Records.js"

const storage = mkdtempSync(join(tmpdir(), "lineage-feature-operands-"))
afterAll(() => rmSync(storage, { recursive: true, force: true }))

let ln: Lineage.Client
let run: Lineage.WithFeatureManager<Records.Run>
let label: Records.ULabel

beforeEach(async () => {
  ln = await Lineage.connect("memory:", { storage })
  for (const [name, dtype] of [
    ["accuracy", "float"],
    ["epochs", "int"],
    ["day", "date"],
    ["at", "datetime"],
    ["cell", "cat[ULabel]"],
    ["tags", "list[str]"],
    ["config", "dict"],
    ["source", "path"]
  ] as const)
    await ln.Feature.create({ name, dtype })
  label = await ln.ULabel.create({ name: "T cell" })
  await ln.ULabel.create({ name: "B cell" })
  run = await ln.track({ transform: { key: "features.ts", kind: "script" }, handleProcess: false })
  await run.features.add({
    accuracy: 0.9,
    epochs: 3,
    day: new Date("2026-01-05T00:00:00Z"),
    at: new Date("2026-01-05T10:00:05Z"),
    cell: label,
    tags: ["a", "b"],
    config: { lr: 0.1 },
    source: "data\\raw.csv"
  })
})
afterEach(async () => {
  await ln.finish()
  await ln.close()
})

/** A filter as JavaScript, or code building filters at run time, passes it. */
const js = (filter: unknown): never => filter as never

const count = (filter: object) => ln.Run.filter(js(filter)).count()

/** The InvalidQuery a filter is refused with. */
const refusal = async (filter: object): Promise<InvalidQuery> => {
  const error = await count(filter).then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error, JSON.stringify(filter)).toBeInstanceOf(InvalidQuery)
  return error as InvalidQuery
}

describe("a misspelt operator on a feature", () => {
  it("is refused, naming the feature and suggesting the operator, whether written as a key or an object", async () => {
    for (const filter of [{ accuracy__gtt: 0.5 }, { accuracy: { gtt: 0.5 } }]) {
      const e = await refusal(filter)
      expect(e.field).toBe("accuracy")
      expect(e.operator).toBe("gtt")
      expect(e.message).toContain('did you mean "accuracy__gt" or "accuracy__gte"?')
      expect(e.expected).toContain("only dict and object values have fields")
    }
    expect(await count({ accuracy__gt: 0.5 })).toBe(1)
  })
  it("lists the operators that fit the feature's dtype for one that does not", async () => {
    const e = await refusal({ accuracy__contains: "9" })
    expect(e.expected).toBe("an operator that fits the feature's dtype float (one of eq, ne, gt, gte, lt, lte, in, notIn, isNull, range)")
    expect((await refusal({ tags__gt: "a" })).expected).toContain("(one of eq, ne, in, notIn, isNull)")
  })
  it("still follows a path inside a dict feature's value, and refuses ordering inside any other", async () => {
    expect(await count({ config__lr__gt: 0.05 })).toBe(1)
    expect(await count({ config: { lr: 0.1 } })).toBe(1)
    const e = await ln.Run.filter()
      .orderBy(js("accuracy__x"))
      .all()
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(InvalidQuery)
    expect((e as InvalidQuery).expected).toContain("a feature of dtype dict or object to order by a path inside its value")
  })
})

describe("a feature's operand", () => {
  it("on a date feature: a Date is its UTC date, as add stores it; other text than YYYY-MM-DD is refused", async () => {
    expect(await count({ day: new Date("2026-01-05T00:00:00Z") })).toBe(1)
    expect(await count({ day: "2026-01-05" })).toBe(1)
    expect(await count({ day__gte: new Date("2026-01-05T00:00:00Z") })).toBe(1)
    expect(await count({ day__range: [new Date("2026-01-01T00:00:00Z"), "2026-01-31"] })).toBe(1)
    expect(await count({ day__in: [new Date("2026-01-06T00:00:00Z")] })).toBe(0)
    for (const day of ["Jan 5 2026", "2026-01-05T00:00:00Z", 20260105]) {
      const e = await refusal({ day })
      expect(e.field).toBe("day")
      expect(e.expected).toContain("a Date or a YYYY-MM-DD string")
    }
  })
  it("on a datetime feature: any text of the instant is its canonical ISO text, a date alone its UTC midnight", async () => {
    for (const at of ["2026-01-05T10:00:05Z", "2026-01-05T10:00:05.000Z", "2026-01-05T11:00:05+01:00", new Date("2026-01-05T10:00:05Z")])
      expect(await count({ at }), String(at)).toBe(1)
    expect(await count({ at__gte: "2026-01-05T10:00:05Z" })).toBe(1)
    expect(await count({ at__gt: "2026-01-05T10:00:05Z" })).toBe(0)
    expect(await count({ at__in: ["2026-01-05T10:00:05Z"] })).toBe(1)
    expect(await count({ at__range: ["2026-01-05T10:00:00Z", "2026-01-05T10:00:05Z"] })).toBe(1)
    expect(await count({ at__range: ["2026-01-05", "2026-01-06"] })).toBe(1)
    expect(await count({ at__lt: "2026-01-05" })).toBe(0)
    expect(await count({ at: "2026-01-05" })).toBe(0)
    for (const at of ["yesterday", 1767607205000]) {
      const e = await refusal({ at })
      expect(e.expected).toContain("a Date or a date and time string")
    }
  })
  it("on an int feature: equal only to an integer, ordered against any number", async () => {
    expect(await count({ epochs__gt: 2.5 })).toBe(1)
    expect((await refusal({ epochs: 2.5 })).expected).toBe("a value that fits the feature's dtype int")
  })
  it("on a list feature: a whole list, never an item (which no stored list equals)", async () => {
    expect(await count({ tags: ["a", "b"] })).toBe(1)
    expect((await refusal({ tags: "a" })).expected).toContain("an array of values of dtype str")
  })
  it("on a path feature: text with POSIX separators, as add stores it; a regex pattern as written", async () => {
    expect(await count({ source: "data\\raw.csv" })).toBe(1)
    expect(await count({ source__endsWith: "\\raw.csv" })).toBe(1)
    expect(await count({ source__regex: "^data/raw\\.csv$" })).toBe(1)
  })
  it("on a categorical feature: a record stands for its name, as add takes it, in a list too", async () => {
    expect(await count({ cell: label })).toBe(1)
    expect(await count({ cell: "T cell" })).toBe(1)
    expect(await count({ cell__in: [label, await ln.ULabel.get({ name: "B cell" })] })).toBe(1)
    expect(await count({ cell: await ln.ULabel.get({ name: "B cell" }) })).toBe(0)
  })
  it("names the feature as written when its operand is no JSON value, a record without a name included", async () => {
    expect((await refusal({ cell: new Map() })).field).toBe("cell")
    const keyless = await ln.Artifact.fromBytes("no key", { run: null })
    expect((await refusal({ cell: keyless })).field).toBe("cell")
  })
})

describe("a trashed feature", () => {
  it("takes no values, saying it is in the trash and how to restore it; restored, it takes them again", async () => {
    const feature = await ln.Feature.get({ name: "epochs" })
    await ln.Feature.delete(feature)
    const e = await run.features.set({ epochs: 4 }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ValidationError)
    expect((e as ValidationError).field).toBe("epochs")
    expect((e as ValidationError).message).toContain('the feature "epochs" is in the trash')
    expect((e as ValidationError).message).toContain(`Feature.restore(await Feature.get("${feature.uid}"))`)
    expect((await run.features.get())["epochs"]).toBe(3)
    await ln.Feature.restore(await ln.Feature.get(feature.uid))
    await run.features.set({ epochs: 4 })
    expect((await run.features.get())["epochs"]).toBe(4)
  })
})
