/** The package's version, as `lineage --version` prints it: read from its manifest, beside `src/` and `dist/` alike. */
import { readFileSync } from "node:fs"

export const version: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version
