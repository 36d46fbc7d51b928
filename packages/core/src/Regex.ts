/**
 * The query language's regular expressions: RE2 syntax (https://github.com/google/re2/wiki/Syntax), matched
 * by re2js, an engine without backtracking: matching time grows linearly with the text, whatever the pattern.
 * The dialect, as every store answers it:
 * - unanchored (`^` and `$` anchor at the ends of the text; `(?m)` makes them anchor at lines);
 * - by code point: `.` and classes match one character, astral ones included; `.` skips `\n` unless `(?s)`;
 * - `\d`, `\w`, `\s`, `\b` are ASCII; `\pL`, `\p{Lu}`, `\p{Greek}` name Unicode classes; `\x{1F9EC}` a code point;
 * - `(?i)` folds case by Unicode simple folding (`É` and `é`; `ß` is not `SS`);
 * - no backreferences, lookahead or lookbehind; repeat counts at most 1,000;
 * - at most `maxRegexLength` characters and `maxRegexSize` compiled instructions.
 */
import { RE2JS, RE2JSSyntaxException } from "re2js"
import { maxRegexLength, maxRegexSize } from "./Limits.js"

export interface Matcher {
  /** Whether the pattern matches anywhere in `text`. */
  readonly test: (text: string) => boolean
}

/** Why a pattern is refused, for an error that names the pattern. */
export interface Refused {
  readonly refused: string
}

/** What an RE2 parse error means for someone who wrote an ECMAScript or PCRE pattern. */
const explain = (e: RE2JSSyntaxException): string => {
  const piece = e.input ?? ""
  if (/^\\[1-9]/.test(piece)) return `backreferences (${piece}) are not supported`
  if (piece.startsWith("\\k")) return "named backreferences (\\k<name>) are not supported"
  if (piece.startsWith("\\u")) return "\\u escapes are not supported: write a code point as \\x{00E9}"
  if (piece.startsWith("(?=") || piece.startsWith("(?!")) return `lookahead (${piece.slice(0, 3)}…) is not supported`
  if (piece.startsWith("(?<=") || piece.startsWith("(?<!")) return `lookbehind (${piece.slice(0, 4)}…) is not supported`
  const shown = piece.length > 40 ? `${piece.slice(0, 40)}…` : piece
  return shown === "" ? e.error : `${e.error}: ${shown}`
}

/** `pattern` compiled, or why it is refused. */
export const compile = (pattern: string): Matcher | Refused => {
  if (pattern.length > maxRegexLength)
    return { refused: `it has ${pattern.length} characters; at most ${maxRegexLength} are accepted` }
  let compiled: RE2JS
  try {
    compiled = RE2JS.compile(pattern)
  } catch (e) {
    return { refused: e instanceof RE2JSSyntaxException ? explain(e) : String(e) }
  }
  const size = compiled.programSize()
  if (size > maxRegexSize)
    return { refused: `it compiles to ${size} RE2 instructions; at most ${maxRegexSize} are accepted (repeat counts multiply the size)` }
  return { test: (text) => compiled.test(text) }
}
