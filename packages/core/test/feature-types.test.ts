/**
 * `FeatureTypes`: the declaration text `render` gives for every dtype and for hostile names (read back through
 * TypeScript's own parser, so a name that ended a string or a comment would show; invisible characters
 * escaped), `declaration` over a memory store (every live feature, page by page; the trash left out; a keyword
 * filter), and a generated file of a few hundred features compiled with consumers through the TypeScript
 * compiler API, "@lineage/core" resolved to this package's source: declared features of the right type pass
 * `LineageFeatures`, `Features.add`, the Promise face's `features.add` and `Run.filter`; wrong types and
 * undeclared names fail each; the compiler's work stays within a bound.
 */
import { Effect } from "effect"
import ts from "typescript"
import { describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as FeatureTypes from "../src/FeatureTypes.js"
import { Feature } from "../src/Registry.js"
import { compile } from "../../../test/support/compile.js"

const source = "memory:"

/** The properties of `LineageFeatures` in `text`, parsed by TypeScript: name, type and the line each stands on. */
const parsed = (text: string) => {
  const file = ts.createSourceFile("features.d.ts", text, ts.ScriptTarget.ES2022, true)
  const properties: Array<{ readonly name: string; readonly type: string; readonly line: number }> = []
  const visit = (node: ts.Node): void => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === "LineageFeatures")
      for (const member of node.members) {
        if (!ts.isPropertySignature(member) || !ts.isStringLiteral(member.name)) throw new Error(`unexpected member ${member.getText()}`)
        const line = file.getLineAndCharacterOfPosition(member.name.getStart()).line
        properties.push({ name: member.name.text, type: member.type!.getText(), line })
      }
    ts.forEachChild(node, visit)
  }
  visit(file)
  const diagnostics = (file as unknown as { readonly parseDiagnostics: ReadonlyArray<ts.Diagnostic> }).parseDiagnostics
  return { properties, diagnostics: diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")) }
}

describe("render", () => {
  it("maps every dtype to the type both features.add and filters take", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["int", "number"],
      ["float", "number"],
      ["num", "number"],
      ["str", "string"],
      ["url", "string"],
      ["path", "string"],
      ["bool", "boolean"],
      ["date", "Date | string"],
      ["datetime", "Date | string"],
      ["dict", `import("@lineage/core").FeatureTypes.JsonObject`],
      ["object", `import("@lineage/core").FeatureTypes.Json`],
      ["cat", "string"],
      ["cat[ULabel]", "string"],
      ["cat[User]", "string"],
      ["list[int]", "ReadonlyArray<number>"],
      ["list[list[datetime]]", "ReadonlyArray<ReadonlyArray<Date | string>>"],
      ["list[cat[Project]]", "ReadonlyArray<string>"]
    ]
    const text = FeatureTypes.render(
      cases.map(([dtype]) => ({ name: `f_${dtype}`, dtype })),
      { source }
    )
    const { properties, diagnostics } = parsed(text)
    expect(diagnostics).toEqual([])
    expect(Object.fromEntries(properties.map((p) => [p.name, p.type]))).toEqual(Object.fromEntries(cases.map(([dtype, type]) => [`f_${dtype}`, type])))
  })

  it("shows each dtype, and what the type does not say, as a doc comment on the feature's line", () => {
    const text = FeatureTypes.render(
      [
        { name: "day", dtype: "date" },
        { name: "when", dtype: "datetime" },
        { name: "who", dtype: "cat[User]" },
        { name: "acc", dtype: "float" }
      ],
      { source }
    )
    expect(text).toContain(`    /** date: a Date (its UTC day) or "YYYY-MM-DD" */ "day": Date | string\n`)
    expect(text).toContain(`    /** datetime: a Date or a date-time string, stored in UTC */ "when": Date | string\n`)
    expect(text).toContain(`    /** cat[User]: the name of a User (its handle) */ "who": string\n`)
    expect(text).toContain(`    /** float */ "acc": number\n`)
  })

  it("declares a feature whose dtype does not parse as unknown, saying on its line that features.add refuses its values, whatever the dtype holds", () => {
    const dtype = 'weird\n*/ "x": number // \u2028'
    const text = FeatureTypes.render([{ name: "odd", dtype }], { source })
    const { properties, diagnostics } = parsed(text)
    expect(diagnostics).toEqual([])
    expect(properties).toEqual([{ name: "odd", type: "unknown", line: 5 }])
    expect(text.split("\n")[5]).toBe(
      `    "odd": unknown // dtype "weird\\n*/ \\"x\\": number // \\u2028" does not parse: filters compare any value, features.add refuses every value`
    )
  })

  it("keeps hostile names data: each reads back as itself, on its own line, and nothing of one ends a string or a comment", () => {
    const names = [
      'a"b',
      "*/",
      "/*",
      "end */ of comment",
      "line\u2028sep",
      "para\u2029sep",
      "__proto__",
      "constructor",
      "new\nline",
      "cr\rlf",
      "tab\there",
      "back\\slash",
      "${template}",
      "`tick`",
      "bidi\u202eoverride\u2066",
      "\ufeffbom",
      "lone\ud800surrogate",
      "zero\u200bwidth\u200djoiner\u2060word",
      "variation\ufe0fselector\u{e0100}17",
      "tag\u{e0041}\u{e007f}characters",
      "soft\u00adhyphen",
      "no\u00a0break\u3000space",
      "hangul\u3164filler",
      "del\u007fc1\u0085\u009bcontrols",
      "arabic\u061cmark\u180emongolian",
      "emoji 🧬 with variation 🧬\ufe0f",
      "",
      "x".repeat(100_000)
    ]
    const text = FeatureTypes.render(
      names.map((name) => ({ name, dtype: "int" })),
      { source: "redis://u:***@h:6379/0?prefix=a\nb\u2028*/" }
    )
    const { properties, diagnostics } = parsed(text)
    expect(diagnostics).toEqual([])
    expect(properties.map((p) => p.name).sort()).toEqual([...names].sort())
    // One line each, in order: the header (2 lines), `export {}`, `declare module`, `interface`, then the names.
    expect(properties.map((p) => p.line)).toEqual(names.map((_, i) => 5 + i))
    expect(text.split("\n")).toHaveLength(5 + names.length + 3)
    // No character an editor reads as a line break but `\n`, none that reorders, hides or disguises text.
    expect(text).not.toMatch(/[\r\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/)
    expect(text.replaceAll("\n", "")).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]|(?! )\p{Zs}/u)
    // An astral character is escaped as both its halves, so the name stays a JSON string.
    expect(text).toContain(String.raw`"tag\udb40\udc41\udb40\udc7fcharacters"`)
    expect(text).toContain(String.raw`"emoji 🧬 with variation 🧬\ufe0f"`)
    expect(text.split("\n")[0]).toBe(
      '// Generated by `lineage types` from "redis://u:***@h:6379/0?prefix=a\\nb\\u2028*/". Do not edit: run `lineage types` again when features change.'
    )
  })

  it("sorts by code units and holds no timestamp: the same features give the same text, in any order", () => {
    const features = ["b", "B", "a", "é", "_", "a_b", "aa"].map((name) => ({ name, dtype: "str" }))
    const once = FeatureTypes.render(features, { source })
    expect(FeatureTypes.render([...features].reverse(), { source })).toBe(once)
    expect(parsed(once).properties.map((p) => p.name)).toEqual(["B", "_", "a", "a_b", "aa", "b", "é"])
  })

  it("declares a name given twice once, with the union of its dtypes' types", () => {
    const text = FeatureTypes.render(
      [
        { name: "x", dtype: "int" },
        { name: "x", dtype: "str" },
        { name: "x", dtype: "float" }
      ],
      { source }
    )
    expect(parsed(text).properties).toEqual([{ name: "x", type: "number | string", line: 5 }])
  })

  it("names the filter that chose the features in the header, escaped, and declares the same way", () => {
    const features = [{ name: "qc_depth", dtype: "float" }]
    const all = FeatureTypes.render(features, { source })
    const some = FeatureTypes.render(features, { source, filter: ["name__startswith=qc_", "dtype=float\u2028*/"] })
    expect(some.split("\n")[1]).toBe(
      String.raw`// Declares only the features matching "name__startswith=qc_" and "dtype=float\u2028*/": run it with the same --filter.`
    )
    expect(some.split("\n").slice(2)).toEqual(all.split("\n").slice(1))
    expect(parsed(some)).toEqual({ properties: [{ name: "qc_depth", type: "number", line: 6 }], diagnostics: [] })
    expect(FeatureTypes.render(features, { source, filter: [] })).toBe(all)
  })

  it("declares no feature as an empty interface", () => {
    const { properties, diagnostics } = parsed(FeatureTypes.render([], { source }))
    expect([properties, diagnostics]).toEqual([[], []])
  })
})

// ---------------------------------------------------------------------------------------------------------

const run = <A, E>(effect: Effect.Effect<A, E, import("../src/Store.js").Store>) => Effect.runPromise(Effect.provide(effect, MemoryStore.layer()))

describe("declaration", () => {
  it("declares every live feature, page by page, without the trashed ones, and counts the untyped", async () => {
    const declared = await run(
      Effect.gen(function* () {
        yield* Feature.create({ name: "accuracy", dtype: "float" })
        const trashed = yield* Feature.create({ name: "retired", dtype: "int" })
        yield* Feature.delete(trashed)
        // Written around `create`'s dtype check, as another tool may write them.
        yield* Feature.createMany([
          ...Array.from({ length: 40 }, (_, i) => ({ name: `f${String(i).padStart(2, "0")}`, dtype: "list[str]" })),
          { name: "foreign", dtype: "tensor[float32]" }
        ])
        return yield* FeatureTypes.declaration({ source, pageSize: 7 })
      })
    )
    const names = parsed(declared.text).properties.map((p) => p.name)
    expect(names).toEqual(["accuracy", ...Array.from({ length: 40 }, (_, i) => `f${String(i).padStart(2, "0")}`), "foreign"])
    expect([declared.count, declared.untyped]).toEqual([42, 1])
    expect(declared.text).toContain(`"foreign": unknown // dtype "tensor[float32]" does not parse`)
  })

  it("declares only the features a keyword filter selects, and refuses a filter the query language refuses", async () => {
    const { declared, refused } = await run(
      Effect.gen(function* () {
        yield* Feature.createMany([
          { name: "qc_depth", dtype: "float" },
          { name: "qc_label", dtype: "str" },
          { name: "qc_ratio", dtype: "float" },
          { name: "accuracy", dtype: "float" }
        ])
        const filter = ["name__startswith=qc_", "dtype=float"]
        return {
          declared: yield* FeatureTypes.declaration({ source, filter, pageSize: 1 }),
          refused: yield* Effect.flip(FeatureTypes.declaration({ source, filter: ["name__nosuchop=x"] }))
        }
      })
    )
    expect(parsed(declared.text).properties.map((p) => p.name)).toEqual(["qc_depth", "qc_ratio"])
    expect(declared.count).toBe(2)
    expect(declared.text).toContain(`// Declares only the features matching "name__startswith=qc_" and "dtype=float"`)
    expect(refused).toMatchObject({ _tag: "InvalidQuery", registry: "Feature" })
  })

  it("reads tens of thousands of features", async () => {
    const n = 20_000
    const started = performance.now()
    const declared = await run(
      Effect.gen(function* () {
        yield* Feature.createMany(Array.from({ length: n }, (_, i) => ({ name: `feature_${i}`, dtype: i % 2 === 0 ? "float" : "cat[ULabel]" })))
        return yield* FeatureTypes.declaration({ source })
      })
    )
    expect(declared.count).toBe(n)
    expect(parsed(declared.text).properties).toHaveLength(n)
    expect(performance.now() - started).toBeLessThan(20_000)
  }, 60_000)
})

// ---------------------------------------------------------------------------------------------------------

/**
 * Features a project may well declare: the scalar dtypes and lists of them, in turn (dict and object, whose
 * JSON paths make every filter key costlier to check, are rarer).
 */
const realistic = (n: number): ReadonlyArray<FeatureTypes.Declared> => {
  const dtypes = ["float", "int", "str", "cat[ULabel]", "bool", "date", "datetime", "list[str]", "num", "list[cat[ULabel]]"]
  return Array.from({ length: n }, (_, i) => ({ name: `metric_${i}`, dtype: dtypes[i % dtypes.length]! }))
}

describe("a generated file, compiled with its consumers", () => {
  /** A few hundred, as a project declares: the compile below stays a few seconds, and its cost is bounded. */
  const declared = 300
  const generated = FeatureTypes.render(
    [
      ...realistic(declared),
      { name: "accuracy", dtype: "float" },
      { name: "cell_type", dtype: "cat[ULabel]" },
      { name: "day", dtype: "date" },
      { name: "when", dtype: "datetime" },
      { name: "tags", dtype: "list[str]" },
      { name: "meta", dtype: "dict" },
      { name: "blob", dtype: "object" },
      { name: "foreign", dtype: "tensor[float32]" },
      { name: 'a"b*/', dtype: "int" },
      { name: "line\u2028sep\nnew", dtype: "int" },
      { name: "__proto__", dtype: "bool" }
    ],
    { source: "sqlite:./.lineage/lineage.db" }
  )
  const consumer = (body: string) => `import type { LineageFeatures } from "@lineage/core"\n${body}\nexport {}\n`
  /** `body` with a run and a run's feature manager (the Promise face's `run.features`) at hand. */
  const uses = (body: string) =>
    `import { Features, Q, Run, type Lineage } from "@lineage/core"\ndeclare const run: Run\ndeclare const manager: Lineage.FeatureManager\n${body}\nexport {}\n`

  it("types a few hundred declared features, within a bounded cost, and refuses wrong values and undeclared names", () => {
    const { diagnostics, cost } = compile("packages/core/test/feature-types-virtual", {
      "lineage-features.d.ts": generated,
      "good.ts": consumer(`
        const values: Partial<LineageFeatures> = {
          accuracy: 0.93,
          cell_type: "T cell",
          day: "2024-05-01",
          when: new Date(),
          tags: ["a", "b"],
          meta: { lr: 0.01, layers: [64, { dropout: null }] },
          blob: [1, "two", { three: true }],
          foreign: Symbol("anything"),
          'a"b*/': 1,
          "line\\u2028sep\\nnew": 2,
          ["__proto__"]: true
        }
        const names: ReadonlyArray<keyof LineageFeatures> = ["accuracy", "__proto__", 'a"b*/', "metric_${declared - 1}"]
        const days: ReadonlyArray<LineageFeatures["day"]> = ["2024-05-01", new Date()]
        const times: ReadonlyArray<LineageFeatures["when"]> = [new Date(), "2024-05-01T10:00:00+02:00"]
        export { values, names, days, times }`),
      "wrong-value.ts": consumer(`const v: LineageFeatures["accuracy"] = "high"`),
      "undeclared.ts": consumer(`const n: keyof LineageFeatures = "acuracy"`),
      "date-number.ts": consumer(`const d: LineageFeatures["day"] = 20240501`),
      "category-record.ts": consumer(`const c: LineageFeatures["cell_type"] = { name: "T cell" }`),
      "readonly-list.ts": consumer(`declare const t: LineageFeatures["tags"]\nt.push("c")`),
      "dict-of-date.ts": consumer(`const m: LineageFeatures["meta"] = { at: new Date() }`),
      "uses.ts": uses(`
        Features.add(run, { accuracy: 0.93, cell_type: "T cell", day: new Date(), when: "2024-05-01T10:00:00+02:00", tags: ["a"], meta: { lr: 0.01 } })
        Run.filter({ accuracy__gte: 0.9, cell_type: "T cell", day__gte: new Date(), when: { lt: "2024-06-01T00:00:00Z" }, tags: ["a"] })
        Run.filter({ day: "2024-05-01", when__gte: new Date(), metric_0__lt: 3, metric_${declared - 1}: ["x"] })
        Run.filter(Q.where("left_out_of_the_file", "gt", 0.5))
        manager.add({ accuracy: null, 'a"b*/': 3 })`),
      "add-wrong-value.ts": uses(`Features.add(run, { accuracy: "high" })`),
      "add-undeclared.ts": uses(`Features.add(run, { acuracy: 0.93 })`),
      "promise-add-wrong-value.ts": uses(`manager.add({ tags: "a" })`),
      "filter-wrong-value.ts": uses(`Run.filter({ accuracy: "high" })`),
      "filter-undeclared.ts": uses(`Run.filter({ acuracy__gte: 0.9 })`)
    })
    expect(diagnostics["lineage-features.d.ts"]).toEqual([])
    expect(diagnostics["good.ts"]).toEqual([])
    expect(diagnostics["wrong-value.ts"]).toEqual([expect.stringMatching(/^TS2322: Type 'string' is not assignable to type 'number'/)])
    expect(diagnostics["undeclared.ts"]).toEqual([expect.stringMatching(/^TS2820: Type '"acuracy"' is not assignable to type 'keyof LineageFeatures'. Did you mean '"accuracy"'\?/)])
    expect(diagnostics["date-number.ts"]).toEqual([expect.stringMatching(/^TS2322: Type 'number' is not assignable to type 'string \| Date'/)])
    expect(diagnostics["category-record.ts"]).toEqual([expect.stringMatching(/^TS2322: .* not assignable to type 'string'/)])
    expect(diagnostics["readonly-list.ts"]).toEqual([expect.stringMatching(/^TS2339: Property 'push' does not exist on type 'readonly string\[\]'/)])
    expect(diagnostics["dict-of-date.ts"]).toEqual([expect.stringMatching(/^TS2322: .*Date/)])
    expect(diagnostics["uses.ts"]).toEqual([])
    expect(diagnostics["add-wrong-value.ts"]).toEqual([expect.stringMatching(/^TS2322: Type 'string' is not assignable to type 'number'/)])
    expect(diagnostics["add-undeclared.ts"]).toEqual([expect.stringMatching(/'acuracy' does not exist in type .*Did you mean to write 'accuracy'\?/)])
    expect(diagnostics["promise-add-wrong-value.ts"]).toEqual([expect.stringMatching(/^TS2322: Type 'string' is not assignable to type 'readonly string\[\]'/)])
    expect(diagnostics["filter-wrong-value.ts"]).toEqual([expect.stringMatching(/^TS2322: Type 'string' is not assignable to type 'number \| Operators<"float"/)])
    expect(diagnostics["filter-undeclared.ts"]).toEqual([expect.stringMatching(/^TS2353: .*'acuracy__gte' does not exist in type 'QueryInput<"Run">'/)])
    // Linear in the features: about 1,850 instantiations each with TypeScript 5.9 (790,000 in all here) and a
    // few thousand assignability checks. A filter type that grew with the square of the features, or matched
    // each key against every JSON path, would pass these bounds many times over (100 dict features: 70,000).
    expect(cost.instantiations).toBeLessThan(1_200_000)
    expect(cost.assignable).toBeLessThan(10_000)
  }, 120_000)
})
