/**
 * Progress of large transfers: drawn on a terminal only, once per whole percent, ended with a newline; and
 * shown by `fromPath` while it hashes and copies a file over the threshold.
 */
import { randomBytes } from "node:crypto"
import { appendFileSync, closeSync, mkdtempSync, openSync, ftruncateSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import * as Artifacts from "../src/Artifacts.js"
import type * as Records from "../src/Records.js"
import { meter, progressMinBytes, ProgressStream } from "../src/Progress.js"
import { make as makeStore, Store } from "../src/Store.js"

/** A stand-in for process.stderr that keeps what is written. */
const terminal = (isTTY: boolean) => {
  const writes: Array<string> = []
  return { isTTY, writes, write: (text: string) => writes.push(text) }
}

describe("meter", () => {
  it("draws once per whole percent reached on a terminal and ends the line", () => {
    const out = terminal(true)
    const total = progressMinBytes * 2
    const m = meter(out, "hashing big.bin", total)
    for (let done = 0; done < total; done += 256 * 1024) m.advance(256 * 1024)
    m.finish()
    expect(out.writes[0]).toBe(`\rhashing big.bin [${" ".repeat(24)}] 0% of 128 MiB`)
    expect(out.writes.at(-2)).toBe(`\rhashing big.bin [${"#".repeat(24)}] 100% of 128 MiB`)
    expect(out.writes.at(-1)).toBe("\n")
    const percents = out.writes.slice(0, -1).map((w) => Number(/ (\d+)% /.exec(w)?.[1]))
    expect(percents).toEqual(Array.from({ length: 101 }, (_, i) => i))
  })

  it("never counts past the total", () => {
    const out = terminal(true)
    const m = meter(out, "copying", progressMinBytes)
    m.advance(progressMinBytes * 3)
    expect(out.writes.at(-1)).toContain(" 100% of 64 MiB")
  })

  it("shows a label's control characters as ?, so a file name cannot drive the terminal", () => {
    const out = terminal(true)
    const m = meter(out, "hashing evil\x1b]0;owned\x07\x1b[2J\r\n\u009b.bin", progressMinBytes)
    m.finish()
    expect(out.writes[0]).toMatch(/^\rhashing evil\?\]0;owned\?\?\[2J\?\?\?\.bin \[/)
    expect(out.writes.join("").replace(/^\r/, "").slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/)
  })

  it("ends the line once however often finish is called", () => {
    const out = terminal(true)
    const m = meter(out, "x", progressMinBytes)
    m.finish()
    m.finish()
    expect(out.writes.filter((w) => w === "\n")).toHaveLength(1)
  })

  it("writes nothing off a terminal, or for a transfer below the threshold", () => {
    const pipe = terminal(false)
    const small = terminal(true)
    for (const [out, size] of [
      [pipe, progressMinBytes * 4],
      [small, progressMinBytes - 1]
    ] as const) {
      const m = meter(out, "x", size)
      m.advance(size)
      m.finish()
    }
    expect(pipe.writes).toEqual([])
    expect(small.writes).toEqual([])
  })
})

describe("fromPath on a large file", () => {
  let dir: string | undefined
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it("shows hashing and copying progress on the terminal it is given", async () => {
    dir = mkdtempSync(join(tmpdir(), "lineage-progress-test-"))
    const source = join(dir, "big.bin")
    writeFileSync(source, randomBytes(progressMinBytes + 1))
    const out = terminal(true)
    const store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
    const artifact = await Effect.runPromise(
      Artifacts.fromPath(source, { run: null }).pipe(
        Effect.provideService(Store, store),
        Effect.provideService(Artifacts.ArtifactStorage, join(dir, "storage")),
        Effect.provideService(ProgressStream, out)
      )
    )
    expect(artifact.size).toBe(progressMinBytes + 1)
    const text = out.writes.join("")
    expect(text).toContain("\rhashing big.bin [")
    expect(text).toContain("\rcopying big.bin [")
    expect(text.match(/100% of 64 MiB\n/g)).toHaveLength(2)
  })

  /** A sparse file just over the threshold: no bytes to generate, and read back as zeros. */
  const big = (name: string) => {
    dir = mkdtempSync(join(tmpdir(), "lineage-progress-test-"))
    const source = join(dir, name)
    const fd = openSync(source, "w")
    ftruncateSync(fd, progressMinBytes + 1)
    closeSync(fd)
    return source
  }

  const register = async (source: string, out: ReturnType<typeof terminal>) => {
    const store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
    const provide = <A, E>(effect: Effect.Effect<A, E, Store>) =>
      effect.pipe(
        Effect.provideService(Store, store),
        Effect.provideService(Artifacts.ArtifactStorage, join(dir!, "storage")),
        Effect.provideService(ProgressStream, out)
      )
    const artifact = await Effect.runPromise(Effect.result(provide(Artifacts.fromPath(source, { run: null }))))
    return { artifact, load: (a: Records.Artifact) => Effect.runPromise(Effect.result(provide(Artifacts.load(a)))) }
  }

  it("records the size of the bytes hashed when the file grows after it was stat'ed, so it loads", async () => {
    const source = big("growing.log")
    const out = terminal(true)
    // The first progress line is drawn after the stat and before the first read: the file grows there.
    const write = out.write
    out.write = (text: string) => {
      if (out.writes.length === 0) appendFileSync(source, "one more line\n")
      return write(text)
    }
    const { artifact, load } = await register(source, out)
    if (artifact._tag !== "Success") throw artifact.failure
    expect(artifact.success.size).toBe(progressMinBytes + 1 + "one more line\n".length)
    const bytes = await load(artifact.success)
    expect(bytes._tag === "Success" ? bytes.success.byteLength : bytes.failure).toBe(artifact.success.size)
  })

  it("ends the progress line when hashing fails", async () => {
    const source = big("vanishing.bin")
    const out = terminal(true)
    const write = out.write
    out.write = (text: string) => {
      if (out.writes.length === 0) rmSync(source)
      return write(text)
    }
    const { artifact } = await register(source, out)
    expect(artifact).toMatchObject({ _tag: "Failure", failure: { _tag: "ArtifactStorageError", reason: "Io" } })
    expect(out.writes.at(-1)).toBe("\n")
  })
})
