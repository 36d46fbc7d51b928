/**
 * A server restart in the middle of a stream of writes, whatever the store: `total` single-document inserts,
 * the server stopped before the 101st and started again while the stream goes on. A write that fails is sent
 * again until it is acknowledged, so every write of the stream must end up stored.
 */
import { Effect } from "effect"
import { expect } from "vitest"
import { type Driver, StoreError } from "@lineage/core"
import { type Figure, record } from "./figures.js"

/** The table the stream writes: a unique `uid`, a sorted index on `n` (the write's place in the stream). */
export const thing: Driver.TableSpec = {
  name: "thing",
  unique: [{ name: "thing_uid", fields: ["uid"] }],
  indexes: [{ path: ["n"], kind: "sorted" }]
}

export interface RestartStream {
  /** The ids the store acknowledged, in stream order. */
  readonly acknowledged: ReadonlyArray<number>
  /** Every failure of an attempt, as it came out (a `StoreError`, or the cause of anything else). */
  readonly failures: ReadonlyArray<unknown>
  /** Attempts sent while the server was down. */
  readonly sentWhileDown: number
  /** Whether the server was back before the stream ended. */
  readonly restartedInStream: boolean
}

/**
 * Declares `thing` and writes `total` documents to it, one insert each; before the 101st, `restart` (stopping
 * the server, then starting it again) runs alongside the stream. Resolves once the stream and `restart` are done.
 */
export const writeThroughRestart = async (driver: Driver.Driver, restart: () => Promise<void>, total = 300): Promise<RestartStream> => {
  await Effect.runPromise(driver.declare([thing]))
  const first = await Effect.runPromise(driver.reserveIds("thing", total))
  const acknowledged: Array<number> = []
  const failures: Array<unknown> = []
  let restarted = false
  let down = false
  let sentWhileDown = 0
  let restarting: Promise<void> = Promise.resolve()
  for (let i = 0; i < total; i++) {
    const id = first + i
    if (i === 100) {
      // Down in the middle of the stream, back a moment later on the same port and files.
      down = true
      restarting = restart().then(() => {
        down = false
        restarted = true
      })
    }
    // A write that fails while the server is down is retried until it is acknowledged.
    for (let attempt = 0; ; attempt++) {
      if (down) sentWhileDown++
      const exit = await Effect.runPromiseExit(driver.insert("thing", [{ id, uid: `u${id}`, n: i }]))
      if (exit._tag === "Success") {
        acknowledged.push(id)
        break
      }
      const error = exit.cause.reasons.find((r) => r._tag === "Fail")
      const failure = error?._tag === "Fail" ? error.error : exit.cause
      failures.push(failure)
      // A re-sent write whose first attempt did land (its answer lost with the connection) is a unique
      // violation on its own id: it is there.
      if (failure instanceof StoreError && failure.reason._tag === "UniqueViolation") {
        acknowledged.push(id)
        break
      }
      expect(attempt).toBeLessThan(200)
      await new Promise((r) => setTimeout(r, 25))
    }
  }
  const restartedInStream = restarted
  await restarting
  return { acknowledged, failures, sentWhileDown, restartedInStream }
}

/** Every failure of the stream is typed: the server out of reach (retryable), or a re-sent write that had landed. */
export const expectTypedRetryable = (failures: ReadonlyArray<unknown>): void => {
  for (const failure of failures) {
    expect(failure).toBeInstanceOf(StoreError)
    const reason = (failure as StoreError).reason._tag
    expect(["Unavailable", "UniqueViolation"]).toContain(reason)
    if (reason === "Unavailable") expect((failure as StoreError).isRetryable).toBe(true)
  }
}

/** Records a restart stream's figure: one process, one fault, `total` writes of which `lost` are missing. */
export const recordRestart = (figure: Pick<Figure, "target" | "store" | "lost" | "seconds" | "note"> & { readonly total: number }): void =>
  record({ ...figure, processes: 1, operations: figure.total, faults: 1, inputs: 0 })
