/**
 * Server errors as mongod reports them: a numeric `code`, its `codeName` and `errmsg`.
 *
 * Codes and names follow mongod's src/mongo/base/error_codes.yml.
 */
import { Double, type Document } from "bson"
import { formatValue } from "./Documents.js"

export const ErrorCode = {
  InternalError: 1,
  BadValue: 2,
  NoSuchKey: 4,
  FailedToParse: 9,
  TypeMismatch: 14,
  InvalidLength: 16,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  CursorNotFound: 43,
  NamespaceExists: 48,
  DollarPrefixedFieldName: 52,
  InvalidIdField: 53,
  ImmutableField: 66,
  CommandNotFound: 59,
  ConflictingUpdateOperators: 40,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  InvalidOptions: 72,
  InvalidPipelineOperator: 168,
  Location40324: 40324,
  DuplicateKey: 11000,
  BSONObjectTooLarge: 10334
} as const

export type ErrorCodeName = keyof typeof ErrorCode

const nameOf = (code: number): string => {
  for (const [name, value] of Object.entries(ErrorCode)) if (value === code) return name
  return "UnknownError"
}

/** A command failure: becomes `{ ok: 0, errmsg, code, codeName, ...extra }`. */
export class CommandError extends Error {
  override readonly name = "CommandError"
  readonly codeName: string
  constructor(
    readonly code: number,
    message: string,
    readonly extra: Document = {},
    codeName?: string
  ) {
    super(message)
    this.codeName = codeName ?? nameOf(code)
  }

  static of(name: ErrorCodeName, message: string, extra: Document = {}): CommandError {
    return new CommandError(ErrorCode[name], message, extra, name.startsWith("Location") ? `${name}` : name)
  }

  toReply(): Document {
    return { ok: new Double(0), errmsg: this.message, code: this.code, codeName: this.codeName, ...this.extra }
  }

  /** The per-document shape used inside `writeErrors`. */
  toWriteError(index: number): Document {
    return { index, code: this.code, codeName: this.codeName, errmsg: this.message, ...this.extra }
  }
}

export const isCommandError = (u: unknown): u is CommandError => u instanceof CommandError

/** mongod's BSONObjMaxInternalSize: the largest BSON object it reads or builds (16 MiB + 16 KiB of headroom). */
export const MAX_BSON_INTERNAL_SIZE = 16 * 1024 * 1024 + 16 * 1024

/** mongod's refusal of a BSON object above MAX_BSON_INTERNAL_SIZE (src/mongo/bson/bsonobj.cpp). */
export const tooLarge = (size: number, doc: Document | undefined): CommandError => {
  const first = doc === undefined ? undefined : Object.entries(doc)[0]
  const shown = first === undefined ? "EOO" : `${first[0]}: ${formatValue(first[1])}`.slice(0, 200)
  return CommandError.of(
    "BSONObjectTooLarge",
    `BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. Size must be between 0 and ${MAX_BSON_INTERNAL_SIZE}(16MB) First element: ${shown}`
  )
}
