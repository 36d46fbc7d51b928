/** Profiling entry: `node --cpu-prof --import tsx --conditions=@lineage/source bench/profile.ts [size]`. */
import * as Memory from "./memory.js"
const size = Number(process.argv[2] ?? 20_000)
const f = await Memory.measure(size, { baselines: false })
console.log(JSON.stringify(f, null, 1))
process.exit(0)
