/**
 * `@lineage/store-memory`: the embedded default store, with hash and sorted indexes and a query planner.
 */
export { fromUrl, layer, make, makeDriver, type MemoryDriver, type Stats } from "./MemoryStore.js"
export type { Access, FilterAccess, IndexAccess, Plan } from "./Planner.js"
