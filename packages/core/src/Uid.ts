/**
 * Random base62 uids, lamindb's alphabet and lengths. Versioned registries (Transform, Artifact, Collection)
 * end the uid with a 4-character version suffix that counts up in base62 within a family sharing the stem.
 */
import { randomBytes } from "node:crypto"

export const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const base62Pattern = /^[0-9A-Za-z]*$/

export const isBase62 = (s: string): boolean => base62Pattern.test(s)

/** Random bytes drawn from a pooled buffer: one `randomBytes` call serves many uids. */
let pool = Buffer.alloc(0)
let poolAt = 0
const nextByte = (): number => {
  if (poolAt >= pool.length) {
    pool = randomBytes(4096)
    poolAt = 0
  }
  return pool[poolAt++]!
}

/** `n` random base62 characters. Rejection sampling keeps every character equally likely. */
export const random = (n: number): string => {
  let out = ""
  while (out.length < n) {
    const byte = nextByte()
    // 248 = 4 * 62: bytes at or above it would bias the first characters.
    if (byte < 248) out += alphabet[byte % 62]
  }
  return out
}

export const suffixLength = 4
export const firstSuffix = "0000"

/** `0009` → `000A`, `000z` → `0010`, as lamin_utils' increment_base62. */
export const increment = (suffix: string): string => {
  const digits = [...suffix]
  for (let i = digits.length - 1; i >= 0; i--) {
    const d = alphabet.indexOf(digits[i]!)
    if (d < 61) {
      digits[i] = alphabet[d + 1]!
      return digits.join("")
    }
    digits[i] = "0"
  }
  throw new RangeError(`version suffix ${suffix} cannot be incremented further`)
}

export const stem = (uid: string): string => uid.slice(0, uid.length - suffixLength)
export const suffix = (uid: string): string => uid.slice(uid.length - suffixLength)

/** Suffixes have one length and the alphabet is in ASCII order, so string order is version order. */
export const compareSuffix = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
