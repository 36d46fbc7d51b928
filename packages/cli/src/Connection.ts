/**
 * The store every command reads, chosen exactly as `Lineage.connect` chooses it: `--store URL`, else
 * `LINEAGE_STORE`, else SQLite at `.lineage/lineage.db` in the working directory; and the artifact storage
 * root that goes with it, so an environment artifact is read from where its run wrote it.
 *
 * Every command only reads, so it never creates a store: a SQLite file that does not exist (the default one
 * included) is refused before anything is opened, where opening would create it and its directory.
 */
import { existsSync } from "node:fs"
import { Artifacts, Lineage, Store, StoreError } from "@lineage/core"
import { Effect, Layer } from "effect"

/** The storage root `Lineage.connect` gives a client of `url`, so the command line reads bytes where the client wrote them. */
export const storageFor = (url: string | undefined): string => Lineage.storageFor(url) ?? Artifacts.defaultStorageRoot()

/** Fails when the store of `url` is a SQLite file that does not exist; succeeds for any other store. */
export const existing = (url: string | undefined): Effect.Effect<void, StoreError> =>
  Effect.suspend(() => {
    const file = Lineage.sqliteFileFor(url)
    if (file === undefined || existsSync(file)) return Effect.void
    return Effect.fail(StoreError.unavailable(`no store at ${file}: run a tracked script first, or pass --store / set LINEAGE_STORE`))
  })

/** The store of `url` (see the module doc), opened when the layer is built and closed when it is released. */
export const layer = (url: string | undefined): Layer.Layer<Store.Store, StoreError> =>
  Store.layer(Effect.andThen(existing(url), Lineage.driverFor(url)))

/** Runs `effect` on the store of `url`, with the artifact storage that goes with it. */
export const provide =
  (url: string | undefined) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StoreError, Exclude<R, Store.Store>> =>
    effect.pipe(Effect.provideService(Artifacts.ArtifactStorage, storageFor(url)), Effect.provide(layer(url)))
