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

/**
 * An installed adapter package, the URL schemes (`"redis:"`) its manifest declares, and the peer dependencies it
 * needs beside those of core (`ioredis`), for the advice when it cannot be loaded.
 */
interface Installed {
  readonly pkg: string
  readonly schemes: ReadonlyArray<string>
  readonly peers: ReadonlyArray<string>
}

type Manifest = { readonly [field: string]: unknown }

/** A package's manifest, resolved from core's location; undefined when it is not installed or unreadable. */
const manifestOf = (pkg: string): Manifest | undefined => {
  try {
    return JSON.parse(readFileSync(fileURLToPath(import.meta.resolve(`${pkg}/package.json`)), "utf8"))
  } catch {
    return undefined
  }
}

/** The names in a manifest field that maps package names to something (`peerDependencies`). */
const namesIn = (manifest: Manifest | undefined, field: string): ReadonlyArray<string> => {
  const value = manifest?.[field]
  return value !== null && typeof value === "object" ? Object.keys(value) : []
}

/** The adapters core knows by name: its optional peer dependencies. */
const knownAdapters = (): ReadonlyArray<string> => namesIn(manifestOf("@lineage/core"), "peerDependenciesMeta")

/** A URL's scheme, lower case with its colon (`"redis:"`), as adapters declare theirs. */
const schemeOf = (url: string): string | undefined => /^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1]?.toLowerCase()

/** The schemes a manifest declares, in lower case; anything else found there (not a list, not a scheme) serves no URL. */
const schemesOf = (manifest: Manifest): ReadonlyArray<string> => {
  const declared: unknown = (manifest["lineage"] as { readonly schemes?: unknown } | undefined)?.schemes
  if (!Array.isArray(declared)) return []
  return declared.flatMap((s: unknown) => (typeof s === "string" && schemeOf(s)?.length === s.length ? [s.toLowerCase()] : []))
}

/** The known adapters installed next to core, with the schemes each serves. */
const installed = (): ReadonlyArray<Installed> => {
  const coreNeeds = new Set(["@lineage/core", ...namesIn(manifestOf("@lineage/core"), "peerDependencies")])
  return knownAdapters().flatMap((pkg) => {
    const manifest = manifestOf(pkg)
    const schemes = manifest === undefined ? [] : schemesOf(manifest)
    const peers = namesIn(manifest, "peerDependencies").filter((peer) => !coreNeeds.has(peer))
    return schemes.length === 0 ? [] : [{ pkg, schemes, peers }]
  })
}

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
          `install it next to @lineage/core: npm install ${[adapter.pkg, ...adapter.peers].join(" ")}`
      )
  })

/**
 * The installed adapter serving the URL's scheme, imported (and no other). When none serves it, the error says
 * `ifMissing` if given, else what is installed and which adapters could be.
 */
export const adapterFor = (url: string, ifMissing?: string): Effect.Effect<Adapter, StoreError> =>
  Effect.suspend(() => {
    const scheme = schemeOf(url)
    const found = installed()
    const serving = scheme === undefined ? undefined : found.find((a) => a.schemes.includes(scheme))
    if (serving !== undefined) return load(serving)
    return Effect.fail(ifMissing === undefined ? noAdapter(url, scheme, found) : StoreError.unsupported(ifMissing))
  })
