/** The helpers stores parse their URLs with: options taken from the query, and percent-decoding. */
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { Driver } from "@lineage/core"

describe("store URL helpers", () => {
  it("onlyUrlOptions takes a store's own options and refuses any other, naming each unknown one once", () => {
    const taken = Driver.onlyUrlOptions(new URLSearchParams("Prefix=a"), ["prefix"])
    expect("options" in taken && [...taken.options]).toEqual([["prefix", "a"]])
    expect(Driver.onlyUrlOptions(new URLSearchParams("x=1&x=2"), ["prefix"])).toEqual({
      refused: 'unknown option "x" (known options: prefix)'
    })
    expect(Driver.onlyUrlOptions(new URLSearchParams("prefix=a&prefix=b"), ["prefix"])).toEqual({
      refused: 'option "prefix" is given twice (known options: prefix)'
    })
    expect(Driver.onlyUrlOptions(new URLSearchParams("a=1"), [])).toEqual({ refused: 'unknown option "a" (it takes no options)' })
  })

  it("urlText reads a Redacted URL; decodeUrlPart decodes, or says undefined for bad percent-encoding", () => {
    expect(Driver.urlText(Redacted.make("redis://u:p@h"))).toBe("redis://u:p@h")
    expect(Driver.urlText("redis://h")).toBe("redis://h")
    expect(Driver.decodeUrlPart("s3cr%40t")).toBe("s3cr@t")
    expect(Driver.decodeUrlPart("a%zz")).toBeUndefined()
  })
})
