/**
 * Well-formed text. A JavaScript string may hold an unpaired UTF-16 surrogate, which UTF-8 cannot encode:
 * Redis and MongoDB would keep U+FFFD in its place, so what is read back, and what their indexes hold, would
 * differ from what was written and from what the memory store keeps. Records and queries are checked here
 * before any store sees them, so every store holds the same text.
 */

/** `String.prototype.isWellFormed` (ES2024, in every Node this package supports; typed here, the lib is ES2023). */
interface WellFormedString {
  isWellFormed(): boolean
}

export const isWellFormed = (s: string): boolean => (s as unknown as WellFormedString).isWellFormed()

/** Where in a value an unpaired surrogate sits: the keys and indexes leading to it. */
export type Location = ReadonlyArray<string | number>

/**
 * The location of the first string in `value` (a string, or an object key or a string anywhere inside
 * arrays and plain objects) that is not well-formed; undefined when every one is. Iterative, so a deeply
 * nested value cannot exhaust the stack. It runs on every record written, so it first only looks (no
 * allocation but its stack), and spells out the location only when there is one to report.
 */
export const illFormed = (value: unknown): Location | undefined => {
  if (typeof value === "string") return isWellFormed(value) ? undefined : []
  if (value === null || typeof value !== "object" || allWellFormed(value)) return undefined
  return locate(value)
}

const allWellFormed = (value: object): boolean => {
  const pending: Array<unknown> = [value]
  while (pending.length > 0) {
    const v = pending.pop()
    if (typeof v === "string") {
      if (!isWellFormed(v)) return false
    } else if (Array.isArray(v)) {
      for (const x of v) pending.push(x)
    } else if (v !== null && typeof v === "object" && !(v instanceof Date)) {
      for (const k of Object.keys(v)) {
        if (!isWellFormed(k)) return false
        pending.push((v as { readonly [k: string]: unknown })[k])
      }
    }
  }
  return true
}

/** Where the first ill-formed string sits; each node keeps only its parent and key. */
const locate = (value: object): Location | undefined => {
  const nodes: Array<readonly [value: unknown, parent: number, key: string | number]> = [[value, -1, ""]]
  const pending = [0]
  const path = (node: number, key?: string): Location => {
    const at: Array<string | number> = key === undefined ? [] : [key]
    for (let i = node; i > 0; i = nodes[i]![1]) at.push(nodes[i]![2])
    return at.reverse()
  }
  while (pending.length > 0) {
    const node = pending.pop()!
    const v = nodes[node]![0]
    if (typeof v === "string") {
      if (!isWellFormed(v)) return path(node)
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) pending.push(nodes.push([v[i], node, i]) - 1)
    } else if (v !== null && typeof v === "object" && !(v instanceof Date)) {
      const entries = Object.entries(v)
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, x] = entries[i]!
        if (!isWellFormed(k)) return path(node, k)
        pending.push(nodes.push([x, node, k]) - 1)
      }
    }
  }
  return undefined
}

/** Characters of a location an error message shows. */
const shownLocation = 200

/** What a refusal says is expected, naming where the unpaired surrogate sits inside the value. */
export const expectedWellFormed = (at: Location): string => {
  const where = at.map((k) => `[${JSON.stringify(k)}]`).join("")
  const shown = where.length > shownLocation ? `${where.slice(0, shownLocation)}…` : where
  return `well-formed Unicode text: an unpaired UTF-16 surrogate${at.length === 0 ? "" : ` (at ${shown})`} cannot be stored as UTF-8`
}
