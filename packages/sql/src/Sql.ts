/**
 * SQL text with its bound parameters, built by composition. A `Fragment` keeps its text pieces and values
 * apart until `render`, so placeholders are numbered only once the statement is whole, a fragment may be used
 * twice (its values are bound twice), and no value ever enters the text.
 */
import type { Param } from "./Connection.js"

export class Fragment {
  /** `parts.length === params.length + 1`: a parameter sits between every two parts. */
  constructor(
    readonly parts: ReadonlyArray<string>,
    readonly params: ReadonlyArray<Param>
  ) {}
}

/** SQL text with no parameters: keywords, quoted identifiers, escaped path literals. */
export const raw = (text: string): Fragment => new Fragment([text], [])

/** One bound value. */
export const param = (value: Param): Fragment => new Fragment(["", ""], [value])

/** Fragments one after another, `separator` (raw text) between them. */
export const join = (fragments: ReadonlyArray<Fragment>, separator = ""): Fragment => {
  const parts: Array<string> = [""]
  const params: Array<Param> = []
  fragments.forEach((f, i) => {
    if (i > 0) parts[parts.length - 1] += separator
    parts[parts.length - 1] += f.parts[0]!
    for (let j = 0; j < f.params.length; j++) {
      params.push(f.params[j]!)
      parts.push(f.parts[j + 1]!)
    }
  })
  return new Fragment(parts, params)
}

/** A template: interpolated strings are raw SQL, interpolated fragments are spliced (with their values). */
export const sql = (strings: TemplateStringsArray, ...pieces: ReadonlyArray<Fragment | string>): Fragment =>
  join(strings.flatMap((s, i) => (i < pieces.length ? [raw(s), asFragment(pieces[i]!)] : [raw(s)])))

const asFragment = (piece: Fragment | string): Fragment => (typeof piece === "string" ? raw(piece) : piece)

/** The statement text with the dialect's placeholders, and its values in order. */
export const render = (f: Fragment, placeholder: (n: number) => string): { readonly text: string; readonly params: ReadonlyArray<Param> } => {
  let text = f.parts[0]!
  for (let i = 0; i < f.params.length; i++) text += placeholder(i + 1) + f.parts[i + 1]!
  return { text, params: f.params }
}
