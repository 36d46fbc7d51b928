/**
 * The Promise face: `const ln = await Lineage.connect(url?)`, then `ln.Transform`, `ln.Run`, `ln.track`, …
 * for code that does not use Effect. Every call runs the Effect face on one managed runtime; errors are the
 * same classes (`DoesNotExist`, `InvalidQuery`, …: `Error` subclasses with their `_tag`). The current run of
 * `step`/`flow` calls follows the async call chain through AsyncLocalStorage, so concurrent calls never see
 * each other's run.
 *
 * The store is picked by URL (`memory:`, `redis://…`, `mongodb://…`; default `LINEAGE_STORE`, else memory),
 * importing the adapter package on demand: core depends on no adapter.
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { Cause, Effect, Exit, type Layer, ManagedRuntime } from "effect"
import * as Artifacts from "./Artifacts.js"
import { contextOf, withRun } from "./Current.js"
import type * as Domain from "./Domain.js"
import type { Driver } from "./Driver.js"
import * as DriverRules from "./Driver.js"
import { StoreError } from "./Errors.js"
import * as Features from "./Features.js"
import * as LineageGraph from "./Lineage.js"
import type { Page, QuerySet } from "./QuerySet.js"
import type { QueryInput } from "./Query.js"
import * as Registries from "./Registries.js"
import type * as Registry from "./Registry.js"
import * as Store from "./Store.js"
import * as Tracking from "./Tracking.js"

/** What an adapter package exports for `connect`: a driver from a URL of its scheme. */
export interface Adapter {
  readonly fromUrl: (url: string) => Effect.Effect<Driver, StoreError>
}

const adapters: ReadonlyArray<{ readonly schemes: ReadonlyArray<string>; readonly pkg: string; readonly peers: string }> = [
  { schemes: ["memory:"], pkg: "@lineage/store-memory", peers: "" },
  { schemes: ["redis:", "rediss:"], pkg: "@lineage/store-redis", peers: " ioredis" },
  { schemes: ["mongodb:", "mongodb+srv:"], pkg: "@lineage/store-mongodb", peers: " mongodb" }
]

export const redactUrl = DriverRules.redactUrl

/**
 * Imports an adapter the application installed, resolved from core's own location and never from the working
 * directory, whose `node_modules` may be anyone's. The adapters are core's optional peer dependencies, so a
 * package manager places an installed one where core resolves it (pnpm's strict layout included).
 */
const loadPackage = async (pkg: string): Promise<Adapter> => (await import(pkg)) as Adapter

const importAdapter = (url: string): Effect.Effect<Adapter, StoreError> => {
  const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1]?.toLowerCase()
  const adapter = adapters.find((a) => scheme !== undefined && a.schemes.includes(scheme))
  if (adapter === undefined)
    return Effect.fail(
      StoreError.unsupported(
        `no store for URL "${DriverRules.urlWithoutQuery(url)}": use memory:, ${adapters.flatMap((a) => a.schemes.filter((s) => s !== "memory:").map((s) => `${s}//…`)).join(", ")}`
      )
    )
  return Effect.tryPromise({
    try: () => loadPackage(adapter.pkg),
    catch: (e) =>
      StoreError.unsupported(
        `the store for ${scheme} URLs is in ${adapter.pkg}, which could not be loaded (${String(e)}): install it next to @lineage/core, e.g. npm install ${adapter.pkg}${adapter.peers}`
      )
  })
}

/** The driver for a store URL (default `LINEAGE_STORE`, else memory). */
export const driverFor = (url?: string): Effect.Effect<Driver, StoreError> => {
  const target = url ?? process.env["LINEAGE_STORE"] ?? "memory:"
  return Effect.flatMap(importAdapter(target), (adapter) => adapter.fromUrl(target))
}

export interface ConnectOptions {
  /**
   * The directory registered artifact bytes are kept in, and the only one they are read from (default
   * `LINEAGE_STORAGE`, else `Artifacts.defaultStorageRoot()`, `~/.local/share/lineage/storage`).
   */
  readonly storage?: string | undefined
}

/** A run or artifact as the Promise face returns it: the record, plus its feature manager. */
export interface FeatureManager {
  readonly add: (values: { readonly [name: string]: unknown }) => Promise<void>
  readonly set: (values: { readonly [name: string]: unknown }) => Promise<void>
  readonly get: () => Promise<{ readonly [name: string]: unknown }>
  readonly remove: (names?: string | ReadonlyArray<string>) => Promise<void>
  readonly describe: () => Promise<string>
}
export type WithFeatureManager<A> = A & { readonly features: FeatureManager }

type Decorate<A> = A extends Domain.Run | Domain.Artifact ? WithFeatureManager<A> : A

export interface PromiseQuerySet<A> extends AsyncIterable<Decorate<A>> {
  filter(...inputs: ReadonlyArray<QueryInput>): PromiseQuerySet<A>
  orderBy(...keys: ReadonlyArray<string>): PromiseQuerySet<A>
  limit(n: number): PromiseQuerySet<A>
  offset(n: number): PromiseQuerySet<A>
  all(): Promise<ReadonlyArray<Decorate<A>>>
  first(): Promise<Decorate<A> | undefined>
  one(): Promise<Decorate<A>>
  oneOrNone(): Promise<Decorate<A> | undefined>
  count(): Promise<number>
  exists(): Promise<boolean>
  delete(options?: { readonly permanent?: boolean }): Promise<number>
  page(options: { readonly size: number; readonly after?: string | undefined }): Promise<Page<Decorate<A>>>
}

/** Connects to a store and returns the Promise face over it. */
export const connect = async (url?: string, options: ConnectOptions = {}) => {
  const layer: Layer.Layer<Store.Store, StoreError> = Store.layer(driverFor(url))
  const runtime = ManagedRuntime.make(layer)
  // Open the store now, so a bad URL or an unreachable server fails here and not at the first query.
  const store = await runtime.runPromise(Store.Store.useSync((opened) => opened)).catch(async (e: unknown) => {
    await runtime.dispose()
    throw e
  })
  const als = new AsyncLocalStorage<Domain.Run>()
  let closed = false
  const closedError = () => StoreError.closed("this client's close() was called; open another with Lineage.connect()")

  /** A call's outcome; a call still running when close() came was interrupted by it, and says so. */
  const settle = <A>(exit: Exit.Exit<A, unknown>): A => {
    if (Exit.isSuccess(exit)) return exit.value
    throw closed && Cause.hasInterruptsOnly(exit.cause) ? closedError() : Cause.squash(exit.cause)
  }

  /** Runs an effect of the Effect face with this store, the artifact storage, and the call chain's run. */
  const exec = <A, E>(effect: Effect.Effect<A, E, Store.Store>): Promise<A> => {
    if (closed) return Promise.reject(closedError())
    const run = als.getStore()
    const scoped = run === undefined ? effect : withRun(run)(effect)
    return runtime.runPromiseExit(
      options.storage === undefined ? scoped : Effect.provideService(scoped, Artifacts.ArtifactStorage, options.storage)
    ).then(settle)
  }

  const decorate = <A>(record: A): Decorate<A> => {
    if (record !== null && typeof record === "object" && "featureValues" in record && !("features" in record)) {
      let current = record as unknown as Features.WithFeatures
      const manager: FeatureManager = {
        add: async (values) => void (current = await exec(Features.add(current, values))),
        set: async (values) => void (current = await exec(Features.set(current, values))),
        remove: async (names) => void (current = await exec(Features.remove(current, names))),
        get: () => exec(Features.get(current)),
        describe: () => exec(Features.describe(current))
      }
      Object.defineProperty(record, "features", { value: manager, enumerable: false })
    }
    return record as Decorate<A>
  }

  const querySet = <A extends Registry.Base>(qs: QuerySet<A>): PromiseQuerySet<A> => ({
    filter: (...inputs) => querySet(qs.filter(...inputs)),
    orderBy: (...keys) => querySet(qs.orderBy(...keys)),
    limit: (n) => querySet(qs.limit(n)),
    offset: (n) => querySet(qs.offset(n)),
    all: async () => (await exec(qs.all())).map(decorate),
    first: async () => {
      const row = await exec(qs.first())
      return row === undefined ? undefined : decorate(row)
    },
    one: async () => decorate(await exec(qs.one())),
    oneOrNone: async () => {
      const row = await exec(qs.oneOrNone())
      return row === undefined ? undefined : decorate(row)
    },
    count: () => exec(qs.count()),
    exists: () => exec(qs.exists()),
    delete: (o) => exec(qs.delete(o)),
    page: async (o) => {
      const page = await exec(qs.page(o))
      return { items: page.items.map(decorate), next: page.next }
    },
    [Symbol.asyncIterator]: async function* () {
      let after: string | undefined
      do {
        const page = await exec(qs.page({ size: 500, after }))
        for (const item of page.items) yield decorate(item)
        after = page.next
      } while (after !== undefined)
    }
  })

  const registry = <A extends Registry.Base>(r: Registry.Registry<A>) => ({
    create: async (input: Registry.Input) => decorate(await exec(r.create(input))),
    get: async (idlike: number | string | QueryInput) => decorate(await exec(r.get(idlike))),
    getOrCreate: async (lookup: { readonly [k: string]: unknown }, defaults?: Registry.Input) =>
      decorate(await exec(r.getOrCreate(lookup, defaults))),
    update: async (record: A, patch: Registry.Input) => decorate(await exec(r.update(record, patch))),
    delete: (record: A, o?: { readonly permanent?: boolean }) => exec(r.delete(record, o)),
    restore: async (record: A) => decorate(await exec(r.restore(record))),
    filter: (...inputs: ReadonlyArray<QueryInput>) => querySet(r.filter(...inputs)),
    all: () => querySet(r.filter())
  })

  const call =
    (kind: "step" | "flow") =>
    <Args extends ReadonlyArray<unknown>, R>(fn: (...args: Args) => R | Promise<R>, o: Tracking.FunctionOptions = {}) =>
    async (...args: Args): Promise<Awaited<R>> => {
      const run = await exec(Tracking.startCall(kind, fn, args, o))
      try {
        const result = await als.run(run, async () => await fn(...args))
        await exec(Tracking.endCall(run, Exit.succeed(result)))
        return result
      } catch (error) {
        await exec(Tracking.endCall(run, Exit.fail(error)))
        throw error
      }
    }

  const Run = {
    ...registry(Registries.Run),
    /** Started runs whose heartbeat stopped: their process died without a word. */
    stale: (o?: { readonly olderThanMs?: number }) => querySet(Tracking.stale(o)),
    inputs: async (run: Domain.Run) => (await exec(Artifacts.inputs(run))).map(decorate),
    outputs: async (run: Domain.Run) => (await exec(Artifacts.outputs(run))).map(decorate),
    initiatedRuns: async (run: Domain.Run) => (await exec(Artifacts.initiatedRuns(run))).map(decorate)
  }

  const Artifact = {
    ...registry(Registries.Artifact),
    fromPath: async (path: string, o?: Artifacts.RegisterOptions) => decorate(await exec(Artifacts.fromPath(path, o))),
    fromBytes: async (bytes: Uint8Array | string, o?: Artifacts.BytesOptions) =>
      decorate(await exec(Artifacts.fromBytes(bytes, o))),
    load: (artifact: Domain.Artifact, o?: Artifacts.LoadOptions) => exec(Artifacts.load(artifact, o)),
    cache: (artifact: Domain.Artifact, o?: Artifacts.LoadOptions) => exec(Artifacts.cache(artifact, o)),
    producer: (artifact: Domain.Artifact) => exec(Artifacts.producer(artifact))
  }

  return {
    Transform: registry(Registries.Transform),
    Run,
    Feature: {
      ...registry(Registries.Feature),
      getOrCreate: async (lookup: Registry.Input, defaults?: Registry.Input) => exec(Registries.Feature.getOrCreate(lookup, defaults))
    },
    Artifact,
    Collection: registry(Registries.Collection),
    ULabel: registry(Registries.ULabel),
    Project: registry(Registries.Project),
    User: registry(Registries.User),
    /** lamindb's `ln.context`: this client's global run and transform. */
    context: {
      get run() {
        const { run } = contextOf(store)
        return run === undefined ? undefined : decorate(run)
      },
      get transform() {
        return contextOf(store).transform
      }
    },
    track: async (o?: Tracking.TrackOptions) => decorate(await exec(Tracking.track(o))),
    finish: async () => decorate(await exec(Tracking.finish())),
    step: call("step"),
    flow: call("flow"),
    lineage: async (record: Domain.Artifact | Domain.Run, o?: LineageGraph.LineageOptions) => {
      const graph = await exec(LineageGraph.lineage(record, o))
      return { ...graph, mermaid: LineageGraph.toMermaid(graph) }
    },
    /** Closes the store; a run this client still tracks is ended `aborted` first, not left `started`. */
    close: async () => {
      // A store that cannot take the write leaves the run to stale(), as a killed process would.
      await exec(Tracking.abort()).catch(() => undefined)
      // From here every call is refused with StoreError Closed; a second close() finds nothing left to do.
      closed = true
      await runtime.dispose()
    }
  }
}

export type Client = Awaited<ReturnType<typeof connect>>
