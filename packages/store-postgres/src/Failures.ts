/**
 * What `pg` throws while the store opens, as a `StoreError`: a server that cannot be reached, is shutting
 * down or out of connections is `Unavailable` (the one retryable reason, `Postgres.isTransient`); a refused
 * login or a missing database is `Invalid` (sending it again cannot help). Messages are scrubbed of every
 * secret the store knows, in case some layer quotes one. Once open, the SQL driver maps its own failures.
 */
import { DatabaseError } from "pg"
import type { Redacted } from "effect"
import { Driver, StoreError } from "@lineage/core"
import { Postgres } from "@lineage/sql"

/** Refused logins (class 28) and a database that does not exist (3D000). */
const refusedLogin = (code: string): boolean => code.startsWith("28") || code === "3D000"

/** The text of a failure; a connection to several addresses (localhost: ::1 and 127.0.0.1) fails with one error each. */
const message = (e: unknown): unknown => (e instanceof AggregateError ? new Error(e.errors.map(String).join("; ")) : e)

/** Maps anything `pg` threw while doing `what` against the server `description`; a `StoreError` passes through. */
export const failure = (
  what: string,
  e: unknown,
  description: string,
  secrets: ReadonlyArray<Redacted.Redacted<string> | string | undefined>
): StoreError => {
  if (e instanceof StoreError) return e
  const text = Driver.failureText(message(e), secrets)
  const code = e instanceof DatabaseError ? e.code : undefined
  if (Postgres.isTransient(e)) return StoreError.unavailable(`${what}: cannot use ${description} now: ${text}${code === undefined ? "" : ` (SQLSTATE ${code})`}`)
  if (code !== undefined && refusedLogin(code)) return StoreError.invalid(`${what}: ${description} refused the connection: ${text} (SQLSTATE ${code})`)
  if (code !== undefined) return StoreError.invalid(`${what}: PostgreSQL refused the request: ${text} (SQLSTATE ${code})`)
  if (e instanceof Error && /after calling end on the pool/.test(e.message)) return StoreError.closed(`${what}: the store's pool is closed`)
  // Anything else is `pg` refusing its arguments: sending it again cannot help.
  return StoreError.invalid(`${what}: ${text}`)
}
