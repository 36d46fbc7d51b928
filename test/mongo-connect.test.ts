/**
 * The Promise face on MongoDB by URL alone: `Lineage.connect("mongodb://…")` loads this store by scheme, and a
 * lamindb-style session (transform, run, feature values, a feature query) works end to end.
 */
import { afterAll, expect, it } from "vitest"
import { Lineage, Q } from "@lineage/core"
import * as MongoStore from "@lineage/store-mongodb"
import { closeAll, freshDatabase, mongoServer, run } from "./support/mongo.js"

afterAll(closeAll)

it("Lineage.connect(mongodb URL) tracks and queries by feature", async () => {
  const server = await mongoServer()
  const [base, query = ""] = server.url.split("?")
  const url = `${base!.replace(/\/$/, "")}/${freshDatabase("connect")}${query === "" ? "" : `?${query}`}`
  const ln = await Lineage.connect(url)
  try {
    const transform = await ln.Transform.create({ key: "Cell Ranger", version: "7.2.0", kind: "pipeline" })
    await ln.Feature.create({ name: "learning_rate", dtype: "float" })
    const run = await ln.Run.create({ transform })
    await run.features.add({ learning_rate: 0.01 })
    const other = await ln.Run.create({ transform })
    await other.features.add({ learning_rate: 0.1 })
    expect((await ln.Run.filter(Q.where("learning_rate", "eq", 0.01)).all()).map((r) => r.uid)).toEqual([run.uid])
    expect((await ln.Transform.get({ key: "Cell Ranger", version: "7.2.0" })).uid).toBe(transform.uid)
  } finally {
    await ln.close()
    // Leave nothing behind on a real server.
    const cleanup = await run(MongoStore.fromUrl(url))
    await run(cleanup.drop())
    await run(cleanup.close())
  }
})
