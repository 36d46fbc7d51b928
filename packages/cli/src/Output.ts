/**
 * Standard output as the commands write it. A write waits while the stream holds more than its high-water
 * mark unwritten (Node's backpressure), so a slow reader (`lineage export | gzip > x.gz` on a slow disk) keeps
 * the command's memory near one chunk, not its whole output. A reader that goes away (`lineage runs --json |
 * head -1`) fails the next write with `OutputClosed`, which ends the command quietly and successfully, as
 * `git log | head` does, and stops an export where it is.
 *
 * JSON for standard output (`jsonText`) escapes what a terminal should never receive raw: C1 controls, DEL and
 * bidirectional controls, which `JSON.stringify` leaves as they are (C0 controls it escapes already).
 */
import { Data, Effect } from "effect"
import { escapeUnsafe } from "./Table.js"

/** The reader of the output went away (a closed pipe): the command stops, and exits 0. */
export class OutputClosed extends Data.TaggedError("OutputClosed")<{}> {
  override get message(): string {
    return "the reader of standard output went away"
  }
}

/** What `make` needs of a stream: Node's writable interface. */
export interface Writable {
  readonly write: (chunk: string) => boolean
  readonly once: (event: "drain" | "close" | "error", listener: () => void) => unknown
  readonly on: (event: "error", listener: (error: Error) => void) => unknown
  readonly removeListener: (event: "drain" | "close" | "error", listener: () => void) => unknown
  readonly writableLength: number
  readonly destroyed: boolean
}

export interface Output {
  /** Writes `text`, waiting until the stream drains when it is full; fails once the reader is gone. */
  readonly write: (text: string) => Effect.Effect<void, OutputClosed>
}

/** Waits for `stream` to drain, or fails if it closes or errs first; interrupted, it stops listening. */
const drained = (stream: Writable, isClosed: () => boolean) =>
  Effect.callback<void, OutputClosed>((resume) => {
    const done = () => {
      stop()
      resume(isClosed() ? Effect.fail(new OutputClosed()) : Effect.void)
    }
    const stop = () => {
      for (const event of ["drain", "close", "error"] as const) stream.removeListener(event, done)
    }
    for (const event of ["drain", "close", "error"] as const) stream.once(event, done)
    return Effect.sync(stop)
  })

/**
 * An output on `stream`. It listens for the stream's errors from now on, for as long as the stream lives: a
 * write error (EPIPE: the reader closed its end) marks the output closed instead of crashing the process.
 */
export const make = (stream: Writable): Output => {
  let closed = false
  stream.on("error", () => void (closed = true))
  const isClosed = () => closed || stream.destroyed
  return {
    write: (text) =>
      Effect.suspend(() => {
        if (isClosed()) return Effect.fail(new OutputClosed())
        return stream.write(text) ? Effect.void : drained(stream, isClosed)
      })
  }
}

let stdoutOutput: Output | undefined

/** Standard output (see `make`), made on first use: a library that embeds the commands gets no listener until it runs one. */
export const stdout = (): Output => (stdoutOutput ??= make(process.stdout))

/** Writes `text` to standard output, ending it with a line break. */
export const print = (text: string): Effect.Effect<void, OutputClosed> => stdout().write(text.endsWith("\n") ? text : `${text}\n`)

/** Line breaks in `JSON.stringify`'s output: only between values (one inside a string is escaped already). */
const structural = new Set(["\n"])

/**
 * `value` as JSON (indented by `indent` spaces, if given), with C1 controls, DEL and bidirectional controls as
 * `\uXXXX` escapes. They can only stand inside JSON strings, where an escape reads back as the same character.
 */
export const jsonText = (value: unknown, indent?: number): string => escapeUnsafe(JSON.stringify(value, null, indent), structural)

/** Writes `value` as indented JSON to standard output. */
export const printJson = (value: unknown): Effect.Effect<void, OutputClosed> => print(jsonText(value, 2))
