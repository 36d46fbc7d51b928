/**
 * Child processes running a TypeScript script of the tests, two ways.
 *
 * From source (`spawnSource`): `node --import tsx --conditions=@lineage/source <script>`, as a user's script runs
 * under tsx; every `@lineage` package is loaded from its TypeScript source.
 *
 * Compiled (`compiledScripts`, then `spawnCompiled`): each script is compiled once per test file into one ES
 * module (its relative imports bundled in, every package import left to Node) under `node_modules/.cache`, and run
 * by plain `node`, so its `@lineage` packages are their builds, rebuilt first when stale (`buildIfStale`). Such a
 * process starts on about a third of the CPU time (0.5 s against 1.4 s to track a run here): tsx's hooks handle
 * every module the process loads, effect's hundreds included. For the tests that start processes by the dozen.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"
import { buildIfStale, type PackageFolder, root } from "./build.js"

export type Env = { readonly [name: string]: string }

/** A script compiled by `compiledScripts`: `path` is the ES module `node` runs. */
export interface Compiled {
  readonly script: string
  readonly path: string
}

/** Every package a script reaches through `Lineage.connect`: core's store adapters and what they import. */
export const storePackages: ReadonlyArray<PackageFolder> = ["sql", "store-memory", "store-sqlite", "store-postgres", "store-redis", "store-mongodb"]

const options = (env: Env, stdin: "pipe" | "ignore") => ({
  cwd: root,
  env: { ...process.env, ...env },
  stdio: [stdin, "pipe", "pipe"] as ["pipe" | "ignore", "pipe", "pipe"]
})

/** Runs `script` from source under tsx, with this process's environment and `env`; standard output and error piped. */
export const spawnSource = (script: string, env: Env, stdin: "pipe" | "ignore" = "ignore"): ChildProcess =>
  spawn(process.execPath, ["--import", "tsx", "--conditions=@lineage/source", script], options(env, stdin))

/** Runs a compiled script with this process's environment and `env`; standard output and error piped. */
export const spawnCompiled = (compiled: Compiled, env: Env, stdin: "pipe" | "ignore" = "ignore"): ChildProcess =>
  spawn(process.execPath, [compiled.path], options(env, stdin))

type Scripts = { readonly [name: string]: string }

/** Builds the stale ones of `packages` (core always), then compiles each of `scripts` into `dir` as `<name>.mjs`. */
const compile = async (scripts: Scripts, packages: ReadonlyArray<PackageFolder>, dir: string): Promise<void> => {
  buildIfStale(packages)
  const { build } = await import("tsup")
  await build({
    entry: { ...scripts },
    outDir: dir,
    format: ["esm"],
    outExtension: () => ({ js: ".mjs" }),
    platform: "node",
    target: "node20",
    bundle: true,
    // Bare specifiers (packages, `node:` modules) are Node's to resolve: only the script's own files are bundled.
    external: [/^[^./]/],
    splitting: false,
    sourcemap: "inline",
    dts: false,
    clean: false,
    config: false,
    silent: true
  })
}

/**
 * For the calling test file: a `beforeAll` that builds what the scripts import (a build can take a minute) and
 * compiles each of `scripts` (by name), and an `afterAll` that removes the compiled files. The object returned
 * holds the compiled scripts, by the same names, from the `beforeAll` on. Call it at the top of a test file.
 */
export const compiledScripts = <K extends string>(
  scripts: { readonly [name in K]: string },
  packages: ReadonlyArray<PackageFolder> = storePackages
): { readonly [name in K]: Compiled } => {
  const compiled = {} as { [name in K]: Compiled }
  // Inside the repository, so that a compiled script's package imports resolve from its `node_modules`.
  const cache = join(root, "node_modules/.cache")
  let dir: string | undefined
  beforeAll(async () => {
    mkdirSync(cache, { recursive: true })
    dir = mkdtempSync(join(cache, "lineage-scripts-"))
    await compile(scripts, packages, dir)
    for (const name of Object.keys(scripts) as Array<K>) compiled[name] = { script: scripts[name], path: join(dir, `${name}.mjs`) }
  }, 600_000)
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })
  return compiled
}
