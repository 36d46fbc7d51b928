/**
 * What registry-level cases share: a typed `Store` built once per case on the case's driver, helpers that run
 * domain effects against it and demand typed failures, a driver wrapper that counts calls (to prove a query
 * failed before any store was touched), and small fixtures.
 */
import assert from "node:assert/strict"
import { Artifact, Records, type Driver, type QuerySet, Run, Store, type StoreError, Transform } from "@lineage/core"
import { Cause, Effect, Exit } from "effect"
import type { Case, CaseContext } from "../../Case.js"
import { describeValue } from "../../Fixtures.js"

type Doc = Driver.Doc

export interface Session {
  readonly ctx: CaseContext
  readonly store: Store.StoreShape
  /** Runs a domain effect on this case's store. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, Store.Store>) => Promise<A>
  /** Runs a domain effect that must fail with the typed error `tag`, and returns that error. */
  readonly fail: <A, E extends { readonly _tag: string }, T extends E["_tag"]>(
    effect: Effect.Effect<A, E, Store.Store>,
    tag: T
  ) => Promise<Extract<E, { readonly _tag: T }>>
  /** What the store really persisted, through the backdoor when the store has one, else its driver. */
  readonly persisted: (table: string, id: number) => Promise<Doc | undefined>
  /** Every persisted document of a table, sorted by id (backdoor when there is one). */
  readonly persistedAll: (table: string) => Promise<ReadonlyArray<Doc>>
}

export const runOn =
  (store: Store.StoreShape) =>
  <A, E>(effect: Effect.Effect<A, E, Store.Store>): Promise<A> =>
    Effect.runPromise(Effect.provideService(effect, Store.Store, store))

export const failOn =
  (store: Store.StoreShape) =>
  async <A, E extends { readonly _tag: string }, T extends E["_tag"]>(
    effect: Effect.Effect<A, E, Store.Store>,
    tag: T
  ): Promise<Extract<E, { readonly _tag: T }>> => {
    const exit = await Effect.runPromiseExit(Effect.provideService(effect, Store.Store, store))
    if (Exit.isSuccess(exit)) return assert.fail(`expected ${tag}, but the operation succeeded with ${describeValue(exit.value)}`)
    const failure = Cause.findErrorOption(exit.cause)
    if (failure._tag === "None") return assert.fail(`expected a typed ${tag} failure, got a defect: ${Cause.pretty(exit.cause)}`)
    const error = failure.value
    if (error._tag !== tag) assert.fail(`expected ${tag}, got ${error._tag}: ${describeValue(error)}`)
    return error as Extract<E, { readonly _tag: T }>
  }

const byId = (a: Doc, b: Doc) => (a["id"] as number) - (b["id"] as number)

export const open = async (ctx: CaseContext, driver: Driver.Driver = ctx.driver): Promise<Session> => {
  const store = await Effect.runPromise(Store.make(driver))
  return {
    ctx,
    store,
    run: runOn(store),
    fail: failOn(store),
    persisted: async (table, id) => {
      if (ctx.backdoor !== undefined) return ctx.backdoor.get(table, id)
      const [doc] = await Effect.runPromise(ctx.driver.get(table, [id]))
      return doc
    },
    persistedAll: async (table) => {
      if (ctx.backdoor !== undefined) return [...(await ctx.backdoor.all(table))].sort(byId)
      const docs = await Effect.runPromise(ctx.driver.find(table, { where: { _tag: "And", conds: [] }, orderBy: [] }))
      return [...docs].sort(byId)
    }
  }
}

/** A case whose body gets a session on the case's fresh store. */
export const registryCase = (group: string, name: string, body: (s: Session) => Promise<void>): Case => ({
  group,
  name,
  run: async (ctx) => body(await open(ctx))
})

/** Wraps a driver so every call is counted: a query refused "before any store is touched" leaves it at 0. */
export const counting = (
  driver: Driver.Driver
): {
  readonly driver: Driver.Driver
  readonly calls: () => number
  /** Calls that touched `table` (batches count for every table they write). */
  readonly callsOn: (table: string) => number
  readonly reset: () => void
} => {
  let n = 0
  let tables: Array<string> = []
  const count = <A>(effect: Effect.Effect<A, StoreError>, ...touched: ReadonlyArray<string>) => Effect.suspend(() => {
    n++
    tables.push(...touched)
    return effect
  })
  const wrapped: Driver.Driver = {
    name: driver.name,
    capabilities: driver.capabilities,
    declare: (tables) => driver.declare(tables),
    reserveIds: (table, c) => count(Effect.suspend(() => driver.reserveIds(table, c)), table),
    insert: (table, docs) => count(Effect.suspend(() => driver.insert(table, docs)), table),
    update: (table, id, patch, expect) =>
      count(
        Effect.suspend(() => (expect === undefined ? driver.update(table, id, patch) : driver.update(table, id, patch, expect))),
        table
      ),
    remove: (table, ids) => count(Effect.suspend(() => driver.remove(table, ids)), table),
    get: (table, ids) => count(Effect.suspend(() => driver.get(table, ids)), table),
    find: (table, spec) => count(Effect.suspend(() => driver.find(table, spec)), table),
    count: (table, where) => count(Effect.suspend(() => driver.count(table, where)), table),
    batch:
      driver.batch === undefined
        ? undefined
        : (ops) => count(Effect.suspend(() => driver.batch!(ops)), ...ops.map((op) => op.table)),
    close: () => Effect.void
  }
  return {
    driver: wrapped,
    calls: () => n,
    callsOn: (table) => tables.filter((t) => t === table).length,
    reset: () => {
      n = 0
      tables = []
    }
  }
}

export const base62 = /^[0-9A-Za-z]+$/

export const ids = (records: ReadonlyArray<{ readonly id: number }>): Array<number> => records.map((r) => r.id)
export const sortedIds = (records: ReadonlyArray<{ readonly id: number }>): Array<number> => ids(records).sort((a, b) => a - b)

/** A millisecond-precise date `ms` after a fixed instant. */
export const at = (ms: number): Date => new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999) + ms)

export const newTransform = (s: Session, input: { readonly [k: string]: unknown } = {}) =>
  s.run(Transform.create({ key: `t-${Math.random().toString(36).slice(2)}`, ...input }))

/**
 * Query sets that take any filter and order key (`QuerySet<A>`), checked only when they run: for cases on
 * features no `LineageFeatures` declares, on spellings the types leave out (snake_case keys, keyword keys
 * across two relations), and on queries built at run time.
 */
export const anyRuns = (): QuerySet<Records.Run> => Run.filter()
export const anyTransforms = (): QuerySet<Records.Transform> => Transform.filter()
export const anyArtifacts = (): QuerySet<Records.Artifact> => Artifact.filter()

export const newRun = (s: Session, transform: { readonly id: number }, input: { readonly [k: string]: unknown } = {}) =>
  s.run(Run.create({ transformId: transform.id, startedAt: at(0), ...input }))

/** Links a run to an input artifact through a `RunInputArtifact` row. */
export const linkInput = (s: Session, run: { readonly id: number }, artifact: { readonly id: number }) =>
  s.run(
    Store.Store.use((store) => store.insert(runInputArtifact, [{ runId: run.id, artifactId: artifact.id }]))
  )

export const runInputArtifact: Store.Entity<Records.RunInputArtifact> = Store.entity(Records.RunInputArtifactModel, Records.RunInputArtifact)
export const runULabel: Store.Entity<Records.RunULabel> = Store.entity(Records.RunULabelModel, Records.RunULabel)

export const linkULabel = (s: Session, run: { readonly id: number }, ulabel: { readonly id: number }) =>
  s.run(Store.Store.use((store) => store.insert(runULabel, [{ runId: run.id, ulabelId: ulabel.id }])))

/** Exactly one record of each listed family is latest. */
export const latestOf = (records: ReadonlyArray<{ readonly isLatest: boolean; readonly uid: string }>) =>
  records.filter((r) => r.isLatest).map((r) => r.uid)
