/**
 * Broken on purpose: inside arrays and objects, numbers are written in plain positional notation, as SQL's
 * `numeric` prints them (`1e21` as `1000000000000000000000`, `2e-7` as `0.0000002`), where JSON writes an
 * exponent. Equality is unchanged; only the order of arrays and objects holding such numbers differs.
 */
import type { ReferenceDriver } from "@lineage/conformance"
import { jsonForm, reorders } from "./reorders.js"

/** `x` without an exponent: `String` already writes every number between 1e-7 and 1e21 so. */
const plain = (x: number): string => {
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(String(x))
  if (m === null) return String(x)
  const [, sign = "", lead = "", rest = "", exponent = ""] = m
  const digits = lead + rest
  const e = Number(exponent)
  // A positive exponent here is at least 21, above the at most 17 significant digits: no decimal point is left.
  return e >= 0 ? sign + digits.padEnd(e + 1, "0") : `${sign}0.${"0".repeat(-e - 1)}${digits}`
}

export const make = (): ReferenceDriver.ReferenceDriver => reorders("numbers-in-plain-notation", { ...jsonForm, number: plain })
