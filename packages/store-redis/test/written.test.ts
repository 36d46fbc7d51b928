/**
 * An update of a document this client wrote is prepared from what it wrote (`Writes.Written`), without reading
 * the document first; that is a guess, and another client may have changed the document since. Whatever the
 * guess is wrong about, the update is decided on what is stored: it keeps the other client's change, a
 * compare-and-set holds or fails on the stored values, and a patch that would change nothing in the guess still
 * applies to a document it does change.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import type { Driver } from "@lineage/core"
import { failureOf } from "../../../test/support/failures.js"
import { freshDriver, reopen, run, watchCommands } from "../../../test/support/redis.js"
import type { RedisDriver } from "../src/index.js"

const table: Driver.TableSpec = { name: "t", unique: [{ name: "t_uid", fields: ["uid"] }], indexes: [{ path: ["x"], kind: "hash" }] }

describe("updates prepared from what this client wrote", () => {
  let writer: RedisDriver
  let other: RedisDriver
  let id = 0
  beforeAll(async () => {
    writer = await freshDriver("written")
    other = await reopen(writer)
    await run(writer.declare([table]))
  })
  afterAll(async () => {
    await run(other.close())
    await run(writer.close())
  })
  beforeEach(async () => {
    id++
    await run(writer.insert("t", [{ id, uid: `u${id}`, x: 1, y: 1 }]))
  })

  const stored = async () => (await run(other.get("t", [id])))[0]

  it("read nothing before the script when nothing else wrote the document", async () => {
    const names: Array<string> = []
    await watchCommands(writer.client, (command) => names.push(command.name), () => run(writer.update("t", id, { x: 2 })))
    expect(names).toEqual(["evalsha"])
    expect(await stored()).toEqual({ id, uid: `u${id}`, x: 2, y: 1 })
  })

  it("keep what another client changed since", async () => {
    await run(other.update("t", id, { y: 2 }))
    expect(await run(writer.update("t", id, { x: 3 }))).toEqual({ id, uid: `u${id}`, x: 3, y: 2 })
    expect(await stored()).toEqual({ id, uid: `u${id}`, x: 3, y: 2 })
    expect((await run(writer.verifyIndexes())).drift).toEqual([])
  })

  it("hold a compare-and-set on the stored values, not the guessed ones", async () => {
    await run(other.update("t", id, { x: 5 }))
    // The guess holds x: 1, which the expectation would refuse.
    expect(await run(writer.update("t", id, { x: 6 }, { x: 5 }))).toMatchObject({ x: 6 })
    const refused = await failureOf(writer.update("t", id, { x: 7 }, { x: 1 }))
    expect(refused.reason._tag).toBe("Conflict")
    expect(await stored()).toMatchObject({ x: 6 })
  })

  it("apply a patch that changes nothing in the guess to the stored document it changes", async () => {
    await run(other.update("t", id, { x: 8 }))
    expect(await run(writer.update("t", id, { x: 1 }))).toMatchObject({ x: 1 })
    expect(await stored()).toMatchObject({ x: 1 })
  })

  it("find a document another client removed gone", async () => {
    await run(other.remove("t", [id]))
    const missing = await failureOf(writer.update("t", id, { x: 9 }))
    expect(missing.reason._tag).toBe("NotFound")
  })
})
