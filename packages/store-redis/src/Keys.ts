/**
 * The key layout of one namespace. Every key starts with `{prefix}:`, a Redis Cluster hash tag, so a whole
 * namespace lives in one hash slot: multi-key Lua scripts stay legal on a cluster, and a namespace scales by
 * being one of many (partition by namespace), not by spreading over shards.
 *
 * Table names and index paths are user data (a feature name may hold `:`, `{`, `*`, newlines, …), so they
 * are escaped into `[A-Za-z0-9_.-]` plus `%XXXX` per UTF-16 unit: no separator, brace or glob character can
 * leak into a key, and two different names never give the same key.
 */
import type { Ast } from "@lineage/core"

/** Escapes a name so it holds no `:`, `{`, `}`, glob characters or whitespace; injective. */
export const escapeName = (s: string): string =>
  s.replace(/[^A-Za-z0-9_.-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** Escapes glob metacharacters for `SCAN MATCH`. */
export const escapeGlob = (s: string): string => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`)

/** Why a prefix cannot name a namespace, or undefined when it can. */
export const invalidPrefix = (prefix: string): string | undefined => {
  if (prefix.length === 0) return "the prefix must not be empty"
  // A brace would end or restart the hash tag, splitting the namespace over slots.
  if (/[{}]/.test(prefix)) return `the prefix must not contain "{" or "}" (got ${JSON.stringify(prefix)})`
  return undefined
}

export interface KeySpace {
  readonly prefix: string
  /** Hash: table name → stored `TableSpec` JSON. */
  readonly schema: string
  /**
   * Hash: `[table, path]` JSON → the state of an index added to a stored table after its `schema` entry was
   * written (`Tables.indexState`).
   */
  readonly schemaIndexes: string
  /** Counter bumped by every declaration that changes the schema; every write checks it. */
  readonly schemaVersion: string
  /** Marks a write as applied, so a write re-sent after a lost reply is not applied twice. */
  readonly token: (token: string) => string
  readonly seq: (table: string) => string
  readonly doc: (table: string, id: number) => string
  /** `SCAN MATCH` pattern of a table's document keys. */
  readonly docPattern: (table: string) => string
  /** Parses the id back out of a document key of `table`. */
  readonly idOfDocKey: (table: string, key: string) => number | undefined
  readonly index: (table: string, path: Ast.Path) => string
  readonly unique: (table: string, fields: ReadonlyArray<string>) => string
  /** `SCAN MATCH` pattern of every key of the namespace. */
  readonly all: string
}

export const keySpace = (prefix: string): KeySpace => {
  const base = `{${prefix}}:`
  // Every document key starts with its table's part: worked out once per table, not once per document.
  const tables = new Map<string, string>()
  const table = (name: string) => {
    let part = tables.get(name)
    if (part === undefined) tables.set(name, (part = `${base}t:${escapeName(name)}:`))
    return part
  }
  return {
    prefix,
    schema: `${base}schema`,
    schemaIndexes: `${base}schema:indexes`,
    schemaVersion: `${base}schema:version`,
    token: (token) => `${base}w:${token}`,
    seq: (name) => `${table(name)}seq`,
    doc: (name, id) => `${table(name)}d:${id}`,
    docPattern: (name) => `${escapeGlob(table(name))}d:*`,
    idOfDocKey: (name, key) => {
      const head = `${table(name)}d:`
      if (!key.startsWith(head)) return undefined
      const id = Number(key.slice(head.length))
      return Number.isSafeInteger(id) ? id : undefined
    },
    index: (name, path) => `${table(name)}x:${escapeName(JSON.stringify(path))}`,
    unique: (name, fields) => `${table(name)}u:${escapeName(JSON.stringify(fields))}`,
    all: `${escapeGlob(base)}*`
  }
}
