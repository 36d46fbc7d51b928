/**
 * The start signal of a worker process (see ./processes.ts): a line `go` on standard input. Kept apart from the
 * module that starts workers, so that a compiled worker bundles only this.
 */
import { createInterface } from "node:readline"

/** Reads the stdin line `go`. */
export const waitForGo = async (): Promise<void> => {
  const lines = createInterface({ input: process.stdin })
  await new Promise<void>((resolve) => lines.once("line", () => resolve()))
  lines.close()
}
