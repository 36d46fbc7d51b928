/**
 * Documents and catalog entries as the `doc` and `spec` columns hold them, and back.
 *
 * A document is stored as the canonical text of the JSON value `JSON.stringify` makes of it (what every other
 * store keeps): members set to `undefined` (or to a function or symbol) are dropped, in arrays they become
 * `null`, a `Date` (anything with `toJSON`) becomes what `toJSON` returns, a number that is not finite `null`.
 * Keys are sorted (`Evaluator.canonical`), so equal values have equal text at every path.
 *
 * Text with an unpaired UTF-16 surrogate is refused, in documents and in queries: the engines hold UTF-8,
 * which cannot encode one (SQLite keeps invalid bytes that order apart from the evaluator's code points, and
 * hands U+FFFD to the functions it calls), so no answer could match the evaluator's.
 *
 * What is read back is checked: the file or schema is shared, and a row another program wrote that is not
 * JSON (or a catalog entry that is no table spec) fails `Invalid`, naming the table and the row.
 */
import { Ast, Driver, StoreError } from "@lineage/core"

/** `String.prototype.isWellFormed` (ES2024, in every supported Node; the lib here is ES2023). */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

/** Where a value was found: the keys and indexes leading to it, for messages. */
type Location = ReadonlyArray<string | number>

const shown = (at: Location): string => (at.length === 0 ? "" : ` at ${at.map((k) => `[${JSON.stringify(k)}]`).join("")}`)

const illFormed = (what: string, at: Location): StoreError =>
  StoreError.invalid(`${what}${shown(at)}: expected well-formed Unicode text, got a string with an unpaired UTF-16 surrogate`)

const string = (what: string, s: string, at: Location): string => {
  if (!isWellFormed(s)) throw illFormed(what, at)
  return JSON.stringify(s)
}

const hasToJson = (v: unknown): v is { toJSON: (key: string) => unknown } =>
  v !== null && typeof v === "object" && typeof (v as { readonly toJSON?: unknown }).toJSON === "function"

/** The canonical text of `JSON.stringify`'s value of `v`, or undefined where `JSON.stringify` drops it. */
const canonical = (what: string, value: unknown, at: Array<string | number>): string | undefined => {
  const v = hasToJson(value) ? value.toJSON(String(at[at.length - 1] ?? "")) : value
  switch (typeof v) {
    case "string":
      return string(what, v, at)
    case "number":
      return Number.isFinite(v) ? JSON.stringify(v) : "null"
    case "boolean":
      return v ? "true" : "false"
    case "bigint":
      throw StoreError.invalid(`${what}${shown(at)}: expected a JSON value, got the bigint ${String(v)}n`)
    case "object":
      if (v === null) return "null"
      return Array.isArray(v) ? array(what, v, at) : object(what, v as { readonly [k: string]: unknown }, at)
    default:
      return undefined
  }
}

const array = (what: string, v: ReadonlyArray<unknown>, at: Array<string | number>): string => {
  const items = v.map((x, i) => {
    at.push(i)
    const text = canonical(what, x, at) ?? "null"
    at.pop()
    return text
  })
  return `[${items.join(",")}]`
}

const object = (what: string, v: { readonly [k: string]: unknown }, at: Array<string | number>): string => {
  const members: Array<string> = []
  for (const k of Object.keys(v).sort()) {
    at.push(k)
    const text = canonical(what, v[k], at)
    if (text !== undefined) members.push(`${string(what, k, at)}:${text}`)
    at.pop()
  }
  return `{${members.join(",")}}`
}

/** The `doc` column's text of a document of `table`; `Invalid` naming where for an unpaired surrogate. */
export const text = (table: string, doc: Driver.Doc): string => canonical(`${table} document ${String(doc["id"])}`, doc, [])!

/** A document read from `table`; `Invalid` naming the row when it is not a JSON object. */
export const parse = (table: string, id: unknown, v: unknown): Driver.Doc => {
  if (typeof v !== "string") return v as Driver.Doc
  let doc: unknown
  try {
    doc = JSON.parse(v)
  } catch {
    doc = undefined
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw StoreError.invalid(`${table} row ${String(id)} is damaged: expected the JSON text of a document, got text that is none`)
  return doc as Driver.Doc
}

const isNames = (v: unknown): v is ReadonlyArray<string> =>
  Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === "string")

type Loose<K extends string> = { readonly [k in K]?: unknown } | null

const isUnique = (u: Loose<"name" | "fields">): boolean => typeof u?.name === "string" && isNames(u.fields)

const isIndex = (i: Loose<"kind" | "path">): boolean => (i?.kind === "hash" || i?.kind === "sorted") && isNames(i.path)

const isSpec = (name: string, s: unknown): s is Driver.TableSpec => {
  const spec = s as { readonly name?: unknown; readonly unique?: unknown; readonly indexes?: unknown } | null
  return (
    spec !== null &&
    typeof spec === "object" &&
    spec.name === name &&
    Array.isArray(spec.unique) &&
    spec.unique.every(isUnique) &&
    Array.isArray(spec.indexes) &&
    spec.indexes.every(isIndex)
  )
}

/** The table spec the catalog holds for `name`, or the `Invalid` failure naming the entry when it is none. */
export const spec = (catalog: string, name: unknown, text: unknown): Driver.TableSpec | StoreError => {
  let s: unknown
  try {
    s = typeof text === "string" ? JSON.parse(text) : undefined
  } catch {
    s = undefined
  }
  if (typeof name !== "string" || !isSpec(name, s))
    return StoreError.invalid(
      `the catalog ${catalog} holds a damaged entry for ${JSON.stringify(name)}: expected the JSON of a table spec { name, unique, indexes }`
    )
  return s
}

const checkValue = (what: string, v: Ast.Json): void => {
  canonical(what, v, [])
}

const checkPath = (what: string, path: Ast.Path): void => {
  for (const [i, k] of path.entries()) string(what, k, [i])
}

const checkCond = (table: string, cond: Ast.Cond): void => {
  switch (cond._tag) {
    case "Field":
      checkPath(`the path of a condition on ${table}`, cond.path)
      return checkValue(`the value of the condition on ${table} at ${JSON.stringify(cond.path)}`, cond.value)
    case "Not":
      return checkCond(table, cond.cond)
    case "And":
    case "Or":
      for (const c of cond.conds) checkCond(table, c)
  }
}

/** Refuses (`Invalid`, naming where) a condition whose paths or values hold an unpaired surrogate. */
export const checkWhere = (table: string, where: Ast.Cond): void => checkCond(table, where)

/** Refuses (`Invalid`, naming where) a find whose condition, order paths or cursor hold an unpaired surrogate. */
export const checkFind = (table: string, spec: Ast.FindSpec): void => {
  checkCond(table, spec.where)
  for (const key of spec.orderBy) checkPath(`an order key of a find on ${table}`, key.path)
  if (spec.after !== undefined) checkValue(`the cursor of a find on ${table}`, spec.after.values as Ast.Json)
}

/** Refuses (`Invalid`, naming where) a table spec whose names, fields or paths hold an unpaired surrogate. */
export const checkSpec = (spec: Driver.TableSpec): void => {
  string("a table name", spec.name, [])
  for (const u of spec.unique) {
    string(`a unique constraint name of ${spec.name}`, u.name, [])
    checkPath(`the fields of unique constraint "${u.name}" of ${spec.name}`, u.fields)
  }
  for (const i of spec.indexes) checkPath(`an index path of ${spec.name}`, i.path)
}
