/**
 * The `lineage` command: runs the command tree (`Cli`) on `process.argv` with Node's platform services, prints
 * a failure as one redacted, escaped line on standard error, and exits with the code `Failure` documents.
 * Standard output is guarded from the start (`Output.stdout`), so a reader that goes away, even during
 * `--help`, ends the command quietly; a closed standard error loses the message, never the exit code.
 */
import * as NodeChildProcessSpawner from "@effect/platform-node-shared/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import * as NodePath from "@effect/platform-node-shared/NodePath"
import * as NodeRuntime from "@effect/platform-node-shared/NodeRuntime"
import * as NodeStdio from "@effect/platform-node-shared/NodeStdio"
import * as NodeTerminal from "@effect/platform-node-shared/NodeTerminal"
import { Console, Effect, Layer } from "effect"
import { CliConfig, CliOutput, Command, GlobalFlag } from "effect/cli"
import { lineage } from "./Cli.js"
import { exitCodeOf, messageOf, printable } from "./Failure.js"
import * as Output from "./Output.js"
import { version } from "./version.js"

// Guarded before anything is written (see the module doc).
Output.stdout()
process.stderr.on("error", () => undefined)

const platform = Layer.mergeAll(
  NodeFileSystem.layer,
  NodePath.layer,
  NodeTerminal.layer,
  NodeStdio.layer,
  NodeChildProcessSpawner.layer.pipe(Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))
)

/** `--help`, `--version` and `--completions`; no wizard, no log level (the commands log nothing). */
const builtIns = CliConfig.layer({ builtIns: [GlobalFlag.Help, GlobalFlag.Version, GlobalFlag.Completions] })

/** Usage errors without colour, so that escaping the controls a flag's text carried leaves nothing garbled. */
const plainFormatter = CliOutput.defaultFormatter({ colors: false })

/**
 * Help and version as Effect's CLI presents them (on standard output); a usage error as its message (escaped:
 * it quotes what was typed) and a pointer to `--help` on standard error only, so a script's standard output
 * stays empty when it fails.
 */
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(`${printable(plainFormatter.formatErrors(event.errors).trim())}

See: ${printable(event.commandPath.join(" "))} --help`)
      : CliOutput.defaultPresenter.present(event)
})

const main = Command.run(lineage, { version }).pipe(
  Effect.tapCause((cause) =>
    Effect.sync(() => {
      const line = messageOf(cause)
      if (line !== undefined) process.stderr.write(`lineage: ${line}\n`)
    })
  ),
  Effect.provide(Layer.mergeAll(platform, builtIns, presenter))
)

NodeRuntime.runMain(main, { disableErrorReporting: true, teardown: (exit, onExit) => onExit(exitCodeOf(exit)) })
