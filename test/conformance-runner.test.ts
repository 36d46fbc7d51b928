/**
 * The runner-agnostic entry: skips follow the manifest and say why, failures are reported (not thrown), and
 * the summary line has the exact form scripts rely on.
 */
import assert from "node:assert/strict"
import { Effect } from "effect"
import { describe, it } from "vitest"
import { Ast } from "@lineage/core"
import type { Case } from "@lineage/conformance"
import { groups, plan, ReferenceDriver, runConformance } from "@lineage/conformance"

/** The reference driver with its transactions taken away, as a store without them would declare. */
const withoutTransactions = (): ReferenceDriver.ReferenceDriver => {
  const inner = ReferenceDriver.make("no-transactions")
  return { ...inner, capabilities: { ...inner.capabilities, transactions: false }, batch: undefined }
}

describe("runConformance", () => {
  it("skips cases whose capability is declared false, naming it, and runs the rest", async () => {
    const lines: Array<string> = []
    const report = await runConformance({
      makeDriver: async () => withoutTransactions(),
      groups: [groups.manifest, groups.batch],
      log: (l) => lines.push(l)
    })
    assert.equal(report.failed, 0)
    assert.equal(report.passed, groups.manifest.length)
    assert.deepStrictEqual(report.skipped.map((s) => s.name), groups.batch.map((c) => c.name))
    for (const s of report.skipped) assert.match(s.reason, /capabilities\.transactions, which driver "no-transactions" declares false/)
    assert.equal(lines.filter((l) => l.includes("(skipped: requires capabilities.transactions")).length, groups.batch.length)
    assert.equal(lines[lines.length - 1], `${groups.manifest.length} passed, 0 failed, ${groups.batch.length} skipped`)
  })

  it("skips cases needing a second handle when no reopen is given, and says so", async () => {
    const report = await runConformance({ makeDriver: async () => ReferenceDriver.make(), groups: [groups.concurrency], log: () => {} })
    const reopenCases = groups.concurrency.filter((c) => c.requires?.includes("reopen"))
    assert.ok(reopenCases.length > 0)
    assert.deepStrictEqual(report.skipped.map((s) => s.name), reopenCases.map((c) => c.name))
    for (const s of report.skipped) assert.match(s.reason, /capabilities\.shared/)
    assert.equal(report.failed, 0)
  })

  it("runs the two-handle cases when the store is shared and reopen is given", async () => {
    const report = await runConformance({
      makeDriver: async () => {
        const d = ReferenceDriver.make("shared")
        return { ...d, capabilities: { ...d.capabilities, shared: true } }
      },
      // The same in-memory state behind a second handle stands in for another process's connection.
      reopen: async (d) => ({ ...d, close: () => Effect.void }),
      groups: [groups.concurrency],
      log: () => {}
    })
    assert.deepStrictEqual(report.skipped, [])
    assert.equal(report.failed, 0)
    assert.equal(report.passed, groups.concurrency.length)
  })

  it("reports a failing case with its group, name and error, and keeps going", async () => {
    const boom: Case = { group: "custom", name: "always fails", run: async () => assert.fail("boom") }
    const fine: Case = { group: "custom", name: "passes", run: async ({ driver }) => assert.equal(driver.name, "reference") }
    const lines: Array<string> = []
    const report = await runConformance({ makeDriver: async () => ReferenceDriver.make(), groups: [[boom, fine]], log: (l) => lines.push(l) })
    assert.equal(report.passed, 1)
    assert.equal(report.failed, 1)
    assert.equal(report.failures[0]?.name, "always fails")
    assert.equal(report.failures[0]?.group, "custom")
    assert.match(String(report.failures[0]?.error), /boom/)
    assert.equal(lines[lines.length - 1], "1 passed, 1 failed, 0 skipped")
  })

  it("gives every case a fresh, empty store and closes it", async () => {
    const made: Array<ReferenceDriver.ReferenceDriver> = []
    let closed = 0
    const probeCase = (name: string): Case => ({
      group: "custom",
      name,
      run: async ({ driver }) => {
        // Both cases write the same row: the second passes only if it got a store the first never touched.
        await Effect.runPromise(driver.declare([{ name: "x", unique: [{ name: "x_uid", fields: ["uid"] }], indexes: [] }]))
        assert.equal(await Effect.runPromise(driver.count("x", Ast.always)), 0)
        await Effect.runPromise(driver.insert("x", [{ id: 1, uid: "same" }]))
      }
    })
    const report = await runConformance({
      makeDriver: async () => {
        const d = ReferenceDriver.make()
        made.push(d)
        return { ...d, close: () => d.close().pipe(Effect.tap(() => Effect.sync(() => closed++))) }
      },
      groups: [[probeCase("one"), probeCase("two")]],
      log: () => {}
    })
    assert.equal(report.failed, 0)
    // One driver to read the manifest, then one per case; every one closed.
    assert.equal(made.length, 3)
    assert.equal(closed, 3)
  })

  it("names the driver call that hung, within the per-call limit, and still closes and tears down", async () => {
    const events: Array<string> = []
    const hangs: Case = {
      group: "custom",
      name: "finds",
      run: async ({ driver }) => {
        await Effect.runPromise(driver.declare([{ name: "runs", unique: [], indexes: [] }]))
        await Effect.runPromise(driver.find("runs", { where: Ast.always, orderBy: [] }))
      }
    }
    const started = Date.now()
    const report = await runConformance({
      makeDriver: async () => {
        const d = ReferenceDriver.make()
        // An uninterruptible hang: the limit must not wait for the call to give up.
        return { ...d, find: () => Effect.uninterruptible(Effect.never), close: () => d.close().pipe(Effect.tap(() => Effect.sync(() => events.push("close")))) }
      },
      teardown: async () => {
        events.push("teardown")
      },
      callTimeoutMs: 200,
      groups: [[hangs]],
      log: () => {}
    })
    assert.equal(report.failed, 1)
    assert.equal(String(report.failures[0]?.error), 'Error: driver.find("runs", …) did not answer within 200 ms')
    assert.ok(Date.now() - started < 5_000, "the hang was not cut at the call's limit")
    // The probe's driver first, then the case's: each closed, then torn down.
    assert.deepStrictEqual(events, ["close", "teardown", "close", "teardown"])
  })

  it("limits calls on reopened handles and closes too", async () => {
    const shared = (): ReferenceDriver.ReferenceDriver => {
      const d = ReferenceDriver.make("shared")
      return { ...d, capabilities: { ...d.capabilities, shared: true } }
    }
    const counts: Case = {
      group: "custom",
      name: "counts on a second handle",
      run: async ({ reopen }) => {
        const other = await reopen!()
        await Effect.runPromise(other.count("thing", Ast.always))
      }
    }
    const report = await runConformance({
      makeDriver: async () => shared(),
      reopen: async (d) => ({ ...d, count: () => Effect.never, close: () => Effect.never }),
      callTimeoutMs: 200,
      groups: [[counts]],
      log: () => {}
    })
    // The case's own failure comes first; the hung close of the second handle did not stop the cleanup.
    assert.equal(String(report.failures[0]?.error), 'Error: driver.count("thing", …) did not answer within 200 ms')
  })

  it("tears down with the case's own driver after closing it, also when the case failed", async () => {
    const made: Array<ReferenceDriver.ReferenceDriver> = []
    const tornDown: Array<{ readonly driver: ReferenceDriver.ReferenceDriver; readonly closed: boolean }> = []
    const closedOnes = new Set<ReferenceDriver.ReferenceDriver>()
    const report = await runConformance({
      makeDriver: async () => {
        const d = ReferenceDriver.make()
        const tracked: ReferenceDriver.ReferenceDriver = { ...d, close: () => d.close().pipe(Effect.tap(() => Effect.sync(() => closedOnes.add(tracked)))) }
        made.push(tracked)
        return tracked
      },
      teardown: async (driver) => {
        tornDown.push({ driver, closed: closedOnes.has(driver) })
      },
      groups: [[{ group: "custom", name: "fails", run: async () => assert.fail("boom") }]],
      log: () => {}
    })
    assert.match(String(report.failures[0]?.error), /boom/)
    assert.deepStrictEqual(tornDown, made.map((driver) => ({ driver, closed: true })))
  })

  it("fails a passing case whose teardown fails, and keeps a failing case's own error", async () => {
    let teardowns = 0
    const report = await runConformance({
      makeDriver: async () => ReferenceDriver.make(),
      teardown: async () => {
        // The probe's driver is torn down first, and fine.
        if (teardowns++ > 0) throw new Error("could not drop the schema")
      },
      groups: [
        [
          { group: "custom", name: "passes", run: async () => {} },
          { group: "custom", name: "fails", run: async () => assert.fail("boom") }
        ]
      ],
      log: () => {}
    })
    assert.deepStrictEqual(
      report.failures.map((f) => [f.name, String(f.error).split("\n")[0]]),
      [
        ["passes", "Error: could not drop the schema"],
        ["fails", "AssertionError [ERR_ASSERTION]: boom"]
      ]
    )
  })

  it("hands a case a member that is not a function as it is, so the case fails naming it", async () => {
    const counts: Case = {
      group: "custom",
      name: "counts",
      run: async ({ driver }) => {
        await Effect.runPromise(driver.count("thing", Ast.always))
      }
    }
    const report = await runConformance({
      makeDriver: async () => ({ ...ReferenceDriver.make(), count: "not a method" as never }),
      groups: [[counts]],
      log: () => {}
    })
    assert.match(String(report.failures[0]?.error), /^TypeError: driver\.count is not a function/)
  })

  it("plans the same skips as the manifest implies", () => {
    const manifest = { driverName: "m", capabilities: { transactions: false, shared: true, nativeOperators: [] }, canReopen: true }
    const planned = plan([...groups.batch, ...groups.concurrency], manifest)
    assert.equal(planned.skipped.length, groups.batch.length)
    assert.equal(planned.run.length, groups.concurrency.length)
  })
})
