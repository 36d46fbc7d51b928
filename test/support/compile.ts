/**
 * Compiles TypeScript held in memory with the repository's compiler options (tsconfig.base.json: strict and
 * the rest), as files of a folder of this repository, so that their imports resolve as that folder's own
 * would: "@lineage/core" to the package's source through the `@lineage/source` condition. Declaration files
 * are checked too (no `skipLibCheck`), but diagnostics are asked of the given files alone.
 */
import { join } from "node:path"
import ts from "typescript"

const root = join(import.meta.dirname, "../..")

export interface Compiled {
  /** Each given file's diagnostics, as `TS<code>: <message> (line <n>)`. */
  readonly diagnostics: { readonly [path: string]: ReadonlyArray<string> }
  /** Type instantiations and cached assignability relations: what a costlier type shows as growth. */
  readonly cost: { readonly instantiations: number; readonly assignable: number }
}

/** `files` by path relative to `folder` (itself relative to the repository's root). */
export const compile = (folder: string, files: { readonly [path: string]: string }): Compiled => {
  const base = ts.readConfigFile(join(root, "tsconfig.base.json"), ts.sys.readFile)
  const { options } = ts.convertCompilerOptionsFromJson(base.config.compilerOptions, root)
  const compilerOptions = { ...options, noEmit: true, skipLibCheck: false }
  const at = join(root, folder)
  const virtual = new Map(Object.entries(files).map(([path, text]) => [join(at, path), text]))
  const host = ts.createCompilerHost(compilerOptions)
  const { fileExists, readFile, getSourceFile, directoryExists } = host
  const folders = new Set([...virtual.keys()].flatMap((path) => path.split("/").slice(1, -1).map((_, i, parts) => `/${parts.slice(0, i + 1).join("/")}`)))
  host.fileExists = (path) => virtual.has(path) || fileExists.call(host, path)
  host.directoryExists = (path) => folders.has(path) || (directoryExists?.call(host, path) ?? ts.sys.directoryExists(path))
  host.readFile = (path) => virtual.get(path) ?? readFile.call(host, path)
  host.getSourceFile = (path, language, ...rest) =>
    virtual.has(path) ? ts.createSourceFile(path, virtual.get(path)!, language) : getSourceFile.call(host, path, language, ...rest)
  const program = ts.createProgram([...virtual.keys()], compilerOptions, host)
  const show = (d: ts.Diagnostic) => {
    const line = d.file === undefined || d.start === undefined ? "" : ` (line ${d.file.getLineAndCharacterOfPosition(d.start).line + 1})`
    return `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}${line}`
  }
  const diagnostics = Object.fromEntries(
    Object.keys(files).map((path) => {
      const file = program.getSourceFile(join(at, path))!
      return [path, [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].map(show)]
    })
  )
  return { diagnostics, cost: { instantiations: program.getInstantiationCount(), assignable: program.getRelationCacheSizes().assignable } }
}
