/**
 * Which run is current. Inside `step`/`flow` calls the current run follows the call chain (a
 * `Context.Reference` in Effect code; the Promise face carries it through AsyncLocalStorage); otherwise it is
 * the global run that `track()` set, like lamindb's `ln.context.run`.
 */
import { Context, Effect } from "effect"
import type { Run, Transform } from "./Domain.js"

/** The run of the innermost `step`/`flow` call, if any. */
export const CurrentRun = Context.Reference<Run | undefined>("@lineage/CurrentRun", { defaultValue: () => undefined })

/** lamindb's `ln.context`: the run and transform `track()` started, until `finish()`. */
export const context: { run: Run | undefined; transform: Transform | undefined } = {
  run: undefined,
  transform: undefined
}

/** The run new artifacts are outputs of and loaded artifacts are inputs to: the innermost, else the global one. */
export const currentRun: Effect.Effect<Run | undefined> = CurrentRun.useSync((run) => run ?? context.run)

/** Runs `effect` with `run` as the current run of its call chain. */
export const withRun =
  (run: Run) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(effect, CurrentRun, run)
