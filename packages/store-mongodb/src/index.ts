/**
 * `@lineage/store-mongodb`: the lineage store on MongoDB (official driver 7.9), a collection per table, the
 * query AST compiled to native filters, unique constraints as unique indexes.
 */
export {
  fromClient,
  fromUrl,
  layer,
  layerConfig,
  layerFromClient,
  make,
  nativeOperators,
  type Deployment,
  type Explained,
  type FromClientOptions,
  type MongoDriver
} from "./MongoStore.js"
export { parseUrl, redactUrl, resolve, urlOptions, type MongoStoreOptions, type ParsedUrl, type Resolved } from "./Connection.js"
export { compile, afterFilter, nativeSort, type Compiled, type Filter } from "./Compile.js"
export { escapeKey, unescapeKey, orderKey } from "./Encoding.js"
export { failure as mapError, uniqueIndexName } from "./Failures.js"
export { maxDocumentBytes } from "./DocumentSize.js"
