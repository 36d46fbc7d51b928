/**
 * `@lineage/store-postgres`: the lineage store on PostgreSQL (node-postgres 8), one schema per store, the query
 * AST compiled to SQL by `@lineage/sql`, unique constraints as unique expression indexes.
 */
export { defaultConnectTimeoutMs, fromUrl, layer, layerConfig, makeDriver, type PostgresDriver } from "./PostgresStore.js"
export { defaultSchema, parseUrl, redactUrl, resolve, urlOptions, type ParsedUrl, type PostgresStoreOptions, type Resolved } from "./Options.js"
export { failure as mapError } from "./Failures.js"
