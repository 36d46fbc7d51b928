/** The performance targets, the console table, bench/results/latest.md and bench/results/scaling.svg. */
import { mkdirSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { type ClusterFigures, clusterRows } from "./cluster.js"
import type { MemoryFigures } from "./memory.js"
import type { MongoFigures } from "./mongo.js"
import type { PostgresFigures } from "./postgres.js"
import type { RedisFigures } from "./redis.js"
import type { SqliteFigures } from "./sqlite.js"
import type { SqlFigures } from "./common.js"

export interface Row {
  readonly what: string
  readonly measured: string
  readonly target: string
  /** "pass", "miss", "n/a" (not measured at the target's size) or "reported" (a ratio reported with no bound). */
  readonly verdict: "pass" | "miss" | "n/a" | "reported"
  readonly baseline: string
}

const ms = (x: number) => (Number.isNaN(x) ? "–" : x < 0.1 ? `${(x * 1000).toFixed(0)} µs` : x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(0)} ms`)
const perSec = (x: number) => `${Math.round(x).toLocaleString("en")}/s`
const times = (x: number) => (Number.isNaN(x) ? "–" : `${x >= 100 ? Math.round(x).toLocaleString("en") : x.toFixed(1)}×`)

export interface Figures {
  readonly quick: boolean
  readonly memory: ReadonlyArray<MemoryFigures>
  readonly redis: RedisFigures | undefined
  readonly mongo: MongoFigures | undefined
  readonly sqlite: SqliteFigures | undefined
  readonly postgres: PostgresFigures | undefined
  readonly tracking:
    | { readonly memoryMs: number; readonly redisMs: number | undefined; readonly sqliteMs: number; readonly postgresMs: number | undefined }
    | undefined
  readonly cluster: ClusterFigures | undefined
  /** Sizes the targets name; quick runs measure smaller ones, so their verdicts are "n/a". */
  readonly memoryTargetSize: number
  readonly redisTargetSize: number
  readonly sqliteTargetSize: number
  readonly postgresTargetSize: number
}

const verdict = (ok: boolean, atSize: boolean): Row["verdict"] => (!atSize ? "n/a" : ok ? "pass" : "miss")

export const rows = (f: Figures): Array<Row> => {
  const out: Array<Row> = []
  const big = f.memory.at(-1)
  if (big !== undefined) {
    const at = big.total === f.memoryTargetSize
    const n = big.total.toLocaleString("en")
    for (const q of big.queries) {
      // Ratios compare like with like: the store and both baselines return the same raw documents.
      const speedup = q.scanMs / q.storeMs
      const vsMingo = `${times(q.mingoMs / q.storeMs)} vs mingo (${ms(q.mingoMs)})`
      const both = `${ms(q.lineageMs)} (store ${ms(q.storeMs)})`
      if (q.name.startsWith("relation")) {
        out.push({ what: `memory ${n}: ${q.name}, ${q.rows} rows`, measured: `${both}, store ${times(speedup)} vs scan`, target: "none (query power)", verdict: "reported", baseline: `scan ${ms(q.scanMs)}; ${vsMingo}` })
      } else if (q.name.startsWith("feature range")) {
        out.push({ what: `memory ${n}: ${q.name}, ${q.rows} rows`, measured: `store ${ms(q.storeMs)}; records ${ms(q.lineageMs)}`, target: "≤ 20 ms (store)", verdict: verdict(q.storeMs <= 20, at), baseline: `${times(speedup)} vs scan (${ms(q.scanMs)}); ${vsMingo}` })
      } else if (q.name.startsWith("top 10")) {
        out.push({ what: `memory ${n}: ${q.name}`, measured: both, target: "≤ 2 ms", verdict: verdict(q.lineageMs <= 2, at), baseline: `${times(speedup)} vs scan (${ms(q.scanMs)}); ${vsMingo}` })
      } else {
        out.push({ what: `memory ${n}: ${q.name}`, measured: `${both}, store ${times(speedup)} vs scan`, target: "≤ 1 ms; store ≥ 1,000× vs scan", verdict: verdict(q.lineageMs <= 1 && speedup >= 1000, at), baseline: `scan ${ms(q.scanMs)}; ${vsMingo}` })
      }
    }
    out.push({ what: `memory ${n}: batch insert (Run.createMany, 5,000 per call)`, measured: perSec(big.insertPerSec), target: "≥ 100,000/s", verdict: verdict(big.insertPerSec >= 100_000, at), baseline: `validation + encoding alone (no store): ${perSec(big.preparePerSec)}; the store's indexes and copy: ${(1e6 / big.insertPerSec - 1e6 / big.preparePerSec).toFixed(0)} µs/run` })
    out.push({ what: `memory ${n}: heap per run (docs + indexes)`, measured: `${Math.round(big.bytesPerRun)} B`, target: "≤ 1,536 B", verdict: verdict(big.bytesPerRun <= 1536, at), baseline: "" })
  }
  if (f.redis !== undefined) {
    const r = f.redis
    const at = r.total === f.redisTargetSize
    const n = r.total.toLocaleString("en")
    for (const q of r.queries) {
      const top = q.name.startsWith("top 10")
      const reported = q.name.startsWith("relation")
      out.push({ what: `redis ${n}: ${q.name}${reported ? `, ${q.rows} rows` : ""}`, measured: `${ms(q.lineageMs)} (store ${ms(q.storeMs)})`, target: reported ? "none (query power)" : top ? "≤ 3 ms" : "≤ 2 ms", verdict: reported ? "reported" : verdict(q.lineageMs <= (top ? 3 : 2), at), baseline: `${times(q.lineageMs / q.rawMs)} a raw MGET + JSON.parse of the same ${q.rows} documents (${ms(q.rawMs)})` })
    }
    const share = r.insertPerSec / r.rawPerSec
    out.push({ what: `redis ${n}: batch insert (Run.createMany, 2,000 per call)`, measured: `${perSec(r.insertPerSec)} = ${(share * 100).toFixed(0)}% of raw`, target: "≥ 25% of raw pipelined SET", verdict: verdict(share >= 0.25, at), baseline: `raw pipelined SET of the same JSON: ${perSec(r.rawPerSec)}; raw writes of the same documents, index entries and unique claims (no checks): ${perSec(r.rawIndexedPerSec)}, ours ${((r.insertPerSec / r.rawIndexedPerSec) * 100).toFixed(0)}% of it` })
    out.push({ what: "redis: one Run.create", measured: `${r.createRoundTrips} round trips (${r.createCommands} commands)`, target: "≤ 2 round trips", verdict: r.createRoundTrips <= 2 ? "pass" : "miss", baseline: "" })
  }
  if (f.mongo !== undefined) {
    const m = f.mongo
    const n = `mongodb ${m.total.toLocaleString("en")}`
    const target = "overhead vs the raw driver"
    out.push({ what: `${n}: batch insert (Run.createMany, 1,000 per call)`, measured: `${perSec(m.insertPerSec)} = ${((m.insertPerSec / m.rawInsertPerSec) * 100).toFixed(0)}% of raw`, target, verdict: "reported", baseline: `raw insertMany of the same JSON: ${perSec(m.rawInsertPerSec)}` })
    for (const op of m.ops)
      out.push({ what: `${n}: ${op.name}`, measured: `${ms(op.lineageMs)} = ${times(op.lineageMs / op.rawMs)} raw`, target, verdict: "reported", baseline: `raw driver: ${ms(op.rawMs)}` })
  }
  if (f.sqlite !== undefined) out.push(...sqliteRows(f.sqlite, f.sqlite.total === f.sqliteTargetSize))
  if (f.postgres !== undefined) out.push(...postgresRows(f.postgres, f.postgres.total === f.postgresTargetSize))
  if (f.tracking !== undefined) {
    out.push({ what: "track() + finish(), memory", measured: ms(f.tracking.memoryMs), target: "≤ 5 ms", verdict: f.tracking.memoryMs <= 5 ? "pass" : "miss", baseline: "" })
    if (f.tracking.redisMs !== undefined)
      out.push({ what: "track() + finish(), redis", measured: ms(f.tracking.redisMs), target: "≤ 15 ms", verdict: f.tracking.redisMs <= 15 ? "pass" : "miss", baseline: "" })
    out.push({ what: "track() + finish(), sqlite", measured: ms(f.tracking.sqliteMs), target: "≤ 3 ms", verdict: f.tracking.sqliteMs <= 3 ? "pass" : "miss", baseline: "" })
    if (f.tracking.postgresMs !== undefined)
      out.push({ what: "track() + finish(), postgres", measured: ms(f.tracking.postgresMs), target: "none (reported)", verdict: "reported", baseline: "" })
  }
  if (f.cluster !== undefined) out.push(...clusterRows(f.cluster))
  return out
}

/**
 * A SQL store: latency targets on the whole stack (`bound` gives a query's, in ms, if any), and the store's
 * overhead (`driver.find`) against the same query written by hand, ≤ 2×, on every query.
 */
const sqlRows = (engine: string, s: SqlFigures, at: boolean, bound: (query: string) => number | undefined): Array<Row> => {
  const n = `${engine} ${s.total.toLocaleString("en")}`
  const out: Array<Row> = s.queries.map((q) => {
    const overhead = q.storeMs / q.handMs
    const limit = bound(q.name)
    const latencyOk = limit === undefined || q.lineageMs <= limit
    return {
      what: `${n}: ${q.name}, ${q.rows} rows`,
      measured: `${ms(q.lineageMs)} (store ${ms(q.storeMs)} = ${times(overhead)} hand)`,
      target: `${limit === undefined ? "" : `≤ ${limit} ms; `}store ≤ 2× hand-written SQL`,
      verdict: verdict(latencyOk && overhead <= 2, at),
      baseline: `hand-written SQL ${ms(q.handMs)}; full scan ${ms(q.scanMs)} (store ${times(q.scanMs / q.storeMs)} faster)${q.indexed ? "" : "; the store's plan scans the table"}`
    }
  })
  out.push({
    what: `${n}: batch insert (Run.createMany, 5,000 per call)`,
    measured: `${perSec(s.insertPerSec)} = ${((s.insertPerSec / s.rawInsertPerSec) * 100).toFixed(0)}% of raw`,
    target: "ratio to raw multi-row INSERT",
    verdict: "reported",
    baseline: `raw multi-row INSERT of the same rows into a table with the same indexes: ${perSec(s.rawInsertPerSec)}`
  })
  return out
}

/** SQLite: equality ≤ 1 ms, top-10 ≤ 2 ms. */
const sqliteRows = (s: SqliteFigures, at: boolean): Array<Row> =>
  sqlRows("sqlite", s, at, (name) => (name.startsWith("top 10") ? 2 : name.startsWith("equality") ? 1 : undefined))

/** PostgreSQL: the selective query (equality on the transform, 100 runs) ≤ 2 ms. */
const postgresRows = (s: PostgresFigures, at: boolean): Array<Row> =>
  sqlRows("postgres", s, at, (name) => (name.startsWith("equality: transform") ? 2 : undefined))

const table = (header: ReadonlyArray<string>, body: ReadonlyArray<ReadonlyArray<string>>): string =>
  [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...body.map((r) => `| ${r.join(" | ")} |`)].join("\n")

/** Query latency by size: memory at each size, Redis, SQLite and PostgreSQL at their one size. */
const scalingRows = (f: Figures): { header: Array<string>; body: Array<Array<string>> } => {
  const names = (f.memory[0] ?? f.sqlite ?? f.postgres)?.queries.map((q) => q.name) ?? []
  const header = [
    "query (store, median)",
    ...f.memory.map((m) => `memory ${m.total.toLocaleString("en")}`),
    ...(f.redis ? [`redis ${f.redis.total.toLocaleString("en")}`] : []),
    ...(f.sqlite ? [`sqlite ${f.sqlite.total.toLocaleString("en")}`] : []),
    ...(f.postgres ? [`postgres ${f.postgres.total.toLocaleString("en")}`] : [])
  ]
  const body = names.map((name) => [
    name,
    ...f.memory.map((m) => ms(m.queries.find((q) => q.name === name)?.storeMs ?? Number.NaN)),
    ...(f.redis ? [ms(f.redis.queries.find((q) => q.name === name)?.storeMs ?? Number.NaN)] : []),
    ...(f.sqlite ? [ms(f.sqlite.queries.find((q) => q.name === name)?.storeMs ?? Number.NaN)] : []),
    ...(f.postgres ? [ms(f.postgres.queries.find((q) => q.name === name)?.storeMs ?? Number.NaN)] : [])
  ])
  return { header, body }
}

export const printConsole = (f: Figures): void => {
  const r = rows(f)
  const w = Math.max(...r.map((x) => x.what.length))
  console.log("\n" + "target".padEnd(w), "measured".padStart(28), "  target".padEnd(30), "verdict")
  for (const x of r) console.log(x.what.padEnd(w), x.measured.padStart(28), `  ${x.target}`.padEnd(30), x.verdict, x.baseline ? `   [${x.baseline}]` : "")
  const s = scalingRows(f)
  const width = (i: number) => (i === 0 ? 44 : Math.max(14, s.header[i]!.length + 2))
  console.log("\n" + s.header.map((h, i) => (i === 0 ? h.padEnd(width(i)) : h.padStart(width(i)))).join(""))
  for (const b of s.body) console.log(b.map((c, i) => (i === 0 ? c.padEnd(width(i)) : c.padStart(width(i)))).join(""))
}

const palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

/** Log-log chart of query latency against store size (memory), with Redis points as hollow markers. */
export const svg = (f: Figures): string => {
  const W = 640
  const H = 380
  const L = 70
  const R = 250
  const T = 30
  const B = 50
  const names = f.memory[0]?.queries.map((q) => q.name) ?? []
  const sizes = f.memory.map((m) => m.total)
  const all = f.memory
    .flatMap((m) => m.queries.map((q) => q.storeMs))
    .concat(f.redis?.queries.map((q) => q.storeMs) ?? [], f.sqlite?.queries.map((q) => q.storeMs) ?? [], f.postgres?.queries.map((q) => q.storeMs) ?? [])
    .filter((x) => x > 0 && Number.isFinite(x))
  const yMin = Math.pow(10, Math.floor(Math.log10(Math.min(...all, 0.01))))
  const yMax = Math.pow(10, Math.ceil(Math.log10(Math.max(...all, 1))))
  const xMin = Math.min(...sizes, f.redis?.total ?? Infinity, f.sqlite?.total ?? Infinity, f.postgres?.total ?? Infinity)
  const xMax = Math.max(...sizes, f.sqlite?.total ?? 0, f.postgres?.total ?? 0)
  const x = (n: number) => L + ((Math.log10(n) - Math.log10(xMin)) / Math.max(1e-9, Math.log10(xMax) - Math.log10(xMin))) * (W - L - R)
  const y = (v: number) => T + (1 - (Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - T - B)
  const parts: Array<string> = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`)
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  parts.push(`<text x="${L}" y="18" font-size="13">Query latency at the store (median) against runs stored — log-log</text>`)
  for (let e = Math.log10(yMin); e <= Math.log10(yMax) + 1e-9; e++) {
    const v = Math.pow(10, e)
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v >= 1 ? v : v.toPrecision(1)} ms</text>`)
  }
  for (const n of sizes) parts.push(`<line x1="${x(n)}" x2="${x(n)}" y1="${T}" y2="${H - B}" stroke="#eee"/><text x="${x(n)}" y="${H - B + 16}" text-anchor="middle">${n.toLocaleString("en")}</text>`)
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">runs (memory store; hollow = Redis, square = SQLite, diamond = PostgreSQL)</text>`)
  names.forEach((name, i) => {
    const color = palette[i % palette.length]!
    const pts = f.memory.map((m) => [m.total, m.queries.find((q) => q.name === name)!.storeMs] as const).filter(([, v]) => v > 0)
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([n, v]) => `${x(n).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}"/>`)
    for (const [n, v] of pts) parts.push(`<circle cx="${x(n).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${color}"/>`)
    const rq = f.redis?.queries.find((q) => q.name === name)
    if (rq !== undefined && f.redis !== undefined) parts.push(`<circle cx="${x(f.redis.total).toFixed(1)}" cy="${y(rq.storeMs).toFixed(1)}" r="5" fill="none" stroke="${color}" stroke-width="2"/>`)
    const sq = f.sqlite?.queries.find((q) => q.name === name)
    if (sq !== undefined && f.sqlite !== undefined)
      parts.push(`<rect x="${(x(f.sqlite.total) - 4).toFixed(1)}" y="${(y(sq.storeMs) - 4).toFixed(1)}" width="8" height="8" fill="none" stroke="${color}" stroke-width="2"/>`)
    const pq = f.postgres?.queries.find((q) => q.name === name)
    if (pq !== undefined && f.postgres !== undefined) {
      const [cx, cy] = [x(f.postgres.total), y(pq.storeMs)]
      parts.push(`<polygon points="${cx},${(cy - 6).toFixed(1)} ${cx + 6},${cy.toFixed(1)} ${cx},${(cy + 6).toFixed(1)} ${cx - 6},${cy.toFixed(1)}" fill="none" stroke="${color}" stroke-width="2"/>`)
    }
    parts.push(`<rect x="${W - R + 12}" y="${T + i * 18}" width="10" height="10" fill="${color}"/><text x="${W - R + 28}" y="${T + i * 18 + 9}">${name.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</text>`)
  })
  parts.push("</svg>")
  return parts.join("\n")
}

export const machine = () => ({
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  node: process.version,
  date: new Date().toISOString()
})

export const markdown = (f: Figures): string => {
  const m = machine()
  const s = scalingRows(f)
  const r = rows(f)
  return [
    "# Bench results",
    "",
    `Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}; ${m.date}${f.quick ? " — **quick run (small sizes): verdicts at target sizes are n/a**" : ""}.`,
    "Command: `pnpm bench` (`tsx --conditions=@lineage/source bench/index.ts`).",
    "",
    "## Targets",
    "",
    table(["what", "measured", "target", "verdict", "baseline in the same run"], r.map((x) => [x.what, x.measured, x.target, x.verdict, x.baseline])),
    "",
    "Each query is timed twice: through the whole stack (`Run.filter(...).all()`: query normalisation, planning, index access, evaluator re-check, decoding into `Run` records), the first figure, and at the store (`driver.find` with the same query, returning documents), in brackets. Latency targets are judged on the whole stack, except the feature range, judged at the store: its 10,000 rows spend most of their time becoming `Run` records (dates parsed, fields checked), which is no part of finding them. Ratios compare the store with the baselines, which return the same documents: scan = the reference evaluator over the same in-memory documents (a store without indexes); mingo 7.2.7 = the same query through mingo over that array.",
    "",
    "Inserts: the memory baseline is `Run.createMany`'s own work before the store (validating inputs into records and encoding them as documents; the median of eight batches of 5,000), timed at the same size, so the rest of each insert is the store's. The Redis baselines write the same JSON raw (pipelined `SET`), and the store's own documents, index entries and unique claims read back from Redis and written again raw (one `MSET`, one `ZADD` per index, one `HSET` per unique hash per batch): the floor of an indexed write with none of the store's checks, guards or atomicity. Each section starts on a collected heap.",
    "",
    "The relation query (`Run.filter({ transform: { key__startswith: \"pipeline-12\" } })`) has no target: it shows query power. Core answers the transform filter first and hands the store the matching transforms' ids as one `in` list (111 ids at 1,000,000 runs); the baselines get that same list.",
    "",
    ...(f.sqlite === undefined
      ? []
      : [
          "SQLite: a database file under the temp directory (WAL, `synchronous = NORMAL`, as the store opens it). The hand-written SQL is each query as a user would write it against the same database with better-sqlite3, using the store's indexes (their expressions, as `sqlite_master` shows them; a uid prefix as a range), rows parsed from JSON as the store returns them; the full scan is that SQL with `NOT INDEXED`. The ratio `× hand` is the store (`driver.find`) over the hand-written SQL. The raw insert writes the store's own rows again, in id order, as multi-row `INSERT`s of 500 rows, 5,000 per transaction, into a table with the run table's indexes.",
          ""
        ]),
    ...(f.postgres === undefined
      ? []
      : [
          `PostgreSQL: a fresh schema of the server (dropped afterwards), \`ANALYZE\` run on the run table after the load (${Math.round(f.postgres.analyzeMs).toLocaleString("en")} ms), as autovacuum would soon after a bulk load. The hand-written SQL is each query as a user would write it against the same database with \`pg\`, using the store's index expressions as \`pg_get_indexdef\` shows them (a uid prefix as a range of the unique index's JSON text), rows parsed from JSON as the store returns them; the full scan is that SQL with index and bitmap scans turned off. The raw insert writes the store's own rows again, in id order, as multi-row \`INSERT\`s of 250 rows, 5,000 per transaction, into a table made \`LIKE\` the run table \`INCLUDING INDEXES\`.`,
          ""
        ]),
    ...(f.mongo === undefined
      ? []
      : [
          `MongoDB server: ${f.mongo.server}. The raw side is the official driver on the same server: the same runs as plain JSON documents in one collection (indexes on the queried fields), the same queries as native \`find\`s, returning documents; the lineage side goes through the whole stack into \`Run\` records. The emulator answers every query by scanning, so on it these ratios measure the store's own work (its richer stored form, planning, decoding), not index use.`,
          ""
        ]),
    "## How cost grows (median latency at the store)",
    "",
    table(s.header, s.body),
    "",
    "![scaling](scaling.svg)",
    ""
  ].join("\n")
}

export const write = (f: Figures): string => {
  const dir = join(dirname(fileURLToPath(import.meta.url)), "results")
  mkdirSync(dir, { recursive: true })
  const name = f.quick ? "latest-quick.md" : "latest.md"
  writeFileSync(join(dir, name), markdown(f))
  writeFileSync(join(dir, f.quick ? "scaling-quick.svg" : "scaling.svg"), svg(f))
  return join(dir, name)
}
