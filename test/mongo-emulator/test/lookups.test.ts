/**
 * Index lookups: a filter starting with an equality on an indexed first field is tested on the documents the
 * index files under the value, not on the whole collection, and answers exactly what a scan answers.
 */
import { Double, Int32, Long, type Db, type Document } from "mongodb"
import { beforeEach, describe, expect, it } from "vitest"
import { connectedEmulator } from "./connected.js"

const emu = connectedEmulator()
let db: Db

beforeEach(() => {
  db = emu.client.db(`lookups_${Math.random().toString(36).slice(2, 8)}`)
})

/** Documents examined by `action`, from the emulator's counter. */
const examined = async (action: () => Promise<unknown>): Promise<number> => {
  const before = emu.emulator.stats().docsExamined
  await action()
  return emu.emulator.stats().docsExamined - before
}

const ids = (docs: ReadonlyArray<Document>): Array<unknown> => docs.map((d) => d["_id"])

describe("index lookups", () => {
  it("examine only the documents filed under the first equality's values; other filters scan", async () => {
    const c = db.collection<{ _id: number; k: string; n: number }>("many")
    await c.insertMany(Array.from({ length: 1_000 }, (_, i) => ({ _id: i, k: `k${i % 10}`, n: i })))
    await c.createIndex({ k: 1, n: 1 })

    expect(await examined(() => c.findOne({ _id: 500 }))).toBe(1)
    expect(await examined(() => c.find({ _id: { $in: [3, 1, 2] }, n: { $gt: 1 } }).toArray())).toBe(3)
    expect(ids(await c.find({ $and: [{ _id: { $in: [3, 1, 2] } }, { n: { $gt: 1 } }] }).toArray())).toEqual([2, 3])
    let found: Array<Document> = []
    expect(await examined(async () => (found = await c.find({ k: { $eq: "k3" } }).toArray()))).toBe(100)
    expect(ids(found).slice(0, 3)).toEqual([3, 13, 23])
    expect(await examined(() => c.countDocuments({ k: "k3", n: { $lt: 500 } }))).toBe(100)
    expect(await c.countDocuments({ k: "k3", n: { $lt: 500 } })).toBe(50)
    expect(await examined(() => c.updateOne({ _id: 7 }, { $set: { k: "moved" } }))).toBe(1)
    expect(await examined(() => c.deleteMany({ k: "moved" }))).toBe(1)

    // Not an equality first, an unindexed field, or a collation: the whole collection.
    expect(await examined(() => c.findOne({ n: { $gte: 0 }, _id: 5 }))).toBe(999)
    expect(await examined(() => c.findOne({ n: 5 }))).toBe(999)
    expect(await examined(() => c.findOne({ k: "k5" }, { collation: { locale: "en", strength: 2 } }))).toBe(999)
    await c.dropIndex("k_1_n_1")
    expect(await examined(() => c.findOne({ k: "k5" }))).toBe(999)
  })

  it("answer as a scan does for arrays, nested arrays, typed numbers, updates and deletes, in natural order", async () => {
    const c = db.collection<{ _id: number; v?: unknown; w?: unknown; note?: string }>("typed")
    // `v` is indexed and `w`, a copy of it, is not: the scan on `w` is the expected answer.
    const values: Array<unknown> = [
      new Int32(5),
      Long.fromNumber(5),
      new Double(5),
      [1, 5],
      [[5]],
      "5",
      { x: 5 },
      null,
      undefined,
      new Double(-0),
      { b: "x" },
      [{ b: "x" }, { b: "y" }],
      { b: ["x"] },
      "x",
      { b: { c: "x" } },
      [{ b: [["x"]] }]
    ]
    await c.insertMany(values.map((v, i) => (v === undefined ? { _id: i } : { _id: i, v, w: v })))
    await c.createIndex({ v: 1 })
    await c.createIndex({ "v.b": 1 })
    const same = async (value: unknown, expected: Array<number>): Promise<void> => {
      for (const filter of [{ v: value }, { "v.b": value }, { v: { $in: [value, "none"] } }, { "v.b": { $eq: value } }]) {
        const path = Object.keys(filter)[0] ?? ""
        const scanned = { [path.replace(/^v/, "w")]: filter[path as keyof typeof filter] }
        expect(ids(await c.find(filter).toArray())).toEqual(ids(await c.find(scanned).toArray()))
      }
      // At least these (mingo matches `{"v.b": "x"}` in `{v: [{b: [["x"]]}]}`, which mongod does not: the scan is the reference).
      expect(ids(await c.find({ $or: [{ v: value }, { "v.b": value }] }).toArray())).toEqual(expect.arrayContaining(expected))
    }
    await same(5, [0, 1, 2, 3])
    await same("5", [5])
    await same(0, [9])
    await same("x", [10, 11, 12, 13])
    await c.updateOne({ _id: 11 }, { $set: { v: { b: "z" }, w: { b: "z" } } })
    await c.deleteOne({ _id: 12 })
    await c.updateOne({ _id: 0 }, { $set: { note: "updated in place" } })
    await same("x", [10, 13])
    await same("z", [11])
    await same(5, [0, 1, 2, 3])
  })
})
