/**
 * A `__proto__` key is data in the escaped copy (`d`) MongoDB queries and indexes: it is escaped like the
 * other hostile keys, so it neither sets the copy's prototype (losing the value) nor reaches a filter,
 * where servers refuse or misread it.
 */
import { describe, expect, it } from "vitest"
import { escapeKey, unescapeKey } from "@lineage/store-mongodb"
import { escapePath, toStored } from "../src/Encoding.js"

describe("__proto__ keys", () => {
  it("are escaped reversibly, in keys, paths and nested values", () => {
    expect(escapeKey("__proto__")).toBe("%5F_proto__")
    expect(unescapeKey(escapeKey("__proto__"))).toBe("__proto__")
    expect(escapePath(["featureValues", "__proto__"])).toBe("featureValues.%5F_proto__")
    for (const k of ["constructor", "toString", "_proto__", "%5F_proto__"]) expect(unescapeKey(escapeKey(k))).toBe(k)
    const params = JSON.parse('{"__proto__": {"__proto__": 1, "a": 2}}') as Record<string, never>
    const stored = toStored({ id: 1, params }, 0)
    const d = stored.d as { readonly params: Record<string, unknown> }
    expect(Object.getPrototypeOf(d.params)).toBe(Object.prototype)
    expect(Object.keys(d.params)).toEqual(["%5F_proto__"])
    expect(d.params["%5F_proto__"]).toEqual({ "%5F_proto__": 1, a: 2 })
  })
})
