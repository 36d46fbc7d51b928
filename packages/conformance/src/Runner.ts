/**
 * Running cases against a store: a fresh driver per case (abstract-level's `factory()`), closed and torn down
 * afterwards, with the manifest read once to decide skips. Every driver call a case makes has its own time
 * limit, so a store that hangs is named by the call that hung rather than by the case's limit. Shared by the
 * runner-agnostic entry and the vitest entry.
 */
import type { Driver } from "@lineage/core"
import { Effect, Fiber } from "effect"
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
  /**
   * Called with every driver `makeDriver` made, once it is closed: each case's, after the case, and the one
   * the manifest is read from (e.g. to drop the schema or database `makeDriver` created). It runs even when
   * the case or the close failed; a failure of its own fails the case.
   */
  readonly teardown?: ((driver: D) => Promise<void>) | undefined
  /** Per-case time limit in milliseconds; 30 000 unless given. */
  readonly timeoutMs?: number | undefined
  /**
   * Time limit in milliseconds for each driver call of a case (on the case's driver and on reopened ones),
   * for each close and for `teardown`; 10 000 unless given. A call past it fails the case with
   * `driver.find("thing", …) did not answer within 10000 ms`.
   */
  readonly callTimeoutMs?: number | undefined
}

export const defaultTimeoutMs = 30_000

export const defaultCallTimeoutMs = 10_000

const timedOut = (what: string, ms: number): Error => new Error(`${what} did not answer within ${ms} ms`)

/** Stops a call left behind without waiting for it: an uninterruptible hang must not hang its caller too. */
const abandon = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<void> => Effect.asVoid(Effect.forkDetach(Fiber.interrupt(fiber)))

/**
 * `call` with a time limit; past it, a defect naming `what`. The call runs in a fiber of its own and only the
 * wait for it is timed, so the limit holds even when the store made its call uninterruptible.
 */
const within = <A, E>(ms: number, what: string, call: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.flatMap(Effect.forkDetach(call, { startImmediately: true }), (fiber) =>
    Fiber.join(fiber).pipe(
      Effect.timeoutOrElse({ duration: ms, orElse: () => Effect.andThen(abandon(fiber), Effect.die(timedOut(what, ms))) }),
      Effect.onInterrupt(() => abandon(fiber))
    )
  )

/** How a time-limit failure names a call: strings and numbers shown, anything else `…`. */
const callName = (method: string, args: ReadonlyArray<unknown>): string =>
  `driver.${method}(${args.map((a) => (typeof a === "string" || typeof a === "number" ? JSON.stringify(a) : "…")).join(", ")})`

type Method = Exclude<keyof Driver.Driver, "name" | "capabilities">

/** The driver's calls, each given a time limit (a table, so a call added to `Driver` cannot be missed). */
const limitedMethods: Record<Method, true> = {
  declare: true,
  reserveIds: true,
  insert: true,
  update: true,
  remove: true,
  get: true,
  find: true,
  count: true,
  batch: true,
  close: true
}

/**
 * `driver` with a time limit of `ms` on every call; its other members (a store's own extras) are kept. Each
 * call is made when the wrapper is called, as it would be unwrapped, and only its effect is timed. A member
 * that is not a function (`batch` left undefined, or a broken store's) is kept as it is, so using it fails
 * as it would unwrapped.
 */
const limitCalls = <D extends Driver.Driver>(driver: D, ms: number): D => {
  const limited: Partial<Record<Method, (...args: Array<unknown>) => Effect.Effect<unknown, unknown>>> = {}
  for (const method of Object.keys(limitedMethods) as Array<Method>) {
    const call: unknown = driver[method]
    if (typeof call === "function") limited[method] = (...args) => within(ms, callName(method, args), call.apply(driver, args))
  }
  return { ...driver, ...limited }
}

const close = (driver: Driver.Driver, ms: number): Promise<void> => Effect.runPromise(within(ms, callName("close", []), driver.close()))

const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Runs every step, also after one failed, then throws the first failure: a case's own error before its cleanup's. */
const inTurn = async (steps: ReadonlyArray<() => Promise<void>>): Promise<void> => {
  const failures: Array<unknown> = []
  for (const step of steps) {
    await Promise.resolve()
      .then(step)
      .catch((e: unknown) => {
        failures.push(e)
      })
  }
  if (failures.length > 0) throw failures[0]
}

/** The steps that close `driver` and tear its store down. */
const release = <D extends Driver.Driver>(store: StoreUnderTest<D>, driver: D, ms: number): ReadonlyArray<() => Promise<void>> => {
  const teardown = store.teardown
  return [
    () => close(driver, ms),
    ...(teardown === undefined ? [] : [() => withTimeout(teardown(driver), ms, "teardown")])
  ]
}

/** Reads the manifest from a throwaway driver, so skips can be decided before any case runs. */
export const probe = async <D extends Driver.Driver>(store: StoreUnderTest<D>): Promise<Manifest> => {
  const driver = await store.makeDriver()
  const manifest: Manifest = { driverName: driver.name, capabilities: driver.capabilities, canReopen: store.reopen !== undefined }
  await inTurn(release(store, driver, store.callTimeoutMs ?? defaultCallTimeoutMs))
  return manifest
}

/** Runs one case on its own fresh store; throws what the case threw, else what closing or tearing down threw. */
export const runCase = async <D extends Driver.Driver>(c: Case, store: StoreUnderTest<D>): Promise<void> => {
  const ms = store.callTimeoutMs ?? defaultCallTimeoutMs
  const driver = await store.makeDriver()
  const others: Array<Driver.Driver> = []
  const backdoor = typeof store.backdoor === "function" ? store.backdoor(driver) : store.backdoor
  const reopen = store.reopen
  const ctx: CaseContext = {
    driver: limitCalls(driver, ms),
    backdoor,
    reopen:
      reopen === undefined
        ? undefined
        : async () => {
            const other = await reopen(driver)
            others.push(other)
            return limitCalls(other, ms)
          }
  }
  await inTurn([
    () => withTimeout(c.run(ctx), store.timeoutMs ?? defaultTimeoutMs, `case "${c.group} › ${c.name}"`),
    () => inTurn(others.map((other) => () => close(other, ms))),
    ...release(store, driver, ms)
  ])
}
