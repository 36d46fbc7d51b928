/**
 * What "only typed errors come out" means: a rejection is an instance of one of the error classes core
 * exports, with its `_tag`; a plain TypeError, RangeError or any other defect is a failure of the test.
 */
import {
  ArtifactStorageError,
  DoesNotExist,
  InvalidQuery,
  MultipleObjectsReturned,
  ProtectedRecord,
  StoreError,
  TrackNotCalled,
  UniqueViolation,
  ValidationError
} from "@lineage/core"

const classes = [
  StoreError,
  InvalidQuery,
  ValidationError,
  DoesNotExist,
  MultipleObjectsReturned,
  UniqueViolation,
  ProtectedRecord,
  TrackNotCalled,
  ArtifactStorageError
] as const

export type Typed = InstanceType<(typeof classes)[number]>

export const isTyped = (e: unknown): e is Typed =>
  classes.some((c) => e instanceof c) && typeof (e as { _tag?: unknown })._tag === "string"

/** A short description of something that is not a typed error, for a failure message. */
export const describeUntyped = (e: unknown): string =>
  e instanceof Error ? `${e.constructor.name}: ${e.message}\n${e.stack ?? ""}` : `non-Error thrown: ${String(e)}`

/**
 * Runs `fn`; resolves to `{ ok: value }` or `{ error }` when it failed with a typed error; throws (failing the
 * property) on anything else, naming what came out.
 */
export const typedOutcome = async <A>(fn: () => Promise<A>): Promise<{ readonly ok: A } | { readonly error: Typed }> => {
  try {
    return { ok: await fn() }
  } catch (e) {
    if (isTyped(e)) return { error: e }
    throw new Error(`an untyped failure escaped: ${describeUntyped(e)}`)
  }
}

/** Every cause, cause of cause, … of an error, itself first (cycles stop). */
export const causeChain = (e: unknown): ReadonlyArray<unknown> => {
  const out: Array<unknown> = []
  let current: unknown = e
  while (current !== undefined && current !== null && !out.includes(current) && out.length < 20) {
    out.push(current)
    current = typeof current === "object" ? (current as { cause?: unknown }).cause : undefined
  }
  return out
}
