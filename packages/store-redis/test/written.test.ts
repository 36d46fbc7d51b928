/**
 * An update of a document this client wrote is prepared from what it wrote (`Writes.Written`), without reading
 * the document first; that is a guess, and another client may have changed the document since. Whatever the
 * guess is wrong about, the update is decided on what is stored: it keeps the other client's change, a
 * compare-and-set holds or fails on the stored values, and a patch that would change nothing in the guess still
 * applies to a document it does change. What is kept is bounded in bytes as well as in documents.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import type { Driver } from "@lineage/core"
import { failureOf } from "../../../test/support/failures.js"
import { freshDriver, reopen, run, type SentCommand, watchCommands } from "../../../test/support/redis.js"
import type { RedisDriver } from "../src/index.js"
import { maxWrittenBytes, maxWrittenDocBytes, Written } from "../src/Writes.js"

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

  it("read a document first whose JSON was too large to keep", async () => {
    const blob = "b".repeat(maxWrittenDocBytes)
    await run(writer.update("t", id, { blob }))
    const names: Array<string> = []
    await watchCommands(writer.client, (command) => names.push(command.name), () => run(writer.update("t", id, { x: 2 })))
    expect(names).toEqual(["mget", "evalsha"])
    expect(await stored()).toEqual({ id, uid: `u${id}`, x: 2, y: 1, blob })
  })

  it("remember what a write whose reply was lost left, once it is found applied", async () => {
    let lost = false
    // The server runs the script; its reply is then lost, as with a connection that dies after sending it.
    const loseReply = (sent: SentCommand) => {
      if (lost || sent.name !== "evalsha") return
      lost = true
      // An ioredis command settles through these two.
      const command = sent as SentCommand & { resolve: (reply: unknown) => void; reject: (e: Error) => void }
      command.resolve = () => command.reject(new Error("Connection is closed."))
    }
    await watchCommands(writer.client, loseReply, () => run(writer.update("t", id, { x: 2 })))
    expect(lost).toBe(true)
    expect(writer.stats().replayedWrites).toBe(1)
    const names: Array<string> = []
    await watchCommands(writer.client, (command) => names.push(command.name), () => run(writer.update("t", id, { x: 3 })))
    expect(names).toEqual(["evalsha"])
    expect(await stored()).toEqual({ id, uid: `u${id}`, x: 3, y: 1 })
  })
})

describe("what a client keeps of what it wrote", () => {
  const wrote = (entries: ReadonlyArray<readonly [string, string | null]>) => ({ written: new Map(entries) })

  it("keep no document whose JSON is above its cap", () => {
    const written = new Written()
    const large = `"${"a".repeat(maxWrittenDocBytes)}"`
    // Fewer characters than the cap, more bytes of UTF-8.
    const wide = `"${"é".repeat(maxWrittenDocBytes / 2)}"`
    written.remember(wrote([["small", "{}"], ["large", large], ["wide", wide]]))
    expect(written.get("large")).toBeUndefined()
    expect(written.get("wide")).toBeUndefined()
    expect(written.get("small")).toBe("{}")
    expect(written.bytes).toBe(2)
  })

  it("forget a document it kept when a write leaves it too large", () => {
    const written = new Written()
    written.remember(wrote([["doc", "{}"]]))
    written.remember(wrote([["doc", `"${"a".repeat(maxWrittenDocBytes)}"`]]))
    expect(written.get("doc")).toBeUndefined()
    expect(written.bytes).toBe(0)
  })

  it("stay under the byte cap, letting the least recently written go first", () => {
    const written = new Written()
    const raw = (i: number) => `"${String(i).padEnd(maxWrittenDocBytes - 2, "x")}"`
    const docs = (2 * maxWrittenBytes) / maxWrittenDocBytes
    for (let i = 0; i < docs; i++) {
      written.remember(wrote([[`d${i}`, raw(i)]]))
      // Written again, the first document is the most recently written one.
      if (i % 10 === 9) written.remember(wrote([["d0", raw(0)]]))
      expect(written.bytes).toBeLessThanOrEqual(maxWrittenBytes)
    }
    expect(written.bytes).toBe(written.size * maxWrittenDocBytes)
    expect(written.size).toBe(maxWrittenBytes / maxWrittenDocBytes)
    expect(written.get("d0")).toBe(raw(0))
    expect(written.get(`d${docs - 1}`)).toBe(raw(docs - 1))
    expect(written.get("d1")).toBeUndefined()
  })

  it("forget a removed document and its bytes", () => {
    const written = new Written()
    written.remember(wrote([["a", "{}"], ["b", "[]"]]))
    written.remember(wrote([["a", null]]))
    expect(written.get("a")).toBeUndefined()
    expect([written.size, written.bytes]).toEqual([1, 2])
  })
})
