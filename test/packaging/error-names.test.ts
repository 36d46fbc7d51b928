/**
 * The built core, as a user imports it: every public error class goes by its public name wherever an error
 * is shown (`String(error)`, `error.name`, `error.constructor.name`, `util.inspect`, an uncaught error's
 * report), never by a bundler's rename such as `_StoreError`; and so do the public classes `Q` and `QuerySet`.
 * Builds core first when stale.
 */
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { inspect } from "node:util"
import { beforeAll, describe, expect, it } from "vitest"
import { buildIfStale, root } from "../support/build.js"

type Core = typeof import("@lineage/core")
const dist = pathToFileURL(join(root, "packages/core/dist/index.js")).href
let core: Core

beforeAll(async () => {
  buildIfStale(["core"])
  core = (await import(/* @vite-ignore */ dist)) as Core
}, 300_000)

/** One instance of each public error class of the built package, by the name it must go by. */
const errors = (c: Core): ReadonlyArray<readonly [string, Error]> => [
  ["StoreError", c.StoreError.unavailable("connection refused")],
  ["InvalidQuery", new c.InvalidQuery({ registry: "Run", field: "statsu", expected: "a field" })],
  ["ValidationError", new c.ValidationError({ registry: "Run", field: "name", value: 1, expected: "a string" })],
  ["DoesNotExist", new c.DoesNotExist({ registry: "Run", query: "uid 'x'" })],
  ["MultipleObjectsReturned", new c.MultipleObjectsReturned({ registry: "Run", query: "{}", count: 2 })],
  ["UniqueViolation", new c.UniqueViolation({ registry: "ULabel", constraint: "ulabel_name", fields: ["name"], values: ["a"] })],
  ["ProtectedRecord", new c.ProtectedRecord({ registry: "Run", uid: "x", reason: "it has outputs" })],
  ["TrackNotCalled", new c.TrackNotCalled({ detail: "call track() first" })],
  ["RunAlreadyActive", new c.RunAlreadyActive({ reason: "starting" })],
  ["ArtifactStorageError", new c.ArtifactStorageError({ reason: "Io", path: "/tmp/x", operation: "read" })]
]

describe("the built core's errors", () => {
  it("go by their public names in String(), name and constructor.name", () => {
    for (const [name, error] of errors(core)) {
      expect(String(error), name).toBe(`${name}: ${error.message}`)
      expect(error.name, name).toBe(name)
      expect(error.constructor.name, name).toBe(name)
    }
  })

  it("print as errors in util.inspect: their name, message and stack, then their fields", () => {
    for (const [name, error] of errors(core)) {
      const shown = inspect(error)
      expect(shown.startsWith(`${name}: ${error.message}\n    at `), `${name}:\n${shown}`).toBe(true)
      expect(shown).toContain(`_tag: '${name}'`)
    }
    expect(inspect(errors(core)[0]![1])).toMatch(/reason: StoreUnavailable \{\s+detail: 'connection refused'/)
  })

  it("are reported under their public name when uncaught", () => {
    const program = `import { StoreError } from ${JSON.stringify(dist)}\nthrow StoreError.unavailable("boom")\n`
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", program], { encoding: "utf8" })
    expect(result.status).not.toBe(0)
    // The report quotes the throwing line of the bundle, whose inner class binding may differ: the heading counts.
    expect(result.stderr).toMatch(/^StoreError: store unavailable: boom$/m)
    expect(result.stderr).not.toMatch(/^_StoreError/m)
  })

  it("leave the public classes Q and QuerySet their names", () => {
    expect(core.Q.name).toBe("Q")
    expect(core.QuerySet.name).toBe("QuerySet")
  })
})
