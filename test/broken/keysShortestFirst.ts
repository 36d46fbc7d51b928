/**
 * Broken on purpose: the canonical text of an object lists its keys shortest first, then bytewise, as
 * PostgreSQL's `jsonb` keeps them, where the evaluator sorts them as JavaScript's `sort()` does. Equality is
 * unchanged; only the order of objects differs.
 */
import type { ReferenceDriver } from "@lineage/conformance"
import { jsonForm, reorders } from "./reorders.js"

const shortestFirst = (keys: Array<string>): Array<string> =>
  keys.sort((a, b) => Buffer.byteLength(a) - Buffer.byteLength(b) || Buffer.compare(Buffer.from(a), Buffer.from(b)))

export const make = (): ReferenceDriver.ReferenceDriver => reorders("keys-shortest-first", { ...jsonForm, sortKeys: shortestFirst })
