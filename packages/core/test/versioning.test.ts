/**
 * Versioning's declarations: every versioned registry derives the claims and makes them exclusive, and a
 * lost race is told from the violated fields, whatever a store names its constraints. A version's tag is
 * stored as `versionTag`; `version` reads it (else the uid's suffix) and names it in queries.
 */
import { describe, expect, it } from "vitest"
import * as Ast from "../src/Ast.js"
import { entity } from "../src/Codec.js"
import * as Records from "../src/Records.js"
import { InvalidQuery, StoreError, UniqueViolation } from "../src/Errors.js"
import * as Lineage from "../src/Lineage.js"
import { type Model, tableSpec } from "../src/Model.js"
import * as Query from "../src/Query.js"
import { Q } from "../src/Query.js"
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
    expect(Versioning.isRace(violation("transform_key_version", ["key", "versionTag"]))).toBe(false)
    expect(Versioning.isRace(violation("transform_latest_key", ["key"]))).toBe(false)
    expect(Versioning.isRace(StoreError.unavailable("down"))).toBe(false)
  })
})

const fieldsOf = (model: Model, versionTag: string | null) => ({
  id: 1,
  uid: "A".repeat(model.uidLength - 4) + "0003",
  branchId: 1,
  createdAt: new Date(0),
  updatedAt: new Date(0),
  createdById: null,
  ...Object.fromEntries(
    Object.entries(model.fields)
      .filter(([name]) => !["id", "uid", "branchId", "createdAt", "updatedAt", "createdById"].includes(name))
      .map(([name, def]) => [name, name === "versionTag" ? versionTag : def.default?.() ?? (def.nullable ? null : "k")])
  )
})

describe.each([
  { name: "Transform", model: Records.TransformModel, schema: Records.Transform },
  { name: "Artifact", model: Records.ArtifactModel, schema: Records.Artifact },
  { name: "Collection", model: Records.CollectionModel, schema: Records.Collection }
] as const)("the version of a $name record (lamindb's version_tag, else the uid suffix)", ({ model, schema }) => {
  const codec = entity(model, schema)
  const tagged = new schema(fieldsOf(model, "1.0") as never)
  const untagged = new schema(fieldsOf(model, null) as never)

  it("stores the tag as versionTag and reads version from it, else from the uid's suffix", () => {
    expect(tagged.versionTag).toBe("1.0")
    expect(tagged.version).toBe("1.0")
    expect(untagged.versionTag).toBeNull()
    expect(untagged.version).toBe("0003")
  })

  it("keeps the getter through the codecs; documents and JSON hold versionTag and no version", () => {
    const doc = codec.encode(untagged)
    expect(doc).toHaveProperty("versionTag", null)
    expect(doc).not.toHaveProperty("version")
    expect(JSON.parse(JSON.stringify(tagged))).toMatchObject({ versionTag: "1.0" })
    expect(JSON.parse(JSON.stringify(tagged))).not.toHaveProperty("version")
    const decoded = codec.decode(doc)
    expect(decoded).toBeInstanceOf(schema)
    expect(decoded.version).toBe("0003")
    const validated = codec.validate({ ...untagged, versionTag: "2" })
    expect(validated).toBeInstanceOf(schema)
    expect((validated as typeof tagged).version).toBe("2")
  })

  it("queries and orderings take version and version_tag for versionTag, on the registry and across relations", () => {
    const eq = Ast.field(["versionTag"], "eq", "1.0")
    expect(Query.normalize(model, [{ version: "1.0" }])).toEqual(eq)
    expect(Query.normalize(model, [{ version_tag: "1.0" }])).toEqual(eq)
    expect(Query.normalize(model, [{ version__startswith: "1." }])).toEqual(Ast.field(["versionTag"], "startsWith", "1."))
    expect(Query.normalize(model, [Q.where("version", "eq", "1.0")])).toEqual(eq)
    expect(Query.normalize(model, [Q.where(["version"], "in", ["1.0"])])).toEqual(Ast.field(["versionTag"], "in", ["1.0"]))
    expect(Query.orderKeys(model, ["-version", "version_tag"])).toEqual([
      { path: ["versionTag"], direction: "desc" },
      { path: ["versionTag"], direction: "asc" }
    ])
  })
})

describe("the version alias across relations", () => {
  it("run__transform__version and transform: { version } name the transform's versionTag", () => {
    const eq = Ast.field(["transform", "versionTag"], "eq", "1.0")
    expect(Query.normalize(Records.RunModel, [{ transform__version: "1.0" }])).toEqual(eq)
    expect(Query.normalize(Records.RunModel, [{ transform: { version: "1.0" } }])).toEqual(eq)
    expect(Query.normalize(Records.ArtifactModel, [{ run__transform__version: "1.0" }])).toEqual(
      Ast.field(["run", "transform", "versionTag"], "eq", "1.0")
    )
  })

  it("a registry without the alias refuses version as any unknown field", () => {
    expect(Query.normalize(Records.ProjectModel, [{ version: "1" }])).toBeInstanceOf(InvalidQuery)
  })
})

describe("the Promise face's Transform.getOrCreate", () => {
  it("declares a transform by key and source, as the Effect face does", async () => {
    const ln = await Lineage.connect("memory:")
    try {
      const t0 = await ln.Transform.getOrCreate({ key: "train.ts", sourceCode: "run(0)\n" })
      expect((await ln.Transform.getOrCreate({ key: "train.ts", sourceCode: "run(0)\n" })).id).toBe(t0.id)
      const t1 = await ln.Transform.getOrCreate({ key: "train.ts", sourceCode: "run(1)\n", kind: "script" })
      expect(t1.uid).toBe(t0.uid.slice(0, 12) + "0001")
      expect([t0.version, t1.version, t1.kind]).toEqual(["0000", "0001", "script"])
      await expect(ln.Transform.getOrCreate({ key: "tagged", version: "1", sourceCode: "a\n" })).resolves.toMatchObject({ version: "1" })
      await expect(ln.Transform.getOrCreate({ key: "tagged", version: "1", sourceCode: "b\n" })).rejects.toMatchObject({
        _tag: "ValidationError",
        field: "version"
      })
    } finally {
      await ln.close()
    }
  })
})
