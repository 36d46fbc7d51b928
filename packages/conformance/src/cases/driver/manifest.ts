/**
 * The capabilities manifest is what core and this suite branch on, so it must be well formed and honest.
 */
import assert from "node:assert/strict"
import { Ast } from "@lineage/core"
import type { Case } from "../../Case.js"

const group = "manifest"

export const manifest: ReadonlyArray<Case> = [
  {
    group,
    name: "capabilities are well formed",
    run: async ({ driver }) => {
      assert.equal(typeof driver.name, "string")
      assert.ok(driver.name.length > 0, "a driver needs a name for messages")
      assert.equal(typeof driver.capabilities.transactions, "boolean")
      assert.equal(typeof driver.capabilities.shared, "boolean")
      assert.ok(Array.isArray(driver.capabilities.nativeOperators))
    }
  },
  {
    group,
    name: "nativeOperators lists known operators, each once",
    run: async ({ driver }) => {
      const ops = driver.capabilities.nativeOperators
      for (const op of ops) assert.ok(Ast.isOperator(op), `unknown operator "${String(op)}" in nativeOperators`)
      assert.equal(new Set(ops).size, ops.length, "nativeOperators repeats an operator")
    }
  },
  {
    group,
    name: "batch is provided exactly when transactions are declared",
    run: async ({ driver }) => {
      assert.equal(driver.batch !== undefined, driver.capabilities.transactions, "transactions and batch disagree")
    }
  }
]
