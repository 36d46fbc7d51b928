/**
 * The read models and their terminal rendering, in process on the memory store: hostile values (terminal
 * escapes in names, a megabyte of text, deep JSON) come out bounded and safe to print; pages are bounded;
 * what varies is what differs; a uid prefix is checked before any look-up. An export's progress is drawn on a
 * terminal only. And the table itself: widths in terminal columns, cutting, and colour only where the style
 * allows it.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Artifact, Artifacts, type Ast, Feature, InvalidQuery, LineageGraph, Records, Run, Store, type StoreError, Transform } from "@lineage/core"
import * as MemoryStore from "@lineage/store-memory"
import { Cause, Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import * as Export from "../src/Export.js"
import * as Failure from "../src/Failure.js"
import * as Output from "../src/Output.js"
import * as Render from "../src/Render.js"
import * as Table from "../src/Table.js"
import * as Views from "../src/Views.js"

const onMemory = <A, E>(effect: Effect.Effect<A, E, Store.Store>): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, Layer.fresh(Store.layerFromDriver(MemoryStore.makeDriver()))))

/** Runs `effect` on the memory store with artifact bytes kept in a fresh directory, removed afterwards. */
const withStorage = async <A, E>(effect: Effect.Effect<A, E, Store.Store>): Promise<A> => {
  const dir = mkdtempSync(join(tmpdir(), "lineage-cli-views-"))
  try {
    return await onMemory(Effect.provideService(effect, Artifacts.ArtifactStorage, dir))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Terminal-unsafe characters: C0 and C1 controls, DEL, bidirectional controls. */
const unsafeChar = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/

const failureOf = async <A, E>(effect: Effect.Effect<A, E, Store.Store>): Promise<E | StoreError> => {
  const exit = await Effect.runPromise(Effect.exit(Effect.provide(effect, Layer.fresh(Store.layerFromDriver(MemoryStore.makeDriver())))))
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason?._tag !== "Fail") throw new Error("expected a typed failure")
  return reason.error
}

const escape = "\u001b]0;pwned\u0007"
const deep = (n: number): Ast.Json => (n === 0 ? "bottom" : { down: deep(n - 1) })

const plain: Table.Style = { color: false }

describe("hostile values", () => {
  it("params and features come out bounded; a table of them holds no control character", async () => {
    const page = await onMemory(
      Effect.gen(function* () {
        const t = yield* Transform.create({ key: `train${escape}` })
        yield* Run.create({ transformId: t.id, params: { [`k${escape}`]: "x", big: "a".repeat(1_000_000), nested: deep(40) } })
        yield* Run.create({ transformId: t.id, params: { [`k${escape}`]: "y", big: "b", nested: 1 } })
        return yield* Views.runs()
      })
    )
    const big = page.rows.map((r) => r.params["big"])
    expect(big).toContain("b")
    const long = big.find((v) => v !== "b") as string
    expect(long.length).toBe(Views.maxValueChars + 1)
    expect(long.endsWith("…")).toBe(true)
    const nested = page.rows.map((r) => r.params["nested"]).find((v) => v !== 1)
    expect(typeof nested).toBe("string")
    expect((nested as string).length).toBeLessThanOrEqual(Views.maxValueChars + 1)
    expect(page.varying.params).toEqual(["big", `k${escape}`, "nested"])
    const table = Render.runsTable(page.rows, page.varying, plain)
    expect(table).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/)
    expect(table).toContain("params.k?]0;pwned?")
    expect(table).toContain("train?]0;pwned?")
  })

  it("a value the same in every row does not vary; one missing from a row does", async () => {
    const page = await onMemory(
      Effect.gen(function* () {
        const t = yield* Transform.create({ key: "t" })
        yield* Run.create({ transformId: t.id, params: { same: 1, some: 2 } })
        yield* Run.create({ transformId: t.id, params: { same: 1 } })
        return yield* Views.runs()
      })
    )
    expect(page.varying).toEqual({ params: ["some"], features: [], more: { params: 0, features: 0 } })
  })
})

describe("long and many values", () => {
  const mega = "k".repeat(1_000_000)

  it("every string of a view is cut: a transform's key and version, a feature's name and unit, an artifact's kind", async () => {
    const { page, transforms, features, detail } = await onMemory(
      Effect.gen(function* () {
        const t = yield* Transform.create({ key: mega, version: "v".repeat(100_000) })
        yield* Feature.create({ name: `f${"n".repeat(100_000)}`, dtype: "float", unit: mega })
        const run = yield* Run.create({ transformId: t.id })
        const a = yield* Artifact.create({ key: "a.csv", runId: run.id, kind: mega })
        return {
          page: yield* Views.runs(),
          transforms: yield* Views.transforms(),
          features: yield* Views.features(),
          detail: yield* Views.artifact(a.uid)
        }
      })
    )
    const row = page.rows[0]!
    const t = transforms.rows[0]!
    const f = features.rows[0]!
    for (const text of [row.transform.key, row.transform.version, t.key, t.version, f.name, f.unit!, detail.summary.kind!])
      expect(text.length).toBeLessThanOrEqual(Views.maxValueChars + 1)
  })

  it("a thousand runs of a transform keyed by a megabyte: their page as JSON and as a table stay small", async () => {
    const page = await onMemory(
      Effect.gen(function* () {
        const t = yield* Transform.create({ key: mega })
        yield* Run.createMany(Array.from({ length: 1_000 }, (_, i) => ({ transformId: t.id, params: { i } })))
        return yield* Views.runs({ limit: 1_000 })
      })
    )
    expect(page.rows).toHaveLength(1_000)
    expect(JSON.stringify(page).length).toBeLessThan(1_000 * 2_000)
    const table = Render.runsTable(page.rows, page.varying, plain).split("\n")
    expect(table).toHaveLength(1_001)
    for (const line of table) expect(line.length).toBeLessThan(300)
  })

  it("a table measures a cell after cutting it: a cell of a megabyte renders at once", () => {
    const columns: ReadonlyArray<Table.Column<string>> = [{ header: "value", value: (v) => v, max: 30 }]
    const lines = Table.render(columns, [mega, `日本${"語".repeat(1_000_000)}`, `e${"\u0301".repeat(1_000_000)}`], plain).split("\n")
    expect(lines.slice(1)).toEqual([`${"k".repeat(29)}…`, `日本${"語".repeat(12)}…`, expect.stringMatching(/^e\u0301+…$/)])
    expect(Table.fit(mega, 10)).toBe(`${"k".repeat(9)}…`)
    expect(Table.fields([[mega, mega]], plain, 20).length).toBeLessThan(400)
  })

  it("a run with 200,000 params: the first maxKeys shown, the rest counted; listed, shown and rendered", async () => {
    const wide = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`p${i}`, i]))
    const { page, detail } = await onMemory(
      Effect.gen(function* () {
        const t = yield* Transform.create({ key: "wide" })
        const run = yield* Run.create({ transformId: t.id, params: wide })
        yield* Run.create({ transformId: t.id, params: { other: 1 } })
        return { page: yield* Views.runs(), detail: yield* Views.run(run.uid) }
      })
    )
    const row = page.rows.find((r) => r.uid === detail.uid)!
    expect(Object.keys(row.params)).toHaveLength(Views.maxKeys)
    expect(row.more).toEqual({ params: 200_000 - Views.maxKeys, features: 0 })
    expect(page.varying.params).toHaveLength(Views.maxVarying)
    expect(page.varying.more).toEqual({ params: Views.maxKeys + 1 - Views.maxVarying, features: 0 })
    expect(Object.keys(detail.params)).toHaveLength(Views.maxKeys)
    const table = Render.runsTable(page.rows, page.varying, plain)
    expect(table.split("\n")[0]).toContain(`+${Views.maxKeys + 1 - Views.maxVarying} more params`)
    const text = Render.runDetail(detail, plain)
    expect(text).toContain(`… ${200_000 - Views.maxKeys} more params`)
  })

  it("a param key of a megabyte is cut like a value", async () => {
    const page = await onMemory(
      Effect.gen(function* () {
        const t = yield* Transform.create({ key: "t" })
        yield* Run.create({ transformId: t.id, params: { [mega]: 1 } })
        yield* Run.create({ transformId: t.id, params: { [mega]: 2 } })
        return yield* Views.runs()
      })
    )
    for (const row of page.rows) for (const key of Object.keys(row.params)) expect(key.length).toBeLessThanOrEqual(Views.maxValueChars + 1)
    expect(page.varying.params.map((k) => k.length)).toEqual([Views.maxValueChars + 1])
  })
})

describe("details", () => {
  it("a run's inputs, outputs and initiated runs: the first maxListed, and how many in all", async () => {
    const n = Views.maxListed + 5
    const { detail, artifact } = await onMemory(
      Effect.gen(function* () {
        const store = yield* Store.Store
        const t = yield* Transform.create({ key: "t" })
        const run = yield* Run.create({ transformId: t.id })
        const reader = yield* Run.create({ transformId: t.id })
        const made = yield* Artifact.createMany(Array.from({ length: n }, (_, i) => ({ key: `out/${i}.csv`, runId: run.id })))
        const read = yield* Artifact.createMany(Array.from({ length: n }, (_, i) => ({ key: `in/${i}.csv` })))
        const link = Store.entity(Records.RunInputArtifactModel, Records.RunInputArtifact)
        yield* store.insert(link, read.map((a) => ({ runId: run.id, artifactId: a.id })))
        const readers = yield* Run.createMany(Array.from({ length: n }, () => ({ transformId: t.id, initiatedByRunId: run.id })))
        yield* store.insert(link, [reader, ...readers].map((r) => ({ runId: r.id, artifactId: made[0]!.id })))
        return { detail: yield* Views.run(run.uid), artifact: yield* Views.artifact(made[0]!.uid) }
      })
    )
    expect([detail.inputs.length, detail.outputs.length, detail.initiatedRuns.length]).toEqual([Views.maxListed, Views.maxListed, Views.maxListed])
    expect(detail.counts).toEqual({ inputs: n, outputs: n, initiatedRuns: n })
    expect(detail.inputs[0]!.key).toBe("in/0.csv")
    expect(artifact.readBy).toHaveLength(Views.maxListed)
    expect(artifact.readByCount).toBe(n + 1)
    const text = Render.runDetail(detail, plain)
    expect(text).toContain(`\n\nInputs (${Views.maxListed} of ${n})\n`)
    expect(text).toContain(`\n\nInitiated runs (${Views.maxListed} of ${n})\n`)
  })

  it("a transform's versions: the newest maxListed, oldest first, and how many in all", async () => {
    const n = Views.maxListed + 5
    const detail = await onMemory(
      Effect.gen(function* () {
        let latest = yield* Transform.create({ key: "t", version: "v0" })
        for (let i = 1; i < n; i++) latest = yield* Transform.create({ key: "t", version: `v${i}` })
        return yield* Views.transform(latest.uid)
      })
    )
    expect(detail.versions).toHaveLength(Views.maxListed)
    expect(detail.versions[0]!.version).toBe("v5")
    expect(detail.versions.at(-1)).toMatchObject({ version: `v${n - 1}`, isLatest: true })
    expect(detail.versionCount).toBe(n)
    expect(Render.transformDetail(detail, plain)).toContain(`\n\nVersions (${Views.maxListed} newest of ${n})\n`)
  })

  it("an environment artifact of unknown size is read no further than maxEnvironmentBytes", async () => {
    const big = JSON.stringify({ node: "v20", padding: "x".repeat(Views.maxEnvironmentBytes * 4) })
    const small = JSON.stringify({ node: "v20" })
    const [large, fits] = await withStorage(
      Effect.gen(function* () {
        const t = yield* Transform.create({ key: "t" })
        return yield* Effect.forEach([big, small], (json) =>
          Effect.gen(function* () {
            const env = yield* Artifacts.fromBytes(json, { kind: "__lineage_run__", run: null, suffix: ".json" })
            yield* Artifact.update(env, { size: null })
            const run = yield* Run.create({ transformId: t.id, environmentId: env.id })
            return yield* Views.run(run.uid)
          })
        )
      })
    )
    expect(large!.environment).toMatchObject({ content: null, unavailable: `larger than ${Views.maxEnvironmentBytes} bytes` })
    expect(fits!.environment?.content).toEqual({ node: "v20" })
  })
})

describe("text safe to print", () => {
  it("tabs expand to the next multiple of 8 columns before other controls become '?'", () => {
    expect(Table.safe("a\tb\t\tc")).toBe(`a${" ".repeat(7)}b${" ".repeat(15)}c`)
    expect(Table.safe("日本\tx\u0007")).toBe(`日本${" ".repeat(4)}x?`)
  })

  it("JSON for standard output: C1 and bidirectional controls as \\u escapes, the value unchanged", () => {
    const value = { name: "a\u0085b\u009bc\u202ed\u2066e\u007ff", "k\u202e": ["\u200f"] }
    for (const text of [Output.jsonText(value), Output.jsonText(value, 2)]) {
      expect(text.replaceAll("\n", "")).not.toMatch(unsafeChar)
      expect(JSON.parse(text)).toEqual(value)
    }
    expect(Output.jsonText(value)).toContain("a\\u0085b\\u009bc\\u202ed\\u2066e\\u007ff")
  })

  it("mermaid and dot: C1 and bidirectional controls never reach the output raw", () => {
    const label = "evil\u0085\u009b31m\u202eesrever\u2067x\u200f"
    const graph: LineageGraph.LineageGraph = {
      root: "run_a",
      nodes: [
        { id: "run_a", kind: "run", uid: "a", label },
        { id: "artifact_b", kind: "artifact", uid: "b", label }
      ],
      edges: [{ from: "run_a", to: "artifact_b", kind: "output" }]
    }
    const mermaid = LineageGraph.toMermaid(graph)
    const dot = LineageGraph.toDot(graph)
    for (const text of [mermaid, dot]) expect(text.replaceAll("\n", "")).not.toMatch(unsafeChar)
    expect(mermaid).toContain("#8238;esrever")
    expect(dot).toContain("&#8238;esrever")
  })

  it("an error message: controls escaped, line breaks kept, secrets redacted", () => {
    const message = Failure.messageOf(Cause.fail(new Failure.UsageError({ detail: "bad \u001b]0;x\u0007 value\u009b\u202e\nnext postgres://u:hunter2@h/db" })))
    expect(message).toBe("bad \\u001b]0;x\\u0007 value\\u009b\\u202e\nnext postgres://u:***REDACTED***@h/db")
  })
})

describe("bounds and refusals", () => {
  it("a limit outside 1 to maxLimit and a negative offset are InvalidQuery naming the field", async () => {
    for (const [options, field] of [
      [{ limit: 0 }, "limit"],
      [{ limit: Views.maxLimit + 1 }, "limit"],
      [{ limit: 1.5 }, "limit"],
      [{ offset: -1 }, "offset"]
    ] as const) {
      const error = await failureOf(Views.runs(options))
      expect(error).toBeInstanceOf(InvalidQuery)
      expect((error as InvalidQuery).field).toBe(field)
    }
  })

  it("a text that cannot be a uid prefix is refused before any look-up; a prefix of nothing does not exist", async () => {
    for (const text of ["", "  ", "not-base62", "x".repeat(21), "\u0000"]) {
      const error = await failureOf(Views.find(text))
      expect(error._tag).toBe("InvalidQuery")
    }
    const missing = await failureOf(Views.find("abc"))
    expect(missing._tag).toBe("DoesNotExist")
  })

  it("an order that names no key is InvalidQuery naming it; leaving it out orders by the default", async () => {
    for (const order of ["", " ", ",", "startedAt,,uid"]) {
      const error = await failureOf(Views.runs({ order }))
      expect(error).toBeInstanceOf(InvalidQuery)
      expect((error as InvalidQuery).field).toBe("order")
    }
  })

  it("a transform's source is cut, and says how long it was", async () => {
    const detail = await onMemory(
      Effect.gen(function* () {
        const t = yield* Transform.create({ key: "big.ts", sourceCode: "x".repeat(Views.maxSourceChars * 2) })
        return yield* Views.transform(t.uid)
      })
    )
    expect(detail.sourceCode?.truncated).toBe(true)
    expect(detail.sourceCode?.chars).toBe(Views.maxSourceChars * 2)
    expect(detail.sourceCode?.text.length).toBe(Views.maxSourceChars + 1)
  })
})

describe("export progress", () => {
  const exported = (isTTY: boolean) =>
    onMemory(
      Effect.gen(function* () {
        const t = yield* Transform.create({ key: "t" })
        for (let i = 0; i < 3; i++) yield* Run.create({ transformId: t.id, params: { i } })
        const out: Array<string> = []
        const progress: Array<string> = []
        const count = yield* Export.write({
          format: "ndjson",
          write: (text) => Effect.sync(() => void out.push(text)),
          progress: { isTTY, write: (text) => progress.push(text) }
        })
        return { count, out: out.join(""), progress: progress.join("") }
      })
    )

  it("on a terminal, a count of the runs done, redrawn in place and ended with a line break", async () => {
    const { count, out, progress } = await exported(true)
    expect(count).toBe(3)
    expect(out.trimEnd().split("\n").filter((l) => l.includes('"registry":"Run"'))).toHaveLength(3)
    const bar = (filled: number) => `[${"#".repeat(filled)}${" ".repeat(24 - filled)}]`
    expect(progress).toBe(
      `\rexporting runs ${bar(0)} 0% of 3 runs\rexporting runs ${bar(7)} 33% of 3 runs` +
        `\rexporting runs ${bar(15)} 66% of 3 runs\rexporting runs ${bar(24)} 100% of 3 runs\n`
    )
  })

  it("off a terminal, nothing", async () => {
    expect((await exported(false)).progress).toBe("")
  })
})

describe("Table", () => {
  it("safe: control characters, line breaks and bidirectional overrides become '?'", () => {
    expect(Table.safe("a\u001b[31mb\nc\u202ed\u0085")).toBe("a?[31mb?c?d?")
  })

  it("fit: cuts to terminal columns, wide characters counting two, never inside a grapheme", () => {
    expect(Table.fit("short", 10)).toBe("short")
    expect(Table.fit("abcdefghij", 5)).toBe("abcd…")
    expect(Table.fit("日本語テキスト", 6)).toBe("日本…")
    expect(Table.fit("👍🏽👍🏽👍🏽", 4)).toBe("👍🏽…")
  })

  it("render: columns aligned and cut to their max; the table narrowed to the terminal's width", () => {
    const rows = [{ a: "x".repeat(50), n: 7 }, { a: "short", n: 12345 }]
    const columns: ReadonlyArray<Table.Column<(typeof rows)[number]>> = [
      { header: "name", value: (r) => r.a, max: 20 },
      { header: "n", value: (r) => String(r.n), align: "right" }
    ]
    const lines = Table.render(columns, rows, plain).split("\n")
    expect(lines).toEqual([`name${" ".repeat(16)}      n`, `${"x".repeat(19)}…      7`, `short${" ".repeat(15)}  12345`])
    const narrow = Table.render(columns, rows, { color: false, columns: 16 }).split("\n")
    for (const line of narrow) expect(line.length).toBeLessThanOrEqual(16)
  })

  it("colour only when the style allows it; the style allows it only on a terminal without NO_COLOR", () => {
    const columns: ReadonlyArray<Table.Column<string>> = [{ header: "status", value: (s) => s, colour: Render.statusColour }]
    expect(Table.render(columns, ["errored"], plain)).not.toContain("\u001b[")
    expect(Table.render(columns, ["errored"], { color: true })).toContain("\u001b[31merrored\u001b[39m")
    const saved = process.env["NO_COLOR"]
    try {
      delete process.env["NO_COLOR"]
      expect(Table.styleFor({ isTTY: true, columns: 80 })).toEqual({ color: true, columns: 80 })
      expect(Table.styleFor({ isTTY: false, columns: 80 })).toEqual({ color: false, columns: undefined })
      process.env["NO_COLOR"] = "1"
      expect(Table.styleFor({ isTTY: true, columns: 80 }).color).toBe(false)
      process.env["NO_COLOR"] = ""
      expect(Table.styleFor({ isTTY: true }).color).toBe(true)
    } finally {
      if (saved === undefined) delete process.env["NO_COLOR"]
      else process.env["NO_COLOR"] = saved
    }
  })
})
