/**
 * This handle's copy of the namespace's tables. Reads may use a stale copy (indexes are only ever added,
 * so a stale copy just misses an index it could have used); every write states the schema version it was
 * planned against, and the write script refuses it if a declaration has changed the schema since.
 */
import type { Redis } from "ioredis"
import { StoreError } from "@lineage/core"
import type { KeySpace } from "./Keys.js"
import type { StoredTable } from "./Tables.js"

export interface Schema {
  readonly version: string
  readonly tables: ReadonlyMap<string, StoredTable>
}

export class Catalog {
  private schema: Schema | undefined

  constructor(
    private readonly client: Redis,
    private readonly keys: KeySpace
  ) {}

  /** Reads the tables and their version in one transaction, so they agree. */
  async reload(): Promise<Schema> {
    const replies = await this.client.multi().hgetall(this.keys.schema).get(this.keys.schemaVersion).exec()
    if (replies === null) throw StoreError.unavailable("reading the schema: the transaction was aborted")
    const [hash, version] = replies
    if (hash?.[0]) throw hash[0]
    if (version?.[0]) throw version[0]
    const tables = new Map<string, StoredTable>()
    for (const [name, json] of Object.entries((hash?.[1] ?? {}) as Record<string, string>)) {
      tables.set(name, JSON.parse(json) as StoredTable)
    }
    const schema: Schema = { version: (version?.[1] as string | null) ?? "0", tables }
    this.schema = schema
    return schema
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
