/**
 * The viewer served in this process, from source, over a store URL and its storage root: the store stays
 * open until `close`, which closes the server first.
 */
import { Artifacts, Lineage, Store } from "@lineage/core"
import { Effect, Exit, ManagedRuntime, Scope } from "effect"
import * as Viewer from "../../src/Viewer.js"

export interface Running extends Viewer.Serving {
  /** Closes the viewer's scope (the server and every request it is answering), leaving the store open. */
  readonly stop: () => Promise<void>
  /** Closes the server, then the store. */
  readonly close: () => Promise<void>
}

/** The viewer's exit: its address, or why it did not start. */
export const tryServe = async (
  store: { readonly url: string; readonly storage: string },
  options: Viewer.ServeOptions = {}
): Promise<Exit.Exit<Running, Viewer.ViewerError | unknown>> => {
  const runtime = ManagedRuntime.make(Store.layer(Lineage.driverFor(store.url)))
  const scope = await Effect.runPromise(Scope.make())
  const stop = () => Effect.runPromise(Scope.close(scope, Exit.void))
  const close = async () => {
    await stop()
    await runtime.dispose()
  }
  const exit = await runtime.runPromiseExit(
    Viewer.serve(options).pipe(Scope.provide(scope), Effect.provideService(Artifacts.ArtifactStorage, store.storage))
  )
  if (Exit.isFailure(exit)) await close()
  return Exit.map(exit, (serving) => ({ ...serving, stop, close }))
}

export const serve = async (store: { readonly url: string; readonly storage: string }, options: Viewer.ServeOptions = {}): Promise<Running> => {
  const exit = await tryServe(store, options)
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(`the viewer did not start: ${String(exit.cause)}`)
}
