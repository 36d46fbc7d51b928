import { defineConfig } from "vitest/config"

export default defineConfig({
  // Tests run against each package's TypeScript source, not its build.
  resolve: { conditions: ["@lineage/source"] },
  ssr: { resolve: { conditions: ["@lineage/source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
