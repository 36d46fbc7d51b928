/**
 * The built `lineage` command run as a child process, as a user runs it: with this process's environment less
 * what would choose a store, a storage root or colour, unless a test sets them.
 */
import { execFile } from "node:child_process"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { root } from "../../../../test/support/build.js"

export const bin = join(root, "packages/cli/bin/lineage.js")

export interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** The environment of every child: this one's without what would choose a store, a storage root or colour. */
export const baseEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  for (const name of ["LINEAGE_STORE", "LINEAGE_STORAGE", "NO_COLOR", "FORCE_COLOR", "LINEAGE_UI_TOKEN"]) delete env[name]
  return env
}

/** Runs the built bin (asynchronously: the MongoDB emulator answers from this process). */
export const lineage = (args: ReadonlyArray<string>, options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {}): Promise<Result> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: options.cwd ?? tmpdir(), env: { ...baseEnv(), ...options.env }, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
    )
  })

/** Runs the bin and parses its standard output as JSON, failing with its standard error when it did not succeed. */
export const lineageJson = async <A>(args: ReadonlyArray<string>, options: Parameters<typeof lineage>[1] = {}): Promise<A> => {
  const result = await lineage([...args, "--json"], options)
  if (result.code !== 0) throw new Error(`lineage ${args.join(" ")} exited ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout) as A
}
