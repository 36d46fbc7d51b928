/**
 * Store adapters: which installed package serves a store URL. An adapter is a package that exports `fromUrl`
 * and declares the URL schemes it serves in its package.json, `"lineage": { "schemes": ["redis:", "rediss:"] }`
 * (and exports `./package.json`). The adapters core can use are its optional peer dependencies: of those
 * installed, only manifests are read, and only the one serving the URL's scheme is imported.
 *
 * Everything is resolved from core's own location, never from the working directory, whose `node_modules` may
 * be anyone's. Being core's peers, installed adapters are placed where core resolves them by every package
 * manager (pnpm's strict layout included).
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { type Driver, urlWithoutQuery } from "./Driver.js"
import { StoreError } from "./Errors.js"

/** What an adapter package exports for `connect`: a driver from a URL of its scheme. */
export interface Adapter {
  readonly fromUrl: (url: string) => Effect.Effect<Driver, StoreError>
}

/** An installed adapter package and the URL schemes (`"redis:"`) its manifest declares. */
interface Installed {
  readonly pkg: string
  readonly schemes: ReadonlyArray<string>
}

/** A package's manifest, resolved from core's location; undefined when it is not installed or unreadable. */
const manifestOf = (pkg: string): { readonly [field: string]: unknown } | undefined => {
  try {
    return JSON.parse(readFileSync(fileURLToPath(import.meta.resolve(`${pkg}/package.json`)), "utf8"))
  } catch {
    return undefined
  }
}

/** The adapters core knows by name: its optional peer dependencies. */
const knownAdapters = (): ReadonlyArray<string> => {
  const meta = manifestOf("@lineage/core")?.["peerDependenciesMeta"]
  return meta !== null && typeof meta === "object" ? Object.keys(meta) : []
}

const schemesOf = (manifest: { readonly [field: string]: unknown }): ReadonlyArray<string> => {
  const declared: unknown = (manifest["lineage"] as { readonly schemes?: unknown } | undefined)?.schemes
  return Array.isArray(declared) ? declared.filter((s): s is string => typeof s === "string") : []
}

/** The known adapters installed next to core, with the schemes each serves. */
const installed = (): ReadonlyArray<Installed> =>
  knownAdapters().flatMap((pkg) => {
    const manifest = manifestOf(pkg)
    const schemes = manifest === undefined ? [] : schemesOf(manifest)
    return schemes.length === 0 ? [] : [{ pkg, schemes }]
  })

const schemeOf = (url: string): string | undefined => /^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1]?.toLowerCase()

/** For a URL no installed adapter serves: what is installed, and which adapters could be. */
const noAdapter = (url: string, scheme: string | undefined, found: ReadonlyArray<Installed>): StoreError => {
  const shown = `"${urlWithoutQuery(url)}"`
  const served = found.map((a) => `${a.pkg} (${a.schemes.join(" ")})`).join(", ") || "none"
  const missing = knownAdapters().filter((pkg) => !found.some((a) => a.pkg === pkg))
  const advice = missing.length === 0 ? "" : `; not installed: ${missing.join(", ")}: npm install the one for your store next to @lineage/core`
  return StoreError.unsupported(
    `no installed store serves ${scheme === undefined ? `the URL ${shown}` : `${scheme} URLs (${shown})`}; installed: ${served}${advice}`
  )
}

const load = (adapter: Installed): Effect.Effect<Adapter, StoreError> =>
  Effect.tryPromise({
    try: async () => {
      const exports: Partial<Adapter> = await import(adapter.pkg)
      if (typeof exports.fromUrl !== "function") throw new Error("it exports no fromUrl")
      return exports as Adapter
    },
    catch: (e) =>
      StoreError.unsupported(
        `the store for ${adapter.schemes.join(" ")} URLs is ${adapter.pkg}, which could not be loaded (${String(e)}): ` +
          "install it with its peer dependencies next to @lineage/core"
      )
  })

/** The installed adapter serving the URL's scheme, imported (and no other). */
export const adapterFor = (url: string): Effect.Effect<Adapter, StoreError> =>
  Effect.suspend(() => {
    const scheme = schemeOf(url)
    const found = installed()
    const serving = scheme === undefined ? undefined : found.find((a) => a.schemes.includes(scheme))
    return serving === undefined ? Effect.fail(noAdapter(url, scheme, found)) : load(serving)
  })
