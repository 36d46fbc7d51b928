/**
 * A SQLite store with a small tracked history, written through the Promise face as a user's script would:
 * a download run producing `raw.csv`; a sweep of `train` runs over learning rates, each reading `raw.csv` and
 * producing a model with an `accuracy` feature (the last four under version 2.2 of `train`); a `prepare` run
 * whose `normalize` step reads `raw.csv` and writes `normalized.csv`, a step that fails (an errored run) and
 * an artifact with no key whose description is markup; a run whose params and features have names no query
 * key can hold as written (`oddNames`); and two scheduled runs whose uids share a long prefix. Returns what the
 * tests look for. `seedWide` writes a store whose one artifact is read by more runs than a graph draws.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Lineage } from "@lineage/core"

export interface Seeded {
  readonly directory: string
  /** `sqlite:<directory>/lineage.db`; bytes in `<directory>/storage`. */
  readonly url: string
  readonly storage: string
  readonly raw: { readonly uid: string; readonly bytes: string }
  readonly normalized: { readonly uid: string }
  /** The train runs, by learning rate. */
  readonly train: ReadonlyArray<{ readonly uid: string; readonly learningRate: number; readonly model: string }>
  /** The uids of `train` 2.1 and 2.2. */
  readonly trainVersions: readonly [string, string]
  readonly download: { readonly uid: string }
  readonly prepare: { readonly uid: string }
  readonly normalize: { readonly uid: string }
  readonly failed: { readonly uid: string }
  /** An output of `prepare` with no key: its description, `hostileText`, is its label. */
  readonly notes: { readonly uid: string }
  /** The run of `oddNames`. */
  readonly odd: { readonly uid: string }
  /** Two scheduled runs of `download`: their uids start with `scheduledPrefix`. */
  readonly scheduled: readonly [string, string]
  /** Every run. */
  readonly runs: number
}

export const rawBytes = "cell,size\na,1\nb,4\nc,9\nd,16\n"

/** The learning rates of the sweep: more runs than one page of the viewer's table holds. */
export const learningRates = Array.from({ length: 24 }, (_, i) => Number((0.001 * (i + 1)).toFixed(3)))

export const scheduledPrefix = "Schedu1ed00000"

/** Text that would run script if a page inserted it as markup; it sets `window.__pwned`. */
export const hostileText = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> & "quoted"`

/**
 * Names a query cannot take as written: a param with a comma (two order keys if joined as they are), one with a
 * space, a feature named like a Run field (`status`), one with a space.
 */
export const oddNames = { params: { "a,b": 1, "x y": 2 }, features: { status: 3, "two words": 4 } } as const

export const seed = async (): Promise<Seeded> => {
  const directory = mkdtempSync(join(tmpdir(), "lineage-viewer-"))
  const url = `sqlite:${join(directory, "lineage.db")}`
  const ln = await Lineage.connect(url)
  try {
    await ln.Feature.getOrCreate({ name: "rows" }, { dtype: "int" })
    await ln.Feature.getOrCreate({ name: "accuracy" }, { dtype: "float" })
    for (const name of Object.keys(oddNames.features)) await ln.Feature.getOrCreate({ name }, { dtype: "int" })

    const download = await ln.track({ transform: { key: "download", version: "1.0" }, params: { source: "https://example.org/cells.csv" } })
    const raw = await ln.Artifact.fromBytes(rawBytes, { key: "data/raw.csv", description: "raw measurements" })
    await ln.context.run!.features.add({ rows: 4 })
    await ln.finish()

    const train: Array<{ uid: string; learningRate: number; model: string }> = []
    for (const [i, learningRate] of learningRates.entries()) {
      // The last runs use a new version of the transform: one key, two versions, one uid family.
      const version = i < learningRates.length - 4 ? "2.1" : "2.2"
      const run = await ln.track({ transform: { key: "train", version }, params: { learning_rate: learningRate, epochs: 3 } })
      await ln.Artifact.load(raw)
      const accuracy = Number((0.8 + learningRate).toFixed(4))
      const model = await ln.Artifact.fromBytes(JSON.stringify({ learningRate, accuracy }), { key: `models/model-${learningRate}.json` })
      await model.features.add({ accuracy })
      await ln.context.run!.features.add({ accuracy })
      await ln.finish()
      train.push({ uid: run.uid, learningRate, model: model.uid })
    }

    const prepare = await ln.track({ transform: { key: "prepare", version: "1.0" } })
    const normalize = ln.step(
      async ({ scaling }: { readonly scaling: string }) => {
        const text = new TextDecoder().decode(await ln.Artifact.load(raw))
        return ln.Artifact.fromBytes(`${text}# scaled by ${scaling}\n`, { key: "normalized.csv" })
      },
      { key: "normalize" }
    )
    const normalized = await normalize({ scaling: "max" })
    const explode = ln.step(
      async ({ reason }: { readonly reason: string }) => {
        throw new Error(reason)
      },
      { key: "explode" }
    )
    await explode({ reason: hostileText }).catch(() => undefined)
    const notes = await ln.Artifact.fromBytes("notes\n", { description: hostileText })
    await ln.finish()

    const odd = await ln.track({ transform: { key: "odd names" }, params: oddNames.params })
    await ln.context.run!.features.add(oddNames.features)
    await ln.finish()

    const downloadTransform = await ln.Transform.get({ key: "download" })
    for (const n of [1, 2]) await ln.Run.create({ uid: `${scheduledPrefix}0${n}`, transformId: downloadTransform.id, status: "scheduled" })

    const trainVersions = (await ln.Transform.filter({ key: "train" }).orderBy("createdAt").all()).map((t) => t.uid)
    const stepRuns = await ln.Run.filter({ initiatedByRun__uid: prepare.uid }).all()
    const normalizeRun = stepRuns.find((r) => r.status === "completed")!
    const failed = stepRuns.find((r) => r.status === "errored")!
    return {
      directory,
      url,
      storage: join(directory, "storage"),
      raw: { uid: raw.uid, bytes: rawBytes },
      normalized: { uid: normalized.uid },
      train,
      trainVersions: [trainVersions[0]!, trainVersions[1]!],
      download: { uid: download.uid },
      prepare: { uid: prepare.uid },
      normalize: { uid: normalizeRun.uid },
      failed: { uid: failed.uid },
      notes: { uid: notes.uid },
      odd: { uid: odd.uid },
      scheduled: [`${scheduledPrefix}01`, `${scheduledPrefix}02`],
      runs: await ln.Run.filter().count()
    }
  } finally {
    await ln.close()
  }
}

/**
 * A SQLite store in a directory of its own where one artifact is read by `readers` runs: its graph, one hop
 * downstream, has `readers + 1` nodes. Returns the directory, the store's URL and storage root, and the uid.
 */
export const seedWide = async (readers: number) => {
  const directory = mkdtempSync(join(tmpdir(), "lineage-viewer-wide-"))
  const url = `sqlite:${join(directory, "lineage.db")}`
  const ln = await Lineage.connect(url)
  try {
    await ln.track({ transform: { key: "publish" } })
    const shared = await ln.Artifact.fromBytes("shared\n", { key: "shared.txt" })
    await ln.finish()
    for (let i = 0; i < readers; i++) {
      await ln.track({ transform: { key: "read" } })
      await ln.Artifact.load(shared)
      await ln.finish()
    }
    return { directory, url, storage: join(directory, "storage"), shared: shared.uid }
  } finally {
    await ln.close()
  }
}
