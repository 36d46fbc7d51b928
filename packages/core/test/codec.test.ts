/**
 * The fast record codecs against the registry's own Schema codecs. Timestamps are where the fast path does
 * its own work (a parser for canonical ISO text, and a one-entry cache shared by decoding and encoding), so
 * the property runs decodes and encodes interleaved, with timestamps across the years, non-canonical days
 * (February 30), malformed text and values of other types: each result must be exactly the Schema's, or
 * both must refuse.
 */
import fc from "fast-check"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { type Ast, Records, Run } from "../src/index.js"

const json = Schema.toCodecJson(Records.Run)
const schemaDecode = Schema.decodeUnknownSync(json)
const schemaEncode = Schema.encodeUnknownSync(json)

const base = {
  id: 7,
  uid: "abcdefghijklmnop",
  branchId: 1,
  createdById: null,
  transformId: 3,
  name: null,
  description: null,
  entrypoint: null,
  params: { lr: 0.1, nested: { k: [1, "x", null] } },
  reference: null,
  referenceType: null,
  finishedAt: null,
  status: "completed",
  initiatedByRunId: null,
  environmentId: null,
  reportId: null,
  cliArgs: null,
  featureValues: { score: 0.5 },
  lastHeartbeatAt: null,
  metricSummary: { loss: { last: 0.1, min: 0.1, max: 0.2, count: 2, step: 1 } }
}

/** Milliseconds from year 1 to 9999, dense around now. */
const millis = fc.oneof(
  fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }),
  fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 })
)
const timestamp: fc.Arbitrary<Ast.Json> = fc.oneof(
  { weight: 6, arbitrary: millis.map((ms) => new Date(ms).toISOString()) },
  { weight: 1, arbitrary: fc.constantFrom("2023-02-29T00:00:00.000Z", "2024-02-30T12:00:00.000Z", "2026-04-31T23:59:59.999Z", "2026-13-01T00:00:00.000Z") },
  { weight: 1, arbitrary: fc.constantFrom("2026-01-01T24:00:00.000Z", "2026-01-01T00:60:00.000Z", "0999-12-31T23:59:59.999Z", "+010000-01-01T00:00:00.000Z") },
  { weight: 1, arbitrary: fc.constantFrom("2026-01-01", "2026-01-01T00:00:00Z", "garbage", "", 0, null, true) }
)

/** Three timestamps of their own, or one shared by all three (as a record never updated holds). */
const doc = fc
  .oneof(
    fc.record({ createdAt: timestamp, updatedAt: timestamp, startedAt: timestamp }),
    timestamp.map((t) => ({ createdAt: t, updatedAt: t, startedAt: t }))
  )
  .map((dates) => ({ ...base, ...dates }))

/** The outcome of a codec call: the value, or that it refused. */
const outcome = (f: () => unknown): { readonly ok: true; readonly value: unknown } | { readonly ok: false } => {
  try {
    return { ok: true, value: f() }
  } catch {
    return { ok: false }
  }
}

describe("record codecs", () => {
  it("decode and encode exactly as the Schema does, interleaved, whatever the timestamps", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(doc, millis, millis), { minLength: 1, maxLength: 12 }), (steps) => {
        for (const [stored, a, b] of steps) {
          const fast = outcome(() => Run.entity.decode(stored))
          const slow = outcome(() => schemaDecode(stored))
          expect(fast.ok).toBe(slow.ok)
          if (fast.ok && slow.ok) {
            expect(fast.value).toEqual(slow.value)
            expect(fast.value).toBeInstanceOf(Records.Run)
            // Encoded straight back: a non-canonical day must come back as `toISOString` writes it.
            expect(Run.entity.encode(fast.value as Records.Run)).toEqual(schemaEncode(fast.value))
          }
          // Records with other timestamps, and the first again after a decode: no answer may come from the
          // calls before it.
          const at = (ms: number) => new Date(ms).toISOString()
          const first = schemaDecode({ ...base, createdAt: at(a), updatedAt: at(a), startedAt: at(a) })
          const second = schemaDecode({ ...base, createdAt: at(a), updatedAt: at(b), startedAt: at(b) })
          expect(Run.entity.encode(first)).toEqual(schemaEncode(first))
          expect(outcome(() => Run.entity.decode(stored))).toEqual(fast)
          expect(Run.entity.encode(first)).toEqual(schemaEncode(first))
          expect(Run.entity.encode(second)).toEqual(schemaEncode(second))
        }
      }),
      { numRuns: 2_000 }
    )
    // About 8 s alone; the whole suite's load on 2 cores has made it take four times that.
  }, 120_000)
})
