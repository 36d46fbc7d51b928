/**
 * The name a caller gives a function it wraps, read from where it wraps it: `const scale = ln.step(async (…) =>
 * …)` names the step `scale`. The caller's stack frame gives the file, line and column (tsx and vitest map
 * frames to the `.ts` source; plain Node names the `.js` file it runs); only that file is read, at most
 * `maxSourceBytes` of it, and only if it is a regular file, so a missing, huge or special file costs a bounded
 * read and names nothing. Files read are kept (see `maxCachedBytes`) while their size and modification time
 * stay the same.
 *
 * A name is given only when the source leaves no doubt that the variable holds the wrapped function: the
 * `step`/`flow` the frame's column points at is the whole initializer of a `const`/`let`/`var` declaration
 * (`<declaration> <name> = <a.b.>step(…)`), and nothing but the end of the statement or another declarator
 * follows its closing parenthesis. Anything else (`const r = ln.step(f)()`, a second declarator, a call the
 * scanner cannot follow) names nothing, and the call then asks for a `key`: a wrong name would silently merge
 * two functions' runs under one transform. Minified code has renamed its variables: it gives the minifier's
 * names.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Bytes of a source file read to find a line, at most. */
export const maxSourceBytes = 4 << 20

/**
 * Source kept between calls, at most, counted in characters of the text read (no more than its bytes): the
 * least recently used files go first.
 */
export const maxCachedBytes = 8 << 20

/** Characters after the wrapper's opening parenthesis scanned for its closing one, at most. */
export const maxScannedChars = 100_000

interface Location {
  readonly file: string
  /** From 1, as stack frames count. */
  readonly line: number
  readonly column: number
}

/** `file:line:column` at the end of a frame's location. */
const position = /^(.*):(\d+):(\d+)$/

/** The absolute file a frame's location text names (a path, or a `file:` URL), if it is one. */
const absoluteFile = (text: string): string | undefined => {
  let file = text
  if (file.startsWith("file://")) {
    try {
      file = fileURLToPath(file)
    } catch {
      return undefined
    }
  }
  return path.isAbsolute(file) ? file : undefined
}

/** `text` as a location (`file:line:column` with an absolute file), if it is one. */
const locationIn = (text: string): Location | undefined => {
  const found = position.exec(text)
  const file = found === null ? undefined : absoluteFile(found[1]!)
  return file === undefined ? undefined : { file, line: Number(found![2]), column: Number(found![3]) }
}

/**
 * The location a stack frame's text names: `at <where>`, or `at <function> (<where>)`. A path may hold
 * parentheses and spaces (`/tmp/dir (copy)/x.mjs`), so the location in parentheses is the text after the
 * first ` (` that starts an absolute location reaching the frame's closing parenthesis.
 */
const frameLocation = (frame: string): Location | undefined => {
  const text = frame.trim().replace(/^at\s+/, "")
  if (!text.endsWith(")")) return locationIn(text)
  for (let open = text.indexOf(" ("); open !== -1; open = text.indexOf(" (", open + 1)) {
    const location = locationIn(text.slice(open + 2, -1))
    if (location !== undefined) return location
  }
  return locationIn(text)
}

/** Where the code calling `callee` is: the first frame below it on the stack. */
const callerOf = (callee: (...args: never) => unknown): Location | undefined => {
  const holder: { stack?: string } = {}
  const limit = Error.stackTraceLimit
  try {
    Error.stackTraceLimit = 1
    Error.captureStackTrace(holder, callee)
    const frame = holder.stack?.split("\n").find((line) => /^\s+at\s/.test(line))
    return frame === undefined ? undefined : frameLocation(frame)
  } catch {
    // A stack that cannot be captured or formatted names nothing.
    return undefined
  } finally {
    Error.stackTraceLimit = limit
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reading files

interface Source {
  readonly size: number
  readonly mtimeMs: number
  readonly text: string
  /** The text is the whole file (not its first `maxSourceBytes`). */
  readonly complete: boolean
}

/** Files read, least recently used first (a `Map` keeps insertion order), and the characters they hold. */
const cache = new Map<string, Source>()
let cachedBytes = 0

const forget = (file: string): void => {
  const old = cache.get(file)
  if (old === undefined) return
  cache.delete(file)
  cachedBytes -= old.text.length
}

const keep = (file: string, source: Source): void => {
  forget(file)
  for (const [oldest] of cache) {
    if (cachedBytes + source.text.length <= maxCachedBytes) break
    forget(oldest)
  }
  cache.set(file, source)
  cachedBytes += source.text.length
}

/** The first `maxSourceBytes` bytes of a regular file, or undefined: opened without blocking on a FIFO. */
const read = (file: string): Source | undefined => {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  } catch {
    return undefined
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) return undefined
    const buffer = Buffer.alloc(Math.min(stat.size, maxSourceBytes))
    let filled = 0
    while (filled < buffer.length) {
      const n = readSync(fd, buffer, filled, buffer.length - filled, filled)
      if (n === 0) break
      filled += n
    }
    return { size: stat.size, mtimeMs: stat.mtimeMs, text: buffer.toString("utf8", 0, filled), complete: filled === stat.size }
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

/** `file`'s source, from the cache while its size and modification time are those it was read with. */
const sourceOf = (file: string): Source | undefined => {
  let stat: { readonly size: number; readonly mtimeMs: number }
  try {
    stat = statSync(file)
  } catch {
    forget(file)
    return undefined
  }
  const cached = cache.get(file)
  if (cached !== undefined && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs) {
    keep(file, cached)
    return cached
  }
  const source = read(file)
  if (source === undefined) forget(file)
  else keep(file, source)
  return source
}

/** Where line `n` (from 1) of `text` starts; undefined past the text's end. */
const lineStart = (text: string, n: number): number | undefined => {
  let start = 0
  for (let i = 1; i < n; i++) {
    const end = text.indexOf("\n", start)
    if (end === -1) return undefined
    start = end + 1
  }
  return start
}

// ---------------------------------------------------------------------------------------------------------
// Scanning the call

const identifierPart = /[\w$]/

/** Words after which a `/` starts a regular expression, not a division. */
const beforeRegex = new Set(["return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else", "yield", "await"])


/** Reads JavaScript and TypeScript as far as matching brackets needs: strings, templates, comments, regular expressions. */
class Scanner {
  /** What closes each open bracket, innermost last; `}` of a template's `${`, as "${". */
  private readonly open: Array<string> = []
  /** The last token that decides whether a `/` divides: a word, or a punctuator. */
  private last = "("
  constructor(
    private readonly text: string,
    public at: number,
    private readonly end: number
  ) {}

  /** Skips whitespace and comments; false when a comment is not closed within the text. */
  skipSpace(newlines = true): boolean {
    const { text } = this
    while (this.at < this.end) {
      const c = text[this.at]!
      if (c === "\n" && !newlines) return true
      if (c === " " || c === "\t" || c === "\r" || c === "\n") this.at++
      else if (text.startsWith("//", this.at)) {
        const eol = text.indexOf("\n", this.at)
        this.at = eol === -1 ? this.end : eol
      } else if (text.startsWith("/*", this.at)) {
        const close = text.indexOf("*/", this.at + 2)
        if (close === -1 || close + 2 > this.end) return false
        this.at = close + 2
      } else return true
    }
    return true
  }

  /** Past a quoted string starting at `at`; false when it is not closed on its line. */
  private quoted(): boolean {
    const { text } = this
    const quote = text[this.at]!
    for (let i = this.at + 1; i < this.end; i++) {
      const c = text[i]!
      if (c === "\\") i++
      else if (c === "\n") return false
      else if (c === quote) {
        this.at = i + 1
        return true
      }
    }
    return false
  }

  /**
   * Past a template's text from `at` to its closing backtick (a value ends there), or into a `${` (which it
   * opens, an expression starting there); false when the template is not closed.
   */
  private template(): boolean {
    const { text } = this
    for (let i = this.at; i < this.end; i++) {
      const c = text[i]!
      if (c === "\\") i++
      else if (c === "`") {
        this.at = i + 1
        this.last = "`"
        return true
      } else if (c === "$" && text[i + 1] === "{") {
        this.open.push("${")
        this.at = i + 2
        this.last = "{"
        return true
      }
    }
    return false
  }

  /** Past a regular expression literal starting at `at` (its flags too); false when it is not closed on its line. */
  private regex(): boolean {
    const { text } = this
    let inClass = false
    for (let i = this.at + 1; i < this.end; i++) {
      const c = text[i]!
      if (c === "\\") i++
      else if (c === "\n") return false
      else if (c === "[") inClass = true
      else if (c === "]") inClass = false
      else if (c === "/" && !inClass) {
        this.at = i + 1
        while (this.at < this.end && identifierPart.test(text[this.at]!)) this.at++
        return true
      }
    }
    return false
  }

  /**
   * The index of the bracket closing the one at `at` (which must open one), or undefined when the text or
   * the scan's bound ends first, or brackets do not match.
   */
  closing(): number | undefined {
    const { text } = this
    const pairs: { readonly [open: string]: string } = { "(": ")", "[": "]", "{": "}" }
    const depth = this.open.length
    while (this.skipSpace() && this.at < this.end) {
      const c = text[this.at]!
      if (Object.hasOwn(pairs, c)) {
        this.open.push(pairs[c]!)
        this.last = c
        this.at++
      } else if (c === ")" || c === "]" || c === "}") {
        const expected = this.open.pop()
        if (expected === "${" && c === "}") {
          this.at++
          if (!this.template()) return undefined
          continue
        }
        if (expected !== c) return undefined
        if (this.open.length === depth) return this.at
        this.last = c
        this.at++
      } else if (c === "'" || c === '"') {
        if (!this.quoted()) return undefined
        this.last = c
      } else if (c === "`") {
        this.at++
        if (!this.template()) return undefined
      } else if (c === "/") {
        const divides = identifierPart.test(this.last[0]!) ? !beforeRegex.has(this.last) : /[)\]}'"`]/.test(this.last)
        if (divides) this.at++
        else if (!this.regex()) return undefined
        this.last = divides ? "/" : "`"
      } else if (identifierPart.test(c)) {
        const start = this.at
        while (this.at < this.end && identifierPart.test(text[this.at]!)) this.at++
        this.last = text.slice(start, this.at)
      } else {
        this.last = c
        this.at++
      }
    }
    return undefined
  }
}

/** Past the type arguments starting at `at` (`<[], number>`, nested, with `=>` inside), or undefined. */
const pastTypeArguments = (text: string, at: number, end: number): number | undefined => {
  let depth = 0
  for (let i = at; i < end; i++) {
    const c = text[i]!
    if (c === "<") depth++
    else if (c === ">" && text[i - 1] !== "=") {
      depth--
      if (depth === 0) return i + 1
    } else if (c === "\n" || c === ";" || c === "'" || c === '"' || c === "`") return undefined
  }
  return undefined
}

/** The statement's start up to the callee: `<declaration> <name> = <a.b.>`, the name captured. */
const declaration = /^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:[A-Za-z_$][\w$]*\s*\.\s*)*$/

/**
 * Whether the statement ends where the scanner is: at `;`, `,` (another declarator) or `}`, at the end of the
 * file, or at a line break followed by a token that cannot continue the expression (a word other than an
 * operator such as `in`, `instanceof`, `as`, `satisfies`).
 */
const endsStatement = (text: string, at: number, complete: boolean): boolean => {
  const scanner = new Scanner(text, at, text.length)
  if (!scanner.skipSpace(false)) return false
  if (scanner.at >= text.length) return complete
  const c = text[scanner.at]!
  if (c === ";" || c === "," || c === "}") return true
  if (c !== "\n" || !scanner.skipSpace()) return false
  if (scanner.at >= text.length) return complete
  const next = text[scanner.at]!
  if (next === "}" || next === ";") return true
  const word = /^[A-Za-z_$][\w$]*/.exec(text.slice(scanner.at, scanner.at + 64))?.[0]
  return word !== undefined && !["in", "instanceof", "as", "satisfies"].includes(word)
}

/** The variable `<declaration> <name> = …wrapper(…)` at `location` assigns the wrapped function to, if certain. */
const declaredAt = (source: Source, location: Location, wrapper: string): string | undefined => {
  const { text } = source
  const start = lineStart(text, location.line)
  if (start === undefined) return undefined
  const token = start + location.column - 1
  if (!text.startsWith(wrapper, token) || identifierPart.test(text[token + wrapper.length] ?? "")) return undefined
  const name = declaration.exec(text.slice(start, token))?.[1]
  if (name === undefined) return undefined
  const end = Math.min(text.length, token + maxScannedChars)
  let at = token + wrapper.length
  while (text[at] === " " || text[at] === "\t") at++
  if (text[at] === "<") at = pastTypeArguments(text, at, end) ?? end
  while (text[at] === " " || text[at] === "\t") at++
  if (text[at] !== "(") return undefined
  const close = new Scanner(text, at, end).closing()
  return close !== undefined && endsStatement(text, close + 1, source.complete) ? name : undefined
}

/**
 * The variable the code calling `callee` (the public `step`/`flow`, `wrapper` its name) assigns the wrapped
 * function to, when its source says so without doubt (see the module's description); undefined otherwise.
 */
export const assignedName = (wrapper: "step" | "flow", callee: (...args: never) => unknown): string | undefined => {
  const location = callerOf(callee)
  const source = location === undefined ? undefined : sourceOf(location.file)
  return source === undefined ? undefined : declaredAt(source, location!, wrapper)
}
