/**
 * The driver contract checks its own input: `validated(driver)` refuses every malformed call with a
 * `StoreError` (Invalid, or Unsupported for an unknown operator) before the implementation sees it, so a
 * store implements storage only and every store refuses the same requests with the same messages.
 *
 * An implementation behind it never receives:
 * - a table name that is not a string, or (unless `capabilities.shared`) a table no `declare` through this
 *   layer has added;
 * - a table spec without a name, constraint fields or index paths of strings, or an index kind other than
 *   `hash` or `sorted`;
 * - a document that is not a plain object with a safe-integer `id` and a string `uid`;
 * - a condition `Evaluator.check` refuses (an unknown operator, a bad path, a refused regex, too deep);
 * - an order key without a path of strings or with a direction other than `asc`/`desc`; a `limit` or
 *   `offset` that is not a non-negative safe integer; a cursor without one value per order key and a
 *   safe-integer id;
 * - an id that is not a safe integer, a `reserveIds` count that is not a non-negative safe integer;
 * - an update patch that is not a plain object, changes the id or sets a non-string uid, or an `expect`
 *   that is not a plain object;
 * - a batch op of an unknown kind, or one that any of the above refuses.
 *
 * A shared store (`capabilities.shared`) may be handed a table another handle declared, so it still
 * answers an undeclared table itself (with Invalid, as here).
 */
import { Effect } from "effect"
import type { Cursor, FindSpec, OrderKey } from "./Ast.js"
import type { Doc, Driver, IndexSpec, TableSpec, UniqueSpec, WriteOp } from "./Driver.js"
import { showValue, StoreError } from "./Errors.js"
import { check } from "./Evaluator.js"
import { isPlainObject } from "./Limits.js"

/** Drivers this module returned: wrapping one again returns it as is. */
const checkedDrivers = new WeakSet<Driver>()

const refuse = (detail: string): never => {
  throw StoreError.invalid(detail)
}

const isSafeId = (id: unknown): id is number => Number.isSafeInteger(id)

const isNames = (value: unknown): value is ReadonlyArray<string> =>
  Array.isArray(value) && value.length > 0 && value.every((s) => typeof s === "string")

const checkUnique = (table: string, u: UniqueSpec): void => {
  if (!isPlainObject(u) || typeof u.name !== "string" || u.name === "")
    refuse(`a unique constraint on ${table} needs a name (a non-empty string), got ${showValue(u)}`)
  if (!isNames(u.fields))
    refuse(`unique constraint "${u.name}" on ${table} needs a non-empty array of field names, got ${showValue(u.fields)}`)
}

const checkIndex = (table: string, i: IndexSpec): void => {
  if (!isPlainObject(i) || !isNames(i.path))
    refuse(`an index on ${table} needs a non-empty path of strings, got ${showValue(isPlainObject(i) ? i.path : i)}`)
  if (i.kind !== "hash" && i.kind !== "sorted")
    refuse(`the index on ${table} at ${showValue(i.path)} is "hash" or "sorted", got ${showValue(i.kind)}`)
}

const checkSpec = (spec: TableSpec): void => {
  if (!isPlainObject(spec)) refuse(`a table spec must be an object, got ${showValue(spec)}`)
  const { name, unique, indexes } = spec
  if (typeof name !== "string" || name === "") refuse(`a table needs a name (a non-empty string), got ${showValue(name)}`)
  if (!Array.isArray(unique)) refuse(`the unique constraints of ${name} must be an array, got ${showValue(unique)}`)
  if (!Array.isArray(indexes)) refuse(`the indexes of ${name} must be an array, got ${showValue(indexes)}`)
  for (const u of unique) checkUnique(name, u)
  for (const i of indexes) checkIndex(name, i)
}

/** Top level only: a deep walk would cost each insert as much as the store's own copy of the document. */
const checkDoc = (table: string, doc: Doc): void => {
  if (!isPlainObject(doc)) refuse(`${table} documents must be plain JSON objects, got ${showValue(doc)}`)
  if (!isSafeId(doc["id"])) refuse(`${table} documents need an integer id, got ${showValue(doc["id"])}`)
  if (typeof doc["uid"] !== "string") refuse(`${table} document ${doc["id"]} needs a string uid, got ${showValue(doc["uid"])}`)
}

const checkDocs = (table: string, docs: ReadonlyArray<Doc>): void => {
  if (!Array.isArray(docs)) refuse(`insert into ${table} takes an array of documents, got ${showValue(docs)}`)
  for (const doc of docs) checkDoc(table, doc)
}

const checkIds = (table: string, ids: ReadonlyArray<number>): void => {
  if (!Array.isArray(ids)) refuse(`ids of ${table} must be an array, got ${showValue(ids)}`)
  for (const id of ids) if (!isSafeId(id)) refuse(`ids of ${table} are integers, got ${showValue(id)}`)
}

const checkUpdate = (table: string, id: number, patch: Doc, expect: Doc | undefined): void => {
  if (!isSafeId(id)) refuse(`ids of ${table} are integers, got ${showValue(id)}`)
  if (!isPlainObject(patch)) refuse(`an update of ${table} row ${id} takes a plain object patch, got ${showValue(patch)}`)
  // A member set to `undefined` counts: a store that merges by JSON text would drop the field.
  if (Object.hasOwn(patch, "id") && patch["id"] !== id)
    refuse(`cannot change the id of ${table} row ${id}: the patch sets it to ${showValue(patch["id"])}`)
  if (Object.hasOwn(patch, "uid") && typeof patch["uid"] !== "string")
    refuse(`${table} row ${id} needs a string uid, the patch sets it to ${showValue(patch["uid"])}`)
  if (expect !== undefined && !isPlainObject(expect))
    refuse(`the expected values of an update of ${table} row ${id} must be a plain object, got ${showValue(expect)}`)
}

/** The default of an exhaustive switch over `WriteOp`: a caller outside TypeScript may still send another. */
const unknownOp = (tag: never): never => refuse(`a batch op is an Insert, Update or Delete, got ${showValue(tag)}`)

const checkCount = (table: string, count: number): void => {
  if (!Number.isSafeInteger(count) || count < 0)
    refuse(`cannot reserve ${showValue(count)} ids on ${table}: expected a non-negative integer`)
}

const checkOrderKey = (table: string, key: OrderKey): void => {
  if (!isPlainObject(key) || !isNames(key.path))
    refuse(`an order key on ${table} needs a non-empty path of strings, got ${showValue(key)}`)
  if (key.direction !== "asc" && key.direction !== "desc")
    refuse(`the order key ${showValue(key.path)} on ${table} is "asc" or "desc", got ${showValue(key.direction)}`)
}

const checkCursor = (table: string, orderBy: ReadonlyArray<OrderKey>, after: Cursor): void => {
  if (!isPlainObject(after) || !Array.isArray(after.values) || after.values.length !== orderBy.length || !isSafeId(after.id))
    refuse(`a cursor on ${table} is { values: one per order key (${orderBy.length}), id: an integer }, got ${showValue(after)}`)
}

const checkFind = (table: string, spec: FindSpec): void => {
  if (!isPlainObject(spec)) refuse(`a find on ${table} takes a plain object spec, got ${showValue(spec)}`)
  check(spec.where)
  if (!Array.isArray(spec.orderBy)) refuse(`the order of a find on ${table} must be an array, got ${showValue(spec.orderBy)}`)
  for (const key of spec.orderBy) checkOrderKey(table, key)
  for (const [name, n] of [["limit", spec.limit], ["offset", spec.offset]] as const)
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 0))
      refuse(`the ${name} of a find on ${table} must be a non-negative integer, got ${showValue(n)}`)
  if (spec.after !== undefined) checkCursor(table, spec.orderBy, spec.after)
}

/**
 * `driver` behind the contract's checks; its other own members (a store's own extras) are copied, so an extra
 * a class declares on its prototype is not. Each check runs when the returned effect runs, then the
 * implementation is called.
 */
export const validated = <D extends Driver>(driver: D): D => {
  if (checkedDrivers.has(driver)) return driver
  /** Tables a `declare` through this layer has added. */
  const declared = new Set<string>()

  const table = (name: string): string => {
    if (typeof name !== "string") refuse(`a table name must be a string, got ${showValue(name)}`)
    if (!driver.capabilities.shared && !declared.has(name)) refuse(`unknown table "${name}": declare it first`)
    return name
  }

  const checkOp = (op: WriteOp): void => {
    if (!isPlainObject(op)) refuse(`a batch op must be an object, got ${showValue(op)}`)
    const tag = op._tag
    switch (tag) {
      case "Insert":
        return checkDocs(table(op.table), op.docs)
      case "Update":
        return checkUpdate(table(op.table), op.id, op.patch, op.expect)
      case "Delete":
        return checkIds(table(op.table), op.ids)
      default:
        return unknownOp(tag)
    }
  }

  const checkOps = (ops: ReadonlyArray<WriteOp>): void => {
    if (!Array.isArray(ops)) refuse(`a batch takes an array of ops, got ${showValue(ops)}`)
    for (const op of ops) checkOp(op)
  }

  // Every method is called on `driver`, so one that reads `this` (a driver written as a class) still works.
  const batch = driver.batch
  const checked: Driver = {
    name: driver.name,
    capabilities: driver.capabilities,
    declare: (specs) =>
      guarded(
        () => {
          if (!Array.isArray(specs)) refuse(`declare takes an array of table specs, got ${showValue(specs)}`)
          for (const spec of specs) checkSpec(spec)
        },
        () =>
          Effect.tap(
            driver.declare(specs),
            Effect.sync(() => {
              for (const spec of specs) declared.add(spec.name)
            })
          )
      ),
    reserveIds: (name, count) => guarded(() => checkCount(table(name), count), () => driver.reserveIds(name, count)),
    insert: (name, docs) => guarded(() => checkDocs(table(name), docs), () => driver.insert(name, docs)),
    update: (name, id, patch, expect) =>
      guarded(() => checkUpdate(table(name), id, patch, expect), () => driver.update(name, id, patch, expect)),
    remove: (name, ids) => guarded(() => checkIds(table(name), ids), () => driver.remove(name, ids)),
    get: (name, ids) => guarded(() => checkIds(table(name), ids), () => driver.get(name, ids)),
    find: (name, spec) => guarded(() => checkFind(table(name), spec), () => driver.find(name, spec)),
    count: (name, where) =>
      guarded(
        () => {
          table(name)
          check(where)
        },
        () => driver.count(name, where)
      ),
    batch: batch === undefined ? undefined : (ops) => guarded(() => checkOps(ops), () => batch.call(driver, ops)),
    close: () => driver.close()
  }
  const result = { ...driver, ...checked }
  checkedDrivers.add(result)
  return result
}

/** Runs `checks` when the effect runs: a thrown `StoreError` is the failure, else `call` answers. */
const guarded = <A>(checks: () => void, call: () => Effect.Effect<A, StoreError>): Effect.Effect<A, StoreError> =>
  Effect.flatMap(StoreError.attempt(checks), call)
