/**
 * Run parameters as lamindb stores them (`serialize_params_to_json`): plain JSON, `None` and empty lists
 * dropped, dates and URLs as strings, records as `"Registry[uid]"`, and anything secret-looking redacted
 * (keys like `api_key`, `token`, `password`; values that are URLs with credentials), so secrets never reach
 * a store.
 */
import type * as Ast from "./Ast.js"

export const redacted = "***REDACTED***"

const secretKey =
  /password|passwd|passphrase|(^|[_.-])(pass|pwd)$|secret|token|api[_-]?key|apikey|credential|private[_-]?key|access[_-]?key|authorization/i
const credentialUrl = /^[a-z][a-z0-9+.-]*:\/\/[^/\s@]*:[^/\s@]*@/i

export interface Serialized {
  readonly params: { readonly [key: string]: Ast.Json }
  /** Keys dropped because their values cannot be stored, for a warning. */
  readonly dropped: ReadonlyArray<string>
}

const isRecord = (v: object): v is { readonly uid: string } =>
  typeof (v as { uid?: unknown }).uid === "string" && Object.getPrototypeOf(v) !== Object.prototype

const value = (v: unknown, key: string, dropped: Array<string>, seen: Set<object>): Ast.Json | undefined => {
  if (v === null || v === undefined) return undefined
  if (typeof v === "string") return credentialUrl.test(v) ? redacted : v
  if (typeof v === "boolean") return v
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v)
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
  if (typeof v !== "object") {
    dropped.push(key)
    return undefined
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.toISOString()
  if (v instanceof URL) return credentialUrl.test(v.href) ? redacted : v.href
  if (seen.has(v)) {
    dropped.push(key)
    return undefined
  }
  seen.add(v)
  try {
    if (isRecord(v)) return `${v.constructor.name}[${v.uid}]`
    if (Array.isArray(v)) {
      if (v.length === 0) return undefined
      return v.map((x, i) => value(x, `${key}[${i}]`, dropped, seen) ?? null)
    }
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) {
      dropped.push(key)
      return undefined
    }
    return object(v as { readonly [k: string]: unknown }, `${key}.`, dropped, seen)
  } finally {
    seen.delete(v)
  }
}

const object = (
  params: { readonly [k: string]: unknown },
  prefix: string,
  dropped: Array<string>,
  seen: Set<object>
): { [key: string]: Ast.Json } => {
  // Collected as entries and built with fromEntries, so a "__proto__" key stays data.
  const out: Array<[string, Ast.Json]> = []
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && secretKey.test(k) && (typeof v !== "object" || v instanceof URL)) {
      out.push([k, redacted])
      continue
    }
    const j = value(v, `${prefix}${k}`, dropped, seen)
    if (j !== undefined) out.push([k, j])
  }
  return Object.fromEntries(out)
}

export const serialize = (params: { readonly [key: string]: unknown }): Serialized => {
  const dropped: Array<string> = []
  return { params: object(params, "", dropped, new Set()), dropped }
}

/**
 * Command-line arguments as lamindb records them (`cli_args`), with secrets redacted like params:
 * `--api-key=x` and `--password x` lose their values, credential URLs are replaced.
 */
export const redactArgs = (argv: ReadonlyArray<string>): Array<string> =>
  argv.map((arg, i) => {
    const option = /^(--?[^=\s]+)=(.*)$/s.exec(arg)
    if (option !== null && secretKey.test(option[1]!)) return `${option[1]}=${redacted}`
    const previous = argv[i - 1]
    if (previous !== undefined && /^--?[^=\s]+$/.test(previous) && secretKey.test(previous) && !arg.startsWith("-")) return redacted
    return credentialUrl.test(arg) ? redacted : arg
  })
