/**
 * A writing process for the killed-process test, on the store named by LINEAGE_STORE: says `ready`, waits for
 * `go`, then writes until it is killed — each round a run (params), its features, an output artifact from bytes
 * and `finish` — printing `ack <run uid>` once a round's last write was acknowledged.
 */
import { Lineage } from "@lineage/core"
import { waitForGo } from "./go.js"

const worker = Number(process.env["WORKER"])
const ln = await Lineage.connect()
const transform = await ln.Transform.getOrCreate({ key: "killed-writer.ts", version: "1" }, { kind: "script" })
process.stdout.write("ready\n")
await waitForGo()
for (let i = 0; ; i++) {
  const run = await ln.track({ transform, params: { worker, index: i }, features: { kill_worker: worker }, heartbeatMs: 60_000, handleProcess: false })
  await ln.Artifact.fromBytes(`output of worker ${worker} round ${i}`, { key: `killed/w${worker}/r${i}.txt` })
  await ln.finish()
  process.stdout.write(`ack ${run.uid}\n`)
}
