/**
 * The edit distance of the npm package `damerau-levenshtein` (optimal string alignment: insertions, deletions,
 * substitutions and transpositions of two adjacent characters, each one edit, no substring edited twice),
 * kept here, in one module named for it, so that adopting the package replaces this file alone.
 */

/**
 * Three rows of the table, reused by every call (one thread runs them, and none calls another): two back (for
 * transpositions), one back, and the one being filled. Grown to the longest second string met, never shrunk.
 */
let rows = new Int32Array(3 * 64)

/**
 * The distance between `a` and `b`, compared by UTF-16 code unit, or `max + 1` once it is sure to exceed `max`.
 * Only the band of the table within `max` of its diagonal is computed (a cell off it holds more than `max`
 * edits), and the comparison stops at the first row whose every entry exceeds `max`: strings whose lengths
 * differ by more than `max` are not compared at all, and the rest cost at most `(2 × max + 1) × a.length`
 * steps, whatever `b`'s length.
 */
export const distance = (a: string, b: string, max: number): number => {
  const limit = Math.max(0, Math.floor(max))
  const over = limit + 1
  if (Math.abs(a.length - b.length) > limit) return over
  const width = b.length + 1
  if (rows.length < 3 * width) rows = new Int32Array(3 * width)
  const t = rows
  let before = 0
  let previous = width
  let current = 2 * width
  // Row 0, as far as row 1 reads it: the band and the cell just right of it.
  for (let j = 0; j <= Math.min(b.length, over); j++) t[previous + j] = Math.min(j, over)
  for (let i = 1; i <= a.length; i++) {
    const lo = Math.max(1, i - limit)
    const hi = Math.min(b.length, i + limit)
    const ai = a.charCodeAt(i - 1)
    const aBack = i > 1 ? a.charCodeAt(i - 2) : -1
    // The cell left of the band: column 0 (i deletions) or off the band.
    let left = lo === 1 ? Math.min(i, over) : over
    t[current + lo - 1] = left
    let smallest = left
    for (let j = lo; j <= hi; j++) {
      const bj = b.charCodeAt(j - 1)
      let d = t[previous + j - 1]! + (ai === bj ? 0 : 1)
      const up = t[previous + j]! + 1
      if (up < d) d = up
      if (left + 1 < d) d = left + 1
      if (j > 1 && ai === b.charCodeAt(j - 2) && aBack === bj && t[before + j - 2]! + 1 < d) d = t[before + j - 2]! + 1
      if (d > over) d = over
      t[current + j] = d
      left = d
      if (d < smallest) smallest = d
    }
    // The cell right of the band, which the next row reads as its last one back.
    if (hi < b.length) t[current + hi + 1] = over
    // No later row comes back within \`limit\` once a whole row is past it: a transposition, which reads two
    // rows back, costs at least what the row between holds on its diagonal.
    if (smallest > limit) return over
    const spare = before
    before = previous
    previous = current
    current = spare
  }
  return Math.min(t[previous + b.length]!, over)
}
