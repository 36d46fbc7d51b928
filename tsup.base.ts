import type { Options } from "tsup"

// Every package builds the same way: ESM only (a CommonJS app loads it through require(esm), Node >= 20.19,
// and so shares the one copy of each module with the adapters core imports), with declarations, from src/index.ts.
export const base: Options = {
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
  // esbuild renames a class that refers to itself (`class _StoreError`) unless told to keep names: public
  // classes (errors above all) must show their own names in constructor.name and in Node's error reports.
  keepNames: true,
  tsconfig: "tsconfig.build.json"
}
