import type { Options } from "tsup"

// Every package builds the same way: ESM + CJS with declarations, from src/index.ts.
export const base: Options = {
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
  tsconfig: "tsconfig.build.json"
}
