/**
 * Random base62 uids, lamindb's alphabet and lengths. In versioned registries the uid is a family's stem and
 * a version suffix (see `Versioning`).
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
