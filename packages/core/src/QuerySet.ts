/**
 * Lazy query sets, one rule: builders (`filter`, `orderBy`, `limit`, `offset`, `allBranches`) return a new query
 * set; terminals (`all`, `first`, `one`, `oneOrNone`, `count`, `exists`, `page`, `stream`, `delete`) run it.
 * Nothing touches the store until a terminal runs, and an invalid query fails before it does.
 */
import { Effect, Option, Stream } from "effect"
import * as Ast from "./Ast.js"
import {
  DoesNotExist,
  InvalidQuery,
  MultipleObjectsReturned,
  type ProtectedRecord,
  showValue,
  type StoreError,
  type UniqueViolation
} from "./Errors.js"
import { cursorOf } from "./Evaluator.js"
import { checkQuery } from "./Features.js"
import { maxListedNames, nesting } from "./Limits.js"
import { type Base, type DeleteOptions, remove } from "./Lifecycle.js"
import { mainBranch, type Model } from "./Model.js"
import type { OrderKey } from "./Filter.js"
import { normalize, orderKeys, type QueryInput } from "./Query.js"
import { modelOf } from "./Records.js"
import { type Entity, Store } from "./Store.js"

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  /** Pass as `after` for the next page; absent on the last page. */
  readonly next: string | undefined
}

export interface NormalizedQuery {
  readonly where: Ast.Cond
  readonly orderBy: ReadonlyArray<Ast.OrderKey>
}

/** Whether `c` asks if a `branchId` is null: of the registry's own records, or of related ones (`run__branchId`). */
const asksNullBranch = (model: Model, c: Ast.Field): boolean => {
  if (c.op !== "isNull" || c.path.at(-1) !== "branchId") return false
  let at = model
  for (const segment of c.path.slice(0, -1)) {
    if (!Object.hasOwn(at.relations, segment)) return false
    at = modelOf(at.relations[segment]!.to)
  }
  return Object.hasOwn(at.fields, "branchId")
}

interface Scoped {
  readonly where: Ast.Cond
  /** The query asked for records on any branch. */
  readonly anyBranch: boolean
}

/**
 * lamindb reads `branch_id=None` as "on any branch", the trash included. `branchId` is never null, so every
 * predicate asking whether it is (`{ branchId: null }`, `branchId__isnull: true` or `false`, `{ ne: null }`)
 * asks for no branch in particular, and holds for every record: on the registry's own records it is dropped
 * (and, like any condition on `branchId`, turns the default branch filter off); on related ones
 * (`run__branchId: null`) it asks only that a related record exists, on whatever branch. Negated, it would
 * match nothing, which no one means: refused. Stores receive the plain conditions that result.
 */
const scopeBranches = (model: Model, where: Ast.Cond): Scoped | InvalidQuery => {
  let anyBranch = false
  let refused: InvalidQuery | undefined
  const walk = (c: Ast.Cond, negated: boolean): Ast.Cond => {
    switch (c._tag) {
      case "Not":
        return Ast.not(walk(c.cond, !negated))
      case "And":
        return Ast.and(c.conds.map((x) => walk(x, negated)))
      case "Or":
        return Ast.or(c.conds.map((x) => walk(x, negated)))
      case "Field":
        if (!asksNullBranch(model, c)) return c
        // On a relation the rewrite below is exact, so its negation means something ("no related record").
        if (c.path.length > 1) return Ast.field(c.path.slice(0, -1), "isNull", false)
        if (negated)
          refused ??= new InvalidQuery({
            registry: model.name,
            field: c.path.join("__"),
            operator: c.op,
            value: c.value,
            expected:
              "no negation: branchId is never null, so asking whether it is null means every branch, and its negation " +
              "nothing; name the branches to keep instead (branchId: { in: [...] })"
          })
        anyBranch = true
        return Ast.always
    }
  }
  const scoped = walk(where, false)
  return refused ?? { where: scoped, anyBranch }
}

/**
 * lamindb hides trashed and archived records from queries unless the query asks about the branch or names
 * records by id or uid.
 */
const withDefaultBranch = (model: Model, { where, anyBranch }: Scoped): Ast.Cond =>
  model.trash &&
  !anyBranch &&
  !Ast.paths(where).some((p) => p.length === 1 && (p[0] === "branchId" || p[0] === "id" || p[0] === "uid"))
    ? Ast.and([where, Ast.field(["branchId"], "eq", mainBranch)])
    : where

const encodeCursor = (c: Ast.Cursor): string => Buffer.from(JSON.stringify([c.values, c.id])).toString("base64url")

const decodeCursor = (model: Model, token: string, width: number): Ast.Cursor | InvalidQuery => {
  const invalid = new InvalidQuery({ registry: model.name, field: "after", value: token, expected: "a cursor returned by page()" })
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString())
    if (!Array.isArray(parsed) || parsed.length !== 2) return invalid
    const [values, id] = parsed as [unknown, unknown]
    if (!Array.isArray(values) || values.length !== width || !Number.isSafeInteger(id) || nesting(values) !== undefined) return invalid
    return { values: values as ReadonlyArray<Ast.Json>, id: id as number }
  } catch {
    return invalid
  }
}

const count = (model: Model, name: string, n: number | undefined): number | undefined | InvalidQuery =>
  n === undefined || (Number.isSafeInteger(n) && n >= 0)
    ? n
    : new InvalidQuery({ registry: model.name, field: name, value: n, expected: "a non-negative integer" })

/**
 * A query set of records `A` of registry `N`: `filter` and `orderBy` take `N`'s typed filters and keys (see
 * `Filter`). `QuerySet<A>` leaves `N` open (`any`): it takes any filter and key, checked when it runs, and any
 * typed query set is one, so code that builds filters or keys at run time widens to it
 * (`const runs: QuerySet<Run> = Run.filter()`). `any`, not `unknown`: the typed methods make `N` invariant,
 * and only `any` relates to every registry both ways.
 */
export class QuerySet<A extends Base, N = any> {
  constructor(
    readonly entity: Entity<A>,
    readonly inputs: ReadonlyArray<QueryInput> = [],
    readonly ordering: ReadonlyArray<string> = [],
    readonly limitN?: number | undefined,
    readonly offsetN?: number | undefined
  ) {}

  filter(...inputs: ReadonlyArray<QueryInput<N>>): QuerySet<A, N> {
    return this.where(inputs as ReadonlyArray<QueryInput>)
  }
  private where(inputs: ReadonlyArray<QueryInput>): QuerySet<A, N> {
    return new QuerySet(this.entity, [...this.inputs, ...inputs], this.ordering, this.limitN, this.offsetN)
  }
  /**
   * Records on every branch, the trash included: lamindb's `branch_id=None`, which `{ branchId: null }` also
   * spells, but reads as "has no branch". A registry without branches gives the same query set.
   */
  allBranches(): QuerySet<A, N> {
    return Object.hasOwn(this.entity.model.fields, "branchId") ? this.where([{ branchId: null }]) : this
  }
  /** `"-startedAt"` sorts descending. Ties always break by ascending id, so pages are stable. */
  orderBy(...keys: ReadonlyArray<OrderKey<N>>): QuerySet<A, N> {
    return new QuerySet(this.entity, this.inputs, keys, this.limitN, this.offsetN)
  }
  limit(n: number): QuerySet<A, N> {
    return new QuerySet(this.entity, this.inputs, this.ordering, n, this.offsetN)
  }
  offset(n: number): QuerySet<A, N> {
    return new QuerySet(this.entity, this.inputs, this.ordering, this.limitN, n)
  }

  /** The normalised query, with the default branch filter; fails on an invalid query. */
  get normalized(): Effect.Effect<NormalizedQuery, InvalidQuery | StoreError, Store> {
    const model = this.entity.model
    return Effect.suspend(() => {
      const where = normalize(model, this.inputs)
      if (where instanceof InvalidQuery) return Effect.fail(where)
      const scoped = scopeBranches(model, where)
      if (scoped instanceof InvalidQuery) return Effect.fail(scoped)
      const orderBy = orderKeys(model, this.ordering)
      if (orderBy instanceof InvalidQuery) return Effect.fail(orderBy)
      for (const [name, n] of [["limit", this.limitN], ["offset", this.offsetN]] as const) {
        const checked = count(model, name, n)
        if (checked instanceof InvalidQuery) return Effect.fail(checked)
      }
      // Feature names, operators and values (and order keys naming features) are checked against the Feature
      // registry, still before the query runs; feature operands come back as the features store values.
      return Effect.map(checkQuery(model, scoped.where, orderBy), (checked) => ({
        where: withDefaultBranch(model, { ...scoped, where: checked }),
        orderBy
      }))
    })
  }

  all(): Effect.Effect<ReadonlyArray<A>, InvalidQuery | StoreError, Store> {
    const self = this
    return Effect.gen(function* () {
      const { where, orderBy } = yield* self.normalized
      const store = yield* Store
      return yield* store.find(self.entity, where, { orderBy, limit: self.limitN, offset: self.offsetN })
    })
  }

  first(): Effect.Effect<A | undefined, InvalidQuery | StoreError, Store> {
    return Effect.map(this.limit(1).all(), (rows) => rows[0])
  }

  count(): Effect.Effect<number, InvalidQuery | StoreError, Store> {
    const self = this
    return Effect.gen(function* () {
      const { where } = yield* self.normalized
      const store = yield* Store
      if (self.limitN === undefined && (self.offsetN ?? 0) === 0) return yield* store.count(self.entity.model, where)
      return (yield* self.all()).length
    })
  }

  exists(): Effect.Effect<boolean, InvalidQuery | StoreError, Store> {
    return Effect.map(this.first(), (r) => r !== undefined)
  }

  oneOrNone(): Effect.Effect<A | undefined, InvalidQuery | MultipleObjectsReturned | StoreError, Store> {
    const self = this
    return Effect.gen(function* () {
      const rows = yield* self.limit(2).all()
      if (rows.length > 1)
        return yield* new MultipleObjectsReturned({
          registry: self.entity.model.name,
          query: self.describe(),
          count: yield* self.count()
        })
      return rows[0]
    })
  }

  one(): Effect.Effect<A, InvalidQuery | DoesNotExist | MultipleObjectsReturned | StoreError, Store> {
    return Effect.flatMap(this.oneOrNone(), (row) =>
      row === undefined ? Effect.fail(new DoesNotExist({ registry: this.entity.model.name, query: this.describe() })) : Effect.succeed(row)
    )
  }

  /** A keyset page: stable while records are added, unlike offsets. */
  page(options: { readonly size: number; readonly after?: string | undefined }): Effect.Effect<Page<A>, InvalidQuery | StoreError, Store> {
    const self = this
    return Effect.gen(function* () {
      const model = self.entity.model
      const { where, orderBy } = yield* self.normalized
      const size = count(model, "size", options.size)
      if (size instanceof InvalidQuery) return yield* size
      if (size === undefined || size === 0)
        return yield* new InvalidQuery({ registry: model.name, field: "size", value: options.size, expected: "a positive integer" })
      const after = options.after === undefined ? undefined : decodeCursor(model, options.after, orderBy.length)
      if (after instanceof InvalidQuery) return yield* after
      const store = yield* Store
      const items = yield* store.find(self.entity, where, { orderBy, limit: size, after })
      const last = items.at(-1)
      const next =
        items.length < size || last === undefined
          ? undefined
          : encodeCursor(cursorOf(orderBy, self.entity.encode(last)))
      return { items, next }
    })
  }

  /** Every matching record, fetched page by page. */
  stream(pageSize = 500): Stream.Stream<A, InvalidQuery | StoreError, Store> {
    return Stream.paginate(undefined as string | undefined, (after) =>
      Effect.map(this.page({ size: pageSize, after }), (page): readonly [ReadonlyArray<A>, Option.Option<string | undefined>] => [
        page.items,
        page.next === undefined ? Option.none() : Option.some(page.next)
      ])
    )
  }

  /**
   * Deletes every matching record as `Registry.delete` would, one by one so each keeps its versioning and
   * cascade rules; returns how many were deleted.
   */
  delete(options: DeleteOptions = {}): Effect.Effect<number, InvalidQuery | ProtectedRecord | UniqueViolation | DoesNotExist | StoreError, Store> {
    return Effect.flatMap(this.all(), (rows) =>
      Effect.as(Effect.forEach(rows, (row) => remove(this.entity, row, options), { discard: true }), rows.length)
    )
  }

  /** What was asked, for error messages: each filter as `show` prints a value (at most 200 characters). */
  describe(): string {
    const parts = this.inputs.slice(0, maxListedNames).map(showValue)
    const more = this.inputs.length - parts.length
    return parts.length === 0 ? "the query (no filter)" : `${parts.join(" and ")}${more > 0 ? ` and ${more} more filters` : ""}`
  }
}
