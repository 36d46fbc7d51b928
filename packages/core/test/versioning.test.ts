/**
 * Versioning's declarations: every versioned registry derives the claims and makes them exclusive, and a
 * lost race is told from the violated fields, whatever a store names its constraints.
 */
import { describe, expect, it } from "vitest"
import * as Records from "../src/Records.js"
import { StoreError, UniqueViolation } from "../src/Errors.js"
import { tableSpec } from "../src/Model.js"
import * as Versioning from "../src/Versioning.js"

const violation = (constraint: string, fields: ReadonlyArray<string>) =>
  new UniqueViolation({ registry: "Transform", constraint, fields, values: fields.map(() => "k") })

describe("Versioning", () => {
  it("every versioned registry derives the claims and declares their unique constraints; no other one does", () => {
    for (const model of Object.values(Records.models)) {
      const declared = tableSpec(model).unique.filter((u) => u.fields.some((f) => f === Versioning.latestKey || f === Versioning.familyKey))
      if (model.versioned) {
        expect(model.derived, model.name).toBe(Versioning.claims)
        expect(declared, model.name).toEqual(Versioning.claimConstraints(model.table))
      } else {
        expect(model.derived, model.name).toBeUndefined()
        expect(declared, model.name).toEqual([])
      }
    }
  })

  it("version suffixes count up in base62, in string order", () => {
    expect(["0000", "0009", "000A", "000z", "00zz"].map(Versioning.increment)).toEqual(["0001", "000A", "000B", "0010", "0100"])
    expect(() => Versioning.increment("zzzz")).toThrow(RangeError)
    expect(Versioning.compareSuffix("0009", "000A")).toBe(-1)
    expect([Versioning.stem("AAAAAAAAAAAA000B"), Versioning.suffix("AAAAAAAAAAAA000B")]).toEqual(["AAAAAAAAAAAA", "000B"])
  })

  it("claims follow the live branch, isLatest and the first suffix", () => {
    const doc = { uid: "AAAAAAAAAAAA0000", key: "k", isLatest: true, branchId: 1 }
    expect(Versioning.claims.derive(doc)).toMatchObject({ latestKey: "k", familyKey: "k" })
    expect(Versioning.claims.derive({ ...doc, uid: "AAAAAAAAAAAA0001" })).toMatchObject({ latestKey: "k", familyKey: null })
    expect(Versioning.claims.derive({ ...doc, isLatest: false })).toMatchObject({ latestKey: null, familyKey: "k" })
    expect(Versioning.claims.derive({ ...doc, branchId: -1 })).toMatchObject({ latestKey: null, familyKey: null })
  })

  it("a lost race is a compare-and-set conflict, or a violation of a claim or the uid, by its fields alone", () => {
    expect(Versioning.isRace(StoreError.conflict("transform", 1, "moved"))).toBe(true)
    expect(Versioning.isRace(violation("anything", [Versioning.latestKey]))).toBe(true)
    expect(Versioning.isRace(violation("anything", [Versioning.familyKey]))).toBe(true)
    expect(Versioning.isRace(violation("transform_uid", ["uid"]))).toBe(true)
    expect(Versioning.isRace(violation("transform_key_version", ["key", "version"]))).toBe(false)
    expect(Versioning.isRace(violation("transform_latest_key", ["key"]))).toBe(false)
    expect(Versioning.isRace(StoreError.unavailable("down"))).toBe(false)
  })
})
