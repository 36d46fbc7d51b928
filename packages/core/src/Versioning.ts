/**
 * Versions, as lamindb keeps them. In a versioned registry the records of one key form a family: they share
 * a uid stem (`stem`) and count up in the uid's 4-character suffix, trashed versions included; exactly
 * one live version of a family is its latest (`isLatest`); version tags are unique per key (each versioned
 * registry declares its `(key, version)` constraint). A new version takes `isLatest` from the head in one
 * atomic batch where the driver has transactions, and by compare-and-set on the head otherwise.
 *
 * The trash holds a family's `isLatest` only when the family has no live version: trashing the latest
 * version passes `isLatest` to the newest remaining live one, and the last live version keeps it in the
 * trash, as in lamindb (`trashing`). A restored version takes it back from there, or gives it up to the
 * live latest (`restoring`). So a family has at most one version holding `isLatest`, live if any is. Each
 * write that moves `isLatest` is a compare-and-set on the version's `isLatest` and branch, so a move worked
 * out from versions another writer has since trashed, restored or promoted fails as a lost race (`isRace`)
 * and is worked out again.
 *
 * Writers racing on a key are settled by two claims each document holds beyond its record (`claims`), made
 * exclusive by unique constraints (`claimConstraints`): `latestKey`, the key while the record is its
 * family's latest live version, and `familyKey`, the key while the record is its family's live first
 * version. The first refuses a second latest version of a key on every store. The second refuses a second
 * family of a key even in the moment a store without transactions has moved `latestKey` off the old head and
 * not yet onto the new one, when a writer that saw no family could otherwise start another. A writer
 * refused by a claim, a uid or a compare-and-set lost a race (`isRace`): it looks again.
 *
 * The store comes as an argument, not from the `Store` service: the registries' descriptions (`Records`,
 * which the store imports) declare this module's claims.
 */
import { Effect, Schedule } from "effect"
import * as Ast from "./Ast.js"
import type { Entity } from "./Codec.js"
import type { Doc, UniqueSpec, WriteOp } from "./Driver.js"
import { StoreError, UniqueViolation, type ValidationError } from "./Errors.js"
import type { Base } from "./Lifecycle.js"
import { type Derived, mainBranch, type Model } from "./Model.js"
import type { StoreShape } from "./Store.js"
import { isWellFormed } from "./Text.js"
import * as Uid from "./Uid.js"

/** What versioning reads of a record: fields every versioned registry's records have. */
type Versioned = Base & {
  readonly isLatest: boolean
  readonly branchId: number
  readonly key: string | null
  readonly updatedAt: Date
}

type Input = { readonly [field: string]: unknown }

// ---------------------------------------------------------------------------------------------------------
// Uids: a family's stem, then a version suffix counting up in base62

export const suffixLength = 4
export const firstSuffix = "0000"

/** `0009` → `000A`, `000z` → `0010`, as lamin_utils' increment_base62. */
export const increment = (current: string): string => {
  const digits = [...current]
  for (let i = digits.length - 1; i >= 0; i--) {
    const d = Uid.alphabet.indexOf(digits[i]!)
    if (d < 61) {
      digits[i] = Uid.alphabet[d + 1]!
      return digits.join("")
    }
    digits[i] = "0"
  }
  throw new RangeError(`version suffix ${current} cannot be incremented further`)
}

export const stem = (uid: string): string => uid.slice(0, uid.length - suffixLength)
export const suffix = (uid: string): string => uid.slice(uid.length - suffixLength)

/** Suffixes have one length and the alphabet is in ASCII order, so string order is version order. */
export const compareSuffix = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** A uid for a record created without one: in a versioned registry, the first version of a new family. */
export const newUid = (model: Model): string =>
  model.versioned ? Uid.random(model.uidLength - suffixLength) + firstSuffix : Uid.random(model.uidLength)

/** A uid prefix no longer than a stem names a family (rather than one version) in a versioned registry. */
export const namesFamily = (model: Model, uidPrefix: string): boolean =>
  model.versioned && uidPrefix.length <= model.uidLength - suffixLength

// ---------------------------------------------------------------------------------------------------------
// Claims

export const latestKey = "latestKey"
export const familyKey = "familyKey"

const withClaims = (doc: Doc): Doc => {
  const live = doc["branchId"] === mainBranch
  const key = doc["key"] ?? null
  const uid = doc["uid"]
  return {
    ...doc,
    [latestKey]: live && doc["isLatest"] === true ? key : null,
    [familyKey]: live && typeof uid === "string" && suffix(uid) === firstSuffix ? key : null
  }
}

/** The claims as the fields a versioned registry's documents derive from their records (`Model.derived`). */
export const claims: Derived = {
  fields: [latestKey, familyKey],
  from: ["branchId", "isLatest", "key", "uid"],
  derive: withClaims
}

/** The name of the unique constraint that makes `familyKey` exclusive: one live family per key. */
const familyConstraint = (table: string): string => `${table}_family_key`

/** The unique constraints that make the claims exclusive, named `<table>_latest_key` and `<table>_family_key`. */
export const claimConstraints = (table: string): ReadonlyArray<UniqueSpec> => [
  { name: `${table}_latest_key`, fields: [latestKey] },
  { name: familyConstraint(table), fields: [familyKey] }
]

const claimFields: ReadonlySet<string> = new Set(claims.fields)

/**
 * Lost a race: another writer took `isLatest` first (a compare-and-set failed), a claim on the key, or the
 * uid of the version this writer meant to add. Looking again resolves it.
 */
export const isRace = (e: unknown): boolean =>
  (e instanceof StoreError && e.reason._tag === "Conflict") ||
  (e instanceof UniqueViolation && e.fields.length === 1 && (e.fields[0] === "uid" || claimFields.has(e.fields[0]!)))

// ---------------------------------------------------------------------------------------------------------
// Families

/**
 * The key whose family a new record joins, or undefined when it starts none: outside versioned registries,
 * when the input names its own uid, and for a key no store can hold (the insert refuses that with the key's
 * `ValidationError`).
 */
export const revisedKey = (model: Model, input: Input): string | undefined => {
  const key = input["key"]
  return model.versioned && typeof key === "string" && isWellFormed(key) && input["uid"] === undefined ? key : undefined
}

/**
 * The patch that makes a version its family's latest, or not: `latestKey` travels with `isLatest` on the live
 * branch; a trashed version claims nothing.
 */
const latestPatch = (record: Versioned, isLatest: boolean): Doc => ({
  isLatest,
  latestKey: isLatest && record.branchId === mainBranch ? record.key : null
})

/**
 * The write that sets `isLatest` on `record`, only while it still holds `held` on the branch it was read on
 * (compare-and-set): a version another writer trashed or restored meanwhile is not the one this writer chose.
 */
const latestWhile = (table: string, record: Versioned, isLatest: boolean, held: boolean): WriteOp => ({
  _tag: "Update",
  table,
  id: record.id,
  patch: latestPatch(record, isLatest),
  expect: { isLatest: held, branchId: record.branchId }
})

/** The write that moves `isLatest` on `record`, only if it still holds the opposite on its branch. */
const setLatest = (table: string, record: Versioned, isLatest: boolean): WriteOp =>
  latestWhile(table, record, isLatest, !isLatest)

/** A write that changes nothing and fails unless `record` still holds `isLatest` on its branch. */
const stillLatest = (table: string, record: Versioned): WriteOp => latestWhile(table, record, true, true)

/** Every version of a family, trash included. */
const familyOf = (store: StoreShape, entity: Entity<Versioned>, stem: string) =>
  store.find(entity, Ast.field(["uid"], "startsWith", stem))

const bySuffix = (a: Versioned, b: Versioned) => compareSuffix(suffix(a.uid), suffix(b.uid))

/** A versioned registry's entity, seen through the fields versioning reads. */
const versionsOf = <A extends Base>(entity: Entity<A>): Entity<Versioned> => entity as unknown as Entity<Versioned>

// ---------------------------------------------------------------------------------------------------------
// Creating versions

const raceBackoff = Schedule.jittered(Schedule.spaced("5 millis"))

/** `effect` tried again, after a short jittered pause, each time it loses a race (`isRace`): it must look again. */
export const retryingRaces = <A, E, R>(effect: Effect.Effect<A, E, R>, times = 1_000): Effect.Effect<A, E, R> =>
  Effect.retry(effect, { while: isRace, schedule: raceBackoff, times })

/** A family left without a latest version this long ago lost a writer mid-revision: repair it. */
const orphanAfterMs = 5_000

/**
 * The version a new record with this key revises: the family's latest, or `undefined` for a new key. A
 * family caught between demoting its head and inserting the successor has no latest: wait, or repair it if
 * the writer that left it so is long gone.
 */
const headOf = (store: StoreShape, entity: Entity<Versioned>, key: string) =>
  Effect.gen(function* () {
    const [head] = yield* store.find(
      entity,
      Ast.and([Ast.field(["key"], "eq", key), Ast.field(["branchId"], "eq", mainBranch)]),
      {
        orderBy: [
          { path: ["isLatest"], direction: "desc" },
          { path: ["createdAt"], direction: "desc" }
        ],
        limit: 1
      }
    )
    if (head === undefined || head.isLatest) return head
    if (Date.now() - head.updatedAt.getTime() < orphanAfterMs)
      return yield* StoreError.conflict(entity.model.table, head.id, "the family is being revised")
    yield* store.batch([setLatest(entity.model.table, head, true)])
    return yield* StoreError.conflict(entity.model.table, head.id, "repaired a family left without a latest version")
  })

/**
 * Inserts the next version of `head`'s family: same stem, suffix one past the family's highest (trash
 * included), `isLatest` moved from the head in one atomic step where the driver has transactions, and
 * otherwise by compare-and-set on the head, undone if the insert fails, so two latest can never coexist.
 */
const insertVersion = (store: StoreShape, entity: Entity<Versioned>, head: Versioned, input: Input) =>
  Effect.gen(function* () {
    const familyStem = stem(head.uid)
    const family = yield* familyOf(store, entity, familyStem)
    const top = family.map((r) => suffix(r.uid)).sort(compareSuffix).at(-1) ?? firstSuffix
    const [record] = yield* store.prepare(entity, [{ ...input, uid: familyStem + increment(top), isLatest: true }])
    const table = entity.model.table
    const demote = setLatest(table, head, false)
    const insert: WriteOp = { _tag: "Insert", table, docs: [entity.encode(record!)] }
    if (store.driver.capabilities.transactions) yield* store.batch([demote, insert])
    else {
      yield* store.batch([demote])
      yield* store.batch([insert]).pipe(Effect.tapError(() => store.batch([setLatest(table, head, true)])))
    }
    return record!
  })

/**
 * Creates `input` as the next version of `key`'s family (lamindb's inferred `revises`), or as the first
 * version of a new family when the key has none, looking again each time another writer wins a race.
 */
export const create = <A extends Base>(
  store: StoreShape,
  entity: Entity<A>,
  key: string,
  input: Input
): Effect.Effect<A, ValidationError | UniqueViolation | StoreError> => {
  const versions = versionsOf(entity)
  const attempt = Effect.flatMap(headOf(store, versions, key), (head) =>
    head === undefined ? Effect.map(store.insert(versions, [input]), (made) => made[0]!) : insertVersion(store, versions, head, input)
  )
  const created = retryingRaces(attempt)
  return created as unknown as Effect.Effect<A, ValidationError | UniqueViolation | StoreError>
}

// ---------------------------------------------------------------------------------------------------------
// Leaving and returning to the live branch

/**
 * How a version moves between branches: the patch for it, the compare-and-sets on other versions its choice
 * rests on (writes that change nothing, to precede it), and the writes to make after it.
 */
export interface Move {
  readonly patch: Input
  readonly before: ReadonlyArray<WriteOp>
  readonly after: ReadonlyArray<WriteOp>
}

const stays: Move = { patch: {}, before: [], after: [] }

/**
 * The writes that move a family's `isLatest` to its newest remaining live version when `leaving` (about to
 * be trashed or deleted) holds it and no other live version does; to follow the write that demotes or
 * deletes `leaving`, so that at no point do two versions hold the key's `latestKey`. `removed`: the ids of
 * this registry that the same write deletes, which no promotion may land on.
 */
export const promotion = <A extends Base>(
  store: StoreShape,
  entity: Entity<A>,
  leaving: A,
  removed: ReadonlySet<number> = new Set()
): Effect.Effect<ReadonlyArray<WriteOp>, StoreError> =>
  Effect.gen(function* () {
    const current = leaving as unknown as Versioned
    if (!entity.model.versioned || !current.isLatest) return []
    const family = yield* familyOf(store, versionsOf(entity), stem(current.uid))
    const live = family.filter((r) => r.id !== current.id && !removed.has(r.id) && r.branchId === mainBranch)
    if (live.some((r) => r.isLatest)) return []
    const next = live.sort(bySuffix).at(-1)
    return next === undefined ? [] : [setLatest(entity.model.table, next, true)]
  })

/**
 * A version going to the trash: its family's `isLatest` passes to the newest remaining live version; the
 * last live version keeps it in the trash (lamindb), where, like every trashed version, it claims nothing.
 */
export const trashing = <A extends Base>(store: StoreShape, entity: Entity<A>, record: A): Effect.Effect<Move, StoreError> =>
  Effect.map(promotion(store, entity, record), (after) =>
    after.length === 0 ? stays : { patch: { isLatest: false }, before: [], after }
  )

/**
 * A version restored to the live branch: it takes `isLatest` when no other live version of its family holds
 * it, from the trashed version that kept it, if any; otherwise it gives it up, so that a family never has two
 * live latest versions, and a version that kept `isLatest` in the trash never makes a restored one non-latest.
 * Giving it up rests on the live holder keeping it: the move re-checks that in the same batch. A family's
 * first version cannot come back while another family of its key is live (it would be a second family of
 * the key): a `UniqueViolation` on `key`.
 */
export const restoring = <A extends Base>(
  store: StoreShape,
  entity: Entity<A>,
  record: A
): Effect.Effect<Move, UniqueViolation | StoreError> =>
  Effect.gen(function* () {
    if (!entity.model.versioned) return stays
    const versions = versionsOf(entity)
    const current = record as unknown as Versioned
    const family = yield* familyOf(store, versions, stem(current.uid))
    // The key's live latest and first versions too: another family may have taken the key meanwhile.
    const liveOfKey = current.key === null ? [] : yield* liveLatestOrFirst(store, versions, current.key)
    const rival = liveOfKey.find((r) => suffix(r.uid) === firstSuffix && stem(r.uid) !== stem(current.uid))
    if (rival !== undefined && suffix(current.uid) === firstSuffix) return yield* keyTaken(entity.model, current, rival)
    const others = new Map([...family, ...liveOfKey].map((r) => [r.id, r]))
    const holders = [...others.values()].filter((r) => r.isLatest && r.id !== current.id)
    const table = entity.model.table
    const live = holders.filter((r) => r.branchId === mainBranch)
    if (live.length > 0) return { patch: { isLatest: false }, before: live.map((r) => stillLatest(table, r)), after: [] }
    return { patch: { isLatest: true }, before: [], after: holders.map((r) => setLatest(table, r, false)) }
  })

/** The live versions of `key` that are their family's latest or first. */
const liveLatestOrFirst = (store: StoreShape, entity: Entity<Versioned>, key: string) =>
  store.find(
    entity,
    Ast.and([
      Ast.field(["key"], "eq", key),
      Ast.field(["branchId"], "eq", mainBranch),
      Ast.or([Ast.field(["isLatest"], "eq", true), Ast.field(["uid"], "endsWith", firstSuffix)])
    ])
  )

/** The refusal of a first version returning while `rival`, another family's first version, holds its key. */
const keyTaken = (model: Model, record: Versioned, rival: Versioned) =>
  new UniqueViolation({
    registry: model.name,
    constraint: familyConstraint(model.table),
    fields: ["key"],
    values: [record.key],
    detail: `another family of the key is live (${model.name} ${rival.uid}); trash it first, or create a new version instead`
  })
