/**
 * `@lineage/store-sqlite`: the lineage store on SQLite (better-sqlite3), one database file shared by several
 * processes through WAL.
 */
export {
  defaultBusyTimeoutMs,
  fromUrl,
  layer,
  layerConfig,
  make,
  memory,
  nativeOperators,
  parseUrl,
  type SqliteDriver,
  type SqliteStoreOptions
} from "./SqliteStore.js"
