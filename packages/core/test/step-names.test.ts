/**
 * A `step`/`flow` without a key is named for what it wraps: the function's own name (a bound function's
 * without `bound `), else the variable it is assigned to where it is wrapped (`const scale = ln.step(…)`, read
 * from the caller's source at the frame's line and column), but only when the source leaves no doubt that the
 * variable holds the wrapped function; otherwise its calls are refused with a `ValidationError` asking for a
 * key, and nothing is written. The caller's file is read only as far as the bounds of `CallSite` allow, kept
 * while its size and modification time stay the same, and a missing one names nothing. It works the same when
 * core is bundled into an app, ESM or CommonJS.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"
import { build } from "tsup"
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import * as MemoryStore from "../../store-memory/src/index.js"
import { ArtifactStorage } from "../src/Artifacts.js"
import { maxCachedBytes, maxSourceBytes } from "../src/CallSite.js"
import { TrackNotCalled, ValidationError } from "../src/Errors.js"
import * as Lineage from "../src/Lineage.js"
import { Run, Transform } from "../src/Registry.js"
import { make as makeStore, Store, type StoreShape } from "../src/Store.js"
import * as Tracking from "../src/Tracking.js"

const dir = mkdtempSync(join(tmpdir(), "lineage-step-names-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("the Promise face", () => {
  let ln: Lineage.Client
  beforeEach(async () => {
    ln = await Lineage.connect("memory:", { storage: dir })
    await ln.track({ transform: { key: "pipeline.ts", kind: "script" }, handleProcess: false })
  })
  afterEach(async () => {
    await ln.close()
  })

  const keys = async () => (await ln.Transform.filter({ kind: "function" }).all()).map((t) => t.key).sort()

  it("names a step for the variable it is assigned to", async () => {
    const scale = ln.step(async ({ factor }: { readonly factor: number }) => factor * 2)
    expect(await scale({ factor: 2 })).toBe(4)
    expect(await keys()).toEqual(["pipeline.ts/scale"])
  })

  it("names a step for the function's own name first", async () => {
    const renamed = ln.step(async function normalize() {
      return 1
    })
    await renamed()
    expect(await keys()).toEqual(["pipeline.ts/normalize"])
  })

  it("names a flow for its variable, with let and a type argument too", async () => {
    await ln.finish()
    let etl = ln.flow<[], number>(async () => 1)
    await etl()
    etl = ln.flow(async () => 2, { key: "given" })
    await etl()
    expect(await keys()).toEqual(["etl", "given"])
  })

  it("names each of two declarators for its own step, or refuses the one it cannot be sure of", async () => {
    const a = ln.step(async () => 3), b = ln.step(async () => 4)
    expect(await a()).toBe(3)
    expect(await b().catch((x: unknown) => x)).toBeInstanceOf(ValidationError)
    expect(await keys()).toEqual(["pipeline.ts/a"])
  })

  it("refuses to name a step whose wrapped function is called where it is wrapped", async () => {
    const runs = await ln.Run.filter().count()
    const e = await (async () => {
      const r2 = ln.step(async () => 55)()
      return r2
    })().catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ValidationError)
    expect(await ln.Run.filter().count()).toBe(runs)
  })

  it("names a step wrapped over several lines, whatever its body holds", async () => {
    const normalize = ln.step(async (x: number) => {
      // A closing parenthesis in a comment ) and in text ")" or `)${")"}`, and one in a regex: /\)/
      const pattern = /\)/
      return pattern.test(")") ? x / 2 : x
    })
    expect(await normalize(4)).toBe(2)
    expect(await keys()).toEqual(["pipeline.ts/normalize"])
  })

  it("keys a bound function by its own name, without bound, and names an anonymous bound one for its variable", async () => {
    const scale = async function scale(this: { readonly by: number }, x: number) {
      return x * this.by
    }
    const doubled = ln.step(scale.bind({ by: 2 }))
    expect(await doubled(3)).toBe(6)
    const tripled = ln.step(async function (this: { readonly by: number }, x: number) {
      return x * this.by
    }.bind({ by: 3 }))
    expect(await tripled(3)).toBe(9)
    expect(await keys()).toEqual(["pipeline.ts/scale", "pipeline.ts/tripled"])
    const run = await ln.Run.filter({ transform__key: "pipeline.ts/scale" }).one()
    expect(run.entrypoint).toBe("scale")
  })

  it("refuses a call of a step it cannot name, asking for a key, and records nothing", async () => {
    const runs = await ln.Run.filter().count()
    const e = await ln.step(async () => 1)().catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ValidationError)
    expect((e as ValidationError).field).toBe("key")
    expect((e as ValidationError).message).toContain("{ key:")
    expect(await ln.Run.filter().count()).toBe(runs)
    expect(await keys()).toEqual([])
  })
})

describe("the Effect face", () => {
  let store: StoreShape
  const run = <A, E>(effect: Effect.Effect<A, E, Store>): Promise<A> =>
    Effect.runPromise(effect.pipe(Effect.provideService(Store, store), Effect.provideService(ArtifactStorage, dir)))
  beforeEach(async () => {
    store = await Effect.runPromise(makeStore(MemoryStore.makeDriver()))
    await run(Tracking.track({ transform: { key: "effect.ts", kind: "script" }, handleProcess: false }))
  })
  afterEach(async () => {
    await run(Tracking.finish())
  })

  const keys = async () => (await run(Transform.filter({ kind: "function" }).all())).map((t) => t.key).sort()

  it("names a step for the variable it is assigned to", async () => {
    const triple = Tracking.step((x: number) => Effect.succeed(x * 3))
    expect(await run(triple(2))).toBe(6)
    expect(await keys()).toEqual(["effect.ts/triple"])
  })

  type Wrap = (tracking: typeof Tracking, effect: typeof Effect) => () => Effect.Effect<void, unknown, Store>

  /** The statements of a function that wraps an anonymous step as `scale` and returns it. */
  const wrapsScale = "  const scale = Tracking.step(() => Effect.void)\n  return scale\n"

  /** A module outside the repository, `before` and then `wrap`, a function of `body` (by default, `wrapsScale`). */
  const moduleWrapping = async (name: string, before: string, body = wrapsScale) => {
    const file = join(dir, name)
    writeFileSync(file, `${before}export const wrap = (Tracking, Effect) => {\n${body}}\n`)
    const module = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as { readonly wrap: Wrap }
    return { file, wrap: module.wrap }
  }

  it("reads the line that wraps the step from the caller's own file", async () => {
    const { wrap } = await moduleWrapping("wraps.mjs", "")
    await run(wrap(Tracking, Effect)())
    expect(await keys()).toEqual(["effect.ts/scale"])
  })

  it("reads no further than maxSourceBytes of the caller's file: past them the step has no name", async () => {
    const filler = `// ${"x".repeat(1_000)}\n`.repeat(Math.ceil(maxSourceBytes / 1_000) + 1)
    const { wrap } = await moduleWrapping("huge.mjs", filler)
    const runs = await run(Run.filter().count())
    const started = Date.now()
    const e = await run(Effect.flip(wrap(Tracking, Effect)()))
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(e).toBeInstanceOf(ValidationError)
    expect(await run(Run.filter().count())).toBe(runs)
  })

  it("reads the caller's file in a directory whose name holds parentheses, as a module and as CommonJS", async () => {
    const copy = join(dir, "dir (copy)")
    mkdirSync(copy, { recursive: true })
    const { wrap } = await moduleWrapping(join("dir (copy)", "wraps.mjs"), "")
    await run(wrap(Tracking, Effect)())
    const cjs = join(copy, "wraps.cjs")
    writeFileSync(cjs, `exports.wrap = (Tracking, Effect) => {\n  const shift = Tracking.step(() => Effect.void)\n  return shift\n}\n`)
    const { wrap: wrapCjs } = createRequire(import.meta.url)(cjs) as { readonly wrap: Wrap }
    await run(wrapCjs(Tracking, Effect)())
    expect(await keys()).toEqual(["effect.ts/scale", "effect.ts/shift"])
  })

  it("refuses to name a step whose result the next line calls (no semicolon between them)", async () => {
    const { wrap } = await moduleWrapping("next-line.mjs", "", "  const scale = Tracking.step(() => Effect.void)\n  (1)\n  return () => scale\n")
    expect(await run(Effect.flip(wrap(Tracking, Effect)()))).toBeInstanceOf(ValidationError)
    expect(await keys()).toEqual([])
  })

  it("names a step followed by a new statement on the next line, without a semicolon", async () => {
    const { wrap } = await moduleWrapping("asi.mjs", "", "  const scale = Tracking.step(() => Effect.void)\n  Effect.void\n  return scale\n")
    await run(wrap(Tracking, Effect)())
    expect(await keys()).toEqual(["effect.ts/scale"])
  })

  it("keeps a file it read while its size and modification time stay the same, and reads it again once they change", async () => {
    const file = join(dir, "kept.mjs")
    const at = new Date("2026-01-01T00:00:00Z")
    const { wrap } = await moduleWrapping("kept.mjs", "")
    utimesSync(file, at, at)
    await run(wrap(Tracking, Effect)())
    // Another name of the same length, at the same time: the file as read before still names the step.
    writeFileSync(file, `export const wrap = (Tracking, Effect) => {\n${wrapsScale.replaceAll("scale", "scalf")}}\n`)
    utimesSync(file, at, at)
    await run(wrap(Tracking, Effect)())
    expect(await keys()).toEqual(["effect.ts/scale"])
    const later = new Date("2026-01-02T00:00:00Z")
    utimesSync(file, later, later)
    await run(wrap(Tracking, Effect)())
    expect(await keys()).toEqual(["effect.ts/scale", "effect.ts/scalf"])
  })

  it("keeps at most maxCachedBytes of files, forgetting the least recently used first", async () => {
    const at = new Date("2026-01-01T00:00:00Z")
    const { file, wrap } = await moduleWrapping("first.mjs", "")
    utimesSync(file, at, at)
    await run(wrap(Tracking, Effect)())
    // Other files of almost maxSourceBytes each, enough to hold all the bytes kept: the first one goes.
    const filler = `// ${"x".repeat(maxSourceBytes - 1_000)}\n`
    for (let i = 0; i <= maxCachedBytes / maxSourceBytes; i++) {
      const other = await moduleWrapping(`other-${i}.mjs`, filler)
      await run(other.wrap(Tracking, Effect)())
    }
    writeFileSync(file, `export const wrap = (Tracking, Effect) => {\n${wrapsScale.replaceAll("scale", "scalf")}}\n`)
    utimesSync(file, at, at)
    await run(wrap(Tracking, Effect)())
    expect(await keys()).toEqual(["effect.ts/scale", "effect.ts/scalf"])
  })

  it("names nothing when the caller's file is gone", async () => {
    const { file, wrap } = await moduleWrapping("gone.mjs", "")
    rmSync(file)
    expect(await run(Effect.flip(wrap(Tracking, Effect)()))).toBeInstanceOf(ValidationError)
  })
})

describe("with nothing tracked", () => {
  it("refuses a step's call with TrackNotCalled first, whether or not it can be named", async () => {
    const ln = await Lineage.connect("memory:", { storage: dir })
    try {
      expect(await ln.step(async () => 1)().catch((x: unknown) => x)).toBeInstanceOf(TrackNotCalled)
      const named = ln.step(async () => 1)
      expect(await named().catch((x: unknown) => x)).toBeInstanceOf(TrackNotCalled)
    } finally {
      await ln.close()
    }
  })
})

describe("core bundled into an app", () => {
  /** An app that tracks a run and calls a step it wraps, importing core and the memory store from their sources. */
  const app = (root: string) => `import { Effect } from "effect"
import * as MemoryStore from ${JSON.stringify(join(root, "packages/store-memory/src/index.ts"))}
import { Artifacts, Store, Tracking, Transform } from ${JSON.stringify(join(root, "packages/core/src/index.ts"))}

const T = Tracking

export const functionKeys = async (storage: string): Promise<ReadonlyArray<string>> => {
  const store = await Effect.runPromise(Store.make(MemoryStore.makeDriver()))
  const run = <A, E>(effect: Effect.Effect<A, E, Store.Store>) =>
    Effect.runPromise(effect.pipe(Effect.provideService(Store.Store, store), Effect.provideService(Artifacts.ArtifactStorage, storage)))
  await run(T.track({ transform: { key: "app.ts", kind: "script" }, handleProcess: false }))
  const scale = T.step(() => Effect.void)
  await run(scale())
  await run(T.finish())
  return (await run(Transform.filter({ kind: "function" }).all())).map((t) => t.key)
}
`

  it.each(["esm", "cjs"] as const)("loads and names a step for its variable (%s)", async (format) => {
    const root = join(import.meta.dirname, "../../..")
    const work = mkdtempSync(join(tmpdir(), "lineage-bundled-"))
    try {
      writeFileSync(join(work, "app.ts"), app(root))
      await build({
        entry: { app: join(work, "app.ts") },
        format: [format],
        outDir: join(work, "out"),
        platform: "node",
        target: "node20",
        noExternal: [/.*/],
        outExtension: () => ({ js: format === "esm" ? ".mjs" : ".cjs" }),
        silent: true,
        config: false,
        esbuildOptions: (options) => {
          // The app lives outside the repository: its own imports resolve from the repository's dependencies.
          options.nodePaths = [join(root, "node_modules")]
          options.conditions = ["@lineage/source"]
        }
      })
      const bundle = join(work, "out", format === "esm" ? "app.mjs" : "app.cjs")
      const program =
        format === "esm"
          ? `import { functionKeys } from ${JSON.stringify(pathToFileURL(bundle).href)}\nconsole.log(JSON.stringify(await functionKeys(process.argv[1])))`
          : `require(${JSON.stringify(bundle)}).functionKeys(process.argv[1]).then((keys) => console.log(JSON.stringify(keys)))`
      const args = format === "esm" ? ["--input-type=module", "-e", program, join(work, "storage")] : ["-e", program, join(work, "storage")]
      const result = spawnSync(process.execPath, args, { encoding: "utf8", cwd: work })
      expect(result.stderr).toBe("")
      expect(JSON.parse(result.stdout)).toEqual(["app.ts/scale"])
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
  }, 120_000)
})
