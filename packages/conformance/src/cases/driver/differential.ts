/**
 * Differential checks: on randomly generated documents and queries, the driver must return exactly what the
 * reference evaluator returns. Hand-written cases cover the traps we thought of; these cover the ones we did
 * not. Seeds are fixed so a failure reproduces; fast-check shrinks it to a small counterexample.
 */
import assert from "node:assert/strict"
import { Ast, Driver, Evaluator } from "@lineage/core"
import fc from "fast-check"
import type { Case, CaseContext } from "../../Case.js"
import { agrees, declareAll, idsOf, keysetWalk, run, shuffle } from "../../Fixtures.js"

type Json = Driver.Json
type Doc = Driver.Doc

const group = "differential"

/** Pools make matches likely; random graphemes keep the surprises (no lone surrogates: stores speak UTF-8). */
const stringPool = ["Cell Ranger", "CELL RANGER", "cell ranger", "Cell", "cell", "CELL", "cellpose", "scanpy", "", " ", "é", "É", "ß", "SS", "İ", "i", "🧬", "a.b", "10", "ranger", "RANGER", "Ärzte Café", "ÄRZTE", "\uFFFD", "z"]
const str: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...stringPool) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 4 }) }
)
const num: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -3, max: 3 }) },
  // -0 is not JSON (it reads back as 0), so it is not data a store can be asked to keep.
  { weight: 1, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((x) => (Object.is(x, -0) ? 0 : x)) },
  { weight: 1, arbitrary: fc.constantFrom(0.01, 0.1, 1e15, 9007199254740991, -9007199254740991) },
  // JSON writes these in exponent form, which decides their place among arrays and objects (canonical text).
  { weight: 1, arbitrary: fc.constantFrom(1e21, 2e-7, -1e-7, 1.5e300, 5e-324) }
)
const datePool = ["2024-03-01T12:34:56.789Z", "2024-03-01T12:34:56.790Z", "2024-01-01T00:00:00.000Z"]
const date: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...datePool),
  fc.date({ min: new Date("2023-01-01T00:00:00.000Z"), max: new Date("2025-12-31T23:59:59.999Z"), noInvalidDate: true }).map((d) => d.toISOString())
)
const scalar: fc.Arbitrary<Json> = fc.oneof(str, num, date, fc.boolean(), fc.constant(null))
const value: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom("a", "b"), scalar, { maxKeys: 2, noNullPrototype: true }) }
)
/** Mostly the field's own type, sometimes anything: mixed types in one field are what stores get wrong. */
const typed = (own: fc.Arbitrary<Json>): fc.Arbitrary<Json> => fc.oneof({ weight: 4, arbitrary: own }, { weight: 1, arbitrary: value })

const maybe = <A>(arb: fc.Arbitrary<A>): fc.Arbitrary<A | undefined> => fc.option(arb, { nil: undefined, freq: 4 })

/** Builds an object from optional entries; a missing entry is a missing field, not a null one. */
const object = (entries: ReadonlyArray<readonly [string, Json | undefined]>): { [key: string]: Json } => {
  const out: { [key: string]: Json } = {}
  for (const [k, v] of entries) if (v !== undefined) out[k] = v
  return out
}

const params: fc.Arbitrary<Json> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        maybe(
          fc.oneof(
            fc.tuple(maybe(typed(num))).map(([b]) => object([["b", b]])),
            scalar,
            // An array of objects on the path: the evaluator does not look inside, MongoDB would.
            fc.array(fc.tuple(maybe(typed(num))).map(([b]) => object([["b", b]])), { maxLength: 2 })
          )
        ),
        maybe(typed(num))
      )
      .map(([a, lr]) => object([["a", a], ["lr", lr]]))
  }
)

const row: fc.Arbitrary<{ [key: string]: Json }> = fc
  .tuple(maybe(typed(str)), maybe(typed(num)), maybe(typed(date)), maybe(typed(fc.boolean())), maybe(value), maybe(params))
  .map(([name, n, at, flag, tags, p]) => object([["name", name], ["n", n], ["at", at], ["flag", flag], ["tags", tags], ["params", p]]))

const rows = fc.array(row, { minLength: 4, maxLength: 24 })

const paths: ReadonlyArray<Ast.Path> = [["name"], ["n"], ["at"], ["flag"], ["tags"], ["params", "a", "b"], ["params", "lr"], ["params", "a"], ["uid"], ["nope"]]
/** `name` carries most string traps, so string operators land on it more often. */
const path: fc.Arbitrary<Ast.Path> = fc.oneof({ weight: 3, arbitrary: fc.constant(["name"]) }, { weight: 7, arbitrary: fc.constantFrom(...paths) })

/** Pieces of the pooled strings in other cases, so string operators match often and case matters. */
const fragments = ["cell", "CELL", "Cell", "ranger", "RANGER", "cell r", "é", "É", "ärzte", "ÄRZTE", "café", "CAFÉ", "i", "İ", "ss", "SS", "ß", "a.b", "A.B", ""]

/** RE2 patterns: inline flags, Unicode classes, and nested quantifiers a backtracking engine would choke on. */
const patterns = ["^Cell", "ell", "^$", "\\d", "[A-Z]", "🧬", "^.$", "ranger$", "^\\p{Lu}", "a\\.b", "é|ß", "(?i)^cell", "^(\\pL|\\s)+$", "^(.*e)+r$"]

const operand = (op: Ast.Operator): fc.Arbitrary<Json> => {
  switch (op) {
    case "in":
    case "notIn":
      return fc.array(fc.oneof({ weight: 5, arbitrary: scalar }, { weight: 1, arbitrary: value }), { maxLength: 4 })
    case "range":
      return fc.oneof(fc.tuple(num, num), fc.tuple(date, date), fc.tuple(str, str), fc.tuple(scalar, scalar))
    case "isNull":
      return fc.boolean()
    case "regex":
      return fc.constantFrom(...patterns)
    case "eq":
    case "ne":
      return value
    default:
      return Ast.stringOperators.has(op) ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...fragments) }, { weight: 1, arbitrary: str }) : scalar
  }
}

/** String operators mostly land on `name`, where the case and unicode traps live. */
const pathFor = (op: Ast.Operator): fc.Arbitrary<Ast.Path> =>
  Ast.stringOperators.has(op) ? fc.oneof({ weight: 2, arbitrary: fc.constant(["name"]) }, { weight: 1, arbitrary: path }) : path

const fieldCond: fc.Arbitrary<Ast.Cond> = fc
  .constantFrom(...Ast.operators)
  .chain((op) => fc.tuple(pathFor(op), operand(op)).map(([p, v]) => Ast.field(p, op, v)))

const condOf = (depth: number): fc.Arbitrary<Ast.Cond> => {
  if (depth === 0) return fieldCond
  const inner = condOf(depth - 1)
  // Empty And/Or are legal and tested, but mostly they would turn a whole query trivial.
  const conds = fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 6, arbitrary: fc.array(inner, { minLength: 1, maxLength: 3 }) })
  return fc.oneof(
    { weight: 3, arbitrary: fieldCond },
    { weight: 1, arbitrary: conds.map((cs): Ast.Cond => ({ _tag: "And", conds: cs })) },
    { weight: 1, arbitrary: conds.map((cs): Ast.Cond => ({ _tag: "Or", conds: cs })) },
    { weight: 1, arbitrary: inner.map((c): Ast.Cond => Ast.not(c)) }
  )
}
const cond = condOf(3)

const maxOrderKeys = 3

const isIdKey = (key: Ast.OrderKey): boolean => key.path.length === 1 && key.path[0] === "id"

const orderBy: fc.Arbitrary<ReadonlyArray<Ast.OrderKey>> = fc.array(
  fc.record({ path: fc.constantFrom(...paths, ["id"]), direction: fc.constantFrom<Ast.Direction>("asc", "desc") }),
  { maxLength: maxOrderKeys }
)

const table = fc.constantFrom("thing", "bare")

/** Inserts `rows` under fresh ids in a shuffled order, runs `f`, and removes them so the next run starts empty. */
const withRows = async <A>(ctx: CaseContext, name: string, data: ReadonlyArray<Doc>, shuffleSeed: number, f: (docs: ReadonlyArray<Doc>) => Promise<A>): Promise<A> => {
  if (data.length === 0) return f([])
  const first = await run(ctx.driver.reserveIds(name, data.length))
  const docs = data.map((d, i) => ({ id: first + i, uid: `g${first + i}`, ...d }))
  await run(ctx.driver.insert(name, shuffle(docs, shuffleSeed)))
  try {
    return await f(docs)
  } finally {
    await run(ctx.driver.remove(name, idsOf(docs)))
  }
}

const settings = (numRuns: number): fc.Parameters<unknown> => ({ seed: 20240301, numRuns, endOnFailure: false })

const assertProperty = <Ts extends [unknown, ...Array<unknown>]>(
  numRuns: number,
  arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => Promise<void>
): Promise<void> => fc.assert(fc.asyncProperty<Ts>(...arbs, predicate), settings(numRuns) as fc.Parameters<Ts>)

export const differential: ReadonlyArray<Case> = [
  {
    group,
    name: "find and count agree with the evaluator on random documents and conditions",
    run: async (ctx) => {
      await declareAll(ctx)
      await assertProperty(500, [table, rows, cond, fc.integer()], async (name, data, where, s) => {
        await withRows(ctx, name, data, s, (docs) => agrees(ctx, name, docs, { where, orderBy: [] }))
      })
    }
  },
  {
    group,
    name: "ordering, limit and offset agree with the evaluator",
    run: async (ctx) => {
      await declareAll(ctx)
      await assertProperty(
        300,
        [table, rows, condOf(2), orderBy, maybe(fc.nat({ max: 8 })), maybe(fc.nat({ max: 8 })), fc.integer()],
        async (name, data, where, order, limit, offset, s) => {
          await withRows(ctx, name, data, s, (docs) => agrees(ctx, name, docs, { where, orderBy: order, limit, offset }))
        }
      )
    }
  },
  {
    group,
    name: "after cursors agree with the evaluator",
    run: async (ctx) => {
      await declareAll(ctx)
      // A cursor holds one value per order key, the row's id at an `id` key (see the README): random values
      // for the longest order, the id put in where the order has an `id` key.
      const cursorSource = fc.oneof(
        fc.nat().map((i) => ({ fromDoc: i })),
        fc.tuple(fc.array(value, { minLength: maxOrderKeys, maxLength: maxOrderKeys }), fc.integer({ min: 0, max: 40 })).map(([values, id]) => ({ values, id }))
      )
      await assertProperty(
        300,
        [table, rows, condOf(1), orderBy, cursorSource, maybe(fc.nat({ max: 6 })), fc.integer()],
        async (name, data, where, order, source, limit, s) => {
          await withRows(ctx, name, data, s, async (docs) => {
            let after: Ast.Cursor
            if ("fromDoc" in source) {
              if (docs.length === 0) return
              after = Evaluator.cursorOf(order, docs[source.fromDoc % docs.length]!)
            } else {
              const id = (docs.length === 0 ? 0 : (docs[0]!["id"] as number)) + source.id
              after = { values: order.map((key, i) => (isIdKey(key) ? id : source.values[i]!)), id }
            }
            await agrees(ctx, name, docs, { where, orderBy: order, after, limit })
          })
        }
      )
    }
  },
  {
    group,
    name: "keyset walks over random data return the evaluator's whole order",
    run: async (ctx) => {
      await declareAll(ctx)
      await assertProperty(200, [table, rows, condOf(1), orderBy, fc.integer({ min: 1, max: 5 }), fc.integer()], async (name, data, where, order, size, s) => {
        await withRows(ctx, name, data, s, async (docs) => {
          const got = await keysetWalk(ctx, name, { where, orderBy: order, pageSize: size, maxRows: docs.length })
          assert.deepStrictEqual(idsOf(got), idsOf(Evaluator.find(docs, { where, orderBy: order })))
        })
      })
    }
  },
  {
    group,
    name: "after random updates, queries still agree with the evaluator",
    run: async (ctx) => {
      await declareAll(ctx)
      const patch = fc
        .tuple(maybe(typed(str)), maybe(typed(num)), maybe(typed(date)), maybe(params))
        .map(([name, n, at, p]) => object([["name", name], ["n", n], ["at", at], ["params", p]]))
      await assertProperty(
        200,
        [rows, fc.array(fc.tuple(fc.nat(), patch), { maxLength: 6 }), cond, orderBy, fc.integer()],
        async (data, patches, where, order, s) => {
          await withRows(ctx, "bare", data, s, async (inserted) => {
            const docs = [...inserted]
            for (const [i, p] of patches) {
              if (docs.length === 0) break
              const k = i % docs.length
              const id = docs[k]!["id"] as number
              const want: Doc = { ...docs[k]!, ...p }
              assert.deepStrictEqual(await run(ctx.driver.update("bare", id, p)), want, "update returned another document")
              docs[k] = want
            }
            await agrees(ctx, "bare", docs, { where, orderBy: order })
          })
        }
      )
    }
  }
]
