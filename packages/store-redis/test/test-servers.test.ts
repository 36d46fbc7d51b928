/**
 * The servers tests start for themselves die with the process that started them, however it ends: a test
 * worker torn down or killed gets no `exit` event, and its redis-servers would otherwise run on for ever. A
 * cluster that fails to start kills every node it started.
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { expect, it } from "vitest"

const support = fileURLToPath(new URL("../../../test/support/redis.ts", import.meta.url))
const clusterSupport = fileURLToPath(new URL("../../../test/support/redis-cluster.ts", import.meta.url))

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

it("a private redis-server is killed once the process that started it is killed", async () => {
  const starter = spawn(
    process.execPath,
    [
      "--import", "tsx", "--conditions=@lineage/source", "--input-type=module", "-e",
      `const { startPrivateRedis } = await import(${JSON.stringify(support)})
       const server = await startPrivateRedis()
       const { execFileSync } = await import("node:child_process")
       const info = execFileSync("redis-cli", ["-p", String(server.port), "INFO", "server"], { encoding: "utf8" })
       console.log(/process_id:(\\d+)/.exec(info)[1])
       setInterval(() => {}, 1000)`
    ],
    { stdio: ["ignore", "pipe", "inherit"] }
  )
  const pid = await new Promise<number>((resolve, reject) => {
    starter.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
    starter.once("exit", (code) => reject(new Error(`the starter exited with ${code}`)))
  })
  expect(alive(pid)).toBe(true)
  starter.kill("SIGKILL")
  const deadline = Date.now() + 5_000
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  const survived = alive(pid)
  if (survived) process.kill(pid, "SIGKILL")
  expect(survived, `redis-server ${pid} outlived its starter`).toBe(false)
}, 15_000)

it("a cluster whose node never answers fails to start, leaving none of its processes behind", async () => {
  const shim = mkdtempSync(join(tmpdir(), "lineage-shim-"))
  // The second redis-server started never answers: it stands for a node too slow to start on a loaded machine.
  writeFileSync(
    join(shim, "redis-server"),
    `#!/bin/sh\nn=$(cat ${shim}/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${shim}/count\n` +
      `if [ "$n" = 2 ]; then exec sleep 60; fi\nexec "${execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim()}" "$@"\n`,
    { mode: 0o755 }
  )
  const starter = spawn(
    process.execPath,
    [
      "--import", "tsx", "--conditions=@lineage/source", "--input-type=module", "-e",
      `const { startRedisCluster } = await import(${JSON.stringify(clusterSupport)})
       const { execFileSync } = await import("node:child_process")
       const error = await startRedisCluster({ primaries: 3, replicasPerPrimary: 0 }).then(() => "started", String)
       // Running children, "pid command" each: a node killed a moment ago may not be reaped yet, so they are
       // looked for again for up to 3 s; zombies (Z), ps itself and tsx's esbuild service are left out.
       const running = () => execFileSync("ps", ["-o", "pid=,stat=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" })
         .trim().split("\\n").map((line) => line.trim().split(/\\s+/))
         .filter(([, stat, comm]) => !stat.startsWith("Z") && comm !== "ps" && comm !== "esbuild").map(([pid, , comm]) => pid + " " + comm)
       let children = running()
       for (let i = 0; i < 30 && children.length > 0; i++) children = (await new Promise((resolve) => setTimeout(resolve, 100)), running())
       console.log(JSON.stringify({ error, children }))
       process.exit(0)`
    ],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, PATH: `${shim}:${process.env["PATH"]}` } }
  )
  let out = ""
  starter.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
  await new Promise((resolve) => starter.once("exit", resolve))
  try {
    const { error, children } = JSON.parse(out) as { error: string; children: Array<string> }
    expect(error).toContain("did not answer within 5 s")
    expect(children, "processes of the failed cluster still running").toEqual([])
  } finally {
    for (const child of JSON.parse(out || '{"children":[]}').children as Array<string>) {
      const pid = Number(child.split(" ")[0])
      if (alive(pid)) process.kill(pid, "SIGKILL")
    }
    rmSync(shim, { recursive: true, force: true })
  }
}, 60_000)
