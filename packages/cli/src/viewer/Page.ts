/**
 * The page's files (`index.html`, `app.js`, `style.css`, `favicon.svg`), read once when the viewer starts
 * and served from memory: a fixed table of names, so no request path ever reaches the file system. They hold
 * no token: with one, the browser carries it in the viewer's cookie (see `Http.landing`).
 */
import { readFile } from "node:fs/promises"
import { Effect } from "effect"
import type { Reply } from "./Http.js"

const contentTypes = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
  "favicon.svg": "image/svg+xml"
} as const

type FileName = keyof typeof contentTypes
const names = Object.keys(contentTypes) as ReadonlyArray<FileName>

export interface Page {
  /** The file a path names (`/` is `index.html`), or undefined. */
  readonly file: (path: string) => Reply | undefined
}

/** Reads the page's files from `directory`; a missing one fails with what was missing. */
export const load = (directory: URL): Effect.Effect<Page, { readonly file: string; readonly cause: unknown }> =>
  Effect.gen(function* () {
    const files = new Map<string, Reply>()
    for (const name of names) {
      const url = new URL(name, directory)
      const bytes = yield* Effect.tryPromise({ try: () => readFile(url), catch: (cause) => ({ file: url.pathname, cause }) })
      files.set(`/${name}`, { status: 200, headers: { "Content-Type": contentTypes[name] }, body: new Uint8Array(bytes) })
    }
    const index = files.get("/index.html")
    if (index !== undefined) files.set("/", index)
    return { file: (path) => files.get(path) }
  })
