/**
 * `in` and `notIn` lists are bounded by `maxListValues`: a list at the limit is answered, a longer one is an
 * `InvalidQuery` naming the field, the length and the limit, before any store is touched.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Feature, Features, InvalidQuery, Q, Run, Store, Transform } from "../src/index.js"
import { maxListValues } from "../src/Limits.js"
import * as ReferenceDriver from "../../conformance/src/ReferenceDriver.js"

describe("in and notIn lists", () => {
  it(`answer at maxListValues (${maxListValues}) values and refuse one more, naming the field, the length and the limit`, async () => {
    let touched = 0
    const inner = ReferenceDriver.make()
    const driver = {
      ...inner,
      find: (...args: Parameters<typeof inner.find>) => {
        touched++
        return inner.find(...args)
      }
    }
    const store = await Effect.runPromise(Store.make(driver))
    const exec = <A, E>(effect: Effect.Effect<A, E, Store.Store>) => Effect.runPromise(Effect.provideService(effect, Store.Store, store))
    const failure = <A, E>(effect: Effect.Effect<A, E, Store.Store>) => exec(Effect.flip(effect))

    const transform = await exec(Transform.create({ key: "lists.ts" }))
    const runs = await exec(Effect.forEach([0, 1, 2], () => Run.create({ transformId: transform.id })))
    await exec(Feature.create({ name: "score", dtype: "int" }))
    await exec(Features.add(runs[1]!, { score: 4 }))
    const atLimit = Array.from({ length: maxListValues }, (_, i) => runs[0]!.id + 2 * i)
    expect((await exec(Run.filter({ id__in: atLimit }).orderBy("id").all())).map((r) => r.id)).toEqual([runs[0]!.id, runs[2]!.id])
    expect(await exec(Run.filter({ id__not_in: atLimit }).count())).toBe(1)
    expect(await exec(Run.filter(Q.where("score", "in", atLimit.map((_, i) => i))).count())).toBe(1)

    const tooLong = [...atLimit, 1]
    touched = 0
    for (const [key, field, operator] of [
      ["id__in", "id", "in"],
      ["id__not_in", "id", "notIn"],
      ["score__in", "score", "in"]
    ] as const) {
      const error = await failure(Run.filter(Q.and<unknown>({ [key]: tooLong })).count())
      expect(error).toBeInstanceOf(InvalidQuery)
      const refused = error as InvalidQuery
      expect(refused.field).toBe(field)
      expect(refused.operator).toBe(operator)
      expect(refused.expected).toBe(`an array of at most ${maxListValues} values (maxListValues), got ${maxListValues + 1}`)
    }
    expect(touched).toBe(0)
  })
})
