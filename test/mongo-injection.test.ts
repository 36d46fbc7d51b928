/**
 * User values are data, never operators: values shaped like MongoDB operators and keys like `$where` or
 * `a.b` are stored literally, come back exactly, and match only themselves. Runs against the server
 * `support/mongo.ts` picked (MONGODB_URL, else the emulator).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Ast, type Driver } from "@lineage/core"
import type { MongoDriver } from "@lineage/store-mongodb"
import { closeAll, freshDriver, run } from "./support/mongo.js"

const table: Driver.TableSpec = { name: "run", unique: [{ name: "run_uid", fields: ["uid"] }], indexes: [{ path: ["params", "$where"], kind: "hash" }] }

const rows: ReadonlyArray<Driver.Doc> = [
  { uid: "gt", name: { $gt: "" }, params: { $gt: "" } },
  { uid: "where", name: "$where", params: { $where: "function () { return true }", "a.b": 2 } },
  { uid: "nested", name: "plain", params: { a: { b: 2 } } },
  { uid: "dollar", "$where": "sleep(1000)", "a.b": "dotted", "": "empty", params: { "$expr": { $eq: [1, 1] } } }
]

/** Operators our compiled filters may contain: none of them runs code. */
const allowed = new Set(["$and", "$or", "$nor", "$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists", "$regex"])

const operatorsIn = (v: unknown, out: Set<string> = new Set()): Set<string> => {
  if (Array.isArray(v)) v.forEach((x) => operatorsIn(x, out))
  else if (v !== null && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      if (k.startsWith("$")) out.add(k)
      operatorsIn(x, out)
    }
  return out
}

let driver: MongoDriver
let docs: Array<Driver.Doc>

beforeAll(async () => {
  driver = await freshDriver("inj")
  await run(driver.declare([table]))
  const first = await run(driver.reserveIds("run", rows.length))
  docs = rows.map((r, i) => ({ id: first + i, ...r }))
  await run(driver.insert("run", docs))
})

afterAll(async () => {
  await run(driver.close())
  await closeAll()
})

const uids = (found: ReadonlyArray<Driver.Doc>) => found.map((d) => d["uid"])
const findUids = async (where: Ast.Cond) => uids(await run(driver.find("run", { where, orderBy: [] })))

describe("injection attempts are stored and matched literally", () => {
  it("documents with operator-shaped values and keys round-trip exactly", async () => {
    expect(await run(driver.get("run", docs.map((d) => d["id"] as number)))).toEqual(docs)
  })

  it("a value { $gt: '' } matches only the document holding exactly that object", async () => {
    expect(await findUids(Ast.field(["name"], "eq", { $gt: "" }))).toEqual(["gt"])
    expect(await findUids(Ast.field(["params"], "eq", { $gt: "" }))).toEqual(["gt"])
    expect(await findUids(Ast.field(["name"], "in", [{ $gt: "" }, "$where"]))).toEqual(["gt", "where"])
    expect(await findUids(Ast.field(["name"], "ne", { $gt: "" }))).toEqual(["where", "nested", "dollar"])
  })

  it("a key '$where' is a field like any other, never server-side JavaScript", async () => {
    expect(await findUids(Ast.field(["$where"], "eq", "sleep(1000)"))).toEqual(["dollar"])
    expect(await findUids(Ast.field(["$where"], "isNull", false))).toEqual(["dollar"])
    expect(await findUids(Ast.field(["params", "$where"], "startsWith", "function"))).toEqual(["where"])
    expect(await findUids(Ast.field(["name"], "eq", "$where"))).toEqual(["where"])
  })

  it("a key 'a.b' is one key, not a path; an empty key is a key", async () => {
    expect(await findUids(Ast.field(["params", "a.b"], "eq", 2))).toEqual(["where"])
    expect(await findUids(Ast.field(["params", "a", "b"], "eq", 2))).toEqual(["nested"])
    expect(await findUids(Ast.field(["a.b"], "eq", "dotted"))).toEqual(["dollar"])
    expect(await findUids(Ast.field([""], "eq", "empty"))).toEqual(["dollar"])
    expect(await run(driver.count("run", Ast.field(["params", "$expr"], "eq", { $eq: [1, 1] })))).toBe(1)
  })

  it("compiled filters hold only comparison operators, whatever the user wrote", async () => {
    const conds: ReadonlyArray<Ast.Cond> = [
      Ast.field(["name"], "eq", { $where: "1" }),
      Ast.field(["$where"], "eq", { $function: { body: "x", args: [], lang: "js" } }),
      Ast.field(["params", "$expr"], "in", [{ $accumulator: {} }, "$where"]),
      Ast.not(Ast.field(["params", "a.b"], "regex", "^\\$where|\\.")),
      Ast.or([Ast.field(["name"], "contains", "$where"), Ast.field(["params", "x"], "gt", 1)])
    ]
    for (const where of conds) {
      const explained = await run(driver.explain("run", { where, orderBy: [{ path: ["$where"], direction: "desc" }], after: { values: [{ $gt: "" }], id: 1 } }))
      const used = operatorsIn(explained.filter)
      for (const op of used) expect(allowed.has(op), `${op} in ${JSON.stringify(explained.filter)}`).toBe(true)
      for (const [field] of explained.sort ?? []) expect(field).not.toMatch(/\$/)
    }
  })

  it("the stored copy has no key with '$' or '.', so no stored key can act as an operator or a path", async () => {
    const raw = await driver.client.db(driver.database).collection(driver.collectionName("run")).find({}).toArray()
    const keys = (v: unknown, out: Array<string> = []): Array<string> => {
      if (Array.isArray(v)) v.forEach((x) => keys(x, out))
      else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) (out.push(k), keys(x, out))
      return out
    }
    expect(raw).toHaveLength(rows.length)
    for (const doc of raw) for (const k of keys({ d: doc["d"], o: doc["o"] })) expect(k).not.toMatch(/^\$|\.|^$/)
  })
})
