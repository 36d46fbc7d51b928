/**
 * The README's TypeScript is what a newcomer copies first, so it must compile under the repository's strict
 * options against the current API. Each ```ts block of the root README is compiled as a module of its own;
 * the conformance examples import a driver of the reader's own (`../src/index.js`), given here as a declared
 * stub.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { compile } from "./support/compile.js"

const readme = readFileSync(join(import.meta.dirname, "../README.md"), "utf8")

/** The ```ts blocks, each with the README line it starts on. */
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => ({
  line: readme.slice(0, m.index).split("\n").length,
  code: m[1]!
}))

/** What the conformance examples import from the reader's own package. */
const readersDriver = `
import type { Driver } from "@lineage/core"
export declare const makeMyDriver: (options?: { readonly url?: string | undefined; readonly namespace?: string }) => Promise<Driver.Driver>
`

describe("the README's TypeScript", () => {
  it("has blocks to check", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4)
  })

  it("compiles under strict, each block as a module", { timeout: 120_000 }, () => {
    const files = Object.fromEntries(blocks.map((b) => [`snippets/line-${b.line}.ts`, `${b.code}\nexport {}\n`]))
    const { diagnostics } = compile("test/readme", { ...files, "src/index.ts": readersDriver })
    expect(diagnostics).toEqual(Object.fromEntries(Object.keys({ ...files, "src/index.ts": 0 }).map((path) => [path, []])))
  })
})
