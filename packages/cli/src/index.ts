/**
 * `@lineage/cli`: the `lineage` command line and the pieces it is made of. `Views` are the read models the
 * commands print and the web viewer serves (plain, bounded JSON), `Metrics` those of runs' metrics (and their
 * sparklines); `GraphSvg` draws a lineage graph as SVG, `MetricsChart` metric series; `Viewer` serves the local
 * web viewer; `Cli` is the command tree, for embedding it in another program.
 */
export * as Cli from "./Cli.js"
export * as GraphSvg from "./GraphSvg.js"
export * as Metrics from "./Metrics.js"
export * as MetricsChart from "./MetricsChart.js"
export * as Viewer from "./Viewer.js"
export * as Views from "./Views.js"
