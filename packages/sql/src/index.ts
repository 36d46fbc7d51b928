/**
 * `@lineage/sql`: the query AST compiled to parameterised SQL, and one driver over any SQL engine given its
 * `Dialect` and a `Connection`. The SQLite and PostgreSQL stores are built on it.
 */
export * as Compile from "./Compile.js"
export * as Connection from "./Connection.js"
export * as Dialect from "./Dialect.js"
export * as Postgres from "./Postgres.js"
export * as Sql from "./Sql.js"
export * as SqlDriver from "./SqlDriver.js"
export * as Sqlite from "./Sqlite.js"
