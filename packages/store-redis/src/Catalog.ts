/**
 * This handle's copy of the namespace's tables. Reads may use a stale copy (indexes are only ever added,
 * so a stale copy just misses an index it could have used); every write states the schema version it was
 * prepared against, and the write script refuses it if a declaration has changed the schema since.
 */
import { showValue, StoreError } from "@lineage/core"
import type { Ast } from "@lineage/core"
import type { RedisClient } from "./Client.js"
import type { KeySpace } from "./Keys.js"
import { indexState, type StoredTable, withIndexes } from "./Tables.js"

const isPath = (p: unknown): p is Ast.Path => Array.isArray(p) && p.length > 0 && p.every((s) => typeof s === "string")

const parsed = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

/**
 * What another process (or anyone with access to the namespace) left in the schema hashes is checked before
 * it is used: a malformed entry is `Invalid`, naming the hash and the entry, never a parse or type error that
 * surfaces as a retried `Unavailable`, and never a path that breaks every later write.
 */
const malformed = (key: string, entry: string, expected: string): StoreError =>
  StoreError.invalid(`the schema hash ${key} holds a malformed entry ${showValue(entry)}: expected ${expected}`)

const indexEntry = (key: string, field: string): readonly [string, Ast.Path] => {
  const entry = parsed(field)
  if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string" || !isPath(entry[1]))
    throw malformed(key, field, "the JSON of [table, path], a path being a non-empty array of strings")
  return [entry[0], entry[1]]
}

const tableEntry = (key: string, name: string, json: string): StoredTable => {
  const table = parsed(json) as { readonly name?: unknown; readonly unique?: unknown; readonly indexes?: unknown } | null | undefined
  const valid =
    table !== null &&
    typeof table === "object" &&
    table.name === name &&
    Array.isArray(table.unique) &&
    table.unique.every((u: { readonly fields?: unknown } | null) => u !== null && typeof u === "object" && isPath(u.fields)) &&
    Array.isArray(table.indexes) &&
    table.indexes.every(isPath)
  if (!valid) throw malformed(key, `${name}: ${json}`, `the JSON of table ${showValue(name)}: { name, unique: [{ name, fields }], indexes: [path] }`)
  // Only what a table entry holds (see `Tables.entryOf`): indexes being built are kept in their own hash.
  const { unique, indexes } = table as StoredTable
  return { name, unique, indexes }
}

export interface Schema {
  readonly version: string
  readonly tables: ReadonlyMap<string, StoredTable>
}

export class Catalog {
  private schema: Schema | undefined

  constructor(
    private readonly client: RedisClient,
    private readonly keys: KeySpace
  ) {}

  /** Reads the tables, the indexes added to them since, and their version in one transaction, so they agree. */
  async reload(): Promise<Schema> {
    const replies = await this.client.multi().hgetall(this.keys.schema).hgetall(this.keys.schemaIndexes).get(this.keys.schemaVersion).exec()
    if (replies === null) throw StoreError.unavailable("reading the schema: the transaction was aborted")
    const [hash, added, version] = replies
    for (const reply of replies) if (reply?.[0]) throw reply[0]
    const extra = new Map<string, { ready: Array<Ast.Path>; building: Array<Ast.Path> }>()
    for (const [field, state] of Object.entries((added?.[1] ?? {}) as Record<string, string>)) {
      const [table, path] = indexEntry(this.keys.schemaIndexes, field)
      let paths = extra.get(table)
      if (paths === undefined) extra.set(table, (paths = { ready: [], building: [] }))
      ;(state === indexState.ready ? paths.ready : paths.building).push(path)
    }
    const tables = new Map<string, StoredTable>()
    for (const [name, json] of Object.entries((hash?.[1] ?? {}) as Record<string, string>)) {
      const stored = tableEntry(this.keys.schema, name, json)
      const paths = extra.get(name)
      tables.set(name, paths === undefined ? stored : withIndexes(stored, paths.ready, paths.building))
    }
    const schema: Schema = { version: (version?.[1] as string | null) ?? "0", tables }
    this.schema = schema
    return schema
  }

  /**
   * The schema as Redis holds it, re-read only when its version moved: every change bumps the version in
   * the script that makes it, so an unchanged version means an unchanged schema (one GET, not the whole hash).
   */
  async refresh(): Promise<Schema> {
    const cached = this.schema
    if (cached !== undefined && ((await this.client.get(this.keys.schemaVersion)) ?? "0") === cached.version) return cached
    return this.reload()
  }

  /** Takes a schema this handle just wrote (a declaration's script bumped the version it was prepared on). */
  adopt(schema: Schema): void {
    this.schema = schema
  }

  async current(): Promise<Schema> {
    return this.schema ?? (await this.reload())
  }

  /** A declared table; another handle may have declared it since this one last looked. */
  async table(name: string): Promise<StoredTable> {
    const cached = (await this.current()).tables.get(name)
    if (cached !== undefined) return cached
    const fresh = (await this.reload()).tables.get(name)
    if (fresh === undefined) throw StoreError.invalid(`unknown table "${name}": declare it first`)
    return fresh
  }
}
