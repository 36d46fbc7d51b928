/**
 * Which run is current. Inside `step`/`flow` calls the current run follows the call chain (a
 * `Context.Reference` in Effect code; the Promise face carries it through AsyncLocalStorage); otherwise it is
 * the global run that `track()` set, like lamindb's `ln.context.run`. Inside a `flow` call, `context` is the
 * flow's run and transform, as lamindb's `@ln.flow()` sets `ln.context.run` for the call: scoped to the call
 * chain, so concurrent flows never see each other's.
 *
 * The global run belongs to a `Store` instance: one per `Lineage.connect` client, one per built store layer.
 * Two clients in one process, or two Effect programs on their own layers, never see or end each other's run.
 */
import { Context, Effect, Option } from "effect"
import { TrackNotCalled } from "./Errors.js"
import type { Run, Transform } from "./Records.js"
import { Store, type StoreShape } from "./Store.js"

/** The run of the innermost `step`/`flow` call, if any. */
export const CurrentRun = Context.Reference<Run | undefined>("@lineage/CurrentRun", { defaultValue: () => undefined })

/** A run and its transform: what `ln.context` holds. */
export interface RunContext {
  readonly run: Run | undefined
  readonly transform: Transform | undefined
}

/** The run and transform of a `flow` call. */
export interface FlowContext {
  readonly run: Run
  readonly transform: Transform
}

/** The run and transform of the innermost `flow` call, if any: `context` inside it. */
export const CurrentFlow = Context.Reference<FlowContext | undefined>("@lineage/CurrentFlow", { defaultValue: () => undefined })

/**
 * Where a call chain is inside `step`/`flow` calls: the innermost call's run, and the innermost flow's run and
 * transform (a step keeps the flow it was called from).
 */
export interface Call {
  readonly run: Run
  readonly flow: FlowContext | undefined
}

/**
 * What `track()` holds for one store: `Starting` from the moment a `track()` claims the store (before it
 * writes anything, so a second one is refused), then the tracked run until `finish()`.
 */
export type Tracked =
  | { readonly _tag: "Starting" }
  | { readonly _tag: "Tracking"; readonly run: Run; readonly transform: Transform; readonly stop: () => void }

/** The tracking state of one store; only `Tracking` changes it (`track`, `finish`, `abort`, a layer's release). */
export interface Slot {
  state: Tracked | undefined
}

const slots = new WeakMap<StoreShape, Slot>()

export const slotOf = (store: StoreShape): Slot => {
  let slot = slots.get(store)
  if (slot === undefined) {
    slot = { state: undefined }
    slots.set(store, slot)
  }
  return slot
}

/** The global context of one store: the run and transform `track()` started, until `finish()`. */
export const contextOf = (store: StoreShape): RunContext => {
  const state = slots.get(store)?.state
  return state?._tag === "Tracking" ? { run: state.run, transform: state.transform } : { run: undefined, transform: undefined }
}

/** `contextOf` the store in context; without one, nothing is tracked. */
export const globalContext: Effect.Effect<RunContext> = Effect.map(Effect.serviceOption(Store), (store) =>
  Option.isSome(store) ? contextOf(store.value) : { run: undefined, transform: undefined }
)

/**
 * lamindb's `ln.context`: inside a `flow` call (and the steps it calls) the flow's run and transform, else
 * `globalContext`. Without a run both are undefined: this is how to ask whether a run is tracked; `tracked`
 * fails instead.
 */
export const context: Effect.Effect<RunContext> = Effect.flatMap(CurrentFlow, (flow) =>
  flow === undefined ? globalContext : Effect.succeed(flow)
)

/** Why there is no context to read: `store` is still starting a run, or tracks none. */
const untracked = (store: StoreShape | undefined): TrackNotCalled =>
  new TrackNotCalled({
    detail:
      store !== undefined && slots.get(store)?.state?._tag === "Starting"
        ? "No run is tracked yet: track() is still starting one; await it before reading the context."
        : "No run is tracked: call track() first (await ln.track() in the Promise face), or read the context inside a flow() call. " +
          "To ask without an error: ln.context.isTracked, or Current.context in Effect code (its run is undefined)."
  })

/** The run and transform `context` holds (`flow`'s, else the global ones of `store`), or why it holds none. */
export const requireContext = (store: StoreShape, flow: FlowContext | undefined): FlowContext | TrackNotCalled => {
  const { run, transform } = flow ?? contextOf(store)
  return run === undefined || transform === undefined ? untracked(store) : { run, transform }
}

/** `context`'s run and transform, or `TrackNotCalled` when no run is tracked (see `context` to ask without failing). */
export const tracked: Effect.Effect<FlowContext, TrackNotCalled> = Effect.gen(function* () {
  const flow = yield* CurrentFlow
  const store = yield* Effect.serviceOption(Store)
  if (Option.isSome(store)) {
    const found = requireContext(store.value, flow)
    return found instanceof TrackNotCalled ? yield* found : found
  }
  return flow ?? (yield* untracked(undefined))
})

/** The run new artifacts are outputs of and loaded artifacts are inputs to: the innermost, else the global one. */
export const currentRun: Effect.Effect<Run | undefined> = Effect.gen(function* () {
  const call = yield* CurrentRun
  return call ?? (yield* globalContext).run
})

/** Runs `effect` with `run` as the current run of its call chain. */
export const withRun =
  (run: Run) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(effect, CurrentRun, run)

/** Runs `effect` inside `call`: its run is the current run, its flow (if any) the `context`. */
export const withCall =
  (call: Call) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(withRun(call.run)(effect), CurrentFlow, call.flow)
