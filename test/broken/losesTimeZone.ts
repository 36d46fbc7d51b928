/**
 * Broken on purpose: ISO datetimes are written as wall-clock time in UTC+02:00 with the offset dropped, and
 * read back as if they were UTC, as a store that goes through a local `DATETIME` column would do:
 * "2024-01-01T10:00:00.000Z" comes back "2024-01-01T12:00:00.000Z". Queries are shifted the same way, so the
 * store agrees with itself; only what comes back out is wrong.
 */
import type { Ast, Driver } from "@lineage/core"
import { Effect } from "effect"
import { ReferenceDriver } from "@lineage/conformance"

const utc = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/
const local = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/
const offsetMs = 2 * 60 * 60 * 1000

const deep =
  (f: (s: string) => string) =>
  (v: Driver.Json): Driver.Json => {
    if (typeof v === "string") return f(v)
    if (v === null || typeof v !== "object") return v
    if (Array.isArray(v)) return v.map(deep(f))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(f)(x)]))
  }

const toWallClock = deep((s) => (utc.test(s) ? new Date(Date.parse(s) + offsetMs).toISOString().slice(0, -1) : s))
const asIfUtc = deep((s) => (local.test(s) ? `${s}Z` : s))

const write = (doc: Driver.Doc): Driver.Doc => toWallClock(doc) as Driver.Doc
const read = (doc: Driver.Doc): Driver.Doc => asIfUtc(doc) as Driver.Doc

const shift = (cond: Ast.Cond): Ast.Cond => {
  switch (cond._tag) {
    case "Field":
      return { ...cond, value: toWallClock(cond.value) }
    case "Not":
      return { _tag: "Not", cond: shift(cond.cond) }
    default:
      return { _tag: cond._tag, conds: cond.conds.map(shift) }
  }
}

const shiftCursor = (c: Ast.Cursor | undefined): Ast.Cursor | undefined =>
  c === undefined ? undefined : { values: c.values.map(toWallClock), id: c.id }

export const make = (): ReferenceDriver.ReferenceDriver => {
  const inner = ReferenceDriver.make("loses-time-zone")
  return {
    ...inner,
    insert: (table, docs) => inner.insert(table, docs.map(write)),
    update: (table, id, patch, expect) =>
      inner.update(table, id, write(patch), expect === undefined ? undefined : write(expect)).pipe(Effect.map(read)),
    get: (table, ids) => inner.get(table, ids).pipe(Effect.map((docs) => docs.map(read))),
    find: (table, spec) =>
      inner.find(table, { ...spec, where: shift(spec.where), after: shiftCursor(spec.after) }).pipe(Effect.map((docs) => docs.map(read))),
    count: (table, where) => inner.count(table, shift(where)),
    batch: (ops) =>
      inner.batch!(
        ops.map((op) =>
          op._tag === "Insert"
            ? { ...op, docs: op.docs.map(write) }
            : op._tag === "Update"
              ? { ...op, patch: write(op.patch), expect: op.expect === undefined ? undefined : write(op.expect) }
              : op
        )
      ),
    backdoor: inner.backdoor
  }
}
