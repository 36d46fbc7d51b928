// @ts-check
/**
 * The lineage viewer's page: hash routes over the JSON API under /api (see API.md).
 *
 *   #/runs?filter=…&order=…&offset=…   the runs table: query box, sortable columns, paging
 *   #/run/<uid>                         a run: fields, params, features, metrics, artifacts, environment, runs around it, graph
 *   #/compare?runs=<uid>,<uid>&key=…    several runs' series of one metric key in one chart
 *   #/transform/<uid>                   a transform: fields, source, versions, runs
 *   #/artifact/<uid>                    an artifact: fields, features, runs, download, graph
 *   #/transforms, #/features            the registries' lists
 *
 * Every value from the store is inserted as text (createElement, textContent); the SVG drawings the server
 * builds with every text escaped (the lineage graph, the metric charts) are the only markup inserted, parsed as
 * XML first. With a token, the browser carries it in an HttpOnly cookie that this script never sees: no URL it
 * builds holds it.
 */

const pageSize = 20
/** Metric keys of a run drawn as charts; the table lists them all. */
const maxCharts = 12
/** Points per series a chart asks for: more than its width in pixels has no use. */
const chartPoints = 400
/** Charts asked for at once: the viewer reads series for two requests at a time, the rest would only queue. */
const chartsAtOnce = 2

// ---------------------------------------------------------------------------------------------------------
// Elements

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {{ [name: string]: string | undefined }} Attributes
 */

/**
 * An element with attributes and children; strings become text nodes, never markup.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attributes} [attributes]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
const h = (tag, attributes = {}, ...children) => {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined) element.setAttribute(name, value)
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    element.append(typeof child === "object" ? child : String(child))
  }
  return element
}

/** @param {string} href @param {...(Child | Child[])} children */
const link = (href, ...children) => h("a", { href }, ...children)

/** @param {string} uid */
const uidText = (uid) => h("code", { class: "uid" }, uid)

/** @param {"run" | "transform" | "artifact"} kind @param {string} uid */
const recordHref = (kind, uid) => `#/${kind}/${encodeURIComponent(uid)}`

/** @param {"run" | "transform" | "artifact"} kind @param {string} uid */
const uidLink = (kind, uid) => link(recordHref(kind, uid), uidText(uid))

/** @param {string} status */
const statusBadge = (status) => h("span", { class: `status status-${status}` }, status)

/** A time in UTC to the second; the full ISO text in its tooltip. @param {string | null | undefined} iso */
const time = (iso) => (iso ? h("time", { datetime: iso, title: iso }, iso.replace("T", " ").replace(/(\.\d+)?Z$/, "")) : h("span", { class: "none" }, "—"))

/** @param {number | null | undefined} ms */
const duration = (ms) => {
  if (ms === null || ms === undefined) return "—"
  if (ms < 1000) return `${ms} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)} s`
  const m = Math.floor(s / 60)
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`
}

/** @param {number | null | undefined} bytes */
const size = (bytes) => {
  if (bytes === null || bytes === undefined) return "—"
  const units = ["B", "kB", "MB", "GB", "TB"]
  let n = bytes
  let unit = 0
  while (n >= 1000 && unit < units.length - 1) (n /= 1000), unit++
  return unit === 0 ? `${n} B` : `${n.toFixed(1)} ${units[unit]}`
}

/** A JSON value as text: strings as they are, the rest as JSON. @param {unknown} value */
const shown = (value) => {
  if (value === null || value === undefined) return h("span", { class: "none" }, "null")
  return typeof value === "string" ? value : JSON.stringify(value)
}

/** @param {string} text */
const empty = (text) => h("p", { class: "empty" }, text)

/**
 * A two-column table of names and values.
 * @param {Array<[string, Child | Child[]]>} entries
 */
const definitions = (entries) =>
  entries.length === 0
    ? empty("none")
    : h("table", { class: "fields" }, h("tbody", {}, entries.map(([name, value]) => h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, value)))))

/** @param {Record<string, unknown>} object */
const jsonDefinitions = (object) => definitions(Object.entries(object).map(([k, v]) => [k, shown(v)]))

/** @param {string} title @param {...(Child | Child[])} children */
const section = (title, ...children) => h("section", {}, h("h2", {}, title), ...children)

/** @param {string} message */
const errorBox = (message) => h("p", { class: "error", role: "alert" }, message)

// ---------------------------------------------------------------------------------------------------------
// API

/** A failure the API answered with: its tag and message. */
class ApiError extends Error {
  /** @param {string} tag @param {string} message @param {number} status */
  constructor(tag, message, status) {
    super(message)
    this.tag = tag
    this.status = status
  }
}

/** @param {string} path */
const request = async (path) => {
  const response = await fetch(path)
  if (response.ok) return response
  /** @type {{ error?: { _tag?: string, message?: string } }} */
  const body = await response.json().catch(() => ({}))
  throw new ApiError(body.error?._tag ?? "HttpError", body.error?.message ?? `${response.status} ${response.statusText}`, response.status)
}

/**
 * The JSON an API route answers, read as the shape API.md documents for it.
 * @template T
 * @param {string} path
 * @returns {Promise<T>}
 */
const api = async (path) => (await request(path)).json()

/** @param {string} uid */
const downloadHref = (uid) => `/api/artifacts/${encodeURIComponent(uid)}/download`

/** @param {Record<string, string | number | undefined>} params */
const queryString = (params) => {
  const search = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") search.set(k, String(v))
  const text = search.toString()
  return text === "" ? "" : `?${text}`
}

/**
 * `holder` with the SVG drawing the server answers `path` with in it: parsed as SVG (XML), never as HTML; an
 * error box instead when it cannot be had or read.
 * @template {HTMLElement} E
 * @param {E} holder
 * @param {string} path
 * @returns {Promise<E>}
 */
const drawing = async (holder, path) => {
  holder.replaceChildren(h("p", { class: "loading" }, "drawing…"))
  try {
    const text = await (await request(path)).text()
    const doc = new DOMParser().parseFromString(text, "image/svg+xml")
    const svg = doc.documentElement
    if (svg.localName !== "svg" || doc.getElementsByTagName("parsererror").length > 0) throw new ApiError("BadDrawing", "the drawing could not be read", 0)
    holder.replaceChildren(document.importNode(svg, true))
  } catch (e) {
    holder.replaceChildren(errorBox(e instanceof Error ? e.message : String(e)))
  }
  return holder
}

/** The lineage graph of a run or artifact, drawn by the server. @param {string} uid */
const graph = (uid) => drawing(h("div", { class: "graph", "data-graph": uid }), `/api/graph/${encodeURIComponent(uid)}?format=svg`)

/**
 * The chart of runs' series of one metric key, drawn by the server.
 * @param {string[]} runs
 * @param {string} key
 */
const metricChart = (runs, key) =>
  drawing(h("figure", { class: "metric-chart", "data-key": key }), `/api/metrics/history${queryString({ runs: runs.join(","), key, format: "svg", maxPoints: chartPoints })}`)

// ---------------------------------------------------------------------------------------------------------
// Query keys from names

/**
 * A name an order key or a filter key holds as written: letters, digits and single underscores inside. No
 * `,` (which separates order keys), no leading `-` (descending), no `__` (the path separator), no space.
 * @param {string} name
 */
const isPlain = (name) => /^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*$/.test(name)

/**
 * A name a quoted filter key holds: one path segment, so no `__` and no `_` at either end.
 * @param {string} name
 */
const isSegment = (name) => name !== "" && !name.includes("__") && !name.startsWith("_") && !name.endsWith("_")

/**
 * The key of a feature's value: under `featureValues`, so that a feature named like a Run field (`status`)
 * names the feature, never the field.
 * @param {string} name
 */
const featureKey = (name) => `featureValues__${name}`

/**
 * The filter text that keeps the runs with a value for the feature, the key quoted when the name needs it;
 * undefined when no key can name it.
 * @param {string} name
 */
const hasFeature = (name) => {
  const key = `${featureKey(name)}__isnull`
  if (isPlain(name)) return `${key}=false`
  return isSegment(name) ? `${JSON.stringify(key)}=false` : undefined
}

// ---------------------------------------------------------------------------------------------------------
// Tables

/**
 * @typedef {{ uid: string, transform: { uid: string, key: string, version: string }, status: string,
 *   startedAt: string, finishedAt: string | null, durationMs: number | null,
 *   params: Record<string, unknown>, features: Record<string, unknown> }} RunRow
 */

/**
 * A param's or feature's cell: one line, cut by the style sheet, the whole value in its tooltip.
 * @param {string} kind @param {Record<string, unknown>} values @param {string} name
 */
const valueCell = (kind, values, name) => {
  if (!(name in values)) return h("td", { class: kind })
  const text = shown(values[name])
  return h("td", { class: kind, title: typeof text === "string" ? text : undefined }, text)
}

/**
 * A table of runs, scrolling sideways when it is wide; `sorting` makes the headers links that order by their
 * column, for the params and features whose names an order key holds as written.
 * @param {RunRow[]} rows
 * @param {{ params: string[], features: string[] }} varying
 * @param {{ order: string, href: (order: string) => string } | undefined} sorting
 * @param {boolean} [selectable] a last column of checkboxes, to pick runs to compare
 */
const runTable = (rows, varying, sorting, selectable = false) => {
  /** @param {string} label @param {string | undefined} key @param {string} [kind] */
  const header = (label, key, kind) => {
    if (sorting === undefined || key === undefined) return h("th", { scope: "col", class: kind }, label)
    const current = sorting.order === key ? "ascending" : sorting.order === `-${key}` ? "descending" : undefined
    const next = current === "descending" ? key : `-${key}`
    return h(
      "th",
      { scope: "col", class: kind, "aria-sort": current },
      link(sorting.href(next), label, current === undefined ? "" : current === "ascending" ? " ▲" : " ▼")
    )
  }
  const table = h(
    "table",
    { class: "runs" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        header("uid", "uid"),
        header("transform", undefined),
        header("status", "status"),
        header("started (UTC)", "startedAt"),
        header("duration", undefined, "number"),
        varying.params.map((p) => header(p, isPlain(p) ? `params__${p}` : undefined, "param")),
        varying.features.map((f) => header(f, isPlain(f) ? featureKey(f) : undefined, "feature")),
        selectable ? h("th", { scope: "col", class: "select" }, "compare") : null
      )
    ),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h(
          "tr",
          { "data-uid": r.uid },
          h("td", {}, uidLink("run", r.uid)),
          h("td", {}, r.transform.uid === "" ? r.transform.key : link(recordHref("transform", r.transform.uid), r.transform.key), h("span", { class: "version" }, r.transform.version)),
          h("td", {}, statusBadge(r.status)),
          h("td", {}, time(r.startedAt)),
          h("td", { class: "number" }, duration(r.durationMs)),
          varying.params.map((p) => valueCell("param", r.params, p)),
          varying.features.map((f) => valueCell("feature", r.features, f)),
          selectable ? h("td", { class: "select" }, h("input", { type: "checkbox", value: r.uid, "aria-label": `compare ${r.uid}` })) : null
        )
      )
    )
  )
  return h("div", { class: "table-scroll" }, table)
}

/**
 * @typedef {{ uid: string, key: string | null, description: string | null, version: string, suffix: string,
 *   size: number | null, kind: string | null, createdAt: string }} ArtifactSummary
 */

/**
 * @typedef {{ rows: RunRow[], total: number, varying: { params: string[], features: string[] } }} RunsPage
 * @typedef {{ event: string, at: string, status?: string }} TimelineEvent
 * @typedef {{ uid: string, row: RunRow, fields: Record<string, unknown>,
 *   transform: { uid: string, key: string, version: string, kind: string },
 *   params: Record<string, unknown>, features: Record<string, unknown>,
 *   inputs: ArtifactSummary[], outputs: ArtifactSummary[],
 *   environment: { artifact: ArtifactSummary, content: unknown, unavailable?: string } | null,
 *   report: ArtifactSummary | null, initiatedBy: RunRow | null, initiatedRuns: RunRow[],
 *   timeline: TimelineEvent[] }} RunDetail
 * @typedef {{ uid: string, version: string, isLatest: boolean, createdAt: string }} TransformVersion
 * @typedef {{ uid: string, ref: { uid: string, key: string, version: string }, fields: Record<string, unknown>,
 *   sourceCode: { text: string, truncated: boolean, chars: number } | null, versions: TransformVersion[],
 *   runs: RunRow[], runCount: number }} TransformDetail
 * @typedef {{ uid: string, summary: ArtifactSummary, fields: Record<string, unknown>,
 *   features: Record<string, unknown>, run: RunRow | null, readBy: RunRow[] }} ArtifactDetail
 * @typedef {{ uid: string, key: string, version: string, kind: string, isLatest: boolean, runCount: number,
 *   lastRun: { uid: string, status: string } | null }} TransformRow
 * @typedef {{ uid: string, name: string, dtype: string, unit: string | null, description: string | null }} FeatureRow
 */

/**
 * @typedef {{ last: number, min: number, max: number, count: number, step: number }} KeySummary
 * @typedef {{ uid: string, transform: { uid: string, key: string, version: string }, status: string,
 *   summary: Record<string, KeySummary>, more: number }} MetricRun
 */

/** A metric value: six significant digits at most. @param {number} v */
const metricValue = (v) => String(Number(v.toPrecision(6)))

/** The href of the compare view. @param {string[]} runs @param {string} [key] */
const compareHref = (runs, key) => `#/compare${queryString({ runs: runs.join(","), key })}`

/**
 * Summaries as a table, a row per entry: its name (text or a link), then last, min, max, count, step.
 * @param {string} nameHeader
 * @param {Array<[Child | Child[], KeySummary, Child?]>} entries
 */
const summaryTable = (nameHeader, entries) =>
  h(
    "table",
    { class: "metrics" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, nameHeader), ["last", "min", "max", "count", "step"].map((c) => h("th", { scope: "col", class: "number" }, c)), h("th", {}, ""))),
    h(
      "tbody",
      {},
      entries.map(([name, s, extra]) =>
        h(
          "tr",
          {},
          h("td", {}, name),
          h("td", { class: "number" }, metricValue(s.last)),
          h("td", { class: "number" }, metricValue(s.min)),
          h("td", { class: "number" }, metricValue(s.max)),
          h("td", { class: "number" }, s.count),
          h("td", { class: "number" }, s.step),
          h("td", {}, extra)
        )
      )
    )
  )

/**
 * `f` of each item, results in the items' order, at most `atOnce` running at a time.
 * @template T, R
 * @param {T[]} items
 * @param {number} atOnce
 * @param {(item: T) => Promise<R>} f
 * @returns {Promise<R[]>}
 */
const inTurn = async (items, atOnce, f) => {
  /** @type {R[]} */
  const results = []
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await f(/** @type {T} */ (items[i]))
    }
  }
  await Promise.all(Array.from({ length: Math.min(atOnce, items.length) }, worker))
  return results
}

/** A run's metrics: its summary by key, and a chart of each of its first `maxCharts` keys. @param {string} uid */
const metricsSection = async (uid) => {
  try {
    const { runs } = /** @type {{ runs: MetricRun[] }} */ (await api(`/api/metrics${queryString({ runs: uid })}`))
    const run = runs[0]
    const keys = run === undefined ? [] : Object.keys(run.summary)
    if (run === undefined || keys.length === 0) return section("Metrics", empty("none logged"))
    const charts = await inTurn(keys.slice(0, maxCharts), chartsAtOnce, (key) => metricChart([run.uid], key))
    return section(
      "Metrics",
      summaryTable(
        "key",
        keys.map((key) => [key, /** @type {KeySummary} */ (run.summary[key]), link(compareHref([run.uid], key), "compare")])
      ),
      run.more > 0 ? empty(`${run.more} more keys not listed`) : null,
      keys.length > maxCharts ? empty(`charts of the first ${maxCharts} keys`) : null,
      h("div", { class: "metric-charts" }, charts)
    )
  } catch (e) {
    return section("Metrics", errorBox(e instanceof Error ? e.message : String(e)))
  }
}

/** @param {ArtifactSummary[]} artifacts */
const artifactTable = (artifacts) =>
  artifacts.length === 0
    ? empty("none")
    : h(
        "table",
        { class: "artifacts" },
        h("thead", {}, h("tr", {}, h("th", {}, "key"), h("th", {}, "uid"), h("th", {}, "size"), h("th", {}, ""))),
        h(
          "tbody",
          {},
          artifacts.map((a) =>
            h(
              "tr",
              { "data-uid": a.uid },
              h("td", {}, a.key ?? a.description ?? h("span", { class: "none" }, "(no key)")),
              h("td", {}, uidLink("artifact", a.uid)),
              h("td", { class: "number" }, size(a.size)),
              h("td", {}, h("a", { href: downloadHref(a.uid), download: "", class: "download" }, "download"))
            )
          )
        )
      )

// ---------------------------------------------------------------------------------------------------------
// Views

/** @param {URLSearchParams} query */
const runsView = async (query) => {
  const filter = query.get("filter") ?? ""
  const order = query.get("order") ?? "-startedAt"
  const offset = Math.max(0, Number.parseInt(query.get("offset") ?? "0", 10) || 0)
  /** @param {{ filter?: string, order?: string, offset?: number }} change */
  const href = (change) => `#/runs${queryString({ filter, order, offset, ...change })}`

  const input = h("input", { type: "search", name: "filter", class: "query", placeholder: "status=errored learning_rate__gt=0.01 transform__key__startswith=train", "aria-label": "filter", spellcheck: "false", autocomplete: "off" })
  input.value = filter
  const form = h("form", { class: "query-form", role: "search" }, input, h("button", { type: "submit" }, "Filter"))
  form.addEventListener("submit", (event) => {
    event.preventDefault()
    // The same query again changes no hash, and so fires no hashchange: render it here.
    const before = location.hash
    location.hash = href({ filter: input.value.trim(), offset: 0 })
    if (location.hash === before) void render()
  })
  const help = h(
    "p",
    { class: "help" },
    h("code", {}, "key=value"),
    " terms, all of which must hold: fields ",
    h("code", {}, "status=errored"),
    ", lookups ",
    h("code", {}, "startedAt__gte=2024-01-01"),
    ", relations ",
    h("code", {}, "transform__key=train"),
    ", params ",
    h("code", {}, "params__learning_rate__lt=0.01"),
    ", features ",
    h("code", {}, "accuracy__gt=0.9")
  )
  const head = [h("h1", {}, "Runs"), form, help]
  try {
    const page = /** @type {RunsPage} */ (await api(`/api/runs${queryString({ filter, order, limit: pageSize, offset })}`))
    const body =
      page.rows.length > 0
        ? [runTable(page.rows, page.varying, { order, href: (o) => href({ order: o, offset: 0 }) }, true), compareButton()]
        : page.total === 0
          ? empty("No run matches.")
          : h("p", { class: "empty" }, `Past the last page: ${page.total} runs in all. `, link(href({ offset: lastPage(page.total) }), "Go to the last page"))
    return [...head, body, pager(offset, page, href)]
  } catch (e) {
    return [...head, errorBox(e instanceof Error ? e.message : String(e))]
  }
}

/** Opens the compare view on the runs whose boxes are checked. */
const compareButton = () => {
  const button = h("button", { type: "button", class: "compare" }, "Compare metrics of the checked runs")
  button.addEventListener("click", () => {
    const uids = [...document.querySelectorAll("table.runs td.select input:checked")].map((box) => /** @type {HTMLInputElement} */ (box).value)
    location.hash = compareHref(uids)
  })
  return h("p", { class: "compare-bar" }, button)
}

/** The offset of the last page of `total` rows. @param {number} total */
const lastPage = (total) => Math.max(0, Math.floor((total - 1) / pageSize) * pageSize)

/**
 * Previous and next links and the rows shown; past the last page, previous leads to the last page.
 * @param {number} offset
 * @param {RunsPage} page
 * @param {(change: { offset: number }) => string} href
 */
const pager = (offset, page, href) => {
  const beyond = page.rows.length === 0 && page.total > 0
  const last = offset + page.rows.length
  const count = page.total === 0 ? "no runs" : beyond ? `${page.total} runs` : `${offset + 1}–${last} of ${page.total}`
  const previous = beyond ? lastPage(page.total) : Math.max(0, offset - pageSize)
  return h(
    "nav",
    { class: "pager", "aria-label": "pages" },
    offset > 0 ? link(href({ offset: previous }), "← previous") : h("span", { class: "disabled" }, "← previous"),
    h("span", { class: "count" }, count),
    last < page.total ? link(href({ offset: offset + pageSize }), "next →") : h("span", { class: "disabled" }, "next →")
  )
}

/** @param {TimelineEvent[]} timeline */
const timelineList = (timeline) =>
  h(
    "ol",
    { class: "timeline" },
    timeline.map((t) => h("li", { class: `event-${t.event}` }, h("span", { class: "event" }, t.event), " ", time(t.at), t.status === undefined ? "" : [" ", statusBadge(t.status)]))
  )

/** @param {string} uid */
const runView = async (uid) => {
  const run = /** @type {RunDetail} */ (await api(`/api/runs/${encodeURIComponent(uid)}`))
  const row = run.row
  const environment = run.environment
  return [
    h("h1", {}, "Run ", uidText(run.uid), " ", statusBadge(row.status)),
    definitions([
      ["transform", [link(recordHref("transform", run.transform.uid), run.transform.key), h("span", { class: "version" }, run.transform.version), " ", h("span", { class: "kind" }, run.transform.kind)]],
      ["started (UTC)", time(row.startedAt)],
      ["finished (UTC)", time(row.finishedAt)],
      ["duration", duration(row.durationMs)],
      ...Object.entries(run.fields)
        .filter(([name, value]) => value !== null && !["id", "uid", "transformId", "status", "startedAt", "finishedAt", "branchId", "initiatedByRunId", "environmentId", "reportId", "createdById"].includes(name))
        .map(([name, value]) => /** @type {[string, Child]} */ ([name, shown(value)]))
    ]),
    section("Params", jsonDefinitions(run.params)),
    section("Features", jsonDefinitions(run.features)),
    await metricsSection(run.uid),
    section("Inputs", artifactTable(run.inputs)),
    section("Outputs", artifactTable(run.outputs)),
    section("Lineage", await graph(run.uid)),
    section("Initiated by", run.initiatedBy === null ? empty("none") : runTable([run.initiatedBy], { params: [], features: [] }, undefined)),
    section("Initiated runs", run.initiatedRuns.length === 0 ? empty("none") : runTable(run.initiatedRuns, { params: [], features: [] }, undefined)),
    section("Status timeline", timelineList(run.timeline)),
    section(
      "Environment",
      environment === null
        ? empty("none recorded")
        : [
            h("p", {}, uidLink("artifact", environment.artifact.uid), " ", h("a", { href: downloadHref(environment.artifact.uid), download: "" }, "download")),
            environment.content === null ? empty(environment.unavailable ?? "not shown") : h("pre", { class: "json" }, JSON.stringify(environment.content, null, 2))
          ]
    ),
    run.report === null ? null : section("Report", artifactTable([run.report]))
  ]
}

/** @param {string} uid */
const transformView = async (uid) => {
  const t = /** @type {TransformDetail} */ (await api(`/api/transforms/${encodeURIComponent(uid)}`))
  return [
    h("h1", {}, "Transform ", h("span", { class: "title-key" }, t.ref.key), " ", h("span", { class: "version" }, t.ref.version)),
    definitions([
      ["uid", uidText(t.uid)],
      ...Object.entries(t.fields)
        .filter(([name, value]) => value !== null && !["id", "uid", "key", "branchId", "createdById"].includes(name))
        .map(([name, value]) => /** @type {[string, Child]} */ ([name, shown(value)]))
    ]),
    section(
      "Versions",
      h(
        "table",
        { class: "versions" },
        h("thead", {}, h("tr", {}, h("th", {}, "version"), h("th", {}, "uid"), h("th", {}, "created"), h("th", {}, ""))),
        h(
          "tbody",
          {},
          t.versions.map((v) =>
            h("tr", { class: v.uid === t.uid ? "current" : undefined }, h("td", {}, v.version), h("td", {}, uidLink("transform", v.uid)), h("td", {}, time(v.createdAt)), h("td", {}, v.isLatest ? "latest" : ""))
          )
        )
      )
    ),
    section(
      `Runs (${t.runCount})`,
      t.runs.length === 0 ? empty("none") : runTable(t.runs, { params: [], features: [] }, undefined),
      t.runCount > t.runs.length ? h("p", {}, link(`#/runs${queryString({ filter: `transform__uid=${t.uid}` })}`, `all ${t.runCount} runs`)) : null
    ),
    t.sourceCode === null ? null : section("Source", h("pre", { class: "source" }, t.sourceCode.text), t.sourceCode.truncated ? empty(`cut: ${t.sourceCode.chars} characters in all`) : null)
  ]
}

/** @param {string} uid */
const artifactView = async (uid) => {
  const a = /** @type {ArtifactDetail} */ (await api(`/api/artifacts/${encodeURIComponent(uid)}`))
  const s = a.summary
  return [
    h("h1", {}, "Artifact ", h("span", { class: "title-key" }, s.key ?? s.uid)),
    h("p", {}, h("a", { href: downloadHref(a.uid), download: "", class: "download button" }, `download (${size(s.size)})`)),
    definitions([
      ["uid", uidText(a.uid)],
      ["version", s.version],
      ["size", size(s.size)],
      ...Object.entries(a.fields)
        .filter(([name, value]) => value !== null && !["id", "uid", "key", "size", "runId", "branchId", "createdById", "storage"].includes(name))
        .map(([name, value]) => /** @type {[string, Child]} */ ([name, shown(value)]))
    ]),
    section("Features", jsonDefinitions(a.features)),
    section("Produced by", a.run === null ? empty("no run") : runTable([a.run], { params: [], features: [] }, undefined)),
    section("Read by", a.readBy.length === 0 ? empty("no run") : runTable(a.readBy, { params: [], features: [] }, undefined)),
    section("Lineage", await graph(a.uid))
  ]
}

/**
 * Several runs' series of one metric key in one chart: the runs and the key chosen in a form, the key among
 * those the runs have (the first, unless one is asked for); the chosen key's summary by run beneath.
 * @param {URLSearchParams} query
 */
const compareView = async (query) => {
  const runs = (query.get("runs") ?? "").split(/[\s,]+/).filter((uid) => uid !== "")
  const asked = query.get("key") ?? ""
  const input = h("input", { type: "text", name: "runs", class: "runs-input", placeholder: "run uids, separated by spaces or commas", "aria-label": "runs", spellcheck: "false", autocomplete: "off" })
  input.value = runs.join(" ")
  const select = h("select", { name: "key", class: "key-select", "aria-label": "metric key" })
  const form = h("form", { class: "query-form compare-form" }, input, select, h("button", { type: "submit" }, "Compare"))
  form.addEventListener("submit", (event) => {
    event.preventDefault()
    const before = location.hash
    location.hash = compareHref(input.value.split(/[\s,]+/).filter((uid) => uid !== ""), select.value || undefined)
    if (location.hash === before) void render()
  })
  select.addEventListener("change", () => form.requestSubmit())
  const head = [h("h1", {}, "Compare metrics"), form]
  if (runs.length === 0) return [...head, empty("Give the runs to compare, or check them in the runs table.")]
  try {
    const found = /** @type {{ runs: MetricRun[] }} */ (await api(`/api/metrics${queryString({ runs: runs.join(",") })}`)).runs
    const keys = [...new Set(found.flatMap((r) => Object.keys(r.summary)))].sort()
    select.replaceChildren(...keys.map((k) => h("option", { value: k }, k)))
    if (keys.length === 0) return [...head, empty("None of these runs logged a metric.")]
    const key = keys.includes(asked) ? asked : /** @type {string} */ (keys[0])
    select.value = key
    // Own entries only: a key such as `constructor` is no inherited property.
    const logged = found.filter((r) => Object.hasOwn(r.summary, key))
    const without = found.filter((r) => !Object.hasOwn(r.summary, key))
    return [
      ...head,
      await metricChart(found.map((r) => r.uid), key),
      summaryTable(
        "run",
        logged.map((r) => [[uidLink("run", r.uid), " ", h("span", { class: "version" }, `${r.transform.key} ${r.transform.version}`)], /** @type {KeySummary} */ (r.summary[key]), statusBadge(r.status)])
      ),
      without.length === 0 ? null : h("p", { class: "empty" }, `No ${key} in `, without.flatMap((r, i) => [i === 0 ? "" : ", ", uidLink("run", r.uid)]))
    ]
  } catch (e) {
    return [...head, errorBox(e instanceof Error ? e.message : String(e))]
  }
}

const transformsView = async () => {
  const page = /** @type {{ rows: TransformRow[], total: number }} */ (await api(`/api/transforms${queryString({ limit: 200 })}`))
  return [
    h("h1", {}, "Transforms"),
    h(
      "table",
      { class: "transforms" },
      h("thead", {}, h("tr", {}, ["key", "version", "kind", "uid", "runs", "last run"].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        {},
        page.rows.map((t) =>
          h(
            "tr",
            {},
            h("td", {}, link(recordHref("transform", t.uid), t.key)),
            h("td", {}, t.version, t.isLatest ? "" : h("span", { class: "none" }, " (older)")),
            h("td", {}, t.kind),
            h("td", {}, uidText(t.uid)),
            h("td", { class: "number" }, t.runCount),
            h("td", {}, t.lastRun === null ? "—" : [uidLink("run", t.lastRun.uid), " ", statusBadge(t.lastRun.status)])
          )
        )
      )
    ),
    page.total > page.rows.length ? empty(`${page.rows.length} of ${page.total} shown`) : null
  ]
}

/** A link to the runs that have a value for the feature; none when no filter key can name it. @param {string} name */
const featureRunsLink = (name) => {
  const filter = hasFeature(name)
  return filter === undefined ? h("span", { class: "none" }, "—") : link(`#/runs${queryString({ filter })}`, "runs with it")
}

const featuresView = async () => {
  const page = /** @type {{ rows: FeatureRow[], total: number }} */ (await api(`/api/features${queryString({ limit: 500 })}`))
  return [
    h("h1", {}, "Features"),
    page.rows.length === 0
      ? empty("No feature declared.")
      : h(
          "table",
          { class: "features" },
          h("thead", {}, h("tr", {}, ["name", "dtype", "unit", "description", "runs"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            page.rows.map((f) =>
              h(
                "tr",
                {},
                h("td", {}, f.name),
                h("td", {}, h("code", {}, f.dtype)),
                h("td", {}, f.unit ?? ""),
                h("td", {}, f.description ?? ""),
                h("td", {}, featureRunsLink(f.name))
              )
            )
          )
        )
  ]
}

// ---------------------------------------------------------------------------------------------------------
// Routing

/** @type {Record<string, (rest: string[], query: URLSearchParams) => Promise<Array<Child | Child[]>>>} */
const views = {
  runs: (_, query) => runsView(query),
  run: ([uid = ""]) => runView(uid),
  transform: ([uid = ""]) => transformView(uid),
  artifact: ([uid = ""]) => artifactView(uid),
  compare: (_, query) => compareView(query),
  transforms: () => transformsView(),
  features: () => featuresView()
}

/** Renders the route in the location's hash; a newer navigation wins over a slower earlier one. */
let rendering = 0
const render = async () => {
  const current = ++rendering
  const hash = location.hash.replace(/^#\/?/, "")
  const [path = "", search = ""] = hash.split("?", 2)
  const [name = "runs", ...rest] = path.split("/").map((s) => {
    try {
      return decodeURIComponent(s)
    } catch {
      return s
    }
  })
  const view = Object.hasOwn(views, name) ? views[name] : views["runs"]
  const main = /** @type {HTMLElement} */ (document.getElementById("view"))
  main.setAttribute("aria-busy", "true")
  for (const a of document.querySelectorAll("nav a[data-nav]")) a.classList.toggle("active", a.getAttribute("data-nav") === name || (name === "run" && a.getAttribute("data-nav") === "runs"))
  /** @type {Array<Child | Child[]>} */
  let content
  try {
    content = await /** @type {NonNullable<typeof view>} */ (view)(rest, new URLSearchParams(search))
  } catch (e) {
    content = [h("h1", {}, "Not shown"), errorBox(e instanceof Error ? e.message : String(e)), h("p", {}, link("#/runs", "back to the runs"))]
  }
  if (current !== rendering) return
  main.replaceChildren(...content.flat().filter((c) => c !== null && c !== undefined && c !== false).map((c) => (typeof c === "object" ? c : String(c))))
  main.setAttribute("aria-busy", "false")
  document.title = `${main.querySelector("h1")?.textContent ?? "lineage"} · lineage`
}

window.addEventListener("hashchange", () => void render())
void render()
