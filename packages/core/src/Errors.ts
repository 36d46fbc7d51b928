/**
 * Typed failures. Each carries a stable `_tag`, and the fields a caller needs to act on it; the message is
 * written for a person and names what was asked.
 */
import { Data, Effect } from "effect"
import type { Json } from "./Ast.js"
import { showName } from "./Limits.js"

/** Characters of a value shown in an error message. */
const shownChars = 200

/**
 * A value as JSON for an error message, at most `shownChars` characters (then `…`), as `JSON.stringify`
 * writes it but for what JSON cannot say (`NaN`, `Infinity`, an invalid date, a bigint), and a date alone as
 * its bare ISO text. The walk stops as soon as the text is full, so a value however large, deep, sparse or
 * cyclic costs no more than that text (every level it descends writes at least one character). What throws
 * as it is read (a getter, a `toJSON`, a proxy) is shown as `[unprintable]`: a message must not throw.
 */
const show = (v: unknown): string => {
  let out = ""
  const emit = (s: string): boolean => {
    out += s
    return out.length <= shownChars
  }
  /** What JSON leaves out of an object and writes as null in an array. */
  const omitted = (x: unknown): boolean => x === undefined || typeof x === "function" || typeof x === "symbol"
  const unreadable = {}
  /** `x[k]`, or `unreadable` when reading it throws. */
  const read = (x: object, k: string | number): unknown => {
    try {
      return (x as Record<string | number, unknown>)[k]
    } catch {
      return unreadable
    }
  }
  // `toJSON` is called once for a value, as `JSON.stringify` calls it: never again on what it returned.
  const walk = (x: unknown, converted = false): boolean => {
    if (x === unreadable) return emit("[unprintable]")
    if (x instanceof Date) return emit(Number.isNaN(x.getTime()) ? "Invalid Date" : JSON.stringify(x.toISOString()))
    // JSON has no NaN or Infinity: it would print them as null.
    if (typeof x === "number") return emit(Number.isFinite(x) ? JSON.stringify(x) : String(x))
    if (typeof x === "string") return emit(JSON.stringify(x.slice(0, shownChars + 1)))
    if (typeof x === "bigint" || typeof x === "symbol" || typeof x === "function") return emit(String(x).slice(0, shownChars + 1))
    if (x === null || typeof x !== "object") return emit(String(x))
    if (Array.isArray(x)) {
      if (!emit("[")) return false
      for (let i = 0; i < x.length; i++) {
        const item = read(x, i)
        if ((i > 0 && !emit(",")) || !walk(omitted(item) ? null : item)) return false
      }
      return emit("]")
    }
    const toJSON = (x as { toJSON?: unknown }).toJSON
    if (!converted && typeof toJSON === "function") return walk(toJSON.call(x), true)
    if (!emit("{")) return false
    let first = true
    for (const k in x) {
      if (!Object.hasOwn(x, k)) continue
      const item = read(x, k)
      if (omitted(item)) continue
      if ((!first && !emit(",")) || !emit(`${JSON.stringify(k.slice(0, shownChars + 1))}:`) || !walk(item)) return false
      first = false
    }
    return emit("}")
  }
  try {
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString()
    walk(v)
  } catch {
    emit("[unprintable]")
  }
  if (out.length <= shownChars) return out
  // Never between the halves of a surrogate pair: the message stays well-formed text.
  const end = /[\uD800-\uDBFF]/.test(out[shownChars - 1]!) ? shownChars - 1 : shownChars
  return `${out.slice(0, end)}…`
}

/*
 * Why a store failed: one class per reason, so a caller narrows with `instanceof` (or Effect's
 * `catchReason("StoreError", tag, …)`) and reads typed fields. Each class is named `Store` + its `_tag`; the
 * tags are the drivers' contract (the conformance suite and drivers built against another copy of core match
 * on them), and `StoreUniqueViolation` stays apart from the domain's `UniqueViolation`, which names a registry.
 */

/** A unique constraint (or the id) is taken by another document of `table`. */
export class StoreUniqueViolation extends Data.TaggedClass("UniqueViolation")<{
  readonly table: string
  readonly constraint: string
  readonly fields: ReadonlyArray<string>
  readonly values: ReadonlyArray<Json>
}> {
  get message(): string {
    return `unique constraint "${this.constraint}" on ${this.table} (${this.fields.join(", ")}) violated by ${show(this.values)}`
  }
}

/** An update named a document that does not exist. */
export class StoreNotFound extends Data.TaggedClass("NotFound")<{ readonly table: string; readonly id: number }> {
  get message(): string {
    return `no ${this.table} row with id ${this.id}`
  }
}

/** A compare-and-set update found other values than it expected. */
export class StoreConflict extends Data.TaggedClass("Conflict")<{
  readonly table: string
  readonly id: number
  readonly detail: string
}> {
  get message(): string {
    return `${this.table} row ${this.id} changed concurrently: ${this.detail}`
  }
}

/** The store could not be reached or did not answer: the only retryable reason. */
export class StoreUnavailable extends Data.TaggedClass("Unavailable")<{ readonly detail: string }> {
  get message(): string {
    return `store unavailable: ${this.detail}`
  }
}

/** A request this store cannot serve, such as an operator it does not know. */
export class StoreUnsupported extends Data.TaggedClass("Unsupported")<{ readonly detail: string }> {
  get message(): string {
    return `not supported by this store: ${this.detail}`
  }
}

/** A malformed request (see `Driver.validated`), or stored data that does not decode. */
export class StoreInvalid extends Data.TaggedClass("Invalid")<{ readonly detail: string }> {
  get message(): string {
    return `invalid store request: ${this.detail}`
  }
}

/** The client was closed: a new one must be connected. */
export class StoreClosed extends Data.TaggedClass("Closed")<{ readonly detail: string }> {
  get message(): string {
    return `store closed: ${this.detail}`
  }
}

export type StoreErrorReason =
  | StoreUniqueViolation
  | StoreNotFound
  | StoreConflict
  | StoreUnavailable
  | StoreUnsupported
  | StoreInvalid
  | StoreClosed

export class StoreError extends Data.TaggedError("StoreError")<{
  readonly reason: StoreErrorReason
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.reason.message
  }
  get isRetryable(): boolean {
    return this.reason instanceof StoreUnavailable
  }
  static uniqueViolation(
    table: string,
    constraint: string,
    fields: ReadonlyArray<string>,
    values: ReadonlyArray<Json>
  ): StoreError {
    return new StoreError({ reason: new StoreUniqueViolation({ table, constraint, fields, values }) })
  }
  static notFound(table: string, id: number): StoreError {
    return new StoreError({ reason: new StoreNotFound({ table, id }) })
  }
  static conflict(table: string, id: number, detail: string): StoreError {
    return new StoreError({ reason: new StoreConflict({ table, id, detail }) })
  }
  static unavailable(detail: string, cause?: unknown): StoreError {
    return new StoreError({ reason: new StoreUnavailable({ detail }), cause })
  }
  static unsupported(detail: string): StoreError {
    return new StoreError({ reason: new StoreUnsupported({ detail }) })
  }
  static invalid(detail: string): StoreError {
    return new StoreError({ reason: new StoreInvalid({ detail }) })
  }
  static closed(detail: string): StoreError {
    return new StoreError({ reason: new StoreClosed({ detail }) })
  }
  /**
   * Runs synchronous code when the effect runs: a `StoreError` it throws is the failure; anything else it throws
   * is a bug, hence a defect.
   */
  static attempt<A>(f: () => A): Effect.Effect<A, StoreError> {
    return Effect.suspend(() => {
      try {
        return Effect.succeed(f())
      } catch (e) {
        if (e instanceof StoreError) return Effect.fail(e)
        throw e
      }
    })
  }
}

/** A query that cannot mean anything: raised before any store is touched. */
export class InvalidQuery extends Data.TaggedError("InvalidQuery")<{
  readonly registry: string
  readonly field: string
  readonly operator?: string | undefined
  readonly value?: unknown
  readonly expected: string
}> {
  override get message(): string {
    // Field and operator may be any text a caller wrote: shown bounded and escaped.
    const op = this.operator === undefined ? "" : ` with operator ${showName(this.operator)}`
    const value = "value" in this && this.value !== undefined ? ` and value ${show(this.value)}` : ""
    return `Invalid query on ${this.registry}: field ${showName(this.field)}${op}${value}: expected ${this.expected}`
  }
}

/** A record value that does not fit its registry's schema. */
export class ValidationError extends Data.TaggedError("ValidationError")<{
  readonly registry: string
  readonly field: string
  readonly value: unknown
  readonly expected: string
}> {
  override get message(): string {
    return `Invalid ${this.registry}.${this.field}: got ${show(this.value)}, expected ${this.expected}`
  }
}

export class DoesNotExist extends Data.TaggedError("DoesNotExist")<{
  readonly registry: string
  readonly query: string
  readonly hint?: string | undefined
}> {
  override get message(): string {
    return `No ${this.registry} matches ${this.query}.${this.hint === undefined ? "" : ` ${this.hint}`}`
  }
}

export class MultipleObjectsReturned extends Data.TaggedError("MultipleObjectsReturned")<{
  readonly registry: string
  readonly query: string
  readonly count: number
}> {
  override get message(): string {
    return `${this.count} ${this.registry} records match ${this.query}; expected exactly one`
  }
}

export class UniqueViolation extends Data.TaggedError("UniqueViolation")<{
  readonly registry: string
  readonly constraint: string
  readonly fields: ReadonlyArray<string>
  readonly values: ReadonlyArray<Json>
  /** Why, where the holder is not what a user would look for: a trashed record, say. */
  readonly detail?: string | undefined
  /** Raised by a registry's `create`: the message then points to its `getOrCreate`, which returns the holder. */
  readonly byCreate?: boolean | undefined
}> {
  override get message(): string {
    const holder = `A ${this.registry} with ${this.fields.map((f, i) => `${f}=${show(this.values[i])}`).join(", ")} already exists`
    const constraint = `${holder} (unique constraint "${this.constraint}")`
    if (this.detail !== undefined) return `${constraint}: ${this.detail}`
    if (this.byCreate !== true) return constraint
    const shown = this.values.map(show)
    const getIt = `; to get it rather than create another, call ${this.registry}.getOrCreate`
    // A value cut to fit the message would make the call printed a different one: it is described instead.
    if (shown.some(isCut)) {
      const fields = this.fields.map(propertyName).join(", ")
      return `${constraint}${getIt} with ${fields} as given to create (a value above is cut at ${shownChars} characters)`
    }
    return `${constraint}${getIt}({ ${this.fields.map((f, i) => `${propertyName(f)}: ${shown[i]}`).join(", ")} })`
  }
}

/** Whether `show` cut a value's text: it then ends in `…`, where whole JSON ends in a quote, bracket, digit or letter. */
const isCut = (shown: string): boolean => shown.endsWith("…")

/** A property name as code writes it: bare when it is an identifier, else quoted (bounded and escaped). */
const propertyName = (name: string): string => (/^[A-Za-z_$][\w$]{0,99}$/.test(name) ? name : showName(name))

/** An operation the domain refuses, such as permanently deleting a run that produced artifacts. */
export class ProtectedRecord extends Data.TaggedError("ProtectedRecord")<{
  readonly registry: string
  readonly uid: string
  readonly reason: string
}> {
  override get message(): string {
    return `Cannot delete ${this.registry} ${this.uid}: ${this.reason}`
  }
}

export type LineageError =
  | StoreError
  | InvalidQuery
  | ValidationError
  | DoesNotExist
  | MultipleObjectsReturned
  | UniqueViolation
  | ProtectedRecord
  | TrackNotCalled
  | RunAlreadyActive

export { show as showValue }

/**
 * Makes Node's `util.inspect` (what `console.log` and a REPL print) show instances of `classes` as it shows
 * errors: name, message and stack, then their fields. Effect's errors otherwise inspect as their fields alone,
 * without a name or a message. For error classes built on `Data.TaggedError` that users see.
 */
export const inspectedAsErrors = (...classes: ReadonlyArray<{ readonly prototype: Error }>): void => {
  for (const c of classes)
    Object.defineProperty(c.prototype, Symbol.for("nodejs.util.inspect.custom"), {
      // Returning the error itself lets Node format it as any other error.
      value: function (this: Error) {
        return this
      },
      configurable: true,
      writable: true
    })
}

/** A tracking call out of order: `finish()` before `track()`, a `step` with no current run, … */
export class TrackNotCalled extends Data.TaggedError("TrackNotCalled")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

/**
 * `track()` refused because it would orphan a run: the client already tracks one (`tracked`), another
 * `track()` on it is still starting one (`starting`), or the call runs inside a `step`/`flow` call (`call`).
 * `uid` names the run in the way, when it exists.
 */
export class RunAlreadyActive extends Data.TaggedError("RunAlreadyActive")<{
  readonly reason: "tracked" | "starting" | "call"
  readonly uid?: string | undefined
}> {
  override get message(): string {
    switch (this.reason) {
      case "tracked":
        return `track() refused: run ${this.uid} is still tracked by this client; call finish() first (one tracked run per client)`
      case "starting":
        return "track() refused: another track() on this client is starting a run; await it, and finish() that run first"
      case "call":
        return `track() refused inside the step/flow run ${this.uid}: a function's run cannot start a global run; call track() before the step or flow`
    }
  }
}

inspectedAsErrors(
  StoreError,
  InvalidQuery,
  ValidationError,
  DoesNotExist,
  MultipleObjectsReturned,
  UniqueViolation,
  ProtectedRecord,
  TrackNotCalled,
  RunAlreadyActive
)
