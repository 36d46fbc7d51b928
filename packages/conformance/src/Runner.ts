/**
 * Running cases against a store: a fresh driver per case (abstract-level's `factory()`), closed afterwards,
 * with the manifest read once to decide skips. Shared by the runner-agnostic entry and the vitest entry.
 */
import type { Driver } from "@lineage/core"
import { Effect } from "effect"
import type { Backdoor, Case, CaseContext, Manifest } from "./Case.js"

export interface StoreUnderTest<D extends Driver.Driver = Driver.Driver> {
  /** Makes a fresh, EMPTY store for one case. */
  readonly makeDriver: () => Promise<D>
  /**
   * Reads what the store really persisted. A function receives the driver of the case, for stores where
   * every case has its own database.
   */
  readonly backdoor?: Backdoor | ((driver: D) => Backdoor) | undefined
  /** Opens a second handle onto the same store as `driver` (another process's view); for shared stores. */
  readonly reopen?: ((driver: D) => Promise<Driver.Driver>) | undefined
  /** Per-case time limit in milliseconds; 30 000 unless given. */
  readonly timeoutMs?: number | undefined
}

export const defaultTimeoutMs = 30_000

const close = async (driver: Driver.Driver): Promise<void> => {
  await Effect.runPromise(driver.close())
}

/** Reads the manifest from a throwaway driver, so skips can be decided before any case runs. */
export const probe = async <D extends Driver.Driver>(store: StoreUnderTest<D>): Promise<Manifest> => {
  const driver = await store.makeDriver()
  try {
    return { driverName: driver.name, capabilities: driver.capabilities, canReopen: store.reopen !== undefined }
  } finally {
    await close(driver)
  }
}

const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Runs one case on its own fresh store; throws what the case threw. */
export const runCase = async <D extends Driver.Driver>(c: Case, store: StoreUnderTest<D>): Promise<void> => {
  const driver = await store.makeDriver()
  const extra: Array<Driver.Driver> = []
  const backdoor = typeof store.backdoor === "function" ? store.backdoor(driver) : store.backdoor
  const reopen = store.reopen
  const ctx: CaseContext = {
    driver,
    backdoor,
    reopen:
      reopen === undefined
        ? undefined
        : async () => {
            const other = await reopen(driver)
            extra.push(other)
            return other
          }
  }
  try {
    await withTimeout(c.run(ctx), store.timeoutMs ?? defaultTimeoutMs, `case "${c.group} › ${c.name}"`)
  } finally {
    for (const other of extra) await close(other)
    await close(driver)
  }
}
