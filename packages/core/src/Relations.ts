/**
 * Turns a normalised condition whose paths may cross relations into one a driver can answer on a single
 * table: each relation predicate becomes a semi-join, answered first on the related table and then replaced
 * by an `in` over ids. Predicates on one relation inside the same `And` are answered together, so
 * `{ inputArtifacts: { key: "a", size: { gt: 1 } } }` asks for one artifact that has both.
 */
import { Effect } from "effect"
import * as Ast from "./Ast.js"
import { modelOf } from "./Records.js"
import type { Driver } from "./Driver.js"
import type { StoreError } from "./Errors.js"
import type { Doc } from "./Evaluator.js"
import type { Model, Relation } from "./Model.js"

const isRelational = (model: Model, c: Ast.Cond): c is Ast.Field =>
  c._tag === "Field" && c.path.length > 0 && Object.hasOwn(model.relations, c.path[0]!)

const distinctIds = (docs: ReadonlyArray<Doc>, field: string): Array<number> => {
  const out = new Set<number>()
  for (const d of docs) {
    const v = d[field]
    if (typeof v === "number") out.add(v)
  }
  return [...out]
}

const all = (driver: Driver, model: Model, where: Ast.Cond) =>
  driver.find(model.table, { where, orderBy: [] })

/** Ids of records that have at least one related record matching `sub` (any related record: `Ast.always`). */
const idsWithRelated = (
  driver: Driver,
  relation: Relation,
  sub: Ast.Cond
): Effect.Effect<Array<number>, StoreError> =>
  Effect.gen(function* () {
    const target = modelOf(relation.to)
    const targetWhere = yield* resolve(driver, target, sub)
    switch (relation.kind) {
      case "forward":
        return distinctIds(yield* all(driver, target, targetWhere), "id")
      case "reverse":
        return distinctIds(yield* all(driver, target, targetWhere), relation.field)
      case "link": {
        const link = modelOf(relation.link)
        const linkWhere =
          sub === Ast.always
            ? Ast.always
            : Ast.field([relation.other], "in", distinctIds(yield* all(driver, target, targetWhere), "id"))
        return distinctIds(yield* all(driver, link, linkWhere), relation.self)
      }
    }
  })

const relationCond = (
  driver: Driver,
  model: Model,
  name: string,
  subs: ReadonlyArray<Ast.Field>
): Effect.Effect<Ast.Cond, StoreError> =>
  Effect.gen(function* () {
    const relation = model.relations[name]!
    const conds: Array<Ast.Cond> = []
    const rest: Array<Ast.Cond> = []
    for (const f of subs) {
      if (f.path.length === 1) {
        // `relation: null` / `relation__isNull`: having no related record at all.
        const isNull = f.value === true
        if (relation.kind === "forward") conds.push(Ast.field([relation.field], "isNull", isNull))
        else {
          const ids = yield* idsWithRelated(driver, relation, Ast.always)
          conds.push(Ast.field(["id"], isNull ? "notIn" : "in", ids))
        }
      } else if (
        relation.kind === "forward" &&
        f.path.length === 2 &&
        f.path[1] === "id" &&
        (f.op === "eq" || f.op === "in")
      ) {
        // The id is already on this record: no semi-join needed.
        conds.push(Ast.field([relation.field], f.op, f.value))
      } else rest.push({ ...f, path: f.path.slice(1) })
    }
    if (rest.length > 0) {
      const ids = yield* idsWithRelated(driver, relation, Ast.and(rest))
      conds.push(Ast.field([relation.kind === "forward" ? relation.field : "id"], "in", ids))
    }
    return Ast.and(conds)
  })

/** The driver-level condition equivalent to `cond` on `model`'s table. */
export const resolve = (driver: Driver, model: Model, cond: Ast.Cond): Effect.Effect<Ast.Cond, StoreError> =>
  Effect.gen(function* () {
    switch (cond._tag) {
      case "Field":
        return isRelational(model, cond) ? yield* relationCond(driver, model, cond.path[0]!, [cond]) : cond
      case "Not":
        return Ast.not(yield* resolve(driver, model, cond.cond))
      case "Or": {
        const parts: Array<Ast.Cond> = []
        for (const c of cond.conds) parts.push(yield* resolve(driver, model, c))
        return { _tag: "Or", conds: parts }
      }
      case "And": {
        const groups = new Map<string, Array<Ast.Field>>()
        const parts: Array<Ast.Cond> = []
        for (const c of cond.conds) {
          if (isRelational(model, c)) {
            const name = c.path[0]!
            groups.set(name, [...(groups.get(name) ?? []), c])
          } else parts.push(yield* resolve(driver, model, c))
        }
        for (const [name, fields] of groups) parts.push(yield* relationCond(driver, model, name, fields))
        return { _tag: "And", conds: parts }
      }
    }
  })
