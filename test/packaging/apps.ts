/**
 * The applications the packaging test installs the tarballs into, as files by name. Each ends by printing one
 * JSON line the test compares. The ESM and CommonJS apps share one tracked run written in plain JavaScript;
 * the TypeScript app writes it again with types, since type-checking it against the packed declarations is
 * its point.
 */

/** A tracked run through the Promise face: a pipeline run with a step, an artifact, a feature, then queries. */
const trackedRunJs = `async (Lineage, url) => {
  const ln = await Lineage.connect(url)
  try {
    const transform = await ln.Transform.create({ key: "packaging", version: "1", kind: "pipeline" })
    await ln.Feature.create({ name: "accuracy", dtype: "float" })
    await ln.track({ transform, params: { n: 21 } })
    const double = ln.step(async ({ n }) => n * 2)
    const doubled = await double({ n: 21 })
    const data = await ln.Artifact.fromBytes("a,b\\n1,2\\n", { key: "data.csv" })
    await ln.context.run.features.add({ accuracy: 0.9 })
    await ln.finish()
    const { nodes } = await ln.lineage(data)
    return {
      doubled,
      completed: await ln.Run.filter({ status: "completed" }).count(),
      accurate: await ln.Run.filter({ accuracy__gt: 0.5 }).count(),
      lineageNodes: nodes.length
    }
  } finally {
    await ln.close()
  }
}`

const esm = `import { Lineage } from "@lineage/core"

const trackedRun = ${trackedRunJs}

const memory = await trackedRun(Lineage, "memory:")
const redis = await trackedRun(Lineage, process.env.REDIS_URL)
console.log(JSON.stringify({ memory, redis }))
`

const cjs = `const { Lineage, StoreError } = require("@lineage/core")
const MemoryStore = require("@lineage/store-memory")
const { runConformance } = require("@lineage/conformance")

const trackedRun = ${trackedRunJs}

/** Core imports the Redis adapter, which imports core: the error it fails with must be this app's StoreError. */
const refusal = async () => {
  try {
    await Lineage.connect("redis://127.0.0.1:1/0")
    return { connected: true }
  } catch (e) {
    return { instanceOfStoreError: e instanceof StoreError, reason: e.reason?._tag }
  }
}

;(async () => {
  const memory = await trackedRun(Lineage, "memory:")
  const refused = await refusal()
  console.log(JSON.stringify({ memory, refused, adapters: { memory: typeof MemoryStore.fromUrl, conformance: typeof runConformance } }))
})()
`

const ts = `import { Lineage, Q, Run, StoreError, Tracking, Transform } from "@lineage/core"
import { groups, runConformance } from "@lineage/conformance"
import * as MemoryStore from "@lineage/store-memory"
import * as MongoStore from "@lineage/store-mongodb"
import * as RedisStore from "@lineage/store-redis"
import { Effect } from "effect"

interface Outcome {
  readonly doubled: number
  readonly completed: number
  readonly accurate: number
  readonly lineageNodes: number
}

const trackedRun = async (url: string): Promise<Outcome> => {
  const ln: Lineage.Client = await Lineage.connect(url)
  try {
    const transform = await ln.Transform.create({ key: "packaging", version: "1", kind: "pipeline" })
    await ln.Feature.create({ name: "accuracy", dtype: "float" })
    await ln.track({ transform, params: { n: 21 } })
    const double = ln.step(async ({ n }: { readonly n: number }) => n * 2)
    const doubled: number = await double({ n: 21 })
    const data = await ln.Artifact.fromBytes("a,b\\n1,2\\n", { key: "data.csv" })
    await ln.context.run?.features.add({ accuracy: 0.9 })
    await ln.finish()
    const { nodes } = await ln.lineage(data)
    return {
      doubled,
      completed: await ln.Run.filter({ status: "completed" }).count(),
      // A feature no declaration names: through the untyped Q.where.
      accurate: await ln.Run.filter(Q.where("accuracy", "gt", 0.5)).count(),
      lineageNodes: nodes.length
    }
  } finally {
    await ln.close()
  }
}

/** The Effect face: a run tracked and queried with the combinators, on a store layer. */
const effectFace = Effect.gen(function* () {
  const transform = yield* Transform.create({ key: "effect-face", kind: "script" })
  yield* Tracking.track({ transform, params: { x: 1 } })
  yield* Tracking.finish()
  return yield* Run.filter(Q.or({ status: "errored" }, { params__x__gte: 1 })).count()
})

/** The packed declarations reach this file: were they \`any\`, these refusals would not be errors. */
export const refused = async (ln: Lineage.Client, e: StoreError) => {
  // @ts-expect-error: a store URL is a string
  await Lineage.connect(6379)
  // @ts-expect-error: a limit is a number
  ln.Run.filter({ status: "completed" }).limit("10")
  // @ts-expect-error: a count is a number
  const count: string = await ln.Run.filter({ status: "completed" }).count()
  // @ts-expect-error: StoreError reasons are a closed union
  return e.reason._tag === "Timeout" ? count : undefined
}

/** The adapters' options, checked under exactOptionalPropertyTypes. */
export const options = {
  redis: { url: "redis://127.0.0.1:6379/0", prefix: "typed" } satisfies Parameters<typeof RedisStore.make>[0],
  mongodb: { url: "mongodb://127.0.0.1:27017/typed", serverSelectionTimeoutMs: 200 } satisfies Parameters<typeof MongoStore.make>[0]
}

export const reasonOf = (e: unknown): string | undefined => (e instanceof StoreError ? e.reason._tag : undefined)

const report = await runConformance({ makeDriver: async () => MemoryStore.makeDriver(), groups: [groups.crud], log: () => {} })
console.log(
  JSON.stringify({
    memory: await trackedRun("memory:"),
    mongodb: await trackedRun(process.env["MONGO_URL"] ?? ""),
    effectFace: await Effect.runPromise(effectFace.pipe(Effect.provide(MemoryStore.layer()))),
    conformance: { failed: report.failed, passed: report.passed }
  })
)
`

const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2023"],
    module: "nodenext",
    moduleResolution: "nodenext",
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    // The dependencies' own declarations are not this test's to check (effect's need the DOM library).
    skipLibCheck: true,
    types: ["node"],
    noEmit: true
  },
  files: ["main.ts"]
}

export const appSources = () => ({
  esm: { "main.js": esm },
  cjs: { "main.cjs": cjs },
  ts: { "main.ts": ts, "tsconfig.json": JSON.stringify(tsconfig, null, 2) }
})
