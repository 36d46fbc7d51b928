/**
 * What a run ran on, recorded as its environment artifact (lamindb's `run.environment`): Node version,
 * platform, the dependencies of the package the entry script belongs to (declared and installed versions),
 * and the git commit when the script lives in a repository. A declared dependency can be a URL with a token
 * (`git+https://user:token@host/repo.git`): declared versions are redacted like any text.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import * as Redaction from "./Redaction.js"

export interface Environment {
  readonly node: string
  readonly platform: string
  readonly arch: string
  readonly package: { readonly name: string | null; readonly version: string | null } | null
  /** Declared range and installed version of each dependency. */
  readonly dependencies: { readonly [name: string]: { readonly declared: string; readonly installed: string | null } }
  readonly git: { readonly commit: string; readonly dirty: boolean } | null
}

const readJson = (path: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>
  } catch {
    return undefined
  }
}

const nearestPackage = (from: string): string | undefined => {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir
    if (dirname(dir) === dir) return undefined
  }
}

const git = (cwd: string): Environment["git"] => {
  try {
    const run = (args: ReadonlyArray<string>) =>
      execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 2_000 }).trim()
    // One process instead of two: porcelain v2 with --branch names the commit in a header line.
    const lines = run(["status", "--porcelain=v2", "--branch", "--untracked-files=no"]).split("\n")
    const commit = lines.find((l) => l.startsWith("# branch.oid "))?.slice("# branch.oid ".length)
    // No commit yet (`(initial)`): `rev-parse HEAD` would fail, so there is no git record.
    if (commit === undefined || !/^[0-9a-f]{40,64}$/.test(commit)) return null
    return { commit, dirty: lines.some((l) => l !== "" && !l.startsWith("#")) }
  } catch {
    return null
  }
}

const captured = new Map<string, Environment>()

/**
 * The environment of a script at `entry` (a file or directory; the current directory when unknown). It is
 * read once per process and directory: asking git and reading manifests costs tens of milliseconds, and
 * what a process runs on does not change while it runs.
 */
export const capture = (entry: string | undefined): Environment => {
  const from = entry === undefined ? process.cwd() : existsSync(entry) ? dirname(resolve(entry)) : process.cwd()
  const known = captured.get(from)
  if (known !== undefined) return known
  const environment = read(from)
  captured.set(from, environment)
  return environment
}

const read = (from: string): Environment => {
  const root = nearestPackage(from)
  const manifest = root === undefined ? undefined : readJson(join(root, "package.json"))
  const declared = {
    ...(manifest?.["devDependencies"] as Record<string, string> | undefined),
    ...(manifest?.["dependencies"] as Record<string, string> | undefined)
  }
  const dependencies = Object.fromEntries(
    Object.keys(declared)
      .sort()
      .map((name) => {
        const installed = root === undefined ? undefined : readJson(join(root, "node_modules", name, "package.json"))
        return [name, { declared: Redaction.text(String(declared[name])), installed: typeof installed?.["version"] === "string" ? installed["version"] : null }]
      })
  )
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    package:
      manifest === undefined
        ? null
        : {
            name: typeof manifest["name"] === "string" ? manifest["name"] : null,
            version: typeof manifest["version"] === "string" ? manifest["version"] : null
          },
    dependencies,
    git: git(from)
  }
}
