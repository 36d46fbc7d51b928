/**
 * Broken on purpose, the shared part: a store that filters as the evaluator does but orders (sorts, and
 * compares cursors) arrays and objects by its own canonical text, as a store with its own order-key encoding
 * would. Scalars keep the evaluator's order, so only the cases about structured values can tell.
 */
import type { Ast } from "@lineage/core"
import { Driver, Evaluator } from "@lineage/core"
import { Effect } from "effect"
import { ReferenceDriver } from "@lineage/conformance"

type Json = Driver.Json
type Doc = Driver.Doc

/** How the store writes a canonical text: numbers, and the order of an object's keys. */
export interface TextForm {
  readonly number: (x: number) => string
  readonly sortKeys: (keys: Array<string>) => Array<string>
}

const canonicalText =
  (form: TextForm) =>
  (v: Json): string => {
    const text = canonicalText(form)
    if (typeof v === "number") return form.number(v)
    if (v === null || typeof v !== "object") return JSON.stringify(v)
    if (Array.isArray(v)) return `[${v.map(text).join(",")}]`
    const obj = v as { readonly [key: string]: Json }
    return `{${form.sortKeys(Object.keys(obj)).map((k) => `${JSON.stringify(k)}:${text(obj[k]!)}`).join(",")}}`
  }

/** `Evaluator.compareJson`, except that two arrays or two objects compare by the store's canonical text. */
const compareWith = (form: TextForm) => {
  const text = canonicalText(form)
  const structured = (v: Json) => v !== null && typeof v === "object"
  return (a: Json, b: Json): number =>
    structured(a) && structured(b) && Array.isArray(a) === Array.isArray(b)
      ? Evaluator.compareStrings(text(a), text(b))
      : Evaluator.compareJson(a, b)
}

/** Sorts and pages the matching documents as `Evaluator.find` does, with `compare` for every order key. */
const page = (hits: ReadonlyArray<Doc>, spec: Ast.FindSpec, compare: (a: Json, b: Json) => number): Array<Doc> => {
  const keys = Evaluator.fullOrder(spec.orderBy)
  const versus = (doc: Doc, bound: (key: Ast.OrderKey, i: number) => Json): number => {
    for (const [i, key] of keys.entries()) {
      const c = compare(Evaluator.read(doc, key.path), bound(key, i))
      if (c !== 0) return key.direction === "asc" ? c : -c
    }
    return 0
  }
  const after = spec.after
  const kept = after === undefined ? [...hits] : hits.filter((d) => versus(d, (_, i) => (i < spec.orderBy.length ? (after.values[i] ?? null) : after.id)) > 0)
  kept.sort((a, b) => versus(a, (key) => Evaluator.read(b, key.path)))
  const start = spec.offset ?? 0
  return kept.slice(start, spec.limit === undefined ? undefined : start + spec.limit)
}

/** Validated like every store, so a malformed request is still refused though `find` asks its own question. */
export const reorders = (name: string, form: TextForm): ReferenceDriver.ReferenceDriver => {
  const inner = ReferenceDriver.make(name)
  const compare = compareWith(form)
  return Driver.validated({
    ...inner,
    find: (table, spec) => inner.find(table, { where: spec.where, orderBy: [] }).pipe(Effect.map((hits) => page(hits, spec, compare)))
  })
}

/** JSON's own forms, which each broken store changes one of. */
export const jsonForm: TextForm = { number: (x) => JSON.stringify(x), sortKeys: (keys) => keys.sort() }
