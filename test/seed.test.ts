/**
 * The seed page's examples (lamindb's `Run` docs), each in the Promise face.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { DoesNotExist, Lineage, MultipleObjectsReturned, Q } from "@lineage/core"

let ln: Lineage.Client
beforeEach(async () => {
  ln = await Lineage.connect("memory:")
})
afterEach(async () => {
  if (ln.context.isTracked) await ln.finish()
  await ln.close()
})

describe("the seed page, in TypeScript", () => {
  it('creates "Cell Ranger" 7.2.0 and gets it back by key and version', async () => {
    await ln.Transform.create({ key: "Cell Ranger", version: "7.2.0", kind: "pipeline" })
    const transform = await ln.Transform.get({ key: "Cell Ranger", version: "7.2.0" })
    expect(transform.key).toBe("Cell Ranger")
    expect(transform.kind).toBe("pipeline")
    expect(transform.uid).toMatch(/^[0-9A-Za-z]{12}0000$/)
  })

  it("Run(transform): a run of a saved transform", async () => {
    const transform = await ln.Transform.create({ key: "Cell Ranger", version: "7.2.0", kind: "pipeline" })
    const run = await ln.Run.create({ transform, reference: "https://example.org/run/1", referenceType: "url" })
    expect(run.transformId).toBe(transform.id)
    expect(run.status).toBe("scheduled")
    expect(run.startedAt).toBeInstanceOf(Date)
    expect((await ln.Run.filter({ transform }).one()).id).toBe(run.id)
  })

  it("track(transform=transform): the global run is ln.context.run", async () => {
    const transform = await ln.Transform.create({ key: "Cell Ranger", version: "7.2.0", kind: "pipeline" })
    const run = await ln.track({ transform })
    expect(ln.context.run?.id).toBe(run.id)
    expect(ln.context.run?.transformId).toBe(transform.id)
    expect(ln.context.run?.status).toBe("started")
  })

  it("track() with no transform derives it from the entry script", () => {
    const script = fileURLToPath(new URL("./fixtures/track-script.ts", import.meta.url))
    const out = execFileSync(process.execPath, ["--import", "tsx", "--conditions=@lineage/source", script], {
      encoding: "utf8",
      env: { ...process.env, LINEAGE_STORE: "memory:" }
    })
    const seen = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, unknown>
    expect(seen).toMatchObject({ key: "track-script.ts", kind: "script", hasSource: true, started: "started", finished: "completed" })
    expect(seen["hash"]).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(seen["params"]).toEqual({ hyperparam_x: 100 })
  })

  it("run.features.add with the nested dict, then filter by features and by params", async () => {
    await ln.Feature.create({ name: "learning_rate", dtype: "float" })
    await ln.Feature.create({ name: "input_dir", dtype: "str" })
    await ln.Feature.create({ name: "downsample", dtype: "bool" })
    await ln.Feature.create({ name: "preprocess_params", dtype: "dict" })
    const transform = await ln.Transform.create({ key: "Cell Ranger", version: "7.2.0", kind: "pipeline" })
    await ln.track({ transform, params: { hyperparam_x: 100 } })
    await ln.context.run!.features.add({
      learning_rate: 0.01,
      input_dir: "s3://my-bucket/mydataset",
      downsample: true,
      preprocess_params: { normalization_type: "cool", subset_highlyvariable: true }
    })
    const other = await ln.Run.create({ transform, params: { hyperparam_x: 1 } })
    await other.features.add({ learning_rate: 0.1, downsample: false })

    expect(await ln.context.run!.features.get()).toEqual({
      learning_rate: 0.01,
      input_dir: "s3://my-bucket/mydataset",
      downsample: true,
      preprocess_params: { normalization_type: "cool", subset_highlyvariable: true }
    })
    // Feature names are data: declared by no LineageFeatures here, they are queried through an untyped Q.
    const byFeature = await ln.Run.filter(Q.and<unknown>({ learning_rate: 0.01 })).all()
    expect(byFeature.map((r) => r.id)).toEqual([ln.context.run!.id])
    expect(await ln.Run.filter(Q.and<unknown>({ preprocess_params__normalization_type: "cool" })).count()).toBe(1)
    expect(await ln.Run.filter(Q.and<unknown>({ learning_rate__gt: 0.001, downsample: false })).count()).toBe(1)
    // Fields and features in one filter (lamindb cannot mix them).
    expect(await ln.Run.filter(Q.and<unknown>({ transform__key: "Cell Ranger", learning_rate__lt: 0.05 })).count()).toBe(1)
    const byParam = await ln.Run.filter({ params__hyperparam_x: 100 }).all()
    expect(byParam.map((r) => r.id)).toEqual([ln.context.run!.id])
    expect(await ln.context.run!.features.describe()).toContain("learning_rate")
  })

  it("gets a transform by uid prefix; no match and ambiguous prefixes are typed errors", async () => {
    const transform = await ln.Transform.create({ key: "Cell Ranger", version: "7.2.0", kind: "pipeline" })
    expect((await ln.Transform.get(transform.uid.slice(0, 8))).id).toBe(transform.id)
    const missing = await ln.Transform.get("zzzzzzzz").catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(DoesNotExist)
    expect(missing).toBeInstanceOf(Error)
    expect((missing as DoesNotExist)._tag).toBe("DoesNotExist")
    expect((missing as DoesNotExist).message).toContain("zzzzzzzz")
    await ln.Run.create({ transform, uid: "AAAAAAAAAAAAAAA1" })
    await ln.Run.create({ transform, uid: "AAAAAAAAAAAAAAA2" })
    const ambiguous = await ln.Run.get("AAAA").catch((e: unknown) => e)
    expect(ambiguous).toBeInstanceOf(MultipleObjectsReturned)
    expect((ambiguous as MultipleObjectsReturned).count).toBe(2)
    expect((await ln.Run.get("AAAAAAAAAAAAAAA2")).uid).toBe("AAAAAAAAAAAAAAA2")
  })
})
