/**
 * The write script's arguments come in the sections `WriteScript.sections` declares: `ScriptCall.args` packs
 * them, and the script finds them with a preamble generated from the same declaration. Here Redis runs that
 * preamble on a packed call and reports where it finds each section, which must be what was packed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { keySpace } from "../src/Keys.js"
import { sha1 } from "../src/Scripts.js"
import { assemble, ScriptCall, type Section, sections } from "../src/WriteScript.js"
import { freshDriver, run } from "../../../test/support/redis.js"
import type { RedisDriver } from "../src/index.js"

/** A script returning, per declared section, its count and first argument's index. */
const locate = assemble(
  `local out = {}\n${sections.map((s) => `out[#out + 1] = {count.${s.name}, start.${s.name}}`).join("\n")}\nreturn out`
)

describe("the write script's sections", () => {
  let driver: RedisDriver
  beforeAll(async () => {
    driver = await freshDriver("write-script")
  })
  afterAll(() => run(driver.close()))

  /** Each section as the script finds it: its arguments, with key numbers replaced by the keys. */
  const read = async (call: ScriptCall): Promise<Record<string, ReadonlyArray<string>>> => {
    const args = call.args("7", 1_000)
    const located = (await driver.client.eval(locate, call.keys.length, ...call.keys, ...args)) as Array<[number, number]>
    const key = (ref: string) => call.keys[Number(ref) - 1]!
    const out: Record<string, ReadonlyArray<string>> = {}
    sections.forEach((s, i) => {
      const [count, start] = located[i]!
      if (s.arity === "grouped") {
        // Per entry: `key, n`, then n pairs `0, member`.
        const part = args.slice(start - 1)
        const entries: Array<string> = []
        for (let j = 0, e = 0; e < count; e++) {
          const end = j + 2 + 2 * Number(part[j + 1])
          entries.push(key(part[j]!), ...part.slice(j + 1, end))
          j = end
        }
        out[s.name] = entries
      } else {
        // The first argument of every entry is a key.
        const part = args.slice(start - 1, start - 1 + s.arity * count)
        out[s.name] = part.map((a, j) => (j % s.arity === 0 ? key(a) : a))
      }
    })
    return out
  }

  it("are found by the script where the call packed them", async () => {
    const call = new ScriptCall(keySpace("p"), "token")
    call.guard("doc:1", '{"id":1}')
    call.guard("doc:2", null)
    call.guardMembers("index:id", ["a", "b"])
    call.raiseFloor("seq", 9)
    call.release("unique", "old", 1)
    call.claim("unique", "new", 1, { table: "t", unique: { name: "t_u", fields: ["u"] }, values: ["new"] })
    call.zrem("index:x", "m0")
    call.set("doc:1", '{"id":1,"x":2}')
    call.del("doc:3")
    call.hset("schema", "t", "{}")
    call.zadd("index:x", "m1")
    call.zadd("index:y", "m2")
    call.zadd("index:x", "m3")
    const expected: Record<Section, ReadonlyArray<string>> = {
      guards: ["doc:1", sha1('{"id":1}')],
      absent: ["doc:2"],
      indexGuards: ["index:id", sha1("a,b")],
      floors: ["seq", "9"],
      releases: ["unique", "old", "1"],
      claims: ["unique", "new", "1"],
      zrems: ["index:x", "m0"],
      sets: ["doc:1", '{"id":1,"x":2}'],
      dels: ["doc:3"],
      hsets: ["schema", "t", "{}"],
      zadds: ["index:x", "2", "0", "m1", "0", "m3", "index:y", "1", "0", "m2"]
    }
    expect(await read(call)).toEqual(expected)
  })

  it("an empty call has every section empty", async () => {
    const call = new ScriptCall(keySpace("p"), "token")
    expect(call.isEmpty).toBe(true)
    expect(Object.values(await read(call)).every((part) => part.length === 0)).toBe(true)
  })

  it("a script body that reads an undeclared section, or leaves one unread, is refused", () => {
    const all = sections.map((s) => `count.${s.name} start.${s.name}`).join("\n")
    expect(() => assemble(`${all}\nstart.extra`)).toThrow(/undeclared sections \[extra\]/)
    expect(() => assemble(all.replace("start.sets", "").replace("count.sets", ""))).toThrow(/leaves unread \[sets\]/)
  })
})
