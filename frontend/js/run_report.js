// What a run did: the partial-result banner, downloads, per-source status,
// corrections, rejections, type mismatches, discrepancies and generated SQL.

import { append, clear, h } from "./dom.js";
import { formatMs, formatNumber, isNumber, labelFor, periodLabel, sentence } from "./format.js";

const DOWNLOAD_LABELS = {
  csv: "CSV", parquet: "Parquet", json: "JSON", rejected: "Rejected rows", manifest: "Manifest",
};

export function renderBanner(host, result) {
  clear(host);
  const failed = Object.entries(result.sources || {}).filter(([, s]) => s.status !== "ok");
  for (const [name, s] of failed) {
    host.append(h("div", { className: `banner ${s.status === "error" ? "banner-error" : "banner-warn"}`,
      role: "alert", dataset: { source: name, status: s.status } },
      h("strong", { text: `${labelFor(name)} ${s.status === "error" ? "failed" : "unavailable"}.` }),
      ` Results are partial: no data from ${name}`, s.reason ? ` (${s.reason})` : "", "."));
  }
  if (!failed.length && result.complete === false) {
    host.append(h("div", { className: "banner banner-warn", role: "alert",
      text: "This result is incomplete." }));
  }
  // The API also words each failed source as a warning; the banner above says it already.
  const repeats = (text) => failed.some(([name, s]) => text.includes(name) && text.includes(s.status));
  for (const warning of result.warnings || []) {
    const text = warningText(warning);
    if (!repeats(text)) host.append(h("div", { className: "banner banner-info", text }));
  }
}

// A failed run is reported in the results too, with each source's state when
// the API names them, so "every source down" is never just a line in the form.
export function renderFailure(host, err, previous) {
  clear(host);
  if (err.status < 500 && err.status !== 0) return;
  const sources = Object.entries((err.details && err.details.sources) || {});
  host.append(h("div", { className: "banner banner-error", dataset: { code: err.code } },
    h("strong", { text: "The run failed. " }), sentence(err.message),
    sources.length ? h("ul", { className: "failure-sources" }, sources.map(([name, s]) =>
      h("li", { dataset: { source: name } }, h("strong", { text: labelFor(name) }),
        `: ${s.status || "unavailable"}${s.reason ? ` (${s.reason})` : ""}`))) : null,
    previous ? h("p", { className: "small", text: `Results below are from the previous run, ${previous.run_id}.` }) : null));
}

export function renderDownloads(host, downloads) {
  clear(host);
  // Only same-origin API paths become links, whatever the body says.
  const entries = Object.entries(downloads || {}).filter(([, url]) => String(url).startsWith("/api/"));
  if (!entries.length) return;
  append(host, [h("span", { className: "muted", text: "Download" }),
    entries.map(([format, url]) => h("a", { className: "btn btn-small", href: url, download: "",
      dataset: { format }, text: DOWNLOAD_LABELS[format] || format.toUpperCase() }))]);
}

export function renderReport(host, result) {
  clear(host);
  const panels = [
    sourcesPanel(result.sources || {}),
    listPanel("corrections", "Corrections", result.corrections, correctionRow,
      ["Raw key", "Company", "Method", "Score", "Source", "Rows"], "No company keys needed correcting."),
    listPanel("rejections", "Rejected keys", result.rejections, rejectionRow,
      ["Raw key", "Source", "Rows", "Candidates"], "No keys were rejected."),
    listPanel("type-mismatches", "Type mismatches", result.type_mismatches, mismatchRow,
      ["Source", "Field", "Count", "Examples"], "All values had the declared types."),
    discrepancyPanel(result.discrepancies || []),
    sqlPanel(result.plan),
  ];
  host.append(...panels);
}

function panel(key, title, count, body, open, countText = null) {
  return h("details", { className: "report-panel", open, dataset: { panel: key } },
    h("summary", {}, h("span", { text: title }),
      count === null ? null : h("span", { className: `count${count ? " count-on" : ""}`,
        text: countText || formatNumber(count) })),
    h("div", { className: "report-body" }, body));
}

function listPanel(key, title, items = [], rowFn, headers, emptyText) {
  const rows = items || [];
  const body = rows.length ? table(headers, rows.map(rowFn)) : h("p", { className: "muted", text: emptyText });
  return panel(key, title, rows.length, body, rows.length > 0);
}

function correctionRow(c) {
  return [rawKey(c.raw), code(c.company_id), c.method, score(c.score), c.source, num(c.rows)];
}

function rejectionRow(r) {
  const candidates = (r.candidates || []).map((c) => (typeof c === "string" ? c : c.id || c.company_id));
  return [rawKey(r.raw), r.source, num(r.rows), candidates.length ? candidates.join(", ") : "none"];
}

function mismatchRow(m) {
  const examples = (m.examples || []).map((e) => JSON.stringify(e)).join(", ");
  return [m.source, m.field, num(m.count), code(examples)];
}

function sourcesPanel(sources) {
  const rows = Object.entries(sources).map(([name, s]) => [
    labelFor(name),
    h("span", { className: `badge ${s.status === "ok" ? "badge-ok" : "badge-bad"}`, text: s.status }),
    s.reason || "",
    num(s.rows),
    formatMs(s.elapsed_ms),
    s.cached ? "yes" : "no",
    s.data_version || "",
  ]);
  const body = table(["Source", "Status", "Reason", "Rows", "Time", "Cached", "Data version"], rows);
  const bad = Object.values(sources).filter((s) => s.status !== "ok").length;
  return panel("sources", "Sources in this run", bad, body, bad > 0, bad ? `${bad} not ok` : "all ok");
}

function discrepancyPanel(items) {
  const sources = [...new Set(items.flatMap((d) => Object.keys(d.values || {})))];
  const rows = items.map((d) => {
    const values = sources.map((s) => d.values && d.values[s]);
    const nums = values.filter(isNumber);
    const diff = nums.length > 1 ? Math.max(...nums) - Math.min(...nums) : null;
    const base = nums.length > 1 ? Math.max(...nums.map(Math.abs)) : 0;
    const share = diff !== null && base ? h("td", { className: "num", text: `${((diff / base) * 100).toFixed(1)}%` }) : num(null);
    return [code(d.company_id), periodLabel(d.period_end), d.field, ...values.map(num), num(diff), share];
  });
  const body = items.length
    ? table(["Company", "Period", "Field", ...sources.map(labelFor), "Difference", "Diff %"], rows)
    : h("p", { className: "muted", text: "Sources agree on every overlapping value." });
  return panel("discrepancies", "Discrepancies", items.length, body, items.length > 0);
}

function sqlPanel(plan) {
  const sources = Object.entries((plan && plan.sources) || {});
  const body = [
    plan && plan.mode ? h("p", { className: "muted small", text: `Mode: ${plan.mode}` }) : null,
    plan && plan.filter_semantics ? h("details", { className: "semantics" },
      h("summary", { text: "How filters apply" }),
      h("p", { className: "muted small", text: plan.filter_semantics })) : null,
    sources.length ? sources.map(([name, sp]) => sourceSql(name, sp))
      : h("p", { className: "muted", text: "No SQL in the plan." }),
    discoveryBlock((plan && plan.discovery) || {}),
    stepList("At the aggregator", plan && plan.at_aggregator),
    stepList("Notes", plan && plan.notes),
  ];
  return panel("sql", "SQL per source", null, body, false);
}

function sourceSql(name, sp) {
  const filters = sp.filters || {};
  const where = [
    ["in SQL", filters.in_sql], ["at the aggregator", filters.at_aggregator],
    ["via surviving keys", filters.via_surviving_keys],
  ].filter(([, list]) => list && list.length).map(([label, list]) => `${label}: ${list.join(", ")}`);
  return h("div", { className: "sql-block", dataset: { source: name } },
    h("h4", {}, labelFor(name), h("span", { className: "muted small",
      text: ` · ${sp.mode || ""}${sp.fields && sp.fields.length ? ` · ${sp.fields.join(", ")}` : ""}` })),
    where.length ? h("p", { className: "muted small", text: `Filters ${where.join("; ")}` }) : null,
    (sp.queries || []).map((q) => sqlText(q.sql, q.params)));
}

function discoveryBlock(discovery) {
  const entries = Object.entries(discovery);
  if (!entries.length) return null;
  return h("div", { className: "sql-block sql-discovery" },
    h("h4", { text: "Key discovery" }),
    entries.map(([name, queries]) => [h("p", { className: "muted small", text: labelFor(name) }),
      [].concat(queries).map((q) => sqlText(q.sql, q.params))]));
}

function sqlText(sql, params) {
  const pairs = Object.entries(params || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return [h("pre", {}, h("code", { text: sql || "" })),
    pairs.length ? h("p", { className: "sql-params muted small", text: `Parameters: ${pairs.join(", ")}` }) : null];
}

function stepList(title, steps) {
  if (!steps || !steps.length) return null;
  return h("div", { className: "sql-block" }, h("h4", { text: title }),
    h("ol", { className: "steps" }, steps.map((step) => h("li", { text: String(step) }))));
}

function table(headers, rows) {
  return h("div", { className: "table-wrap" }, h("table", { className: "report-table" },
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col", text })))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => cellNode(c)))))));
}

function cellNode(content) {
  if (content instanceof Node && content.tagName === "TD") return content;
  return h("td", {}, content ?? "");
}

function num(value) {
  if (!isNumber(value)) return h("td", { className: "num empty", text: "—" });
  return h("td", { className: `num${value < 0 ? " neg" : ""}`, dataset: { value },
    text: formatNumber(value, Number.isInteger(value) ? 0 : 2) });
}

function score(value) {
  return isNumber(value) ? h("td", { className: "num", text: value <= 1 ? value.toFixed(2) : value.toFixed(0) }) : "";
}

// Stray spaces are often why a key needed correcting, so keep them visible.
function rawKey(text) {
  return h("code", { className: "raw-key", title: JSON.stringify(text ?? ""), text: text ?? "" });
}

function code(text) {
  return h("code", { text: text ?? "" });
}

function warningText(warning) {
  if (typeof warning === "string") return warning;
  return warning.message || JSON.stringify(warning);
}
