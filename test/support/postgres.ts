/**
 * The PostgreSQL server of the tests: `LINEAGE_POSTGRES_URL`, else the one at 127.0.0.1:5432 (database `test`,
 * trust auth). When it does not answer, tests fail saying how to start it; they never skip.
 */
import pg from "pg"

export const serverUrl = process.env["LINEAGE_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

/** A pool of the tests' own onto `serverUrl`, checked with a query; idle clients' errors (a restart) are ignored. */
export const openPool = async (config: Omit<pg.PoolConfig, "connectionString">): Promise<pg.Pool> => {
  const pool = new pg.Pool({ connectionString: serverUrl, connectionTimeoutMillis: 5_000, ...config })
  pool.on("error", () => undefined)
  try {
    await pool.query("SELECT 1")
  } catch (e) {
    await pool.end().catch(() => undefined)
    throw new Error(
      `No PostgreSQL server for the tests at ${serverUrl} (${String(e)}): start it ` +
        "(`pg_ctlcluster --skip-systemctl-redirect 15 main start`, or `apt-get install postgresql`) or set LINEAGE_POSTGRES_URL."
    )
  }
  return pool
}
