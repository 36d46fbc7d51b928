/**
 * How a command ends: its exit code and the one line it prints on standard error. The codes are part of
 * the command line's interface (documented in `--help` and the README), so scripts can tell a bad filter
 * from a missing record from a store that is down:
 *
 * - 0: done (and `--help`, `--version`), or stopped because the reader of standard output went away
 *   (`lineage runs --json | head -1`), as `git log | head` ends;
 * - 1: a failure: the store is unavailable or refused, artifact bytes could not be read, `types` could not
 *   write its file or (`--check`) found it missing or out of date, an unexpected error;
 * - 2: bad usage or bad input: an unknown command or flag, a flag's value of the wrong type, a filter or
 *   order the query language refuses (`InvalidQuery`), a value out of range, viewer options it refuses,
 *   `types --out` naming a directory;
 * - 3: not found: no record has the uid, or a uid prefix names several (`DoesNotExist`,
 *   `MultipleObjectsReturned`);
 * - 130: interrupted (SIGINT, SIGTERM): how `lineage ui` ends.
 *
 * Every message goes through `Redaction.text`, so a store URL's password or a token never reaches the
 * terminal, whichever error carried it; then its control characters (but line breaks and tabs) become
 * `\uXXXX` escapes, so text a record or a flag carried cannot drive the terminal.
 */
import { Redaction } from "@lineage/core"
import { Cause, Data, Exit } from "effect"
import { CliError } from "effect/cli"
import { OutputClosed } from "./Output.js"
import { escapeUnsafe } from "./Table.js"
import { ViewerError } from "./Viewer.js"

export const ExitCode = { ok: 0, failure: 1, usage: 2, notFound: 3, interrupted: 130 } as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** The exit codes as `--help` and the README list them. */
export const exitCodesHelp =
  "Exit codes: 0 done; 1 failure (store unavailable, unreadable bytes, the types file unwritable or, under --check, missing or out of date, unexpected error); " +
  "2 bad usage or input (unknown flag, bad filter or value, types --out naming a directory); 3 not found (unknown uid, ambiguous prefix); 130 interrupted."

/** Input the command itself refuses (a flag combination, a value out of range, a record of the wrong kind). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

const tagOf = (e: unknown): string | undefined =>
  e !== null && typeof e === "object" && "_tag" in e && typeof e._tag === "string" ? e._tag : undefined

const usageTags = new Set(["InvalidQuery", "ValidationError", "UsageError"])
const notFoundTags = new Set(["DoesNotExist", "MultipleObjectsReturned"])
/** Why the viewer refuses to start that are the user's options, not the machine's state. */
const viewerUsage = new Set(["InvalidOption", "NonLoopback"])

/** The exit code of a failure (see the module doc). */
export const codeOf = (error: unknown): ExitCode => {
  if (CliError.isCliError(error)) return error._tag === "ShowHelp" && error.errors.length === 0 ? ExitCode.ok : ExitCode.usage
  if (error instanceof OutputClosed) return ExitCode.ok
  const tag = tagOf(error)
  if (tag !== undefined && usageTags.has(tag)) return ExitCode.usage
  if (error instanceof ViewerError && viewerUsage.has(error.reason)) return ExitCode.usage
  if (tag !== undefined && notFoundTags.has(tag)) return ExitCode.notFound
  return ExitCode.failure
}

/** The exit code of a whole run. */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): ExitCode => {
  if (Exit.isSuccess(exit)) return ExitCode.ok
  if (Cause.hasInterruptsOnly(exit.cause)) return ExitCode.interrupted
  return codeOf(Cause.squash(exit.cause))
}

/** Characters of an error message printed; the rest is cut. */
const maxMessageChars = 2_000

/** Controls a message keeps as they are: they lay it out, and move nothing. */
const layout = new Set(["\n", "\t"])

/** `text` safe for standard error: control characters escaped (line breaks and tabs kept). */
export const printable = (text: string): string => escapeUnsafe(text, layout)

/**
 * The line printed for a failure, redacted, escaped (see `printable`) and bounded; undefined when the
 * command line already printed it (help and usage errors are presented by the CLI module itself), for an
 * interruption, and when the reader of standard output went away (nothing is wrong).
 */
export const messageOf = (cause: Cause.Cause<unknown>): string | undefined => {
  if (Cause.hasInterruptsOnly(cause)) return undefined
  const error = Cause.squash(cause)
  if (CliError.isCliError(error) || error instanceof OutputClosed) return undefined
  const text = error instanceof Error ? error.message : String(error)
  const tag = tagOf(error)
  const kind = tag === undefined || tag === "UsageError" ? "" : `${tag}: `
  const line = printable(Redaction.text(`${kind}${text}`))
  return line.length > maxMessageChars ? `${line.slice(0, maxMessageChars)}…` : line
}
