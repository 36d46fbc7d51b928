import { describe, expect, it } from "vitest"
import { Ast } from "@lineage/core"
import type { Driver } from "@lineage/core"
import { driverWith, failure, run, runsTable } from "./helpers.js"

const all = { where: Ast.always, orderBy: [] }

describe("declare and ids", () => {
  it("rejects unknown tables as invalid", () => {
    const driver = driverWith()
    expect(failure(driver.insert("nope", [{ id: 1, uid: "a" }])).reason._tag).toBe("Invalid")
    expect(failure(driver.find("nope", all)).reason._tag).toBe("Invalid")
    expect(failure(driver.reserveIds("nope", 1)).reason._tag).toBe("Invalid")
  })

  it("is idempotent and keeps data", () => {
    const driver = driverWith(runsTable)
    run(driver.insert("runs", [{ id: 1, uid: "a", status: "done" }]))
    run(driver.declare([runsTable, runsTable]))
    expect(run(driver.get("runs", [1]))).toEqual([{ id: 1, uid: "a", status: "done" }])
  })

  it("reserves consecutive ids that are never reused", () => {
    const driver = driverWith(runsTable)
    expect(run(driver.reserveIds("runs", 3))).toBe(1)
    expect(run(driver.reserveIds("runs", 2))).toBe(4)
    run(driver.insert("runs", [{ id: 10, uid: "x" }]))
    run(driver.remove("runs", [10]))
    expect(run(driver.reserveIds("runs", 1))).toBe(11)
    expect(failure(driver.reserveIds("runs", -1)).reason._tag).toBe("Invalid")
  })

  it("builds indexes and constraints declared after data exists", () => {
    const driver = driverWith({ name: "t", unique: [], indexes: [] })
    run(driver.insert("t", [{ id: 1, uid: "a", k: 1 }, { id: 2, uid: "b", k: 1 }, { id: 3, uid: "c", k: 2 }]))
    run(driver.declare([{ name: "t", unique: [], indexes: [{ path: ["k"], kind: "hash" }] }]))
    expect(driver.explain("t", { where: Ast.field(["k"], "eq", 1), orderBy: [], limit: 100 }).access).toMatchObject({
      _tag: "Lookup",
      index: "hash"
    })
    const error = failure(driver.declare([{ name: "t", unique: [{ name: "k", fields: ["k"] }], indexes: [] }]))
    expect(error.reason).toMatchObject({ _tag: "UniqueViolation", constraint: "k" })
    // The failed constraint was not installed.
    run(driver.insert("t", [{ id: 4, uid: "d", k: 2 }]))
  })
})

describe("CRUD", () => {
  it("gets in the order asked, skipping missing ids", () => {
    const driver = driverWith(runsTable)
    run(driver.insert("runs", [{ id: 1, uid: "a" }, { id: 2, uid: "b" }, { id: 3, uid: "c" }]))
    expect(run(driver.get("runs", [3, 9, 1])).map((d) => d["id"])).toEqual([3, 1])
  })

  it("stores private frozen copies", () => {
    const driver = driverWith(runsTable)
    const input = { id: 1, uid: "a", params: { lr: 0.1 }, tags: ["x"] }
    run(driver.insert("runs", [input]))
    input.params.lr = 99
    input.tags.push("y")
    const [stored] = run(driver.get("runs", [1]))
    expect(stored).toEqual({ id: 1, uid: "a", params: { lr: 0.1 }, tags: ["x"] })
    expect(Object.isFrozen(stored)).toBe(true)
    expect(Object.isFrozen(stored!["params"])).toBe(true)
    expect(run(driver.count("runs", Ast.field(["params", "lr"], "eq", 0.1)))).toBe(1)
  })

  it("updates by shallow merge and keeps indexes current", () => {
    const driver = driverWith(runsTable)
    run(driver.insert("runs", [{ id: 1, uid: "a", status: "running", params: { lr: 1, wd: 2 } }]))
    const updated = run(driver.update("runs", 1, { status: "done", params: { lr: 3 } }))
    expect(updated).toEqual({ id: 1, uid: "a", status: "done", params: { lr: 3 } })
    expect(run(driver.count("runs", Ast.field(["status"], "eq", "running")))).toBe(0)
    expect(run(driver.count("runs", Ast.field(["status"], "eq", "done")))).toBe(1)
    expect(run(driver.count("runs", Ast.field(["params", "lr"], "gte", 3)))).toBe(1)
    expect(failure(driver.update("runs", 1, { id: 2 })).reason._tag).toBe("Invalid")
  })

  it("fails updates of missing ids with NotFound", () => {
    const driver = driverWith(runsTable)
    expect(failure(driver.update("runs", 7, { status: "x" })).reason).toMatchObject({ _tag: "NotFound", id: 7 })
  })

  it("compares and sets with expect", () => {
    const driver = driverWith(runsTable)
    run(driver.insert("runs", [{ id: 1, uid: "a", status: "running", meta: { a: 1, b: 2 } }]))
    expect(failure(driver.update("runs", 1, { status: "done" }, { status: "queued" })).reason._tag).toBe("Conflict")
    // Missing reads as null; objects compare as JSON, whatever their key order.
    expect(failure(driver.update("runs", 1, { status: "done" }, { other: 1 })).reason._tag).toBe("Conflict")
    run(driver.update("runs", 1, { status: "done" }, { other: null, meta: { b: 2, a: 1 } }))
    expect(run(driver.get("runs", [1]))[0]!["status"]).toBe("done")
  })

  it("removes and counts what existed", () => {
    const driver = driverWith(runsTable)
    run(driver.insert("runs", [{ id: 1, uid: "a", status: "x" }, { id: 2, uid: "b", status: "x" }]))
    expect(run(driver.remove("runs", [1, 1, 5]))).toBe(1)
    expect(run(driver.count("runs", Ast.field(["status"], "eq", "x")))).toBe(1)
    // The uid is free again.
    run(driver.insert("runs", [{ id: 3, uid: "a" }]))
  })

  it("rejects duplicate ids and malformed documents", () => {
    const driver = driverWith(runsTable)
    run(driver.insert("runs", [{ id: 1, uid: "a" }]))
    expect(failure(driver.insert("runs", [{ id: 1, uid: "b" }])).reason).toMatchObject({ _tag: "UniqueViolation", fields: ["id"] })
    expect(failure(driver.insert("runs", [{ id: 2, uid: "b" }, { id: 2, uid: "c" }])).reason._tag).toBe("UniqueViolation")
    expect(failure(driver.insert("runs", [{ id: 1.5, uid: "b" }])).reason._tag).toBe("Invalid")
    expect(run(driver.count("runs", Ast.always))).toBe(1)
  })
})

describe("unique constraints", () => {
  it("enforces uid once, under the declared name", () => {
    const driver = driverWith(runsTable)
    run(driver.insert("runs", [{ id: 1, uid: "a" }]))
    const error = failure(driver.insert("runs", [{ id: 2, uid: "a" }]))
    expect(error.reason).toEqual({ _tag: "UniqueViolation", table: "runs", constraint: "runs_uid", fields: ["uid"], values: ["a"] })
  })

  it("enforces uid even when not declared", () => {
    const driver = driverWith({ name: "t", unique: [], indexes: [] })
    run(driver.insert("t", [{ id: 1, uid: "a" }]))
    expect(failure(driver.insert("t", [{ id: 2, uid: "a" }])).reason).toMatchObject({ constraint: "uid" })
  })

  it("does not constrain documents with null or missing fields", () => {
    const driver = driverWith(runsTable)
    run(
      driver.insert("runs", [
        { id: 1, uid: "a", project: "p", key: null },
        { id: 2, uid: "b", project: "p", key: null },
        { id: 3, uid: "c", project: "p" },
        { id: 4, uid: "d" },
        { id: 5, uid: "e" }
      ])
    )
    run(driver.insert("runs", [{ id: 6, uid: "f", project: "p", key: 1 }]))
    // 1 and "1" are different JSON values; structures compare as JSON.
    run(driver.insert("runs", [{ id: 7, uid: "g", project: "p", key: "1" }]))
    const error = failure(driver.insert("runs", [{ id: 8, uid: "h", project: "p", key: 1 }]))
    expect(error.reason).toMatchObject({ constraint: "runs_key", fields: ["project", "key"], values: ["p", 1] })
  })

  it("writes nothing when one document of a batch violates", () => {
    const driver = driverWith(runsTable)
    run(driver.insert("runs", [{ id: 1, uid: "a" }]))
    expect(failure(driver.insert("runs", [{ id: 2, uid: "b" }, { id: 3, uid: "a" }])).reason._tag).toBe("UniqueViolation")
    expect(failure(driver.insert("runs", [{ id: 2, uid: "b" }, { id: 3, uid: "b" }])).reason._tag).toBe("UniqueViolation")
    expect(run(driver.get("runs", [2, 3]))).toEqual([])
    expect(run(driver.count("runs", Ast.always))).toBe(1)
  })

  it("re-checks on update, excluding the document itself", () => {
    const driver = driverWith(runsTable)
    run(driver.insert("runs", [{ id: 1, uid: "a", project: "p", key: 1 }, { id: 2, uid: "b", project: "p", key: 2 }]))
    run(driver.update("runs", 1, { key: 1, note: "same key is fine" }))
    expect(failure(driver.update("runs", 2, { key: 1 })).reason).toMatchObject({ constraint: "runs_key" })
    expect(run(driver.get("runs", [2]))[0]!["key"]).toBe(2)
    run(driver.update("runs", 1, { key: 3 }))
    run(driver.update("runs", 2, { key: 1 }))
  })
})

describe("batch", () => {
  const ops = (extra: ReadonlyArray<Driver.WriteOp>): ReadonlyArray<Driver.WriteOp> => [
    { _tag: "Insert", table: "runs", docs: [{ id: 3, uid: "c", status: "new" }] },
    { _tag: "Update", table: "runs", id: 1, patch: { status: "changed" } },
    { _tag: "Delete", table: "runs", ids: [2] },
    ...extra
  ]
  const seed = () => {
    const driver = driverWith(runsTable)
    run(driver.insert("runs", [{ id: 1, uid: "a", status: "old" }, { id: 2, uid: "b", status: "old" }]))
    return driver
  }
  const snapshot = (driver: ReturnType<typeof seed>) => run(driver.find("runs", { where: Ast.always, orderBy: [] }))

  it("applies every write", () => {
    const driver = seed()
    run(driver.batch(ops([])))
    expect(snapshot(driver)).toEqual([
      { id: 1, uid: "a", status: "changed" },
      { id: 3, uid: "c", status: "new" }
    ])
    expect(driver.capabilities.transactions).toBe(true)
  })

  it.each<[string, Driver.WriteOp]>([
    ["a unique violation", { _tag: "Insert", table: "runs", docs: [{ id: 4, uid: "a" }] }],
    ["a failed compare-and-set", { _tag: "Update", table: "runs", id: 1, patch: { status: "x" }, expect: { status: "old" } }],
    ["a missing row", { _tag: "Update", table: "runs", id: 2, patch: { status: "x" } }],
    ["an unknown table", { _tag: "Delete", table: "nope", ids: [1] }]
  ])("writes nothing after %s", (_, last) => {
    const driver = seed()
    const before = snapshot(driver)
    expect(failure(driver.batch(ops([last]))).reason._tag).not.toBe("Unavailable")
    expect(snapshot(driver)).toEqual(before)
    // Indexes and constraints were rolled back too.
    expect(run(driver.count("runs", Ast.field(["status"], "eq", "old")))).toBe(2)
    expect(run(driver.count("runs", Ast.field(["status"], "eq", "changed")))).toBe(0)
    expect(failure(driver.insert("runs", [{ id: 9, uid: "b" }])).reason._tag).toBe("UniqueViolation")
    run(driver.insert("runs", [{ id: 9, uid: "c" }]))
  })
})
