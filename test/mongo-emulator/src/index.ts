/**
 * A MongoDB wire-protocol emulator of a standalone mongod (or of a mongos in front of one shard), for tests
 * that use the official driver on machines without a mongod. Test-only: never published, never built.
 */
export { startEmulator, type Emulator, type EmulatorOptions, type EmulatorStats } from "./Server.js"
export { MAX_BSON_OBJECT_SIZE, MAX_WIRE_VERSION, SERVER_VERSION } from "./Commands.js"
export { MAX_BSON_INTERNAL_SIZE } from "./Errors.js"
export { MAX_INDEXES_PER_COLLECTION } from "./Indexes.js"
export type { ShardKey, Topology } from "./Sharding.js"
