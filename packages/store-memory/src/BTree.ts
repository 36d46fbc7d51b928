/**
 * `sorted-btree` is CommonJS with `exports.default`: Node's ESM loader hands us `module.exports`, while a
 * bundler's interop may hand us the class itself. Accept either.
 */
import BTreeModule from "sorted-btree"

type BTreeClass = typeof BTreeModule.default

export const BTree: BTreeClass =
  typeof BTreeModule === "function" ? (BTreeModule as unknown as BTreeClass) : BTreeModule.default

export type BTree<K, V> = InstanceType<typeof BTreeModule.default<K, V>>
