/**
 * Bad input, fuzzed with fast-check: record fields, feature values against every dtype, query objects,
 * lamindb keyword strings and combinators, store URLs. 10,000 cases per target (LINEAGE_FUZZ_RUNS to change),
 * on the in-memory store or the pure function that is the target, so the whole file stays within seconds.
 *
 * What every case must show: only typed errors come out (instances of the exported classes, with `_tag`),
 * never a TypeError, RangeError or other defect; a refused write leaves nothing behind; an accepted one reads
 * back as it was returned; nothing pollutes Object.prototype; a password in a URL never shows in an error.
 */
import fc from "fast-check"
import { Effect, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Ast, Dtype, Lineage, Q, type QueryInput, type StoreError } from "@lineage/core"
import * as RedisStore from "@lineage/store-redis"
import { record, since } from "./support/figures.js"
import { causeChain, isTyped, typedOutcome } from "./support/typed.js"

const runs = Number(process.env["LINEAGE_FUZZ_RUNS"] ?? 10_000)
/** Redis URL tails a store must refuse rather than fall back to the default namespace. */
const misspelledOptions = ["?prefx=team", "?namespace=team", "?prefix=a&prefix=b", "/0?prefix=p&x=1"]
const seed = Number(process.env["LINEAGE_FUZZ_SEED"] ?? 20_260_407)
const params = { numRuns: runs, seed, endOnFailure: true } as const

/**
 * A registry as untyped (JavaScript) callers use it: inputs and queries of any shape, checked when they run. The
 * fuzzer's inputs have any shape, so it calls every registry through this view, and queries through `untyped`.
 */
interface Untyped {
  create(input: { readonly [k: string]: unknown }): Promise<{ readonly id: number }>
  get(id: number): Promise<unknown>
  filter(...inputs: ReadonlyArray<QueryInput>): { count(): Promise<number> }
}

const untyped = <A>(qs: Lineage.PromiseQuerySet<A>): Lineage.PromiseQuerySet<A> => qs

// ---------------------------------------------------------------------------------------------------------
// Arbitraries

/** Strings a store might mishandle: separators of key layouts, glob characters, RESP and Lua, operators. */
const nastyStrings = [
  ":", "{", "}", "*", "?", "[", "]", "\n", "\r\n", "\t", "\u0000", " ", "", "__", "-", "$", ".", "\\",
  "{lineage}:run:1", "a:b:c", "*3\r\n$3\r\nSET\r\n$5\r\npwned\r\n$1\r\n1\r\n", "\r\nFLUSHALL\r\n",
  "redis.call('FLUSHALL')", "'); redis.call('SET','pwned','1') --", "$gt", "$where", "$ne", "$expr",
  "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "😀", "ü", "日本語", "\u202e", "\ud800"
]
const nasty = fc.oneof(fc.constantFrom(...nastyStrings), fc.string({ maxLength: 12 }), fc.string({ unit: "grapheme", maxLength: 8 }))

/** Values of every JavaScript kind, including the ones JSON cannot hold and operator-looking objects. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: "small" },
  fc.anything({
    maxDepth: 3,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withTypedArray: true,
    withSparseArray: true,
    withBoxedValues: true,
    withUnicodeString: true,
    key: nasty
  }),
  nasty,
  fc.constantFrom<unknown>(
    NaN, Infinity, -Infinity, -0, Number.MAX_SAFE_INTEGER + 2, 1e308, 5e-324, undefined, null, true,
    new Date(Number.NaN), new Date(8.64e15), new Date(-8.64e15), Symbol("s"), () => 1, new URL("https://u:p@x.test/"),
    { $gt: "" }, { $ne: null }, { $where: "sleep(1000)" }, { $regex: ".*" }, { gte: 1 }, { in: [1, 2] }, [{ $gt: "" }],
    Object.create(null) as unknown, new Error("boom"), Promise.resolve(1)
  ),
  fc.date({ noInvalidDate: false }),
  fc.integer(),
  fc.double(),
  fc.array(fc.oneof(fc.integer(), nasty, fc.constant(null)), { maxLength: 4 })
)

const runFields = [
  "id", "uid", "name", "description", "entrypoint", "params", "reference", "referenceType", "startedAt", "started_at",
  "finishedAt", "status", "transform", "transformId", "initiatedByRun", "initiatedRuns", "environment", "report",
  "outputArtifacts", "inputArtifacts", "ulabels", "projects", "createdBy", "featureValues", "lastHeartbeatAt",
  "cliArgs", "branchId", "createdAt", "key", "version", "versionTag", "hash", "isLatest", "handle", "name"
]
const operators = [
  "eq", "ne", "gt", "gte", "lt", "lte", "in", "notIn", "contains", "icontains", "startsWith", "istartsWith",
  "endsWith", "iendsWith", "iexact", "isNull", "range", "regex", "exact", "startswith", "isnull", "notin", "neq"
]
const featureNames = ["fz_int", "fz_float", "fz_str", "fz_bool", "fz_date", "fz_datetime", "fz_dict", "fz_cat", "fz_list", "missing_feature"]
const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...runFields, ...featureNames) },
  { weight: 3, arbitrary: fc.constantFrom(...operators) },
  { weight: 1, arbitrary: nasty }
)
/** lamindb keyword lookups: segments joined by `__`. */
const keyword = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join("__"))
const operand: fc.Arbitrary<unknown> = fc.oneof(
  anyValue,
  fc.constantFrom("started", "completed", "errored", "fz", "a"),
  fc.tuple(anyValue, anyValue),
  fc.dictionary(fc.constantFrom(...operators, "$gt", "key", "uid"), anyValue, { maxKeys: 3 })
)
const expression = fc.dictionary(fc.oneof(keyword, nasty), operand, { maxKeys: 3 })
const queryInput: fc.Arbitrary<QueryInput> = fc.letrec<{ q: QueryInput }>((tie) => ({
  q: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    expression,
    fc.array(tie("q"), { maxLength: 3 }).map((parts) => Q.and(...parts)),
    fc.array(tie("q"), { maxLength: 3 }).map((parts) => Q.or(...parts)),
    tie("q").map((part) => Q.not(part)),
    fc
      .tuple(fc.oneof(keyword, fc.array(segment, { maxLength: 3 })), fc.constantFrom(...operators, "bogus", "$gt"), operand)
      .map(([path, op, value]) => Q.where(path, op as Ast.Operator, value))
  )
})).q

// ---------------------------------------------------------------------------------------------------------

const dtypes = ["int", "float", "num", "str", "bool", "date", "datetime", "dict", "path", "url", "object", "cat[ULabel]", "list[int]", "list[str]", "list[cat[ULabel]]", "list[datetime]"]
const dtypeFeature = (d: string) => `fz_${d.replace(/[^a-z]+/g, "_")}`

let ln: Lineage.Client
const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort()

beforeAll(async () => {
  ln = await Lineage.connect("memory:")
  for (const d of dtypes) await ln.Feature.create({ name: dtypeFeature(d), dtype: d })
  // The features the query arbitrary names.
  for (const [name, dtype] of [["fz_int", "int"], ["fz_float", "float"], ["fz_str", "str"], ["fz_bool", "bool"], ["fz_date", "date"], ["fz_datetime", "datetime"], ["fz_dict", "dict"], ["fz_cat", "cat[ULabel]"], ["fz_list", "list[str]"]] as const)
    await ln.Feature.getOrCreate({ name }, { dtype })
  await ln.ULabel.create({ name: "fz" })
  const transform = await ln.Transform.create({ key: "fuzz.ts", version: "1", kind: "script" })
  for (let i = 0; i < 5; i++) {
    const run = await ln.Run.create({ transform, name: `r${i}`, params: { x: i, nested: { $gt: "" }, "a:b": "{*}" }, status: "started" })
    await run.features.add({ fz_int: i, fz_str: `s${i}`, fz_cat: "fz", fz_list: ["a", nastyStrings[i]!], fz_dict: { $gt: "", k: i } })
  }
})
afterAll(async () => {
  await ln.close()
})

/** Object.prototype is exactly as it was: no input polluted it. */
const expectNoPollution = () => expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys)

describe(`fuzz (${runs} cases per target, seed ${seed})`, () => {
  it("query objects, keyword strings and combinators: results or InvalidQuery, nothing else", async () => {
    const start = performance.now()
    const tags = new Map<string, number>()
    let answered = 0
    await fc.assert(
      fc.asyncProperty(queryInput, fc.oneof(keyword, fc.constantFrom("-startedAt", "status", "-fz_int", "params__x")), fc.boolean(), async (q, order, onArtifacts) => {
        const outcome = await typedOutcome<ReadonlyArray<unknown>>(() =>
          onArtifacts ? untyped(ln.Artifact.filter()).filter(q).orderBy(order).all() : untyped(ln.Run.filter()).filter(q).orderBy(order).limit(20).all()
        )
        if ("ok" in outcome) {
          expect(Array.isArray(outcome.ok)).toBe(true)
          answered++
        } else {
          tags.set(outcome.error._tag, (tags.get(outcome.error._tag) ?? 0) + 1)
          // A query that cannot mean anything is refused as a query, never as a store failure.
          expect(outcome.error._tag).toBe("InvalidQuery")
        }
      }),
      params
    )
    expectNoPollution()
    record({ target: "fuzz: query objects, keyword strings, Q combinators", store: "memory", processes: 1, operations: runs, faults: 0, inputs: runs, lost: 0, seconds: since(start), note: `${answered} answered, refused: ${JSON.stringify(Object.fromEntries(tags))}` })
  }, 120_000)

  it("record fields: a typed error and nothing written, or a record that reads back as returned", async () => {
    const start = performance.now()
    const ln = await Lineage.connect("memory:")
    const transform = await ln.Transform.create({ key: "fuzz.ts", version: "1", kind: "script" })
    const registries: { readonly [name in "Transform" | "Run" | "Feature" | "ULabel" | "Project"]: Untyped } = {
      Transform: ln.Transform,
      Run: ln.Run,
      Feature: ln.Feature,
      ULabel: ln.ULabel,
      Project: ln.Project
    }
    const fieldName = fc.oneof(fc.constantFrom(...runFields, "kind", "dtype", "unit", "sourceCode", "latestKey", "familyKey", "updatedAt", "createdById", "__proto__"), nasty)
    let created = 0
    let refused = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("Transform", "Run", "Feature", "ULabel", "Project" as const),
        fc.dictionary(fieldName, anyValue, { maxKeys: 5 }),
        fc.record({ key: nasty, name: nasty, dtype: fc.constantFrom(...dtypes, "bogus", "list[", "cat[Nope]") }),
        fc.boolean(),
        async (which, fields, base, withBase) => {
          const registry = registries[which]
          const valid: { [k: string]: unknown } =
            which === "Transform" ? { key: base.key } : which === "Run" ? { transform } : which === "Feature" ? { name: base.name, dtype: base.dtype } : { name: base.name }
          // An own "__proto__" key is a known bug with an explicit test below; here the fuzzing goes on past it.
          fc.pre(!Object.hasOwn(fields, "__proto__"))
          const input = withBase ? { ...valid, ...fields } : fields
          const before = await registry.filter({ id__gte: 0 }).count()
          const outcome = await typedOutcome<{ readonly id: number }>(() => registry.create(input))
          const after = await registry.filter({ id__gte: 0 }).count()
          if ("ok" in outcome) {
            created++
            expect(after).toBe(before + 1)
            const again = await registry.get(outcome.ok.id)
            expect(again).toEqual(outcome.ok)
          } else {
            refused++
            // Nothing half-written: a refused create leaves the registry as it was.
            expect(after).toBe(before)
          }
        }
      ),
      params
    )
    expectNoPollution()
    await ln.close()
    record({ target: "fuzz: record fields (create)", store: "memory", processes: 1, operations: runs * 3, faults: 0, inputs: runs, lost: 0, seconds: since(start), note: `${created} created, ${refused} refused` })
  }, 180_000)

  it("feature values against every dtype: stored as encoded, or ValidationError and the old values kept", async () => {
    const start = performance.now()
    // A store of its own: the record-fields target creates features with fuzzed names.
    const ln = await Lineage.connect("memory:")
    for (const d of dtypes) await ln.Feature.create({ name: dtypeFeature(d), dtype: d })
    await ln.ULabel.create({ name: "fz" })
    const transform = await ln.Transform.create({ key: "fuzz.ts", version: "1", kind: "script" })
    const run = await ln.Run.create({ transform, name: "feature-target" })
    const features = await ln.Feature.filter({ name__startswith: "fz_" }).all()
    const dtypeOf = new Map(features.map((f) => [f.name, f.dtype]))
    let stored = 0
    let refused = 0
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...dtypes.map(dtypeFeature)) }, { weight: 1, arbitrary: nasty }), fc.oneof(anyValue, fc.constantFrom<unknown>("fz", ["fz"], "2024-02-29", "2024-02-30", "2024-01-01T00:00:00Z", ["2024-01-01T00:00:00Z"], 3, [1, 2], "C:\\data\\x.csv")), { minKeys: 1, maxKeys: 3 }),
        async (values) => {
          const before = await run.features.get()
          const outcome = await typedOutcome(() => run.features.set(values))
          const after = (await ln.Run.get(run.id)).featureValues as { readonly [k: string]: unknown }
          if ("ok" in outcome) {
            stored++
            // Every value is stored exactly as its dtype encodes it.
            const expected: { [k: string]: unknown } = {}
            for (const [name, v] of Object.entries(values)) {
              if (v === null || v === undefined) continue
              const dtype = Dtype.parse(dtypeOf.get(name)!)!
              expected[name] = Dtype.encode(dtype, v)
            }
            expect(after).toEqual(expected)
          } else {
            refused++
            expect(outcome.error._tag).toBe("ValidationError")
            // Nothing half-written: all the values are as they were.
            expect(await run.features.get()).toEqual(before)
          }
        }
      ),
      params
    )
    expectNoPollution()
    await ln.close()
    record({ target: "fuzz: feature values x every dtype", store: "memory", processes: 1, operations: runs * 3, faults: 0, inputs: runs, lost: 0, seconds: since(start), note: `${dtypes.length} dtypes; ${stored} stored, ${refused} refused` })
  }, 180_000)

  it("Dtype.encode on any value: JSON or undefined, never a throw", () => {
    const start = performance.now()
    fc.assert(
      fc.property(fc.constantFrom(...dtypes), anyValue, (d, v) => {
        const encoded = Dtype.encode(Dtype.parse(d)!, v)
        // JSON in, JSON out (-0 is written as 0, as JSON has no negative zero).
        if (encoded !== undefined) expect(JSON.stringify(JSON.parse(JSON.stringify(encoded)))).toBe(JSON.stringify(encoded))
      }),
      params
    )
    record({ target: "fuzz: Dtype.encode", store: "pure", processes: 1, operations: runs, faults: 0, inputs: runs, lost: 0, seconds: since(start) })
  }, 60_000)

  it("store URLs: connect() refuses with a StoreError that never shows the password", async () => {
    const start = performance.now()
    const password = fc.string({ minLength: 6, maxLength: 16 }).filter((p) => /[A-Za-z0-9]{6}/.test(p)).map((p) => `Pw${p}`)
    const url = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.tuple(fc.constantFrom("memory:", "memory://", "Memory:", "memory:x", "memory:?", "memory://?", "mongo://", "file:", "http://", "redis", "redis:/", ""), fc.string({ maxLength: 10 })).map(([a, b]) => a + b)
    )
    let refused = 0
    await fc.assert(
      fc.asyncProperty(url, password, fc.boolean(), async (u, pw, withSecret) => {
        // Never a Redis, MongoDB or PostgreSQL URL here: those would open sockets (see the pure parser below);
        // nor a SQLite one, which would create its database file.
        fc.pre(!/^\s*(rediss?|mongodb(\+srv)?|postgres(ql)?|sqlite):/i.test(u))
        // memory: URLs echo themselves in errors (a known bug with an explicit test in secrets.test.ts).
        const target = withSecret && !/^memory:/i.test(u) ? u.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, `$1user:${encodeURIComponent(pw)}@`) : u
        const outcome = await typedOutcome(() => Lineage.connect(target))
        if ("ok" in outcome) {
          await outcome.ok.close()
          return
        }
        refused++
        expect(outcome.error._tag).toBe("StoreError")
        if (withSecret && target !== u) for (const c of causeChain(outcome.error)) expect(String(c)).not.toContain(pw)
      }),
      { ...params, numRuns: runs }
    )
    record({ target: "fuzz: store URLs (connect)", store: "memory", processes: 1, operations: runs, faults: 0, inputs: runs, lost: 0, seconds: since(start), note: `${refused} refused` })
  }, 120_000)

  it("Redis URLs: parsed, or a StoreError without the password; the password stays Redacted", async () => {
    const start = performance.now()
    const password = fc.string({ minLength: 1, maxLength: 16 }).map((p) => `Sx9${p}`)
    // A lone surrogate cannot be percent-encoded into a URL at all.
    const wellFormed = (s: string) => {
      try {
        encodeURIComponent(s)
        return true
      } catch {
        return false
      }
    }
    const urls = fc.tuple(
      // `redis:///user:pw@host` (a typo) is a known bug with an explicit test in secrets.test.ts.
      fc.constantFrom("redis://", "rediss://", "REDIS://", "Rediss://"),
      fc.oneof(fc.constant(""), nasty).filter(wellFormed),
      password.filter(wellFormed),
      // No raw "@" or "%" after the credentials: a bare "%" in the userinfo is a known bug (explicit test in
      // secrets.test.ts), and a second "@" would move the host's text into the password.
      fc.oneof(fc.constantFrom("127.0.0.1", "[::1]", "localhost", "", "h:99999", "h:-1", "h:abc", "h/x", "h/1?prefix=a:b", "h/?prefix=", "h/?prefix={x}"), fc.domain(), nasty).filter((h) => !/[@%]/.test(h)),
      fc.oneof(fc.constant(""), fc.constantFrom("/0", "/15", "/-1", "/x", "/1.5", "?prefix=p", "?prefix=*", "?prefix=%0A", "?prefix=a%7Bb", ...misspelledOptions), nasty.filter((t) => !/[@%]/.test(t)))
    )
    let parsed = 0
    await fc.assert(
      fc.asyncProperty(urls, fc.boolean(), async ([scheme, user, pw, host, tail], redacted) => {
        const url = `${scheme}${encodeURIComponent(user)}:${encodeURIComponent(pw)}@${host}${tail}`
        const exit = await Effect.runPromiseExit(RedisStore.parseUrl(redacted ? Redacted.make(url) : url))
        // A misspelled or repeated option never falls back to the default namespace (unless a "?" in the
        // host already began the query, making the tail part of an option's value).
        if (misspelledOptions.includes(tail) && !/[?#]/.test(host)) expect(exit._tag).toBe("Failure")
        if (exit._tag === "Success") {
          parsed++
          expect(String(exit.value.password)).not.toContain(pw)
          expect(JSON.stringify(exit.value)).not.toContain(encodeURIComponent(pw).length > 4 ? encodeURIComponent(pw) : "\u0001")
        } else {
          const error: unknown = await Effect.runPromise(Effect.flip(RedisStore.parseUrl(url)))
          expect(isTyped(error)).toBe(true)
          const text = `${String(error)} ${(error as Error).stack ?? ""}`
          expect(text).not.toContain(encodeURIComponent(pw))
          if (pw.length >= 6) expect(text).not.toContain(pw)
        }
      }),
      params
    )
    record({ target: "fuzz: Redis URLs (parseUrl)", store: "pure", processes: 1, operations: runs, faults: 0, inputs: runs, lost: 0, seconds: since(start), note: `${parsed} parsed` })
  }, 60_000)
})

describe("regressions found by fuzzing (explicit inputs)", () => {
  it("a store URL with an option its store does not know, or one given twice, is refused naming the known ones", async () => {
    const cases = [
      ["memory:?x=1", '"x"', "it takes no options"],
      ["redis://u:Opt10nPw@127.0.0.1:1/0?prefx=team", '"prefx"', "known options: prefix"],
      ["redis://u:Opt10nPw@127.0.0.1:1/0?namespace=team", '"namespace"', "known options: prefix"],
      ["rediss://u:Opt10nPw@127.0.0.1:1/0?prefix=a&prefix=b", '"prefix" is given twice', "known options: prefix"],
      ["mongodb://u:Opt10nPw@127.0.0.1:1/lab?prefx=team", "prefx", "lineage's options: prefix, database"],
      ["mongodb://u:Opt10nPw@127.0.0.1:1/lab?namspace=team&w=majority", "namspace", "lineage's options: prefix, database"],
      ["mongodb://u:Opt10nPw@127.0.0.1:1/lab?database=a&DATABASE=b", '"database" is given twice', "known options: prefix, database"]
    ] as const
    for (const [url, named, known] of cases) {
      const outcome = await typedOutcome(() => Lineage.connect(url))
      if ("ok" in outcome) throw new Error(`${url} connected`)
      expect(outcome.error._tag).toBe("StoreError")
      const error = outcome.error as StoreError
      expect(error.reason._tag, url).toBe("Invalid")
      expect(error.message).toContain(named)
      expect(error.message).toContain(known)
      for (const c of causeChain(error)) expect(String(c)).not.toContain("Opt10nPw")
    }
  })

  it('a create input with an own "__proto__" key (as JSON.parse makes) is refused as an unknown field', async () => {
    const ln = await Lineage.connect("memory:")
    try {
      // Input from the fuzzer, shrunk: JSON.parse gives an own "__proto__" property.
      const input = JSON.parse('{"key":"proto-json","__proto__":{"isLatest":false}}') as { readonly [k: string]: unknown }
      const transforms: Untyped = ln.Transform
      const outcome = await typedOutcome(() => transforms.create(input))
      expect("error" in outcome && outcome.error._tag).toBe("ValidationError")
      expect(await ln.Transform.filter({ key: "proto-json" }).count()).toBe(0)
    } finally {
      await ln.close()
    }
  })

  it('an own "__proto__" key holding a function, then "name": a typed error, not a TypeError', async () => {
    const ln = await Lineage.connect("memory:")
    try {
      const input: { [k: string]: unknown } = Object.create(null) as { [k: string]: unknown }
      Object.defineProperty(input, "__proto__", { value: () => 1, enumerable: true, writable: true, configurable: true })
      input["key"] = "proto-fn"
      input["name"] = 2011427297
      const transforms: Untyped = ln.Transform
      const outcome = await typedOutcome(() => transforms.create(input))
      expect("error" in outcome && outcome.error._tag).toBe("ValidationError")
    } finally {
      await ln.close()
    }
  })
})
