/**
 * Packing as a release does, and installing with no registry: `packAll` packs every published package with
 * `pnpm pack` (which turns `workspace:` ranges into version ranges), `vendor` archives the third-party packages
 * an application needs beside them from this workspace's `node_modules`, and `installTarballs` installs them
 * into a fresh npm project with `npm install --offline` and a cache of its own: nothing comes from a network.
 *
 * npm resolves a range (`denque@^2.1.0`) only from a registry's metadata, which offline means its cache; so the
 * project lists every package of the closure as a direct `file:` dependency, and npm, finding each range met
 * by the package at the top of the tree, never looks one up.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { root } from "../support/build.js"

export interface Manifest {
  readonly name: string
  readonly version: string
  readonly exports?: unknown
  readonly main?: string
  readonly dependencies?: Readonly<Record<string, string>>
  readonly peerDependencies?: Readonly<Record<string, string>>
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>
  readonly optionalDependencies?: Readonly<Record<string, string>>
  readonly [field: string]: unknown
}

export interface Packed {
  readonly name: string
  readonly version: string
  /** The tarball's absolute path. */
  readonly filename: string
  /** Paths inside the package (`dist/index.js`, `LICENSE`, …). */
  readonly files: ReadonlyArray<string>
}

/** Runs a command to its end; rejects with its output when it fails. */
export const run = (command: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = {}) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${command} ${args.join(" ")} (in ${cwd}) exited ${code}:\n${stderr}\n${stdout}`))
    )
  })

/** Every package under `packages/`, packed into `dest` as `pnpm publish` would pack it. */
export const packAll = async (dest: string): Promise<ReadonlyArray<Packed>> => {
  const out = await run("pnpm", ["--recursive", "--filter", "./packages/**", "pack", "--json", "--pack-destination", dest], root)
  const packed = JSON.parse(out) as ReadonlyArray<{ name: string; version: string; filename: string; files: ReadonlyArray<{ path: string }> }>
  return packed.map((p) => ({ name: p.name, version: p.version, filename: p.filename, files: p.files.map((f) => f.path) }))
}

/** The package.json inside a tarball. */
export const manifestIn = async (tarball: string): Promise<Manifest> =>
  JSON.parse(await run("tar", ["-xzOf", tarball, "package/package.json"], dirname(tarball))) as Manifest

const manifestAt = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest

/** Where `name` resolves from `from` (a package folder), by Node's walk up the `node_modules` folders. */
const locate = (from: string, name: string): string | undefined => {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name)
    if (basename(dir) !== "node_modules" && existsSync(join(candidate, "package.json"))) return realpathSync(candidate)
    if (dirname(dir) === dir) return undefined
  }
}

/** The packages a package needs installed beside it: its dependencies and required peers. */
export const needs = (m: Manifest): ReadonlyArray<{ readonly name: string; readonly optional: boolean }> => [
  ...Object.keys(m.dependencies ?? {}).map((name) => ({ name, optional: false })),
  ...Object.keys(m.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
  ...Object.keys(m.peerDependencies ?? {})
    .filter((name) => m.peerDependenciesMeta?.[name]?.optional !== true)
    .map((name) => ({ name, optional: false }))
]

/**
 * Archives into `dest` each package `wanted` names (found from the workspace folder given with it) and everything
 * those need, transitively, as installed in this workspace. Returns package name → tarball.
 */
export const vendor = async (wanted: ReadonlyArray<{ readonly name: string; readonly from: string }>, dest: string): Promise<ReadonlyMap<string, string>> => {
  const folders = new Map<string, string>()
  const visit = (name: string, from: string, optional: boolean) => {
    const folder = locate(from, name)
    if (folder === undefined) {
      if (optional) return
      throw new Error(`${name}, needed from ${from}, is not installed in this workspace`)
    }
    const seen = folders.get(name)
    if (seen === folder) return
    if (seen !== undefined) throw new Error(`two versions of ${name} are needed (${seen}, ${folder}): one app cannot list both`)
    folders.set(name, folder)
    for (const need of needs(manifestAt(folder))) if (!need.name.startsWith("@lineage/")) visit(need.name, folder, need.optional)
  }
  for (const w of wanted) visit(w.name, w.from, false)
  mkdirSync(dest, { recursive: true })
  return new Map(
    await Promise.all(
      [...folders].map(async ([name, folder]) => {
        // An installed package's folder holds what its published tarball held, under `package/` there.
        // (`npm pack <folder>` would do, but refuses packages whose devEngines name another package manager.)
        const tarball = join(dest, `${name.replace("@", "").replace("/", "-")}-${manifestAt(folder).version}.tar`)
        await run("tar", ["-cf", tarball, "--transform", "s,^\\.,package,S", "-C", folder, "."], dest)
        return [name, tarball] as const
      })
    )
  )
}

/** Writes a fresh npm project in `dir` depending on the tarballs given, and installs them offline, with an empty npm cache of its own. */
export const installTarballs = async (dir: string, tarballs: ReadonlyMap<string, string>): Promise<void> => {
  mkdirSync(dir, { recursive: true })
  const dependencies = Object.fromEntries([...tarballs].map(([name, tarball]) => [name, `file:${tarball}`]))
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: basename(dir), private: true, dependencies }, null, 2))
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", "--cache", join(dir, ".npm-cache")], dir)
}

/** Writes an application of the module type given: its package.json and files. */
export const writeApp = (dir: string, type: "module" | "commonjs", files: Readonly<Record<string, string>>): void => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: basename(dir), private: true, type }, null, 2))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
}
