/**
 * The `Driver` over any SQL engine, given its `Dialect` and a `Connection`.
 *
 * Layout (every name through the dialect, quoted):
 * - one table per declared table, `(id PRIMARY KEY, doc NOT NULL)`, `doc` the document's canonical JSON text
 *   (`Documents.text`: the value `JSON.stringify` makes, keys sorted), so equal values have equal text at every
 *   path and unique keys need no encoding;
 * - a unique constraint is a partial unique index on the fields' JSON texts, over the rows where none of them
 *   is null or missing (the contract's SQL semantics; `true`, `1` and `"1"` have different texts);
 * - an index (`hash` or `sorted` alike) is an expression index on the path's `[rank, ...sortKey]`, the very
 *   expressions the compiler filters and sorts on, so equality, ranges and order on the path use it;
 * - the `ids` table holds each table's next id; the `catalog` table each table's declared spec, so every
 *   handle knows the tables and constraints another handle declared.
 *
 * Writes run in one transaction each (a batch in one), so they are all or none; declaring also takes the
 * schema lock, so processes starting at once take turns and each finds what the other created.
 */
import { Ast, Driver, Evaluator, StoreError } from "@lineage/core"
import { Effect, Exit, FiberMap, Scope } from "effect"
import { type Compiled, after, compile, orderBy, pathSql } from "./Compile.js"
import type { Connection, Param, Row, Session } from "./Connection.js"
import { SqlError } from "./Connection.js"
import type { Dialect } from "./Dialect.js"
import * as Documents from "./Documents.js"
import { type Fragment, join, param, raw, render, sql } from "./Sql.js"

type Doc = Driver.Doc

/** Rows per statement in `get` and `remove`: far below every engine's limit on bound parameters. */
export const idsPerStatement = 500

/** Rows per `INSERT` statement: two bound values each, as many as `idsPerStatement` in all. */
export const rowsPerInsert = idsPerStatement / 2

/**
 * How many matches make a filter broad for a page of `rows` (`pageSource`): past it, walking the order's
 * index to fill the page reads at most a fiftieth of the table (`rows × total / matches` entries), where
 * sorting the matches would read them all; counting the matches stops there.
 */
export const broadFilter = (rows: number): number => Math.max(500, 50 * rows)

/** Ids between two checks for a table's planner statistics (`Dialect.statistics`): every hundredth id written. */
export const idsBetweenStatistics = 100

export interface SqlDriverOptions {
  readonly name: string
  readonly dialect: Dialect
  readonly connection: Connection
  /** Secrets to keep out of failure messages (a password). */
  readonly secrets?: ReadonlyArray<string> | undefined
}

/** The operators compiled exactly with this dialect; the others are re-checked by the evaluator. */
export const nativeOperators = (d: Dialect): ReadonlyArray<Ast.Operator> =>
  Ast.operators.filter((op) => (op === "regex" ? d.regex !== undefined : op.startsWith("i") && op !== "in" && op !== "isNull" ? d.lower !== undefined : true))

/** The driver, behind the contract's input checks (`Driver.validated`). */
export const make = (options: SqlDriverOptions): Driver.Driver => {
  const { dialect: d, connection: conn } = options
  /** The tables this handle knows are declared, with their specs. */
  const catalog = new Map<string, Driver.TableSpec>()
  const q = d.quote
  const data = (table: string) => d.table("data", table)
  const idsTable = d.table("meta", "ids")
  const catalogTable = d.table("meta", "catalog")

  const run = (s: Session, f: Fragment): Effect.Effect<ReadonlyArray<Row>, SqlError> => {
    const { text, params } = render(f, d.placeholder)
    return s.query(text, params)
  }

  /**
   * Any failure but the ones the caller maps: `Unavailable` (retryable) when the dialect calls it transient,
   * else `Invalid` (sending it again cannot help). Messages hold no secret.
   */
  const failed = (what: string) => (e: SqlError | StoreError): StoreError => {
    if (e instanceof StoreError) return e
    const text = `${what} failed: ${Driver.failureText(e.cause, options.secrets ?? [])}`
    return d.transient(e.cause) ? StoreError.unavailable(text, e.cause) : StoreError.invalid(text)
  }

  const bookkeeping = [
    raw(`CREATE TABLE IF NOT EXISTS ${idsTable} (${q("name")} TEXT PRIMARY KEY, ${q("next")} ${d.idType} NOT NULL)`),
    raw(`CREATE TABLE IF NOT EXISTS ${catalogTable} (${q("name")} TEXT PRIMARY KEY, ${q("spec")} TEXT NOT NULL)`)
  ]

  const remember = (spec: Driver.TableSpec) => catalog.set(spec.name, spec)
  /** Catalog entries another program damaged, by table: only that table fails (`Invalid`, naming the entry). */
  const damaged = new Map<string, StoreError>()

  /** Reads every table's spec another handle may have declared. */
  const reload = (s: Session) =>
    Effect.gen(function* () {
      const rows = yield* run(s, raw(`SELECT ${q("name")} AS name, ${q("spec")} AS spec FROM ${catalogTable}`)).pipe(
        // No catalog yet: nothing was ever declared in this store. Any other failure is the caller's to report.
        Effect.catchIf(
          (e) => d.missingTable(e.cause),
          () => Effect.succeed([] as ReadonlyArray<Row>)
        )
      )
      for (const row of rows) {
        const spec = Documents.spec(catalogTable, row["name"], row["spec"])
        if (spec instanceof StoreError) damaged.set(String(row["name"]), spec)
        else remember(spec)
      }
    })

  /** Fails with `Invalid` for a table no handle declared (a shared store is handed any name). */
  const known = (s: Session, table: string) =>
    Effect.gen(function* () {
      if (catalog.has(table)) return
      yield* reload(s)
      if (!catalog.has(table)) return yield* Effect.fail(damaged.get(table) ?? StoreError.invalid(`unknown table "${table}": declare it first`))
    })

  // --- declare -------------------------------------------------------------------------------------------

  const uniqueIndex = (table: string, u: Driver.UniqueSpec): Fragment => {
    const paths = u.fields.map((f) => pathSql(d, [f]))
    if (paths.some((p) => p === undefined)) throw StoreError.invalid(`unique constraint "${u.name}" of "${table}": a field the ${d.name} store cannot index`)
    const ps = paths.map((p) => p!)
    return raw(
      `CREATE UNIQUE INDEX IF NOT EXISTS ${q(d.indexName(["unique", table, u.name]))} ON ${data(table)} ` +
        `(${ps.map((p) => `(${p.json})`).join(", ")}) WHERE ${ps.map((p) => `${p.rank} <> 0`).join(" AND ")}`
    )
  }

  const pathIndex = (table: string, index: Driver.IndexSpec): Fragment | undefined => {
    const p = pathSql(d, index.path)
    if (p === undefined || (index.path.length === 1 && index.path[0] === "id")) return undefined
    const name = q(d.indexName(["index", table, JSON.stringify(index.path)]))
    return raw(`CREATE INDEX IF NOT EXISTS ${name} ON ${data(table)} (${[p.rank, ...p.sortKey].map((e) => `(${e})`).join(", ")})`)
  }

  const sameIndex = (a: Driver.IndexSpec, b: Driver.IndexSpec) => a.kind === b.kind && JSON.stringify(a.path) === JSON.stringify(b.path)

  /** What `spec` adds to `known` (undefined when nothing). */
  const added = (had: Driver.TableSpec | undefined, spec: Driver.TableSpec): Driver.TableSpec | undefined => {
    const unique = spec.unique.filter((u) => !had?.unique.some((x) => x.name === u.name))
    const indexes = spec.indexes.filter((i) => !had?.indexes.some((x) => sameIndex(x, i)))
    return had !== undefined && unique.length === 0 && indexes.length === 0 ? undefined : { name: spec.name, unique, indexes }
  }

  /**
   * A constraint over rows that already collide fails as a write would (`UniqueViolation` naming it and the
   * first colliding key found), not as the engine's index build (which says nothing a caller can act on).
   */
  const refuseCollision = (s: Session, table: string, u: Driver.UniqueSpec) =>
    Effect.gen(function* () {
      const keys = u.fields.map((f) => `(${pathSql(d, [f])!.json})`)
      const present = u.fields.map((f) => `${pathSql(d, [f])!.rank} <> 0`).join(" AND ")
      const columns = keys.map((k, i) => `${k} AS ${q(`k${i}`)}`).join(", ")
      const rows = yield* run(s, raw(`SELECT ${columns} FROM ${data(table)} WHERE ${present} GROUP BY ${keys.join(", ")} HAVING count(*) > 1 LIMIT 1`))
      if (rows.length === 0) return
      const values = u.fields.map((_, i) => JSON.parse(String(rows[0]![`k${i}`])) as Ast.Json)
      return yield* Effect.fail(StoreError.uniqueViolation(table, u.name, u.fields, values))
    })

  const declareOne = (s: Session, spec: Driver.TableSpec) =>
    Effect.gen(function* () {
      const rows = yield* run(s, sql`SELECT ${q("spec")} AS spec FROM ${catalogTable} WHERE ${q("name")} = ${param(spec.name)}`)
      const entry = rows.length === 0 ? undefined : Documents.spec(catalogTable, spec.name, rows[0]!["spec"])
      if (entry instanceof StoreError) return yield* Effect.fail(entry)
      const had = entry
      const more = added(had, spec)
      if (more === undefined) return remember(had!)
      const statements = [
        raw(`CREATE TABLE IF NOT EXISTS ${data(spec.name)} (${q("id")} ${d.idType} PRIMARY KEY, ${q("doc")} ${d.docType} NOT NULL)`),
        ...(yield* Effect.try({ try: () => more.unique.map((u) => uniqueIndex(spec.name, u)), catch: (e) => e as StoreError })),
        ...more.indexes.flatMap((i) => pathIndex(spec.name, i) ?? [])
      ]
      const [createTable, ...indexes] = statements
      yield* run(s, createTable!)
      for (const u of more.unique) yield* refuseCollision(s, spec.name, u)
      for (const st of indexes) yield* run(s, st)
      const merged: Driver.TableSpec = {
        name: spec.name,
        unique: [...(had?.unique ?? []), ...more.unique],
        indexes: [...(had?.indexes ?? []), ...more.indexes]
      }
      const text = JSON.stringify(merged)
      yield* run(
        s,
        sql`INSERT INTO ${catalogTable} (${q("name")}, ${q("spec")}) VALUES (${param(spec.name)}, ${param(text)}) ON CONFLICT (${q("name")}) DO UPDATE SET ${q("spec")} = ${param(text)}`
      )
      remember(merged)
    })

  /** Declared already, as far as this handle knows: costs nothing. */
  const isKnown = (spec: Driver.TableSpec) => {
    const had = catalog.get(spec.name)
    return had !== undefined && added(had, spec) === undefined
  }

  /** Creates what the catalog lacks, under the schema lock (what another handle created meanwhile is skipped). */
  const create = (specs: ReadonlyArray<Driver.TableSpec>) =>
    specs.every(isKnown)
      ? Effect.void
      : conn
          .transaction(
            (s) =>
              Effect.gen(function* () {
                for (const b of bookkeeping) yield* run(s, b)
                for (const spec of specs) yield* declareOne(s, spec)
              }),
            { schema: true }
          )
          .pipe(Effect.mapError(failed("declare")))

  /**
   * Declared already (by this handle or, as the catalog says, another): costs nothing or one read. Opening a
   * store that exists thus never waits for another process's write lock.
   */
  const declare = (specs: ReadonlyArray<Driver.TableSpec>) =>
    specs.every(isKnown)
      ? Effect.void
      : StoreError.attempt(() => specs.forEach(Documents.checkSpec)).pipe(
          Effect.andThen(reload(conn).pipe(Effect.mapError(failed("declare")))),
          Effect.andThen(Effect.suspend(() => create(specs)))
        )

  // --- ids -----------------------------------------------------------------------------------------------

  /** Moves the table's counter by `count` (a counter not yet made starts at 1) and returns the new next id. */
  const advance = (s: Session, table: string, count: number) => {
    const next = q("next")
    return run(
      s,
      sql`INSERT INTO ${idsTable} (${q("name")}, ${next}) VALUES (${param(table)}, ${param(1 + count)}) ON CONFLICT (${q("name")}) DO UPDATE SET ${next} = ${idsTable}.${next} + ${param(count)} RETURNING ${next} AS next`
    ).pipe(Effect.map((rows) => Number(rows[0]!["next"])))
  }

  /**
   * Moves the table's counter to at least `atLeast` when it is below (or not made yet): inserted ids are never
   * reserved afterwards. The counter's row is written, and so locked until commit (every writer of the table
   * waits on it), only then: an insert of reserved ids, below the counter, leaves it alone. The counter as
   * stored is what is compared, never what this handle once saw of it: a schema dropped and declared again, a
   * restore, starts a counter behind ids a handle may still hold, and this moves it past what they insert.
   */
  const pass = (s: Session, table: string, atLeast: number) => {
    const [name, next] = [q("name"), q("next")]
    const ahead = sql`SELECT 1 FROM ${idsTable} WHERE ${name} = ${param(table)} AND ${next} >= ${param(atLeast)}`
    return run(
      s,
      sql`INSERT INTO ${idsTable} (${name}, ${next}) SELECT ${param(table)}, CAST(${param(atLeast)} AS ${raw(d.idType)}) WHERE NOT EXISTS (${ahead}) ON CONFLICT (${name}) DO UPDATE SET ${next} = ${d.greatest(raw(`${idsTable}.${next}`), raw(`excluded.${next}`))}`
    )
  }

  const reserveIds = (table: string, count: number) =>
    known(conn, table).pipe(
      Effect.andThen(advance(conn, table, count)),
      Effect.map((next) => next - count),
      Effect.mapError(failed("reserveIds"))
    )

  // --- writes --------------------------------------------------------------------------------------------

  const text = (table: string, doc: Doc) => StoreError.attempt(() => Documents.text(table, doc))

  /**
   * The unique violation `doc` makes, as the contract names it: its id when another row has it (`withId`),
   * else the first of the table's constraints (in declaration order) another row holds the document's key of,
   * as the reference driver reports it, whichever index the engine happened to check first. It reads inside
   * the writing transaction, so it sees that transaction's earlier writes; that transaction must still be
   * usable (PostgreSQL aborts one at its first failed statement): an insert skips a conflict rather than
   * failing, an update that may fail runs under a savepoint (`guarded`).
   */
  const violation = (s: Session, table: string, doc: Doc, withId: boolean): Effect.Effect<StoreError, StoreError | SqlError> =>
    Effect.gen(function* () {
      const id = doc["id"] as number
      if (withId && (yield* run(s, sql`SELECT 1 AS hit FROM ${data(table)} WHERE ${q("id")} = ${param(id)}`)).length > 0)
        return StoreError.uniqueViolation(table, "id", ["id"], [id])
      // Another handle may have declared the constraint.
      yield* reload(s)
      for (const u of catalog.get(table)?.unique ?? []) {
        if (Driver.uniqueKey(u, doc) === undefined) continue
        const values = Driver.uniqueValues(u, doc)
        const same = u.fields.map((f, i) => sql`${pathSql(d, [f])!.json} = ${param(Evaluator.canonical(values[i]!))}`)
        const taken = yield* run(s, sql`SELECT 1 AS hit FROM ${data(table)} WHERE ${join(same, " AND ")} AND ${q("id")} <> ${param(id)} LIMIT 1`)
        if (taken.length > 0) return StoreError.uniqueViolation(table, u.name, u.fields, values)
      }
      // The engine saw a row holding the key, which another transaction has removed or changed since.
      return StoreError.unavailable(`write to "${table}" conflicted with a row changed meanwhile: try again`)
    })

  /** Runs `f` under a savepoint: its failure undoes only itself and leaves the transaction usable. */
  const guarded = (s: Session, f: Fragment) =>
    run(s, raw("SAVEPOINT lineage_write")).pipe(
      Effect.andThen(run(s, f)),
      Effect.tap(() => run(s, raw("RELEASE SAVEPOINT lineage_write"))),
      Effect.tapError(() => Effect.ignore(run(s, raw("ROLLBACK TO SAVEPOINT lineage_write"))))
    )

  /** Whether `next` claims a key `current` did not under a constraint this handle knows: only then can an update violate one. */
  const claimsNewKey = (table: string, current: Doc, next: Doc) =>
    (catalog.get(table)?.unique ?? []).some((u) => {
      const key = Driver.uniqueKey(u, next)
      return key !== undefined && key !== Driver.uniqueKey(u, current)
    })

  /** One `INSERT` of `rows`: a row whose id or key (of any unique index) is taken is skipped, failing nothing. */
  const insertRows = (s: Session, table: string, rows: ReadonlyArray<Fragment>) =>
    run(s, sql`INSERT INTO ${data(table)} (${q("id")}, ${q("doc")}) VALUES ${join(rows, ", ")} ON CONFLICT DO NOTHING RETURNING ${q("id")} AS id`)

  /**
   * The violation a row-by-row insert of `part` meets first, after one statement skipped some of its `rows`.
   * Rows are written in order, so with distinct ids the first one missing is it. An id given twice leaves the
   * written ids ambiguous: the statement is undone (the ids it wrote were free before it) and the rows are
   * written again one at a time, up to the one refused. Undefined when none is refused now (the row it
   * clashed with was removed meanwhile): then all of `part` is written.
   */
  const firstRefused = (s: Session, table: string, part: ReadonlyArray<Doc>, rows: ReadonlyArray<Fragment>, written: ReadonlyArray<Row>) =>
    Effect.gen(function* () {
      const ids = part.map((doc) => doc["id"] as number)
      if (new Set(ids).size === ids.length) {
        const wrote = new Set(written.map((r) => Number(r["id"])))
        return yield* violation(s, table, part[ids.findIndex((id) => !wrote.has(id))]!, true)
      }
      if (written.length > 0) yield* run(s, sql`DELETE FROM ${data(table)} WHERE ${q("id")} IN (${idList(written.map((r) => Number(r["id"])))})`)
      for (const [i, row] of rows.entries()) {
        if ((yield* insertRows(s, table, [row])).length === 0) return yield* violation(s, table, part[i]!, true)
      }
      return undefined
    })

  const insertIn = (s: Session, table: string, docs: ReadonlyArray<Doc>) =>
    Effect.gen(function* () {
      yield* known(s, table)
      if (docs.length === 0) return
      // Many rows per statement: a statement with RETURNING has a fixed cost (SQLite: ~60 µs), which one row
      // per statement would pay per document (a third of the insert rate).
      for (const part of chunks(docs, rowsPerInsert)) {
        const rows = []
        for (const doc of part) rows.push(sql`(${param(doc["id"] as number)}, ${param(yield* text(table, doc))})`)
        const written = yield* insertRows(s, table, rows)
        if (written.length < part.length) {
          const refused = yield* firstRefused(s, table, part, rows, written)
          if (refused !== undefined) return yield* Effect.fail(refused)
        }
      }
      const top = Math.max(...docs.map((doc) => doc["id"] as number))
      yield* pass(s, table, top + 1)
    })

  /**
   * Reads the document under a row lock (`Dialect.lockRow`), so no other transaction changes it before this
   * one writes: a compare-and-set has one winner, and no update is lost.
   */
  const updateIn = (s: Session, table: string, id: number, patch: Doc, expect: Doc | undefined) =>
    Effect.gen(function* () {
      yield* known(s, table)
      const rows = yield* run(s, sql`SELECT ${q("doc")} AS doc FROM ${data(table)} WHERE ${q("id")} = ${param(id)}${d.lockRow}`)
      if (rows.length === 0) return yield* Effect.fail(StoreError.notFound(table, id))
      const current = (yield* parsed(table, [{ id, doc: rows[0]!["doc"] }]))[0]!
      yield* Effect.try({ try: () => Driver.checkExpect(table, id, current, expect), catch: (e) => e as StoreError })
      // What is stored, as every store returns it: members the patch sets to `undefined` are gone.
      const stored = yield* text(table, { ...current, ...patch })
      const next = JSON.parse(stored) as Doc
      const write = sql`UPDATE ${data(table)} SET ${q("doc")} = ${param(stored)} WHERE ${q("id")} = ${param(id)}`
      if (!claimsNewKey(table, current, next)) {
        // Only a constraint another handle declared can fail it: forget the table's spec, so the next write reads it.
        yield* run(s, write).pipe(Effect.tapError((e) => Effect.sync(() => d.uniqueViolation(e.cause) !== undefined && catalog.delete(table))))
        return next
      }
      yield* guarded(s, write).pipe(
        Effect.catch((e) => (d.uniqueViolation(e.cause) === undefined ? Effect.fail(e) : Effect.flatMap(violation(s, table, next, false), Effect.fail)))
      )
      return next
    })

  const chunks = <A>(xs: ReadonlyArray<A>, size = idsPerStatement): Array<ReadonlyArray<A>> => {
    const out: Array<ReadonlyArray<A>> = []
    for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size))
    return out
  }

  const idList = (ids: ReadonlyArray<number>) => join(ids.map((id) => param(id)), ", ")

  const removeIn = (s: Session, table: string, ids: ReadonlyArray<number>) =>
    Effect.gen(function* () {
      yield* known(s, table)
      let removed = 0
      for (const part of chunks([...new Set(ids)])) {
        const rows = yield* run(s, sql`DELETE FROM ${data(table)} WHERE ${q("id")} IN (${idList(part)}) RETURNING ${q("id")} AS id`)
        removed += rows.length
      }
      return removed
    }).pipe(Effect.mapError(failed("remove")))

  /**
   * The statistics being gathered (`gatherStatistics`), by table: at most one gathering per table at a time.
   * Its scope closes with the handle, which interrupts them, and none starts after.
   */
  const background = Scope.makeUnsafe()
  const gathering = Effect.runSync(Scope.provide(background)(FiberMap.make<string>()))

  /**
   * After a write committed `docs` to `table`, when their ids hold a multiple of `idsBetweenStatistics` and the
   * engine has no planner statistics for the table (`Dialect.statistics`): starts gathering them, and returns
   * without waiting for it. The table then holds rows, though not necessarily that many (ids are reserved by
   * many writers and may be left unused). Without any statistics, PostgreSQL guesses every equality equally
   * selective, and reads a lookup by key through the index every row shares (`branchId`): a scan that grows
   * with the table. Where autovacuum runs it has analyzed the table long before, and the check is one catalog
   * read per hundred ids. Statistics only speed queries up: failing to gather them fails nothing, and the
   * gathering skips a table another transaction holds a conflicting lock on (a later write tries again).
   */
  const gatherStatistics = (table: string, docs: ReadonlyArray<Doc>): Effect.Effect<void> => {
    const statistics = d.statistics
    if (statistics === undefined || !docs.some((doc) => (doc["id"] as number) % idsBetweenStatistics === 0)) return Effect.void
    const { missing, gather } = statistics(data(table))
    const work = run(conn, raw(missing)).pipe(
      Effect.flatMap((rows): Effect.Effect<unknown, SqlError> => (rows.length === 0 ? Effect.void : run(conn, raw(gather)))),
      Effect.ignore
    )
    // A closed map (the handle closed) starts nothing and interrupts the caller: the write committed, so that is ignored.
    return Effect.asVoid(Effect.exit(FiberMap.run(gathering, table, work, { onlyIfMissing: true })))
  }

  const close = () => Scope.close(background, Exit.void).pipe(Effect.andThen(conn.close()))

  const atomically = <A>(what: string, body: (s: Session) => Effect.Effect<A, StoreError | SqlError>) =>
    conn.transaction(body).pipe(Effect.mapError(failed(what)))

  // --- reads ---------------------------------------------------------------------------------------------

  /** Rows (`id`, `doc`) as documents; a damaged one fails `Invalid` naming it. */
  const parsed = (table: string, rows: ReadonlyArray<Row>) => StoreError.attempt(() => rows.map((r) => Documents.parse(table, r["id"], r["doc"])))

  const get = (table: string, ids: ReadonlyArray<number>) =>
    Effect.gen(function* () {
      yield* known(conn, table)
      const found = new Map<number, Doc>()
      for (const part of chunks([...new Set(ids)])) {
        const rows = yield* run(conn, sql`SELECT ${q("id")} AS id, ${q("doc")} AS doc FROM ${data(table)} WHERE ${q("id")} IN (${idList(part)})`)
        for (const [i, doc] of (yield* parsed(table, rows)).entries()) found.set(Number(rows[i]!["id"]), doc)
      }
      return ids.flatMap((id): Array<Doc> => {
        const doc = found.get(id)
        return doc === undefined ? [] : [doc]
      })
    }).pipe(Effect.mapError(failed("get")))

  const select = (table: string, where: Fragment, order: string | undefined, page: Fragment = raw(""), from = data(table)) =>
    run(conn, sql`SELECT ${q("id")} AS id, ${q("doc")} AS doc FROM ${from} WHERE ${where}${order === undefined ? "" : ` ORDER BY ${order}`}${page}`).pipe(
      Effect.flatMap((rows) => parsed(table, rows))
    )

  const pageOf = (spec: Ast.FindSpec): Fragment =>
    spec.limit === undefined && spec.offset === undefined
      ? raw("")
      : sql` LIMIT ${param(spec.limit ?? Number.MAX_SAFE_INTEGER)} OFFSET ${param(spec.offset ?? 0)}`

  /**
   * Where a page in an order is read from, on an engine whose planner cannot weigh a filter (`Dialect.indexedBy`).
   * Left alone, SQLite finds a filter's rows through the filter's index and sorts them all, even when they are a
   * tenth of a million rows and the page is ten. When the filter matches at least `broadFilter` rows (counted,
   * never more), the page is walked along the first order key's index instead: it fills within the first
   * `(offset + limit) × rows / matches` entries. A narrower filter keeps its own index and sorts what it finds.
   */
  const pageSource = (table: string, spec: Ast.FindSpec, where: Fragment): Effect.Effect<string, SqlError> => {
    const first = spec.orderBy[0]
    const index = first === undefined ? undefined : catalog.get(table)?.indexes.find((i) => JSON.stringify(i.path) === JSON.stringify(first.path))
    if (d.indexedBy === undefined || spec.limit === undefined || index === undefined || pathIndex(table, index) === undefined) return Effect.succeed(data(table))
    const broad = broadFilter((spec.offset ?? 0) + spec.limit)
    const indexedBy = d.indexedBy(d.indexName(["index", table, JSON.stringify(index.path)]))
    return run(conn, sql`SELECT count(*) AS n FROM (SELECT 1 FROM ${data(table)} WHERE ${where} LIMIT ${param(broad)})`).pipe(
      Effect.map((rows) => (Number(rows[0]!["n"]) < broad ? data(table) : `${data(table)}${indexedBy}`))
    )
  }

  const find = (table: string, spec: Ast.FindSpec) =>
    Effect.gen(function* () {
      yield* known(conn, table)
      yield* StoreError.attempt(() => Documents.checkFind(table, spec))
      const c: Compiled = compile(d, spec.where)
      const order = orderBy(d, spec.orderBy)
      // An order the engine cannot express: the evaluator filters, sorts and pages the candidates.
      if (order === undefined) return Evaluator.find(yield* select(table, c.where, undefined), spec)
      const where = spec.after === undefined ? c.where : sql`${c.where} AND ${after(d, spec.orderBy, spec.after)}`
      if (c.exact) return yield* select(table, where, order, pageOf(spec), yield* pageSource(table, spec, where))
      const start = spec.offset ?? 0
      const hits = (yield* select(table, where, order)).filter(Evaluator.predicate(spec.where))
      return hits.slice(start, spec.limit === undefined ? undefined : start + spec.limit)
    }).pipe(Effect.mapError(failed("find")))

  const count = (table: string, where: Ast.Cond) =>
    Effect.gen(function* () {
      yield* known(conn, table)
      yield* StoreError.attempt(() => Documents.checkWhere(table, where))
      const c = compile(d, where)
      if (!c.exact) return (yield* select(table, c.where, undefined)).filter(Evaluator.predicate(where)).length
      const rows = yield* run(conn, sql`SELECT count(*) AS n FROM ${data(table)} WHERE ${c.where}`)
      return Number(rows[0]!["n"])
    }).pipe(Effect.mapError(failed("count")))

  const apply = (s: Session, op: Driver.WriteOp): Effect.Effect<unknown, StoreError | SqlError> => {
    switch (op._tag) {
      case "Insert":
        return insertIn(s, op.table, op.docs)
      case "Update":
        return updateIn(s, op.table, op.id, op.patch, op.expect)
      case "Delete":
        return removeIn(s, op.table, op.ids)
    }
  }

  return Driver.validated({
    name: options.name,
    capabilities: { transactions: true, shared: true, nativeOperators: nativeOperators(d) },
    declare,
    reserveIds,
    insert: (table, docs) => atomically("insert", (s) => insertIn(s, table, docs)).pipe(Effect.tap(() => gatherStatistics(table, docs))),
    update: (table, id, patch, expect) => atomically("update", (s) => updateIn(s, table, id, patch, expect)),
    remove: (table, ids) => atomically("remove", (s) => removeIn(s, table, ids)),
    get,
    find,
    count,
    batch: (ops) =>
      atomically("batch", (s) => Effect.forEach(ops, (op) => apply(s, op), { discard: true })).pipe(
        Effect.tap(() => Effect.forEach(ops, (op) => (op._tag === "Insert" ? gatherStatistics(op.table, op.docs) : Effect.void), { discard: true }))
      ),
    close
  })
}

export type { Param }
