/** Requests to the viewer as `node:http` sends them, which lets a test send any Host header and method. */
import { request as httpRequest } from "node:http"
import { expect } from "vitest"

export interface Answer {
  readonly status: number
  readonly headers: { readonly [name: string]: string | string[] | undefined }
  readonly body: Buffer
  readonly text: string
  /** The body as JSON, read as the shape the route documents. */
  readonly json: <T>() => T
}

/** One request, as `node:http` sends it: the Host header names the server unless the test says otherwise. */
export const ask = (
  port: number,
  path: string,
  options: { readonly method?: string; readonly headers?: { readonly [name: string]: string } } = {}
): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, agent: false, method: options.method ?? "GET", headers: { Host: `127.0.0.1:${port}`, ...options.headers } },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => {
          const body = Buffer.concat(chunks)
          const text = body.toString("utf8")
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: <T>() => JSON.parse(text) as T })
        })
        res.on("error", reject)
      }
    )
    req.on("error", reject)
    req.end()
  })

/** A failure's JSON body: its tag and message, and no trace of a stack. */
export const expectFailure = (answer: Answer, status: number, tag: string) => {
  expect(answer.status).toBe(status)
  expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8")
  const { error } = answer.json<{ readonly error: { readonly _tag: string; readonly message: string; readonly reason?: string } }>()
  expect(error._tag).toBe(tag)
  expect(typeof error.message).toBe("string")
  expect(answer.text).not.toMatch(/\n\s+at |\.ts:\d+|node_modules/)
  return error
}
