/**
 * Worker processes for the multi-process tests: compiled scripts (see test/support/scripts.ts), each run on the
 * packages' builds. A worker prints `ready` once connected, waits for `go` on stdin (./go.ts; so every worker
 * starts its writes together), and ends by printing one JSON line: its result.
 */
import type { ChildProcess } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { type Compiled, type Env, spawnCompiled } from "../../support/scripts.js"

export const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url))

export interface Worker<R> {
  readonly child: ChildProcess
  readonly ready: Promise<void>
  readonly result: Promise<R>
  readonly go: () => void
}

export const startWorker = <R>(script: Compiled, env: Env): Worker<R> => {
  const child = spawnCompiled(script, env, "pipe")
  const lines = createInterface({ input: child.stdout! })
  let stderr = ""
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  let last = ""
  // On "close", not "exit": when a process has exited, its last lines may still be unread (Node documents it).
  const ready = new Promise<void>((resolve, reject) => {
    lines.on("line", (line) => {
      if (line === "ready") resolve()
      else last = line
    })
    child.once("close", (code) => reject(new Error(`worker exited (${code}) before ready: ${stderr}`)))
  })
  const result = new Promise<R>((resolve, reject) => {
    child.once("close", (code) => {
      if (code !== 0) return reject(new Error(`worker exited ${code}: ${stderr}`))
      try {
        resolve(JSON.parse(last) as R)
      } catch {
        reject(new Error(`worker printed no result (last line ${JSON.stringify(last)}): ${stderr}`))
      }
    })
  })
  // A rejection nobody awaits yet (ready failed first) must not become an unhandled one.
  result.catch(() => undefined)
  ready.catch(() => undefined)
  return { child, ready, result, go: () => child.stdin!.write("go\n") }
}

/** Starts `count` workers at once, waits until all are ready, releases them together, collects results. */
export const race = async <R>(script: Compiled, count: number, env: (i: number) => Env): Promise<ReadonlyArray<R>> => {
  const workers = Array.from({ length: count }, (_, i) => startWorker<R>(script, env(i)))
  try {
    await Promise.all(workers.map((w) => w.ready))
    for (const w of workers) w.go()
    return await Promise.all(workers.map((w) => w.result))
  } finally {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL")
  }
}
