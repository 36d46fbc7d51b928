/**
 * `@lineage/cli`: the `lineage` command line and the pieces it is made of. `Views` are the read models the
 * commands print and the web viewer serves (plain, bounded JSON); `GraphSvg` draws a lineage graph as SVG;
 * `Viewer` serves the local web viewer; `Cli` is the command tree, for embedding it in another program.
 */
export * as Cli from "./Cli.js"
export * as GraphSvg from "./GraphSvg.js"
export * as Viewer from "./Viewer.js"
export * as Views from "./Views.js"
