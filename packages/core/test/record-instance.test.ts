/**
 * The fast codecs build records without the record class's constructor (`Codec.recordInstance` and the
 * constructors generated from it), assuming Effect's `Schema.Class` makes an instance as an object on the
 * class's prototype holding exactly its fields as own enumerable properties. Effect does not promise that
 * layout, so this checks it against Effect's public constructor for every registry: if a release changes
 * it, the test names what differs.
 */
import { Equal, Hash, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { entity, recordInstance } from "../src/Codec.js"
import * as Records from "../src/Records.js"
import type { FieldDef, Model } from "../src/Model.js"

type RecordClass = Records.RecordClass & (new (fields: object) => { readonly id: number; readonly uid: string })

const classOf = (model: Model): RecordClass => (Records as unknown as Record<string, RecordClass>)[model.name]!

const sampleValue = (def: FieldDef): unknown => {
  switch (def.kind) {
    case "int":
    case "ref":
      return 1
    case "float":
      return 1.5
    case "string":
      return "s"
    case "bool":
      return true
    case "datetime":
      return new Date(0)
    case "json":
      return { a: [1, "x", null] }
    case "enum":
      return def.values![0]
  }
}

const sampleFields = (model: Model) => Object.fromEntries(Object.entries(model.fields).map(([name, def]) => [name, sampleValue(def)]))

const changed = (model: Model, what: string) =>
  `Effect's ${model.name} instances changed: ${what} of \`new ${model.name}(fields)\` and of ` +
  "`Codec.recordInstance` differ. The fast codecs assume a Schema.Class instance is its fields as own enumerable " +
  "properties on the class's prototype; rework `recordInstance` and the generated constructors in Codec.ts " +
  "for this Effect version (or drop the fast paths)."

/** A record's shape as far as anyone could tell two records apart. */
const shapeOf = (record: object) => ({
  prototype: Object.getPrototypeOf(record) as unknown,
  ownKeys: Reflect.ownKeys(record).map(String),
  descriptors: Object.getOwnPropertyDescriptors(record)
})

describe.each(Object.values(Records.models))("$name", (model) => {
  const schema = classOf(model)
  const fields = sampleFields(model)
  const real = new schema(fields)

  it("recordInstance builds what the class constructor builds", () => {
    const ours = recordInstance(schema, fields) as object
    const [a, b] = [shapeOf(real), shapeOf(ours)]
    expect(b.prototype, changed(model, "the prototype")).toBe(a.prototype)
    expect(b.ownKeys, changed(model, "the own keys")).toEqual(a.ownKeys)
    expect(b.descriptors, changed(model, "the property descriptors")).toEqual(a.descriptors)
    expect(Equal.equals(real, ours), changed(model, "structural equality (Equal.equals)")).toBe(true)
    expect(Hash.hash(ours), changed(model, "the hash")).toBe(Hash.hash(real))
    expect(String(ours), changed(model, "toString")).toBe(String(real))
    expect(Schema.is(schema)(ours), changed(model, "Schema.is")).toBe(true)
    const encode = Schema.encodeUnknownSync(Schema.toCodecJson(schema))
    expect(encode(ours), changed(model, "the Schema's encoding")).toEqual(encode(real))
  })

  it("the fast codecs' records are the class constructor's", () => {
    const codec = entity(model, schema)
    for (const [how, made] of [
      ["validate", codec.validate(fields)],
      ["decode", codec.decode(codec.encode(real))]
    ] as const) {
      const [a, b] = [shapeOf(real), shapeOf(made as object)]
      expect(b.prototype, changed(model, `the prototype (via ${how})`)).toBe(a.prototype)
      expect(b.descriptors, changed(model, `the property descriptors (via ${how})`)).toEqual(a.descriptors)
      expect(Equal.equals(real, made), changed(model, `structural equality (via ${how})`)).toBe(true)
    }
  })
})
