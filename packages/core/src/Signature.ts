/**
 * The names of a function's parameters, read from its source, so a call's positional arguments can be
 * recorded under them as lamindb records a function's arguments. JavaScript keeps no parameter names but in
 * the source text, so only what reads unambiguously is taken: a list of plain identifiers (`function f(a, b)`,
 * `(a, b) => …`, `a => …`, `async (a, b) => …`, `f(a, b) { … }`), optionally ending in a rest parameter
 * `...rest`. Anything else (destructuring, defaults, comments in the list, non-ASCII names, native or bound
 * functions, classes) reads as no names at all: this is a whitelist, not a JavaScript parser, and in doubt it
 * gives up rather than guess. Minified code has renamed its parameters: the names read are the minifier's.
 */

export interface Signature {
  /** The positional parameters, in order. */
  readonly names: ReadonlyArray<string>
  /** The rest parameter: it takes the arguments past `names`, as an array. */
  readonly rest: string | undefined
}

/** No names: every argument is `argN`, N its position. */
export const positional: Signature = { names: [], rest: undefined }

/**
 * The source of `fn` as the engine keeps it. `Function.prototype.toString` itself, not `fn.toString`: an
 * overridden `toString` (one that lies, or throws) is not the function's source. Undefined for what is not a
 * function.
 */
export const sourceOf = (fn: unknown): string | undefined => {
  try {
    return Function.prototype.toString.call(fn)
  } catch {
    return undefined
  }
}

/** At most this many tokens before the parameter list: `async function* name (` has four. */
const maxHeadTokens = 4

/** One token after optional whitespace: an ASCII identifier, or one of the punctuators a signature is made of. */
const token = /\s*(?:[A-Za-z_$][\w$]*|\.\.\.|=>|[(),*{])/
const identifier = /^[A-Za-z_$][\w$]*$/

/** Reads `source` token by token; undefined where it holds anything else (a comment, `=`, `[`, a quote, …). */
const tokens = (source: string) => {
  const sticky = new RegExp(token.source, "y")
  return (): string | undefined => sticky.exec(source)?.[0].trimStart()
}

const isName = (t: string | undefined): t is string => t !== undefined && identifier.test(t)

/**
 * Whether the tokens before `(` make a function or method head: `async? (function *? name? | *? name)?`.
 * A lone `async` is a method named so, or the start of an async arrow: both have their list next.
 */
const isHead = (head: ReadonlyArray<string>): boolean => {
  let i = head[0] === "async" && head.length > 1 ? 1 : 0
  if (head[i] === "function") i++
  if (head[i] === "*") i++
  if (isName(head[i]) && head[i] !== "function") i++
  return i === head.length
}

/** `a => …` and `async a => …`: one parameter, no list. */
const single = (head: ReadonlyArray<string>): Signature | undefined => {
  const [first, second] = head
  const name = head.length === 1 ? first : head.length === 2 && first === "async" ? second : undefined
  return isName(name) ? { names: [name], rest: undefined } : undefined
}

/** The list after `(`: names separated by commas (a trailing one allowed), optionally ending in `...rest`. */
const list = (next: () => string | undefined): Signature | undefined => {
  const names: Array<string> = []
  for (;;) {
    const t = next()
    if (t === ")") return { names, rest: undefined }
    if (t === "...") {
      const rest = next()
      return isName(rest) && next() === ")" ? { names, rest } : undefined
    }
    if (!isName(t)) return undefined
    names.push(t)
    const after = next()
    if (after === ")") return { names, rest: undefined }
    if (after !== ",") return undefined
  }
}

/** The parameters `source` declares, when it reads unambiguously; undefined otherwise. Linear in the source. */
export const parse = (source: string | undefined): Signature | undefined => {
  if (source === undefined) return undefined
  const next = tokens(source)
  const head: Array<string> = []
  for (let t = next(); t !== "("; t = next()) {
    if (t === "=>") return single(head)
    if (t === undefined || head.length === maxHeadTokens || (t !== "*" && !isName(t))) return undefined
    head.push(t)
  }
  if (!isHead(head)) return undefined
  const signature = list(next)
  const body = next()
  return signature !== undefined && (body === "=>" || body === "{") ? distinct(signature) : undefined
}

/** Sloppy-mode code may repeat a parameter name: which argument it names is then unclear. */
const distinct = (signature: Signature): Signature | undefined => {
  const all = signature.rest === undefined ? signature.names : [...signature.names, signature.rest]
  return new Set(all).size === all.length ? signature : undefined
}

/**
 * `args` under the names of `signature`; those past its names go into its rest parameter, or else are `argN`
 * (N the position). Where an `argN` would repeat one of the names, every argument is `argN`, so none is lost.
 */
export const bind = (signature: Signature, args: ReadonlyArray<unknown>): { readonly [key: string]: unknown } => {
  const { names, rest } = signature
  const entries: Array<[string, unknown]> = args.slice(0, names.length).map((a, i) => [names[i]!, a])
  if (rest !== undefined) entries.push([rest, args.slice(names.length)])
  else {
    const declared = new Set(names)
    for (let i = names.length; i < args.length; i++) {
      const key = `arg${i}`
      if (declared.has(key)) return bind(positional, args)
      entries.push([key, args[i]])
    }
  }
  // Built with fromEntries, so a parameter named `__proto__` stays data.
  return Object.fromEntries(entries)
}
