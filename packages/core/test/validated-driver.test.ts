/**
 * A custom store with no checks of its own gets the contract's through `Driver.validated`, which
 * `fromPromises` and `Store.make` apply: every malformed request fails with a typed `StoreError` naming what
 * was wrong, and the store is never called with it.
 */
import { Cause, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { Ast, Driver, Evaluator, Store, StoreError, StoreNotFound, StoreUnavailable } from "../src/index.js"

type Doc = Driver.Doc

/** A promise driver that stores whatever it is given and checks nothing, recording every call it gets. */
const bare = (shared = false) => {
  const tables = new Map<string, Map<number, Doc>>()
  const calls: Array<string> = []
  let next = 1
  const rows = (table: string): Map<number, Doc> => {
    let found = tables.get(table)
    if (found === undefined) tables.set(table, (found = new Map()))
    return found
  }
  const driver: Driver.PromiseDriver = {
    name: "bare",
    capabilities: { transactions: false, nativeOperators: [], shared },
    declare: async (specs) => {
      calls.push("declare")
      for (const spec of specs) rows(spec.name)
    },
    reserveIds: async (_, count) => {
      calls.push("reserveIds")
      next += count
      return next - count
    },
    insert: async (table, docs) => {
      calls.push("insert")
      for (const doc of docs) rows(table).set(doc["id"] as number, doc)
    },
    update: async (table, id, patch) => {
      calls.push("update")
      const current = rows(table).get(id)
      if (current === undefined) throw StoreError.notFound(table, id)
      const after = { ...current, ...patch }
      rows(table).set(id, after)
      return after
    },
    remove: async (table, ids) => {
      calls.push("remove")
      return ids.filter((id) => rows(table).delete(id)).length
    },
    get: async (table, ids) => {
      calls.push("get")
      return ids.flatMap((id): ReadonlyArray<Doc> => {
        const doc = rows(table).get(id)
        return doc === undefined ? [] : [doc]
      })
    },
    find: async (table, spec) => {
      calls.push("find")
      return Evaluator.find(rows(table).values(), spec)
    },
    count: async (table, where) => {
      calls.push("count")
      return [...rows(table).values()].filter(Evaluator.predicate(where)).length
    },
    close: async () => {}
  }
  return { driver, calls }
}

const failure = async (effect: Effect.Effect<unknown, StoreError>): Promise<StoreError> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return error.value
}

const table: Driver.TableSpec = { name: "thing", unique: [], indexes: [] }
const everything: Ast.FindSpec = { where: Ast.always, orderBy: [] }

/** Malformed requests, what each must fail with, and a pattern its message must match. */
const malformed: ReadonlyArray<readonly [string, (d: Driver.Driver) => Effect.Effect<unknown, StoreError>, string, RegExp]> = [
  ["an undeclared table", (d) => d.insert("nope", [{ id: 1, uid: "a" }]), "Invalid", /unknown table "nope": declare it first/],
  ["a table name that is not a string", (d) => d.get(7 as unknown as string, [1]), "Invalid", /table name must be a string, got 7/],
  ["a table spec without a name", (d) => d.declare([{ unique: [], indexes: [] } as unknown as Driver.TableSpec]), "Invalid", /needs a name/],
  [
    "an index of an unknown kind",
    (d) => d.declare([{ name: "t", unique: [], indexes: [{ path: ["a"], kind: "btree" as "hash" }] }]),
    "Invalid",
    /index on t at \["a"\] is "hash" or "sorted", got "btree"/
  ],
  ["a document without an id", (d) => d.insert("thing", [{ uid: "a" }]), "Invalid", /thing documents need an integer id, got undefined/],
  ["a fractional id", (d) => d.insert("thing", [{ id: 1.5, uid: "a" }]), "Invalid", /integer id, got 1\.5/],
  ["a document that is an array", (d) => d.insert("thing", [[1] as unknown as Doc]), "Invalid", /plain JSON objects, got \[1\]/],
  ["a uid that is not a string", (d) => d.insert("thing", [{ id: 1, uid: 5 }]), "Invalid", /thing document 1 needs a string uid, got 5/],
  ["a negative reserveIds count", (d) => d.reserveIds("thing", -1), "Invalid", /cannot reserve -1 ids on thing/],
  ["a patch that changes the id", (d) => d.update("thing", 1, { id: 2 }), "Invalid", /cannot change the id of thing row 1: the patch sets it to 2/],
  ["an id that is not an integer", (d) => d.get("thing", ["1" as unknown as number]), "Invalid", /ids of thing are integers, got "1"/],
  [
    "an unknown operator",
    (d) => d.count("thing", { _tag: "Field", path: ["a"], op: "near", value: 1 } as unknown as Ast.Cond),
    "Unsupported",
    /unknown operator "near"/
  ],
  ["a negative limit", (d) => d.find("thing", { ...everything, limit: -1 }), "Invalid", /limit of a find on thing must be a non-negative integer, got -1/],
  [
    "a cursor without a value per order key",
    (d) => d.find("thing", { where: Ast.always, orderBy: [{ path: ["a"], direction: "asc" }], after: { values: [], id: 1 } }),
    "Invalid",
    /cursor on thing/
  ],
  ["an order key with another direction", (d) => d.find("thing", { ...everything, orderBy: [{ path: ["a"], direction: "up" as "asc" }] }), "Invalid", /"asc" or "desc", got "up"/]
]

describe("a custom driver with no checks of its own", () => {
  it.each(malformed)("through fromPromises, refuses %s before calling it", async (_, call, tag, message) => {
    const { driver, calls } = bare()
    const d = Driver.fromPromises(driver)
    await Effect.runPromise(d.declare([table]))
    const error = await failure(call(d))
    expect(error.reason._tag).toBe(tag)
    expect(error.message).toMatch(message)
    expect(calls).toEqual(["declare"])
  })

  it("through Store.make, refuses a malformed request on the store's driver", async () => {
    const { driver, calls } = bare()
    const lifted = Driver.fromPromises(driver)
    // Store.make validates a driver given raw, and returns an already validated one as it is.
    const raw: Driver.Driver = { ...lifted }
    const store = await Effect.runPromise(Store.make(raw))
    expect(store.driver).not.toBe(raw)
    expect(Driver.validated(store.driver)).toBe(store.driver)
    expect(Driver.validated(lifted)).toBe(lifted)
    const before = calls.length
    const error = await failure(store.driver.insert("run", [{ id: 1 }]))
    expect(error.message).toMatch(/run document 1 needs a string uid, got undefined/)
    expect(calls.length).toBe(before)
  })

  it("lets a shared store answer for a table another handle declared", async () => {
    const { driver, calls } = bare(true)
    const d = Driver.fromPromises(driver)
    expect(await Effect.runPromise(d.get("elsewhere", [1]))).toEqual([])
    expect(calls).toEqual(["get"])
  })

  it("reports what the implementation throws: a StoreError as is, anything else as Unavailable", async () => {
    const { driver } = bare()
    const d = Driver.fromPromises({ ...driver, remove: async () => Promise.reject(new Error("disk on fire")) })
    await Effect.runPromise(d.declare([table]))
    expect((await failure(d.update("thing", 9, { n: 1 }))).reason).toBeInstanceOf(StoreNotFound)
    const error = await failure(d.remove("thing", [1]))
    expect(error.reason).toBeInstanceOf(StoreUnavailable)
    expect(error.isRetryable).toBe(true)
    expect(error.message).toMatch(/remove failed: Error: disk on fire/)
  })

  it("passes well-formed requests through", async () => {
    const { driver } = bare()
    const d = Driver.fromPromises(driver)
    await Effect.runPromise(d.declare([table]))
    const id = await Effect.runPromise(d.reserveIds("thing", 1))
    await Effect.runPromise(d.insert("thing", [{ id, uid: "a", n: 1 }]))
    expect(await Effect.runPromise(d.update("thing", id, { id, n: 2 }))).toEqual({ id, uid: "a", n: 2 })
    expect(await Effect.runPromise(d.find("thing", everything))).toEqual([{ id, uid: "a", n: 2 }])
  })
})

/** A driver written as a class: its methods read the instance's private state through `this`. */
class ClassDriver implements Driver.Driver {
  readonly name = "class"
  readonly capabilities: Driver.Capabilities = { transactions: true, nativeOperators: [], shared: false }
  readonly #rows = new Map<number, Doc>()
  #closed = false

  get closed(): boolean {
    return this.#closed
  }
  declare(_: ReadonlyArray<Driver.TableSpec>): Effect.Effect<void, StoreError> {
    return Effect.void
  }
  reserveIds(): Effect.Effect<number, StoreError> {
    return Effect.succeed(1)
  }
  insert(_: string, docs: ReadonlyArray<Doc>): Effect.Effect<void, StoreError> {
    return Effect.sync(() => {
      for (const doc of docs) this.#rows.set(doc["id"] as number, doc)
    })
  }
  update(table: string, id: number): Effect.Effect<Doc, StoreError> {
    return Effect.fail(StoreError.notFound(table, id))
  }
  remove(): Effect.Effect<number, StoreError> {
    return Effect.succeed(0)
  }
  get(_: string, ids: ReadonlyArray<number>): Effect.Effect<ReadonlyArray<Doc>, StoreError> {
    return Effect.sync(() => ids.flatMap((id): ReadonlyArray<Doc> => {
      const doc = this.#rows.get(id)
      return doc === undefined ? [] : [doc]
    }))
  }
  find(): Effect.Effect<ReadonlyArray<Doc>, StoreError> {
    return Effect.sync(() => [...this.#rows.values()])
  }
  count(): Effect.Effect<number, StoreError> {
    return Effect.sync(() => this.#rows.size)
  }
  batch(ops: ReadonlyArray<Driver.WriteOp>): Effect.Effect<void, StoreError> {
    return Effect.forEach(ops, (op) => (op._tag === "Insert" ? this.insert(op.table, op.docs) : Effect.void), { discard: true })
  }
  close(): Effect.Effect<void> {
    return Effect.sync(() => {
      this.#closed = true
    })
  }
}

describe("a driver written as a class", () => {
  it("is called with itself as `this`, close and batch included", async () => {
    const inner = new ClassDriver()
    const d = Driver.validated(inner)
    await Effect.runPromise(d.declare([table]))
    await Effect.runPromise(d.batch!([{ _tag: "Insert", table: "thing", docs: [{ id: 1, uid: "a" }] }]))
    expect(await Effect.runPromise(d.get("thing", [1]))).toEqual([{ id: 1, uid: "a" }])
    await Effect.runPromise(d.close())
    expect(inner.closed).toBe(true)
  })
})
