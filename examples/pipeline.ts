/**
 * A small pipeline, tracked end to end (`npm run demo`) on the default store: SQLite in `./.lineage`, so every
 * execution adds to the history of the ones before (delete `./.lineage` to start over; `LINEAGE_STORE` picks
 * another store, `memory:` one that forgets):
 *
 *   download  (a transform tracked with track())   → raw.csv
 *   normalize (a step with params and features)    raw.csv → normalized.csv
 *   train     (a flow with nested steps)           normalized.csv → model.json, metrics.json
 *
 * Then it prints this execution's runs, the executions so far, a query by feature value, and the lineage of the
 * model as Mermaid, and names the commands that show the same runs without code (`lineage ui`). What a second
 * execution finds, it reuses: features and transforms are declared with get-or-create semantics, and the same
 * bytes are the same artifact.
 */
import { Lineage, Q } from "@lineage/core"

const ln = await Lineage.connect() // ./.lineage/lineage.db, unless LINEAGE_STORE says otherwise

// Features are declared once, with a dtype; values are validated against it. A later execution finds them.
await ln.Feature.getOrCreate({ name: "rows" }, { dtype: "int" })
await ln.Feature.getOrCreate({ name: "scaling" }, { dtype: "str" })
await ln.Feature.getOrCreate({ name: "accuracy" }, { dtype: "float" })

// 1. download: a tracked run of a pipeline transform; what it registers is its output.
const downloaded = await ln.track({ transform: { key: "download", version: "1.0", kind: "pipeline" }, params: { source: "https://example.org/cells.csv", api_key: "never stored" } })
const raw = await ln.Artifact.fromBytes("cell,size\na,1\nb,4\nc,9\nd,16\n", { key: "raw.csv", description: "raw measurements" })
await ln.context.run!.features.add({ rows: 4 })
await ln.finish()

// 2. normalize: each call of a step is a run, its arguments are its params.
await ln.track({ transform: { key: "prepare", version: "1.0" } })
const normalize = ln.step(
  async ({ scaling }: { readonly scaling: "max" | "sum" }) => {
    const text = new TextDecoder().decode(await ln.Artifact.load(raw)) // loading makes raw.csv an input
    const rows = text.trim().split("\n").slice(1).map((line) => line.split(","))
    const sizes = rows.map(([, size]) => Number(size))
    const scale = scaling === "max" ? Math.max(...sizes) : sizes.reduce((a, b) => a + b, 0)
    const out = ["cell,size", ...rows.map(([cell, size]) => `${cell},${(Number(size) / scale).toFixed(3)}`)].join("\n")
    return ln.Artifact.fromBytes(out, { key: "normalized.csv" })
  },
  { key: "normalize" }
)
const normalized = await normalize({ scaling: "max" })
await ln.finish()

// 3. train: a flow whose steps run concurrently; each sees its own run.
const fit = ln.step(
  async (fold: number) => {
    await ln.Artifact.load(normalized)
    return 0.9 + fold / 100
  },
  { key: "fit" }
)
const train = ln.flow(
  async ({ folds }: { readonly folds: number }) => {
    const scores = await Promise.all(Array.from({ length: folds }, (_, fold) => fit(fold)))
    const accuracy = scores.reduce((a, b) => a + b, 0) / scores.length
    const model = await ln.Artifact.fromBytes(JSON.stringify({ weights: [0.3, 0.7], accuracy }), { key: "model.json" })
    await model.features.add({ accuracy })
    return model
  },
  { key: "train" }
)
const model = await train({ folds: 3 })

const pad = (s: unknown, n: number) => String(s).padEnd(n)
console.log("runs of this execution")
for (const run of await ln.Run.filter({ startedAt__gte: downloaded.startedAt }).orderBy("startedAt").all()) {
  const transform = await ln.Transform.get(run.transformId)
  console.log(" ", pad(run.uid.slice(0, 8), 10), pad(transform.key, 20), pad(run.status, 11), JSON.stringify(run.params ?? {}))
}

// Each execution starts with one run of download: the executions so far, newest last.
const executions = ln.Run.filter({ transform__key: "download" })
console.log(`\nruns so far: ${await ln.Run.filter().count()}; executions of this demo so far: ${await executions.count()}, the latest:`)
for (const run of [...(await executions.orderBy("-startedAt").limit(5).all())].reverse())
  console.log(" ", run.uid, run.startedAt.toISOString(), ...(run.uid === downloaded.uid ? ["(this one)"] : []))

// A feature's name is data: until `lineage types` declares it (LineageFeatures), the untyped Q.where names it.
console.log("\nartifacts with accuracy > 0.9 (a feature, queried like a field):")
for (const a of await ln.Artifact.filter(Q.where("accuracy", "gt", 0.9)).all()) console.log(" ", a.key, (await a.features.get())["accuracy"])

console.log("\nruns of the normalize step whose inputs include raw.csv:")
console.log(" ", await ln.Run.filter({ transform__key__endswith: "normalize", inputArtifacts__key: "raw.csv" }).count())

const { mermaid } = await ln.lineage(model, { direction: "upstream", depth: 10 })
console.log("\nlineage of model.json\n")
console.log(mermaid)

await ln.close()

// The same runs without code: the `lineage` command (@lineage/cli) opens the store as connect() does.
console.log("\nto see what ran: npm run lineage -- ui     (the viewer in your browser; `lineage ui` where @lineage/cli is installed)")
console.log("                 npm run lineage -- runs   (a table; also show <uid>, graph <uid>, export; --help)")
