import { defineConfig } from "tsup"
import { base } from "../../tsup.base.js"

// Two entries: the library (`Views`, `GraphSvg`, `Viewer`, the command tree) and the `lineage` command, which
// `bin/lineage.js` imports. The viewer's page is served from `page/`, beside `src/` and `dist/`.
export default defineConfig({ ...base, entry: ["src/index.ts", "src/bin.ts"] })
