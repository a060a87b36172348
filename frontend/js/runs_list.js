// Past runs (GET /api/runs) with their downloads and a way to load the query again.

import { getRuns } from "./api.js";
import { clear, h } from "./dom.js";
import { formatNumber, formatTimestamp, labelFor, pluralize } from "./format.js";

const MAX_RUNS = 20;
const FORMATS = ["csv", "parquet", "json"];

// [format, URL] of the data files the run wrote, from the server's downloads;
// only same-origin API paths become links, whatever the body says.
function runDownloads(run) {
  const downloads = run.downloads || {};
  return FORMATS.filter((format) => String(downloads[format] ?? "").startsWith("/api/"))
    .map((format) => [format, downloads[format]]);
}

export function createRunsList(root, onLoadQuery) {
  const body = root.querySelector("[data-role=runs-body]");
  const status = root.querySelector("[data-role=runs-status]");

  async function refresh() {
    try {
      const data = await getRuns();
      render((data && data.runs) || []);
    } catch (err) {
      status.textContent = `Could not load past runs: ${err.message}`;
    }
  }

  function render(runs) {
    clear(body);
    const sorted = [...runs].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    status.textContent = runs.length
      ? `${pluralize(runs.length, "run")}${runs.length > MAX_RUNS ? `, latest ${MAX_RUNS} shown` : ""}`
      : "No runs yet.";
    for (const run of sorted.slice(0, MAX_RUNS)) body.append(runRow(run));
  }

  function runRow(run) {
    const downloads = runDownloads(run);
    return h("tr", { dataset: { runId: run.run_id } },
      h("td", { title: run.created_at, text: formatTimestamp(run.created_at, false) }),
      h("td", {}, h("code", { title: run.run_id, text: shortId(run.run_id) })),
      h("td", { className: "num", text: formatNumber(run.row_count) }),
      h("td", {}, h("span", { className: `badge ${run.complete ? "badge-ok" : "badge-warn"}`,
        text: run.complete ? "complete" : "partial" })),
      h("td", { className: "run-query", text: describeQuery(run.query) }),
      h("td", {}, h("div", { className: "run-actions" },
        downloads.map(([format, url]) => h("a", { href: url, download: "",
          dataset: { format }, "aria-label": `Download run ${shortId(run.run_id)} as ${format}`,
          text: format.toUpperCase() })),
        run.query ? h("button", { type: "button", className: "btn btn-small btn-ghost", text: "Load",
          "aria-label": `Load the query of run ${shortId(run.run_id)} into the form`,
          onClick: () => onLoadQuery(run.query) }) : null)));
  }

  return { refresh };
}

function shortId(id) {
  const text = String(id ?? "");
  return text.length > 12 ? `${text.slice(0, 8)}…` : text;
}

function describeQuery(query) {
  if (!query) return "";
  const parts = [];
  const companies = query.companies || [];
  parts.push(companies.length ? `${companies.slice(0, 3).join(", ")}${companies.length > 3 ? ` +${companies.length - 3}` : ""}` : "all companies");
  const fields = query.fields || [];
  if (fields.length) parts.push(fields.slice(0, 3).map(labelFor).join(", ") + (fields.length > 3 ? ` +${fields.length - 3}` : ""));
  if ((query.filters || []).length) parts.push(`${query.filters.length} filter${query.filters.length > 1 ? "s" : ""}`);
  if (query.group_by === "company_period") parts.push("by period");
  return parts.join(" · ");
}
