/**
 * Feature dtypes, lamindb's spelling: `int`, `float`, `num`, `str`, `bool`, `date`, `datetime`, `dict`, `path`,
 * `url`, `object`, `cat[Registry]` (a value that names a record of that registry) and `list[<dtype>]`.
 * A dtype is parsed once; values are checked against it and stored as plain JSON (dates as ISO strings,
 * categorical values as the record's name), so every store can index and compare them.
 */
import * as Ast from "./Ast.js"
import { isPlainObject, maxDepth } from "./Limits.js"

export const simpleDtypes = ["int", "float", "num", "str", "bool", "date", "datetime", "dict", "path", "url", "object"] as const
export type SimpleDtype = (typeof simpleDtypes)[number]

/** Registries a categorical feature may point at, and the field that names their records. */
export const categoricalRegistries: { readonly [registry: string]: string } = {
  ULabel: "name",
  Project: "name",
  Feature: "name",
  User: "handle",
  Transform: "key",
  Artifact: "key",
  Run: "uid"
}

export type Dtype =
  | { readonly _tag: "simple"; readonly name: SimpleDtype }
  | { readonly _tag: "cat"; readonly registry: string }
  | { readonly _tag: "list"; readonly item: Dtype }

export const expectedDtypes =
  `one of ${simpleDtypes.join(", ")}, cat[${Object.keys(categoricalRegistries).join("|")}] or list[<dtype>] ` +
  `(lists nested at most ${maxDepth} deep)`

/** A dtype; its `list[…]` wrappers are unwrapped in a loop, at most `maxDepth` of them, so no string exhausts the stack. */
export const parse = (s: string): Dtype | undefined => {
  let lists = 0
  let inner = s
  for (let list = /^list\[(.+)\]$/.exec(inner); list !== null; list = /^list\[(.+)\]$/.exec(inner)) {
    if (++lists > maxDepth) return undefined
    inner = list[1]!
  }
  let dtype = parseItem(inner)
  for (let i = 0; i < lists && dtype !== undefined; i++) dtype = { _tag: "list", item: dtype }
  return dtype
}

const parseItem = (s: string): Dtype | undefined => {
  // lamindb's bare `cat` means `cat[ULabel]`.
  if (s === "cat") return { _tag: "cat", registry: "ULabel" }
  const cat = /^cat\[([A-Za-z]+)\]$/.exec(s)
  if (cat !== null) return Object.hasOwn(categoricalRegistries, cat[1]!) ? { _tag: "cat", registry: cat[1]! } : undefined
  return (simpleDtypes as ReadonlyArray<string>).includes(s) ? { _tag: "simple", name: s as SimpleDtype } : undefined
}

export const format = (d: Dtype): string =>
  d._tag === "simple" ? d.name : d._tag === "cat" ? `cat[${d.registry}]` : `list[${format(d.item)}]`

const toJson = (v: unknown): Ast.Json | undefined => {
  const copied = Ast.toJson(v)
  return "json" in copied ? copied.json : undefined
}

const isoDate = /^\d{4}-\d{2}-\d{2}$/

/** A record passed as a categorical value: its naming field. */
const nameOf = (v: unknown, registry: string): unknown =>
  v !== null && typeof v === "object" && !isPlainObject(v) && !Array.isArray(v)
    ? (v as { readonly [k: string]: unknown })[categoricalRegistries[registry]!]
    : v

/** The stored form of `value` under `dtype`, or `undefined` when it does not fit. */
export const encode = (dtype: Dtype, value: unknown): Ast.Json | undefined => {
  switch (dtype._tag) {
    case "list":
      if (!Array.isArray(value)) return undefined
      {
        // `Array.from` visits holes too (as undefined, which no dtype accepts); `map` would skip them.
        const items = Array.from(value, (v) => encode(dtype.item, v))
        return items.every((i) => i !== undefined) ? (items as Array<Ast.Json>) : undefined
      }
    case "cat": {
      const name = nameOf(value, dtype.registry)
      return typeof name === "string" && name.length > 0 ? name : undefined
    }
    case "simple":
      switch (dtype.name) {
        case "int":
          return Number.isSafeInteger(value) ? (value as number) : undefined
        case "float":
        case "num":
          return typeof value === "number" && Number.isFinite(value) ? value : undefined
        case "str":
        case "url":
          return typeof value === "string" ? value : undefined
        case "path":
          // POSIX separators, as lamindb stores paths.
          return typeof value === "string" ? value.replaceAll("\\", "/") : undefined
        case "bool":
          return typeof value === "boolean" ? value : undefined
        case "date":
          if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString().slice(0, 10)
          return typeof value === "string" && isoDate.test(value) && !Number.isNaN(Date.parse(value)) ? value : undefined
        case "datetime":
          if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString()
          return typeof value === "string" && !isoDate.test(value) && !Number.isNaN(Date.parse(value))
            ? new Date(value).toISOString()
            : undefined
        case "dict":
          return isPlainObject(value) ? toJson(value) : undefined
        case "object":
          return toJson(value)
      }
  }
}

/** The value a reader gets back: dates as `Date`, everything else as stored. */
export const decode = (dtype: Dtype, stored: Ast.Json): unknown => {
  if (dtype._tag === "list" && Array.isArray(stored)) return stored.map((v) => decode(dtype.item, v))
  if (dtype._tag === "simple" && dtype.name === "datetime" && typeof stored === "string") return new Date(stored)
  return stored
}

/** The operand kinds a query on this dtype may compare with (after the query's own JSON encoding). */
export const fitsOperand = (dtype: Dtype, operand: Ast.Json): boolean => {
  if (operand === null) return true
  switch (dtype._tag) {
    case "list":
      return Array.isArray(operand) || fitsOperand(dtype.item, operand)
    case "cat":
      return typeof operand === "string"
    case "simple":
      switch (dtype.name) {
        case "int":
        case "float":
        case "num":
          return typeof operand === "number"
        case "bool":
          return typeof operand === "boolean"
        case "dict":
        case "object":
          return true
        default:
          return typeof operand === "string"
      }
  }
}
