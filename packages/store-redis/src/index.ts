/**
 * `@lineage/store-redis`: the lineage store on Redis (ioredis), with secondary indexes kept atomically by Lua
 * and queries planned over them.
 */
export {
  fromClient,
  fromUrl,
  layer,
  layerConfig,
  layerFromClient,
  make,
  nativeOperators,
  type FromClientOptions,
  type RedisDriver,
  type Stats
} from "./RedisStore.js"
export { isCluster, scanKeys, type RedisClient } from "./Client.js"
export type { ClusterNode } from "./ClusterUrl.js"
export {
  describe as describeConnection,
  parseUrl,
  redactUrl,
  urlOptions,
  type Connection,
  type ParsedUrl,
  type RedisStoreOptions,
  type RetryOptions,
  type WaitForReplicas
} from "./Connection.js"
export { docsPerStep } from "./Declare.js"
export { membersPerRead } from "./Executor.js"
export { keySpace, type KeySpace } from "./Keys.js"
export { prefetchBudget, rangesPerStep, type Access, type FilterAccess, type IndexAccess, type Plan } from "./Planner.js"
export type { Drift, DriftKind, IndexReport } from "./Verify.js"
