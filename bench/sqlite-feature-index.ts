/**
 * Two ways to index feature values on SQLite, measured side by side on one database file (under the temp
 * directory, deleted afterwards), with the same runs (`data.ts`: five float features each):
 *   A. expression indexes (the store's design): the run documents as they are, and per feature an index on
 *      the value's type rank and value inside the document; a feature query filters on those expressions.
 *   B. a feature-values table: the same documents, plus one row per (run, feature) in a table clustered on
 *      (feature, rank, value, run) (`WITHOUT ROWID`); a feature query looks the runs up there, then reads them.
 * Figures: insert throughput (documents, with their index entries or feature rows), database bytes, and the
 * median latency of a feature equality (50 runs) and a 1 % feature range, each returning the documents in
 * id order, as the store does.
 *
 *   pnpm tsx --conditions=@lineage/source bench/sqlite-feature-index.ts [runs=1000000]
 */
import Database from "better-sqlite3"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { log, medianOf, rng } from "./common.js"
import { features, runInput } from "./data.js"

const total = Number(process.argv[2] ?? 1_000_000)
const batch = 5_000

const at = (name: string) => `'$."featureValues"."${name}"'`
const rank = (name: string) =>
  `CASE json_type(doc, ${at(name)}) WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' THEN 2 WHEN 'real' THEN 2 ` +
  `WHEN 'text' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 0 END`
const value = (name: string) => `json_extract(doc, ${at(name)})`

const dir = mkdtempSync(join(tmpdir(), "lineage-bench-features-"))
const bytes = (file: string) => {
  const db = new Database(file)
  db.pragma("wal_checkpoint(TRUNCATE)")
  const size = (db.pragma("page_count", { simple: true }) as number) * (db.pragma("page_size", { simple: true }) as number)
  db.close()
  return size
}

const open = (name: string) => {
  const db = new Database(join(dir, name))
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.exec(`CREATE TABLE run (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)`)
  return db
}

/** Inserts every run in transactions of `batch`, `write` doing one batch; rows/s. */
const fill = (db: Database.Database, write: (docs: ReadonlyArray<{ id: number; doc: string; values: Record<string, number> }>) => void): number => {
  const random = rng(42)
  let elapsed = 0
  for (let start = 0; start < total; start += batch) {
    const docs = Array.from({ length: Math.min(batch, total - start) }, (_, j) => {
      const i = start + j
      const run = runInput(i, 1 + (i % Math.max(1, total / 100)), random)
      return { id: i + 1, doc: JSON.stringify({ id: i + 1, ...run, startedAt: run.startedAt.toISOString() }), values: run.featureValues }
    })
    const t = performance.now()
    db.transaction(() => write(docs)).immediate()
    elapsed += performance.now() - t
  }
  return total / (elapsed / 1000)
}

// A: expression indexes.
const a = open("a.db")
for (const f of features) a.exec(`CREATE INDEX "a-${f}" ON run ((${rank(f)}), (${value(f)}))`)
const insertA = a.prepare(`INSERT INTO run (id, doc) VALUES (?, ?)`)
const rateA = fill(a, (docs) => docs.forEach((d) => insertA.run(d.id, d.doc)))
log(`A expression indexes: insert ${Math.round(rateA).toLocaleString("en")} runs/s`)

// B: a feature-values table.
const b = open("b.db")
b.exec(`CREATE TABLE feature_value (feature TEXT NOT NULL, rank INTEGER NOT NULL, value ANY, run INTEGER NOT NULL, PRIMARY KEY (feature, rank, value, run)) WITHOUT ROWID`)
const insertB = b.prepare(`INSERT INTO run (id, doc) VALUES (?, ?)`)
const insertValue = b.prepare(`INSERT INTO feature_value (feature, rank, value, run) VALUES (?, 2, ?, ?)`)
const rateB = fill(b, (docs) =>
  docs.forEach((d) => {
    insertB.run(d.id, d.doc)
    for (const f of features) insertValue.run(f, d.values[f]!, d.id)
  })
)
log(`B feature-values table: insert ${Math.round(rateB).toLocaleString("en")} runs/s`)

const batchValue = Math.floor(total / 2 / 50)
const queries = [
  {
    name: `feature equality: batch = ${batchValue} (50 runs)`,
    a: a.prepare(`SELECT doc FROM run WHERE ${rank("batch")} = 2 AND ${value("batch")} = ? ORDER BY id`),
    b: b.prepare(`SELECT doc FROM run WHERE id IN (SELECT run FROM feature_value WHERE feature = 'batch' AND rank = 2 AND value = ?) ORDER BY id`),
    params: [batchValue]
  },
  {
    name: "feature range: score in [0.5, 0.51] (1%)",
    a: a.prepare(`SELECT doc FROM run WHERE ${rank("score")} = 2 AND ${value("score")} BETWEEN ? AND ? ORDER BY id`),
    b: b.prepare(`SELECT doc FROM run WHERE id IN (SELECT run FROM feature_value WHERE feature = 'score' AND rank = 2 AND value BETWEEN ? AND ?) ORDER BY id`),
    params: [0.5, 0.51]
  }
]
for (const q of queries) {
  const rowsA = q.a.all(...q.params).length
  const rowsB = q.b.all(...q.params).length
  if (rowsA !== rowsB) throw new Error(`${q.name}: A ${rowsA} rows, B ${rowsB}`)
  const msA = await medianOf(15, () => q.a.all(...q.params).map((r) => JSON.parse((r as { doc: string }).doc) as unknown))
  const msB = await medianOf(15, () => q.b.all(...q.params).map((r) => JSON.parse((r as { doc: string }).doc) as unknown))
  log(`${q.name}, ${rowsA} rows: A ${msA.toFixed(3)} ms, B ${msB.toFixed(3)} ms (B/A ${(msB / msA).toFixed(2)})`)
}
a.close()
b.close()
log(`database bytes: A ${(bytes(join(dir, "a.db")) / 1e6).toFixed(0)} MB, B ${(bytes(join(dir, "b.db")) / 1e6).toFixed(0)} MB`)
rmSync(dir, { recursive: true, force: true })
