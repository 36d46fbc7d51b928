/**
 * The storage format a namespace is written in, kept as one document `{ id, uid, format }` in a table of its
 * own. Documents change shape between formats (a field renamed, a unique constraint moved onto a derived
 * field), so a version of lineage reads a namespace only in the format it writes: it refuses any other before
 * declaring a constraint or writing a document there, rather than failing later on each record it decodes.
 */
import { Effect } from "effect"
import * as Ast from "./Ast.js"
import type { Doc, Driver, TableSpec } from "./Driver.js"
import { showValue, StoreError, StoreUniqueViolation } from "./Errors.js"

/** The format this version writes, and the only one it reads. */
export const current = 2

/** The format of a namespace holding records but no marker: everything written before the marker existed. */
export const unmarked = 1

/** The marker's table: the one table core declares besides the registries'. */
export const table = "lineage_format"

/** The marker table, with the `uid` constraint every table has. */
export const tableSpec: TableSpec = { name: table, unique: [{ name: `${table}_uid`, fields: ["uid"] }], indexes: [] }

/** The marker's uid: one for every namespace, so two first opens writing it collide and the later reads the earlier's. */
const markerUid = "format"

const everything = { where: Ast.always, orderBy: [] }

/** The stored marker, or undefined when the namespace has none. */
const readMarker = (driver: Driver): Effect.Effect<Doc | undefined, StoreError> =>
  Effect.map(driver.find(table, { ...everything, limit: 1 }), (docs) => docs[0])

/** Whether any of `tables` holds a document. */
const holdsRecords = (driver: Driver, tables: ReadonlyArray<string>): Effect.Effect<boolean, StoreError> =>
  Effect.gen(function* () {
    for (const name of tables) if ((yield* driver.find(name, { ...everything, limit: 1 })).length > 0) return true
    return false
  })

/**
 * What the refusal names: the driver, and its database and prefix where it has them as string properties
 * (the MongoDB and Redis stores do). Never a URL: one may hold a password.
 */
const described = (driver: Driver): string => {
  const { database, prefix } = driver as { readonly database?: unknown; readonly prefix?: unknown }
  const names = [
    typeof database === "string" && database !== "" ? `database ${JSON.stringify(database)}` : undefined,
    typeof prefix === "string" && prefix !== "" ? `prefix ${JSON.stringify(prefix)}` : undefined
  ].filter((n) => n !== undefined)
  return `the ${driver.name} store${names.length === 0 ? "" : ` (${names.join(", ")})`}`
}

/** The failure of opening a namespace in another format than `current`; `found` names the format it holds. */
const refusal = (driver: Driver, found: string): StoreError =>
  StoreError.invalid(
    `${described(driver)} holds lineage storage format ${found}, and this version of lineage reads format ${current} ` +
      "only: open it with the lineage version that wrote it, or use a new namespace/database; no migration exists yet"
  )

const isUniqueViolation = (e: StoreError): boolean => e.reason instanceof StoreUniqueViolation

/** Writes the marker of the current format; a first open racing this one may have written it already. */
const mark = (driver: Driver): Effect.Effect<void, StoreError> =>
  Effect.flatMap(driver.reserveIds(table, 1), (id) => driver.insert(table, [{ id, uid: markerUid, format: current }]))

/** Succeeds when `marker` is of the current format, else fails with `refusal`. */
const accept = (driver: Driver, marker: Doc): Effect.Effect<void, StoreError> =>
  marker["format"] === current ? Effect.void : Effect.fail(refusal(driver, showValue(marker["format"])))

/**
 * Succeeds when `driver`'s namespace is in the current format, marking it so when it holds no record yet, and
 * fails with `refusal` otherwise, having written nothing. `registryTables` must be declared (bare is enough),
 * and `table` too. The loser of two first opens racing to mark fails on the marker's uid and reads the
 * winner's marker instead; a driver that reports the uid taken yet holds no marker fails with its report.
 */
export const ensure = (driver: Driver, registryTables: ReadonlyArray<string>): Effect.Effect<void, StoreError> =>
  Effect.gen(function* () {
    const marker = yield* readMarker(driver)
    if (marker !== undefined) return yield* accept(driver, marker)
    if (yield* holdsRecords(driver, registryTables))
      return yield* refusal(driver, `${unmarked} (records without a format marker, written before markers existed)`)
    yield* Effect.catchIf(mark(driver), isUniqueViolation, (taken) =>
      Effect.flatMap(readMarker(driver), (winner) => (winner === undefined ? Effect.fail(taken) : accept(driver, winner)))
    )
  })
