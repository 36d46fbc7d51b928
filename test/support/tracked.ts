/**
 * The tracked process (test/fixtures/tracked-process.ts) run from source: on the store its environment names, it
 * tracks a run (with `clients` 2, one run on each of two clients), prints the uids, then waits to be killed or
 * throws, as `mode` says; and any script run from source until it prints what a test waits for.
 */
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { type Env, spawnSource } from "./scripts.js"

export const trackedScript = fileURLToPath(new URL("../fixtures/tracked-process.ts", import.meta.url))

export interface Tracked {
  readonly child: ChildProcess
  /** The run's uid; with two clients `<uid> <uid> env <LINEAGE_INITIATED_BY_RUN of the process>`, as printed. */
  readonly uid: string
  /** What the process wrote on standard error so far. */
  readonly stderr: () => string
}

/**
 * Starts `script` from source with `env` added to this one's, and resolves once its standard output matched
 * `printed`, the first group of the match returned as `uid`.
 */
export const startUntilPrinted = async (script: string, env: Env, printed: RegExp): Promise<Tracked> => {
  const child = spawnSource(script, env)
  let out = ""
  let err = ""
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()))
  const uid = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const match = printed.exec(out)
      if (match !== null) resolve(match[1]!)
    })
    child.once("exit", (code) => reject(new Error(`${script} exited (${code}) before printing ${printed}: ${err}`)))
  })
  return { child, uid, stderr: () => err }
}

/** Starts the tracked process with `env` added to this one's, and resolves once it printed its run's uid. */
export const startTracked = (mode: "wait" | "throw", env: Env, clients: 1 | 2 = 1): Promise<Tracked> =>
  startUntilPrinted(
    trackedScript,
    { ...env, MODE: mode, CLIENTS: String(clients) },
    /runs? ([0-9A-Za-z]{16}(?: [0-9A-Za-z]{16} env \S+)?)\r?\n/
  )
