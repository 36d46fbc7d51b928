/**
 * Progress of long byte transfers (hashing, copying), or of any count with its own `Unit` (the runs an export
 * has written), on a terminal: one line, redrawn in place at each whole percent. Off a terminal nothing is
 * written, so logs and pipes stay clean.
 */
import { Context } from "effect"

/** Transfers of at least this many bytes show progress. */
export const progressMinBytes = 64 * 1024 * 1024

/** Where progress goes: a stream that says whether it is a terminal. */
export interface ProgressOutput {
  readonly isTTY?: boolean | undefined
  readonly write: (text: string) => unknown
}

/** The progress output; standard error unless provided. */
export const ProgressStream = Context.Reference<ProgressOutput>("@lineage/ProgressStream", {
  defaultValue: () => process.stderr
})

export interface Meter {
  /** Counts `amount` more (bytes, or the meter's unit) as done. */
  readonly advance: (amount: number) => void
  /** Ends the line, if one was drawn. */
  readonly finish: () => void
}

const silent: Meter = { advance: () => undefined, finish: () => undefined }

const barWidth = 24

/** What a meter counts: the least total worth a meter, and how a total is shown (`128 MiB`, `3 runs`). */
export interface Unit {
  readonly minTotal: number
  readonly show: (total: number) => string
}

/** Bytes, shown in mebibytes, from `progressMinBytes` on: what transfers count. */
export const bytes: Unit = { minTotal: progressMinBytes, show: (total) => `${(total / (1024 * 1024)).toFixed(0)} MiB` }

/** C0 and C1 control characters: a file name holding them would move the cursor or retitle the terminal. */
const controls = /[\u0000-\u001f\u007f-\u009f]/g

/**
 * A meter for `total` of `unit` (bytes unless given) labelled `label` (its control characters shown as `?`);
 * silent off a terminal or below the unit's `minTotal`. `finish` ends the line once, however often it is called.
 */
export const meter = (output: ProgressOutput, label: string, total: number, unit: Unit = bytes): Meter => {
  if (output.isTTY !== true || total < unit.minTotal) return silent
  const title = label.replace(controls, "?")
  let done = 0
  let shown = -1
  let finished = false
  const draw = () => {
    const percent = Math.floor((done * 100) / total)
    if (percent === shown) return
    shown = percent
    const filled = Math.floor((percent * barWidth) / 100)
    output.write(`\r${title} [${"#".repeat(filled)}${" ".repeat(barWidth - filled)}] ${percent}% of ${unit.show(total)}`)
  }
  draw()
  return {
    advance: (amount) => {
      done = Math.min(total, done + amount)
      draw()
    },
    finish: () => {
      if (finished) return
      finished = true
      output.write("\n")
    }
  }
}
