/**
 * The process-wide side of tracking. Each client tracks its own run, but a process has one set of signal
 * handlers and one environment, so this module keeps the runs every client of the process tracks, in the
 * order they started:
 * - on SIGINT/SIGTERM it marks each of them aborted, on an uncaught exception errored (all at once, within
 *   `markTimeoutMs`), then lets the process end as it would have;
 * - `LINEAGE_INITIATED_BY_RUN` names the most recently tracked run still active, so a child process started
 *   from here is initiated by it; once none is active it holds again what it held before.
 */

export const initiatedByRunVariable = "LINEAGE_INITIATED_BY_RUN"

/** How long a dying process waits for its runs to be marked: it must not hang on a dead store. */
export const markTimeoutMs = 3_000

export type EndStatus = "aborted" | "errored"

export interface TrackedRun {
  readonly uid: string
  /**
   * Ends the run with `status` (`error`: the uncaught exception that ends the process, if that is why); absent
   * when it asked to be left alone (`handleProcess: false`).
   */
  readonly mark?: ((status: EndStatus, error?: unknown) => Promise<unknown>) | undefined
}

const active: Array<TrackedRun> = []

/** What the variable held before this process tracked a run: the parent named by whoever started it. */
let inherited: string | undefined

const setVariable = (value: string | undefined) => {
  if (value === undefined) delete process.env[initiatedByRunVariable]
  else process.env[initiatedByRunVariable] = value
}

/** The run that started this process, as `LINEAGE_INITIATED_BY_RUN` names it; never a run tracked here. */
export const inheritedParent = (): string | undefined => {
  const value = process.env[initiatedByRunVariable]
  return active.some((r) => r.uid === value) ? inherited : value
}

/** Marks every run that asked for it, then calls `then` once: when all are marked or the time is up. */
const markAll = (status: EndStatus, error: unknown, then: () => void) => {
  let done = false
  const once = () => {
    if (done) return
    done = true
    clearTimeout(timer)
    then()
  }
  const timer = setTimeout(once, markTimeoutMs)
  const marking = active.flatMap((r) => (r.mark === undefined ? [] : [r.mark(status, error).catch(() => undefined)]))
  void Promise.all(marking).then(once)
}

const onSignal = (signal: NodeJS.Signals) => {
  uninstall()
  // Our listeners are gone: the signal now does what it would have done without us.
  markAll("aborted", undefined, () => process.kill(process.pid, signal))
}

const onException = (error: unknown) => {
  uninstall()
  markAll("errored", error, () => {
    console.error(error)
    process.exit(1)
  })
}

let installed = false

const install = () => {
  if (installed) return
  installed = true
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  process.on("uncaughtException", onException)
}

const uninstall = () => {
  if (!installed) return
  installed = false
  process.off("SIGINT", onSignal)
  process.off("SIGTERM", onSignal)
  process.off("uncaughtException", onException)
}

/** Adds a run a client started tracking; returns what removes it once the client stops. */
export const register = (run: TrackedRun): (() => void) => {
  if (active.length === 0) inherited = process.env[initiatedByRunVariable]
  active.push(run)
  setVariable(run.uid)
  if (run.mark !== undefined) install()
  return () => {
    const index = active.indexOf(run)
    if (index === -1) return
    active.splice(index, 1)
    setVariable(active.at(-1)?.uid ?? inherited)
    if (!active.some((r) => r.mark !== undefined)) uninstall()
  }
}
