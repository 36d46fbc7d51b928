/** URLs, opening failures, WAL mode and two handles on one file. */
import { mkdtempSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import Database from "better-sqlite3"
import { Effect, Exit } from "effect"
import { fromUrl, parseUrl } from "@lineage/store-sqlite"

const dir = () => mkdtempSync(join(tmpdir(), "lineage-sqlite-"))

describe("sqlite store", () => {
  it("parses sqlite: URLs and refuses malformed ones naming why", () => {
    expect(parseUrl("sqlite:./a/b.db")).toEqual({ filename: "./a/b.db", busyTimeoutMs: undefined })
    expect(parseUrl("sqlite:/abs/x.db?busyTimeoutMs=10")).toEqual({ filename: "/abs/x.db", busyTimeoutMs: 10 })
    expect(parseUrl("sqlite::memory:")).toEqual({ filename: ":memory:", busyTimeoutMs: undefined })
    expect(parseUrl("sqlite:")).toHaveProperty("refused")
    expect(JSON.stringify(parseUrl("sqlite:x.db?bogus=1"))).toContain("bogus")
    expect(parseUrl("sqlite:x.db?bogus=1&bogus=2")).toEqual({ refused: 'unknown option "bogus" (known options: busyTimeoutMs)' })
    expect(JSON.stringify(parseUrl("sqlite:x.db?busyTimeoutMs=-1"))).toContain("busyTimeoutMs")
  })

  it("percent-decodes the path, refuses a host, a leading ~ and a fragment, and never shows query values", () => {
    expect(parseUrl("sqlite:./a%3Fb%23c%25d%20e.db")).toEqual({ filename: "./a?b#c%d e.db", busyTimeoutMs: undefined })
    expect(parseUrl("sqlite:./%7E/x.db")).toEqual({ filename: "./~/x.db", busyTimeoutMs: undefined })
    const refusal = (url: string) => {
      const parsed = parseUrl(url)
      if (!("refused" in parsed)) throw new Error(`expected ${url} to be refused`)
      return parsed.refused
    }
    expect(refusal("sqlite://host/x.db")).toContain("sqlite:/abs/path.db")
    expect(refusal("sqlite:~/x.db")).toContain("home directory")
    expect(refusal("sqlite:./a#b.db")).toContain("%23")
    expect(refusal("sqlite:./a%zz.db")).toContain("%25")
    for (const url of ["sqlite:?key=hunter2", "sqlite:x.db?busyTimeoutMs=hunter2", "sqlite:x.db?hunter1=hunter2", "sqlite://h/x?k=hunter2"])
      expect(refusal(url)).not.toContain("hunter2")
  })

  it("creates the database file 0600 (its -wal and -shm alike) and its directories 0700", async () => {
    const file = join(dir(), "private", "store.db")
    const driver = await Effect.runPromise(fromUrl(`sqlite:${file}`))
    await Effect.runPromise(driver.declare([{ name: "t", unique: [], indexes: [] }]))
    await Effect.runPromise(driver.insert("t", [{ id: 1, uid: "a" }]))
    const mode = (path: string) => statSync(path).mode & 0o777
    expect(mode(dirname(file))).toBe(0o700)
    for (const path of [file, `${file}-wal`, `${file}-shm`]) expect(mode(path)).toBe(0o600)
    await Effect.runPromise(driver.close())
  })

  it("creates parent directories, sets WAL, and fails typed on a path it cannot open", async () => {
    const file = join(dir(), "deep", "er", "store.db")
    const driver = await Effect.runPromise(fromUrl(`sqlite:${file}`))
    await Effect.runPromise(driver.declare([{ name: "t", unique: [], indexes: [] }]))
    const db = new Database(file, { readonly: true })
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal")
    db.close()
    await Effect.runPromise(driver.close())
    const blocker = join(dir(), "file")
    writeFileSync(blocker, "")
    const exit = await Effect.runPromiseExit(fromUrl(`sqlite:${join(blocker, "sub", "x.db")}`))
    expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("StoreError")
  })

  it("a second handle waits for a held write lock, then fails Unavailable when the busy timeout expires", async () => {
    const file = join(dir(), "s.db")
    const a = await Effect.runPromise(fromUrl(`sqlite:${file}?busyTimeoutMs=50`))
    await Effect.runPromise(a.declare([{ name: "t", unique: [], indexes: [] }]))
    const holder = new Database(file)
    holder.exec("BEGIN IMMEDIATE")
    const exit = await Effect.runPromiseExit(a.insert("t", [{ id: 1, uid: "a" }]))
    expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("Unavailable")
    holder.exec("ROLLBACK")
    holder.close()
    await Effect.runPromise(a.insert("t", [{ id: 1, uid: "a" }]))
    expect(await Effect.runPromise(a.get("t", [1]))).toEqual([{ id: 1, uid: "a" }])
    await Effect.runPromise(a.close())
  })
})
