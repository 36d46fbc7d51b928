/**
 * Figures of the reliability suite: each test records what it did (processes, operations, faults injected,
 * inputs tried, lost) as one JSON file per target and store under a results directory
 * (`LINEAGE_RELIABILITY_RESULTS`, else `<tmpdir>/lineage-reliability`). With `LINEAGE_RELIABILITY_REPORT=1`
 * the table in docs/reliability.md (between its `figures` markers) is rewritten from every result there.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, writeFileSync, existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export interface Figure {
  /** What was tested: "load", "fuzz: query objects", … */
  readonly target: string
  /** The store, or "pure" for a function that touches none. */
  readonly store: string
  readonly processes: number
  readonly operations: number
  readonly faults: number
  readonly inputs: number
  readonly lost: number
  readonly seconds: number
  readonly note?: string | undefined
}

interface Stored extends Figure {
  readonly mode: "ci" | "soak"
  readonly at: string
}

export const soak = process.env["LINEAGE_SOAK"] === "1"

export const resultsDir = process.env["LINEAGE_RELIABILITY_RESULTS"] ?? join(tmpdir(), "lineage-reliability")
const docPath = fileURLToPath(new URL("../../../docs/reliability.md", import.meta.url))
const begin = "<!-- figures:begin -->"
const end = "<!-- figures:end -->"

const slug = (s: string) => s.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").toLowerCase()

/** A crude cross-process lock (mkdir is atomic), so two test files never interleave rewriting the doc. */
const withLock = (fn: () => void): void => {
  const lock = join(resultsDir, ".lock")
  const deadline = Date.now() + 5_000
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch {
      if (Date.now() > deadline) break // a stale lock from a killed run: go ahead
      const until = Date.now() + 20
      while (Date.now() < until) {
        // spin briefly
      }
    }
  }
  try {
    fn()
  } finally {
    try {
      rmdirSync(lock)
    } catch {
      // already gone
    }
  }
}

const row = (f: Stored): string =>
  `| ${f.target} | ${f.store} | ${f.mode} | ${f.processes} | ${f.operations.toLocaleString("en-US")} | ${f.faults} | ${f.inputs.toLocaleString("en-US")} | **${f.lost}** | ${f.seconds.toFixed(1)} | ${f.note ?? ""} |`

export const renderTable = (figures: ReadonlyArray<Stored>): string =>
  [
    "| target | store | mode | processes | operations | faults injected | inputs tried | lost | seconds | note |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ...[...figures].sort((a, b) => a.target.localeCompare(b.target) || a.store.localeCompare(b.store)).map(row)
  ].join("\n")

const readAll = (): Array<Stored> =>
  readdirSync(resultsDir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(resultsDir, f), "utf8")) as Stored)

/** Records one figure; prints it; rewrites the doc's table when asked to. */
export const record = (figure: Figure): void => {
  const stored: Stored = { ...figure, mode: soak ? "soak" : "ci", at: new Date().toISOString() }
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `${slug(`${stored.mode}-${figure.target}-${figure.store}`)}.json`)
  writeFileSync(`${file}.tmp`, JSON.stringify(stored))
  renameSync(`${file}.tmp`, file)
  console.info(`[reliability] ${row(stored)}`)
  if (process.env["LINEAGE_RELIABILITY_REPORT"] !== "1" || !existsSync(docPath)) return
  withLock(() => {
    const doc = readFileSync(docPath, "utf8")
    const from = doc.indexOf(begin)
    const to = doc.indexOf(end)
    if (from < 0 || to < from) return
    const table = renderTable(readAll())
    writeFileSync(docPath, `${doc.slice(0, from + begin.length)}\n${table}\n${doc.slice(to)}`)
  })
}

/** Seconds since `start` (a `performance.now()` reading). */
export const since = (start: number): number => (performance.now() - start) / 1000
