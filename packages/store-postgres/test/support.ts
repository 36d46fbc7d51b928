/**
 * The store on the tests' PostgreSQL server (see `test/support/postgres.ts`). Tests isolate themselves by a
 * fresh schema per case, dropped afterwards.
 */
import { randomBytes } from "node:crypto"
import pg from "pg"
import { Effect } from "effect"
import type { Backdoor } from "@lineage/conformance"
import type { Driver, StoreError } from "@lineage/core"
import { Postgres } from "@lineage/sql"
import { openPool, serverUrl } from "../../../test/support/postgres.js"
import { makeDriver, type PostgresDriver } from "../src/index.js"

export { serverUrl }

export const run = <A>(effect: Effect.Effect<A, StoreError>): Promise<A> => Effect.runPromise(effect)

let admin: Promise<pg.Pool> | undefined

/** A pool of the tests' own onto the server, checked once: the backdoor and teardown read and drop through it. */
export const adminPool = (): Promise<pg.Pool> => (admin ??= openPool({ max: 4 }))

/** Ends the tests' own pool; call in `afterAll`. */
export const closeAdmin = async (): Promise<void> => {
  const pool = admin
  admin = undefined
  if (pool !== undefined) await (await pool).end().catch(() => undefined)
}

/** A schema name no other run or case uses. */
export const freshSchema = (label: string): string => `lineage_test_${label}_${process.pid}_${randomBytes(4).toString("hex")}`

/** A driver on a fresh, empty schema of the test server. */
export const freshDriver = async (label: string): Promise<PostgresDriver> => {
  await adminPool()
  return run(makeDriver({ url: serverUrl, schema: freshSchema(label) }))
}

/** A second handle onto the same schema, as another process would open it. */
export const reopen = (driver: PostgresDriver): Promise<PostgresDriver> => run(makeDriver({ url: serverUrl, schema: driver.schema }))

export const dropSchema = async (schema: string): Promise<void> => {
  await (await adminPool()).query(`DROP SCHEMA IF EXISTS ${Postgres.dialect(schema).quote(schema)} CASCADE`)
}

const decode = (row: { readonly id: unknown; readonly doc: unknown }): Driver.Doc => {
  if (typeof row.doc !== "string") throw new Error(`row ${String(row.id)} has no JSON text`)
  const doc = JSON.parse(Postgres.decodeText(row.doc)) as Driver.Doc
  if (doc["id"] !== Number(row.id)) throw new Error(`row ${String(row.id)} holds id ${String(doc["id"])}`)
  return doc
}

/** Reads what the store persisted through the tests' own pool, not through the driver. */
export const backdoor = (driver: PostgresDriver): Backdoor => {
  const table = (name: string) => Postgres.dialect(driver.schema).table("data", name)
  return {
    all: async (name) => (await (await adminPool()).query(`SELECT id, doc FROM ${table(name)}`)).rows.map(decode),
    get: async (name, id) => {
      const rows = (await (await adminPool()).query(`SELECT id, doc FROM ${table(name)} WHERE id = $1`, [id])).rows
      return rows.length === 0 ? undefined : decode(rows[0])
    }
  }
}
