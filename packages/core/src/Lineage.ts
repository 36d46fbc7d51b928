/**
 * The Promise face: `const ln = await Lineage.connect(url?)`, then `ln.Transform`, `ln.Run`, `ln.track`, …
 * for code that does not use Effect. Every call runs the Effect face on one managed runtime; errors are the
 * same classes (`DoesNotExist`, `InvalidQuery`, …: `Error` subclasses with their `_tag`). The current run of
 * `step`/`flow` calls follows the async call chain through AsyncLocalStorage, so concurrent calls never see
 * each other's run.
 *
 * The store is picked by URL (`sqlite:./runs.db`, `postgres://…`, `redis://…`, `mongodb://…`, `memory:`; default
 * `LINEAGE_STORE`, else SQLite in the working directory's `.lineage`), importing the installed adapter that serves
 * its scheme (`Adapters`): core depends on no adapter.
 */
import { AsyncLocalStorage } from "node:async_hooks"
import * as path from "node:path"
import { Cause, Effect, Exit, ManagedRuntime } from "effect"
import { adapterFor } from "./Adapters.js"
import * as Artifacts from "./Artifacts.js"
import { type Call, contextOf, requireContext, withCall } from "./Current.js"
import * as Metrics from "./Metrics.js"
import type * as Records from "./Records.js"
import { Run as RunRecord } from "./Records.js"
import type { RecordOf, RegistryName } from "./Records.js"
import type { Driver } from "./Driver.js"
import * as DriverRules from "./Driver.js"
import { StoreError, TrackNotCalled } from "./Errors.js"
import * as Features from "./Features.js"
import * as LineageGraph from "./LineageGraph.js"
import * as OpenLineageEmitter from "./OpenLineageEmitter.js"
import type { OrderKey } from "./Filter.js"
import type { CreateInput, DefaultsArgument, FeatureValues, Lookup, NoExtra, UpdateInput } from "./Inputs.js"
import type { Page, QuerySet } from "./QuerySet.js"
import type { QueryInput } from "./Query.js"
import * as Registry from "./Registry.js"
import * as StorageRoot from "./StorageRoot.js"
import * as Store from "./Store.js"
import * as Tracking from "./Tracking.js"
import type * as Transforms from "./Transforms.js"

export type { Adapter } from "./Adapters.js"

export const redactUrl = DriverRules.redactUrl

/**
 * The directory, in the working directory, of the store opened when no URL and no `LINEAGE_STORE` name one: it
 * holds the SQLite database `lineage.db` and, beside it, the artifact storage root `storage`.
 */
export const projectDirectory = ".lineage"

/**
 * The URL of the store opened when none is named: SQLite at `.lineage/lineage.db` in the working directory. It is
 * relative, so that no character of the working directory's path is read as URL syntax.
 */
export const defaultUrl = `sqlite:./${projectDirectory}/lineage.db`

/** The URL `connect(url)` opens, when not the default: `url`, else `LINEAGE_STORE`. */
const targetOf = (url: string | undefined) => url ?? process.env["LINEAGE_STORE"]

const sqliteMissing = (workingDirectory: string) =>
  `Lineage.connect() with no URL and no LINEAGE_STORE keeps runs in SQLite (${defaultUrl} in ${workingDirectory}), ` +
  `which needs @lineage/store-sqlite: npm install @lineage/store-sqlite (next to @lineage/core); or pick another ` +
  `store by URL or LINEAGE_STORE, installing its package: "postgres://…" (@lineage/store-postgres), "redis://…" ` +
  `(@lineage/store-redis), "mongodb://…" (@lineage/store-mongodb), or "memory:" (@lineage/store-memory) for runs ` +
  `kept only until the process exits`

/** The project directory, created 0700 on first use; someone else's (or reached through their symlink) is refused. */
const projectDirectoryReady = (directory: string) =>
  StorageRoot.ownDirectory(directory, "write", "open the directory of the default store").pipe(
    Effect.mapError((e) =>
      e.reason === "UnsafeRoot"
        ? StoreError.invalid(`${e.message}; name another store by URL or LINEAGE_STORE`)
        : StoreError.unavailable(e.message, e)
    )
  )

/** The default store: its adapter is found before anything is created, so a missing one leaves no trace. */
const defaultDriver = (): Effect.Effect<Driver, StoreError> =>
  Effect.gen(function* () {
    const directory = path.resolve(projectDirectory)
    const adapter = yield* adapterFor(defaultUrl, sqliteMissing(process.cwd()))
    yield* projectDirectoryReady(directory)
    return yield* adapter.fromUrl(defaultUrl)
  })

/**
 * The driver for a store URL, from the adapter serving its scheme; without one, `LINEAGE_STORE`, else SQLite in
 * the working directory (`defaultUrl`, its directory created 0700 on first use).
 */
export const driverFor = (url?: string): Effect.Effect<Driver, StoreError> => {
  const target = targetOf(url)
  return target === undefined ? defaultDriver() : Effect.flatMap(adapterFor(target), (adapter) => adapter.fromUrl(target))
}

export interface ConnectOptions {
  /**
   * The directory registered artifact bytes are kept in, and the only one they are read from. Default
   * `LINEAGE_STORAGE`, else for a SQLite database file the directory `storage` beside it (`.lineage/storage`
   * for the default store), else `Artifacts.defaultStorageRoot()`, `~/.local/share/lineage/storage`.
   */
  readonly storage?: string | undefined
  /**
   * Where this client sends OpenLineage events as its runs start and end, `step`/`flow` calls included (see
   * `OpenLineageEmitter`); `false` sends none. Default: `LINEAGE_OPENLINEAGE_URL`, if set. `close()` waits once,
   * a bounded time, for the events still queued, then stops sending.
   */
  readonly openLineage?: OpenLineageEmitter.Options | false | undefined
  /**
   * How this client writes the metrics it logs (see `Metrics`): `batchSize` (default 5,000 points),
   * `flushIntervalMs` (default 1,000) and `maxBufferedPoints` (default 1,000,000).
   */
  readonly metrics?: Metrics.Options | undefined
}

/**
 * The storage root of a client of `url`, as `ConnectOptions.storage` documents; undefined leaves the per-user
 * default (`Artifacts.defaultStorageRoot()`). Tools that read a store's artifacts use it to find their bytes.
 */
export const storageFor = (url: string | undefined, options: Pick<ConnectOptions, "storage"> = {}): string | undefined =>
  options.storage ?? (process.env["LINEAGE_STORAGE"] || StorageRoot.storageNextTo(targetOf(url) ?? defaultUrl))

/**
 * The SQLite database file a client of `url` opens (`url`, else `LINEAGE_STORE`, else `defaultUrl`), resolved;
 * undefined when that store is not a SQLite file. A tool that only reads uses it to refuse a file that does not
 * exist, which opening would create.
 */
export const sqliteFileFor = (url: string | undefined): string | undefined => StorageRoot.sqliteFile(targetOf(url) ?? defaultUrl)

/**
 * The `features` of a run or artifact the Promise face returns: its feature values, read and written. `add` and
 * `set` take any names while `LineageFeatures` declares none, else the declared ones (see `Inputs.FeatureValues`).
 */
export interface FeatureManager {
  readonly add: (values: FeatureValues) => Promise<void>
  readonly set: (values: FeatureValues) => Promise<void>
  readonly get: () => Promise<{ readonly [name: string]: unknown }>
  readonly remove: (names?: string | ReadonlyArray<string>) => Promise<void>
  readonly describe: () => Promise<string>
}
/** A run or artifact as the Promise face returns it: the record, plus its feature manager. */
export type WithFeatureManager<A> = A & { readonly features: FeatureManager }

/** The `metrics` of a run the Promise face returns: its series, logged and read (see `Metrics`). */
export interface RunMetrics {
  /**
   * Logs `values` (finite numbers, by key) to this run at one step, returning as soon as they are buffered: it
   * never waits for the store. Throws `ValidationError` for a bad key, value, step or timestamp (see `Metrics.logTo`).
   */
  readonly log: (values: Metrics.Values, options?: Metrics.LogOptions) => void
  /** This run's series (see `Metrics.history`). */
  readonly history: (options?: Omit<Metrics.HistoryOptions, "runs">) => Promise<ReadonlyArray<Metrics.Series>>
  /** This run's summary, by key (see `Metrics.summary`). */
  readonly summary: () => Promise<Metrics.Summary>
}

/** A run as the Promise face returns it: the record, its feature manager and its metrics. */
export type WithRunManagers<A> = WithFeatureManager<A> & { readonly metrics: RunMetrics }

type Decorate<A> = A extends Records.Run ? WithRunManagers<A> : A extends Records.Artifact ? WithFeatureManager<A> : A

/**
 * A query set of the Promise face, one rule as in the Effect face: builders (`filter`, `orderBy`, `limit`,
 * `offset`, `allBranches`) return a query set; terminals (`all`, `first`, `one`, `oneOrNone`, `count`, `exists`,
 * `page`, `delete`, `for await`) run it. `N` types the filters and keys as `QuerySet`'s does (`PromiseQuerySet<A>`
 * takes any).
 */
export interface PromiseQuerySet<A, N = any> extends AsyncIterable<Decorate<A>> {
  filter(...inputs: ReadonlyArray<QueryInput<N>>): PromiseQuerySet<A, N>
  orderBy(...keys: ReadonlyArray<OrderKey<N>>): PromiseQuerySet<A, N>
  limit(n: number): PromiseQuerySet<A, N>
  offset(n: number): PromiseQuerySet<A, N>
  /** Records on every branch, the trash included (see `QuerySet.allBranches`). */
  allBranches(): PromiseQuerySet<A, N>
  all(): Promise<ReadonlyArray<Decorate<A>>>
  first(): Promise<Decorate<A> | undefined>
  one(): Promise<Decorate<A>>
  oneOrNone(): Promise<Decorate<A> | undefined>
  count(): Promise<number>
  exists(): Promise<boolean>
  delete(options?: { readonly permanent?: boolean }): Promise<number>
  page(options: { readonly size: number; readonly after?: string | undefined }): Promise<Page<Decorate<A>>>
}

/**
 * A registry's operations as Promises, typed for registry `N` as the Effect face's `Registry<N>`: `filter`
 * builds a query set, `all()` runs (every record on the main branch).
 */
export interface PromiseRegistry<N extends RegistryName, A extends Registry.Base = RecordOf<N>> {
  create(input: CreateInput<N>): Promise<Decorate<A>>
  get(idlike: number | string | QueryInput<N>): Promise<Decorate<A>>
  getOrCreate<const L extends Lookup<N>>(lookup: L & NoExtra<L, Lookup<N>>, ...defaults: DefaultsArgument<N, L>): Promise<Decorate<A>>
  update(record: A, patch: UpdateInput<N>): Promise<Decorate<A>>
  delete(record: A, options?: { readonly permanent?: boolean }): Promise<void>
  restore(record: A): Promise<Decorate<A>>
  filter(...inputs: ReadonlyArray<QueryInput<N>>): PromiseQuerySet<A, N>
  all(): Promise<ReadonlyArray<Decorate<A>>>
}

type Runtime = ManagedRuntime.ManagedRuntime<Store.Store, StoreError>

/** Opens the store now, so a bad URL or an unreachable server fails at connect and not at the first query. */
const openStore = async (url: string | undefined): Promise<{ readonly runtime: Runtime; readonly store: Store.StoreShape }> => {
  const runtime = ManagedRuntime.make(Store.layer(driverFor(url)))
  const store = await runtime.runPromise(Store.Store.useSync((opened) => opened)).catch(async (e: unknown) => {
    await runtime.dispose()
    throw e
  })
  return { runtime, store }
}

/** What every call of one client's Promise face goes through. */
interface Session {
  /** Runs an effect of the Effect face with this store, the artifact storage, and the call chain's run. */
  readonly exec: <A, E>(effect: Effect.Effect<A, E, Store.Store>) => Promise<A>
  /** A run or artifact with its feature manager; any other record as it is. */
  readonly decorate: <A>(record: A) => Decorate<A>
  /** The current `step`/`flow` call (its run, and its flow's run and transform), following the async call chain. */
  readonly calls: AsyncLocalStorage<Call>
  /**
   * Logs metric points at once (see `Metrics.logNow`) to `run`, else to the current run (`TrackNotCalled` without
   * one), throwing what refuses them; refused once closed.
   */
  readonly log: (run: Records.Run | undefined, values: Metrics.Values, options?: Metrics.LogOptions) => void
  /** Ends a still tracked run `aborted`, then closes the store; every later call is refused. */
  readonly close: () => Promise<void>
}

/** One client's session over its runtime: the closed flag, the call chain's run, the artifact storage option. */
const session = (runtime: Runtime, store: Store.StoreShape, options: ConnectOptions): Session => {
  const calls = new AsyncLocalStorage<Call>()
  let closed = false
  const closedError = () => StoreError.closed("this client's close() was called; open another with Lineage.connect()")

  /** A call's outcome; a call still running when close() came was interrupted by it, and says so. */
  const settle = <A>(exit: Exit.Exit<A, unknown>): A => {
    if (Exit.isSuccess(exit)) return exit.value
    throw closed && Cause.hasInterruptsOnly(exit.cause) ? closedError() : Cause.squash(exit.cause)
  }

  const exec = <A, E>(effect: Effect.Effect<A, E, Store.Store>): Promise<A> => {
    if (closed) return Promise.reject(closedError())
    const call = calls.getStore()
    const scoped = call === undefined ? effect : withCall(call)(effect)
    return runtime.runPromiseExit(
      options.storage === undefined ? scoped : Effect.provideService(scoped, Artifacts.ArtifactStorage, options.storage)
    ).then(settle)
  }

  const close = async () => {
    // A store that cannot take the write leaves the run to stale(), as a killed process would.
    await exec(Tracking.abort()).catch(() => undefined)
    // From here every call is refused with StoreError Closed; a second close() finds nothing left to do.
    closed = true
    await runtime.dispose()
  }

  const log: Session["log"] = (run, values, o) => {
    if (closed) throw closedError()
    const refused = Metrics.logNow(store, run ?? currentRunOf(calls, store), values, o)
    if (refused !== undefined) throw refused
  }

  return { exec, decorate: managers(exec, log), calls, log, close }
}

/** The `metrics` of a run, logging through `log` and reading through `exec`. */
const runMetrics = (exec: Session["exec"], log: Session["log"], run: Records.Run): RunMetrics => ({
  log: (values, o) => log(run, values, o),
  history: (o = {}) => exec(Metrics.history({ ...o, runs: run })),
  summary: () => exec(Metrics.summary(run))
})

/**
 * Gives each run and artifact passed through it a `features` manager that keeps the record current, and each run
 * its `metrics`.
 */
const managers =
  (exec: Session["exec"], log: Session["log"]) =>
  <A>(record: A): Decorate<A> => {
    if (record instanceof RunRecord && !("metrics" in record))
      Object.defineProperty(record, "metrics", { value: runMetrics(exec, log, record), enumerable: false })
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

const querySet = <A extends Registry.Base, N>(s: Session, qs: QuerySet<A, N>): PromiseQuerySet<A, N> => {
  const { exec, decorate } = s
  const decorateFound = (row: A | undefined) => (row === undefined ? undefined : decorate(row))
  return {
    filter: (...inputs) => querySet(s, qs.filter(...inputs)),
    orderBy: (...keys) => querySet(s, qs.orderBy(...keys)),
    limit: (n) => querySet(s, qs.limit(n)),
    offset: (n) => querySet(s, qs.offset(n)),
    allBranches: () => querySet(s, qs.allBranches()),
    all: async () => (await exec(qs.all())).map(decorate),
    first: async () => decorateFound(await exec(qs.first())),
    one: async () => decorate(await exec(qs.one())),
    oneOrNone: async () => decorateFound(await exec(qs.oneOrNone())),
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
  }
}

/** A registry's operations as Promises, but `getOrCreate`, whose lookup differs between registries. */
const operations = <N extends RegistryName>(
  s: Session,
  r: Omit<Registry.Registry<N>, "getOrCreate">
): Omit<PromiseRegistry<N>, "getOrCreate"> => {
  const { exec, decorate } = s
  return {
    create: async (input) => decorate(await exec(r.create(input))),
    get: async (idlike) => decorate(await exec(r.get(idlike))),
    update: async (record, patch) => decorate(await exec(r.update(record, patch))),
    delete: (record, o) => exec(r.delete(record, o)),
    restore: async (record) => decorate(await exec(r.restore(record))),
    filter: (...inputs) => querySet(s, r.filter(...inputs)),
    all: async () => (await exec(r.all())).map(decorate)
  }
}

/** A registry's operations as Promises. */
const registry = <N extends RegistryName>(s: Session, r: Registry.Registry<N>): PromiseRegistry<N> => ({
  ...operations(s, r),
  getOrCreate: async <const L extends Lookup<N>>(lookup: L & NoExtra<L, Lookup<N>>, ...defaults: DefaultsArgument<N, L>) =>
    s.decorate(await s.exec(r.getOrCreate<L>(lookup, ...defaults)))
})

const runRegistry = (s: Session) => {
  const { exec, decorate } = s
  return {
    ...registry<"Run">(s, Registry.Run),
    /** Started runs whose heartbeat stopped: their process died without a word. */
    stale: (o?: { readonly olderThanMs?: number }) => querySet(s, Tracking.stale(o)),
    inputs: async (run: Records.Run) => (await exec(Artifacts.inputs(run))).map(decorate),
    outputs: async (run: Records.Run) => (await exec(Artifacts.outputs(run))).map(decorate),
    initiatedRuns: async (run: Records.Run) => (await exec(Artifacts.initiatedRuns(run))).map(decorate)
  }
}

const artifactRegistry = (s: Session) => {
  const { exec, decorate } = s
  return {
    ...registry<"Artifact">(s, Registry.Artifact),
    fromPath: async (path: string, o?: Artifacts.RegisterOptions) => decorate(await exec(Artifacts.fromPath(path, o))),
    fromBytes: async (bytes: Uint8Array | string, o?: Artifacts.BytesOptions) =>
      decorate(await exec(Artifacts.fromBytes(bytes, o))),
    load: (artifact: Records.Artifact, o?: Artifacts.LoadOptions) => exec(Artifacts.load(artifact, o)),
    cache: (artifact: Records.Artifact, o?: Artifacts.LoadOptions) => exec(Artifacts.cache(artifact, o)),
    producer: (artifact: Records.Artifact) => exec(Artifacts.producer(artifact))
  }
}

/**
 * `getOrCreate` with a transform's key and source is lamindb's `Transform(key=…, source_code=…)`: the version
 * recording that source, else the key's next version (see `Transforms.guard`).
 */
const transformRegistry = (s: Session) => ({
  ...operations<"Transform">(s, Registry.Transform),
  getOrCreate: <const L extends Lookup<"Transform"> & Transforms.Declaring>(
    lookup: L & NoExtra<L, Lookup<"Transform"> & Transforms.Declaring>,
    ...defaults: DefaultsArgument<"Transform", L, Transforms.Declaring>
  ) => s.exec(Registry.Transform.getOrCreate<L>(lookup, ...defaults))
})

/** `getOrCreate` finds a feature by its name (a `dtype` given in the lookup must be the feature's). */
const featureRegistry = (s: Session) => ({
  ...operations<"Feature">(s, Registry.Feature),
  getOrCreate: <const L extends Lookup<"Feature"> & { readonly name: string }>(
    lookup: L & NoExtra<L, Lookup<"Feature">>,
    ...defaults: DefaultsArgument<"Feature", L>
  ) => s.exec(Registry.Feature.getOrCreate<L>(lookup, ...defaults))
})

/** `step`/`flow`: wraps a function so that every call is a run, and the call chain inside it knows that run. */
const trackedCall = ({ exec, calls }: Session, kind: "step" | "flow") => {
  const wrap = <Args extends ReadonlyArray<unknown>, R>(fn: (...args: Args) => R | Promise<R>, given: Tracking.FunctionOptions = {}) => {
    // Named as it is wrapped, from the frame of the code calling `wrap` (see `Tracking.named`).
    const o = Tracking.named(kind, fn, given, wrap)
    return async (...args: Args): Promise<Awaited<R>> => {
      const call = await exec(Tracking.startCall(kind, fn, args, o))
      try {
        const result = await calls.run(call, async () => await fn(...args))
        await exec(Tracking.endCall(call.run, Exit.succeed(result)))
        return result
      } catch (error) {
        await exec(Tracking.endCall(call.run, Exit.fail(error)))
        throw error
      }
    }
  }
  return wrap
}

/**
 * lamindb's `ln.context`, read when asked: inside a `flow` call's async chain (and the steps it calls) the
 * flow's run and transform, else this client's global run and transform. With no run tracked, reading `run`
 * or `transform` throws `TrackNotCalled` saying to call `track()`; `isTracked` asks without throwing.
 */
const context = ({ decorate, calls }: Session, store: Store.StoreShape) => {
  const current = () => {
    const found = requireContext(store, calls.getStore()?.flow)
    if (found instanceof TrackNotCalled) throw found
    return found
  }
  return {
    /** Whether a run is tracked here: exactly when `run` and `transform` can be read. */
    get isTracked(): boolean {
      return !(requireContext(store, calls.getStore()?.flow) instanceof TrackNotCalled)
    },
    /** The tracked run; `TrackNotCalled` when there is none (see `isTracked`). */
    get run() {
      return decorate(current().run)
    },
    /** The tracked run's transform; `TrackNotCalled` when there is none (see `isTracked`). */
    get transform() {
      return current().transform
    }
  }
}

/** The current run (the innermost `step`/`flow` call's, else the tracked one), or `TrackNotCalled`. */
const currentRunOf = (calls: AsyncLocalStorage<Call>, store: Store.StoreShape): Records.Run => {
  const run = calls.getStore()?.run ?? contextOf(store).run
  if (run === undefined)
    throw new TrackNotCalled({
      detail: "ln.log logs to the current run: call track() first, or log to a run with run.metrics.log(…)."
    })
  return run
}

/** Connects to a store and returns the Promise face over it. */
export const connect = async (url?: string, options: ConnectOptions = {}) => {
  const storage = storageFor(url, options)
  const { runtime, store } = await openStore(url)
  const s = session(runtime, store, { ...options, storage })
  const configure = Effect.andThen(Metrics.configure(options.metrics), Effect.flatten(OpenLineageEmitter.configure(options.openLineage)))
  await s.exec(configure).catch(async (e: unknown) => {
    await runtime.dispose()
    throw e
  })
  return {
    Transform: transformRegistry(s),
    Run: runRegistry(s),
    Feature: featureRegistry(s),
    Artifact: artifactRegistry(s),
    Collection: registry<"Collection">(s, Registry.Collection),
    ULabel: registry<"ULabel">(s, Registry.ULabel),
    Project: registry<"Project">(s, Registry.Project),
    User: registry<"User">(s, Registry.User),
    /** lamindb's `ln.context`: the run and transform of the flow being called, else this client's global ones. */
    context: context(s, store),
    track: async (o?: Tracking.TrackOptions) => s.decorate(await s.exec(Tracking.track(o))),
    finish: async () => s.decorate(await s.exec(Tracking.finish())),
    step: trackedCall(s, "step"),
    flow: trackedCall(s, "flow"),
    lineage: async (record: Records.Artifact | Records.Run, o?: LineageGraph.LineageOptions) => {
      const graph = await s.exec(LineageGraph.lineage(record, o))
      return { ...graph, mermaid: LineageGraph.toMermaid(graph) }
    },
    /**
     * Logs metric points to the current run (`Metrics.log`): returns as soon as they are buffered, never waiting
     * for the store; throws `ValidationError` for a bad point, `TrackNotCalled` without a current run.
     */
    log: (values: Metrics.Values, o?: Metrics.LogOptions): void => s.log(undefined, values, o),
    /** Metrics across runs, and this client's buffer of them (see `Metrics`). */
    metrics: {
      history: (o: Metrics.HistoryOptions) => s.exec(Metrics.history(o)),
      summary: (run: Metrics.RunRef) => s.exec(Metrics.summary(run)),
      /** Waits for the points logged so far to be written (see `Metrics.flush`). */
      flush: (o?: { readonly timeoutMs?: number | undefined }) => s.exec(Metrics.flush(o)),
      /** Points this client dropped: its buffer was full, their run was gone, or it closed first. */
      dropped: (): number => Metrics.droppedIn(store)
    },
    /** Closes the store; a run this client still tracks is ended `aborted` first, not left `started`. */
    close: s.close
  }
}

export type Client = Awaited<ReturnType<typeof connect>>
