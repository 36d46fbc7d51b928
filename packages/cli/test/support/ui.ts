/** `lineage ui`, the built bin, served as a child process for a browser to visit. */
import { type ChildProcess, spawn } from "node:child_process"
import { bin } from "./bin.js"

export interface Ui {
  readonly url: string
  readonly stop: () => Promise<void>
}

/** `lineage ui` on the seeded store, on a free port; its URL read from what it prints. */
export const startUi = (store: string, extra: ReadonlyArray<string> = []): Promise<Ui> =>
  new Promise((resolve, reject) => {
    const env = { ...process.env }
    for (const name of ["LINEAGE_STORE", "LINEAGE_STORAGE", "LINEAGE_UI_TOKEN"]) delete env[name]
    const child: ChildProcess = spawn(process.execPath, [bin, "ui", "--store", store, "--port", "0", ...extra], { env, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.stderr?.on("data", (c: Buffer) => (err += c.toString()))
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString()
      const url = /Lineage viewer at (http:\/\/\S+\/)/.exec(out)?.[1]
      if (url !== undefined) resolve({ url, stop: () => (child.kill("SIGTERM"), exited) })
    })
    child.once("exit", (code) => reject(new Error(`lineage ui exited ${code}: ${err}${out}`)))
  })
