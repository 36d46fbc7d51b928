/**
 * One small, awkward data set for the operator, combinator and ordering cases: mixed types in one field,
 * nulls and missing fields, case and unicode traps, strings full of regex metacharacters, ISO datetimes one
 * millisecond apart, and nested params. Each row is named by its uid so hand-written expectations read well.
 */
import { Driver } from "@lineage/core"

export const specimens: ReadonlyArray<Driver.Doc> = [
  { uid: "ranger", name: "Cell Ranger", n: 10, score: 0.5, at: "2024-03-01T12:34:56.789Z", flag: true, tags: ["a", "b"], params: { a: { b: 1 }, lr: 0.01 } },
  { uid: "cellpose", name: "cellpose", n: -3, score: 1.25, at: "2024-03-01T12:34:56.790Z", flag: false, tags: ["b"], params: { a: { b: 2 }, lr: 0.1 } },
  { uid: "xgene", name: "CELLxGENE", n: 0, score: -0.25, at: "2023-12-31T23:59:59.999Z", flag: true, tags: [], params: { a: { b: "1" } } },
  { uid: "scanpy", name: "scanpy", n: 100, score: 2, at: "2024-01-01T00:00:00.000Z", params: { a: { b: null }, lr: 0.01 } },
  { uid: "cafe", name: "Ärzte Café", n: 2.5, at: "2024-03-01T00:00:00.000Z", params: { a: {} } },
  { uid: "upper", name: "ÄRZTE CAFÉ", n: 2, at: "2025-06-15T08:00:00.000Z", params: { a: "b" } },
  { uid: "dna", name: "🧬 DNA 🧪", n: 7, at: "2024-03-01T12:34:56.788Z" },
  { uid: "istanbul", name: "İstanbul", n: 1e15 },
  { uid: "strasse", name: "straße", n: 9007199254740991 },
  { uid: "regexy", name: "a.b*c(d)[e]", n: -0.5, tags: ["a.b*c(d)[e]"] },
  { uid: "dollar", name: "$where", n: 1 },
  { uid: "empty", name: "", n: -100 },
  { uid: "space", name: "cell ranger ", n: 10 },
  { uid: "nulls", name: null, n: null, score: null, at: null, flag: null, tags: null, params: null },
  { uid: "bare" },
  { uid: "numstr", name: "10", n: "10", at: 1709296496789, flag: "true", params: { a: { b: [1] } } },
  { uid: "arr", name: ["Cell Ranger"], n: [10], at: ["2024-03-01T12:34:56.789Z"], tags: ["a"] },
  { uid: "obj", name: { first: "Cell" }, n: { v: 10 }, flag: { v: true }, params: { a: { b: { c: 1 } } } },
  // Arrays on a path: a store must not look inside them (MongoDB's dotted paths and equality do).
  { uid: "bool", name: true, n: false, flag: false, params: { a: [{ b: 1 }], lr: [0.01] } }
]
