import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"

export default defineConfig({
  // Tests run against each package's TypeScript source, not its build.
  resolve: { conditions: ["@lineage/source"] },
  ssr: { resolve: { conditions: ["@lineage/source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A worker per core. Vitest's default, one fewer, is a single worker on 2 cores, and most files spend
    // their time waiting on a server, a child process or a timer: one file at a time kept 2 cores two-thirds
    // idle. Each file still runs in a fresh process of its own (`forks`, isolated), since tests set
    // process.env, install process handlers and start servers per file.
    maxWorkers: availableParallelism()
  }
})
