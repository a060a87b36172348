// FinSync dashboard entry point: wires the panels together and runs queries.

import { aggregate, getSchema } from "./js/api.js";
import { renderChart } from "./js/chart.js";
import { clear, debounce, h } from "./js/dom.js";
import { formatTimestamp, pluralize } from "./js/format.js";
import { createQueryForm } from "./js/query_form.js";
import { columnLabel, createResultsTable } from "./js/results_table.js";
import { renderBanner, renderDownloads, renderFailure, renderReport } from "./js/run_report.js";
import { createRunsList } from "./js/runs_list.js";
import { createSourcesPanel } from "./js/sources_panel.js";

const $ = (selector) => document.querySelector(selector);

const formEl = $("#query-form");
const runButton = $("#run-button");
const cancelButton = $("#cancel-button");
const progress = $("#run-progress");
const elapsedEl = $("#run-elapsed");
const statusEl = $("#run-status");
const resultsEl = $("#results");
const chartHost = $("#chart");
const chartField = $("#chart-field");

const sources = createSourcesPanel($("#sources"));
const form = createQueryForm(formEl);
const table = createResultsTable($("#results-table"));
const runs = createRunsList($("#runs"), (query) => {
  form.fill(query);
  formEl.querySelector("input[role=combobox]").focus();
  statusEl.textContent = "Loaded the query of a past run into the form.";
});

let current = null; // { controller, started, timer } while a run is in flight
let lastResult = null;

async function onSubmit(event) {
  event.preventDefault();
  if (current) return; // a run is already going: never submit twice
  const body = form.payload();
  if (!form.validate(body)) {
    statusEl.textContent = "Fix the highlighted input before running.";
    return;
  }
  startRun();
  try {
    const result = await aggregate(body, current.controller.signal);
    const seconds = ((performance.now() - current.started) / 1000).toFixed(1);
    showResult(result);
    statusEl.textContent = `Done: ${pluralize(result.row_count ?? (result.rows || []).length, "row")} in ${seconds} s.`;
  } catch (err) {
    if (err.name === "AbortError") statusEl.textContent = "Run cancelled.";
    else {
      const message = form.showApiError(err);
      renderFailure($("#run-failure"), err, lastResult);
      $("#results-empty").hidden = Boolean(lastResult) || $("#run-failure").childElementCount > 0;
      statusEl.textContent = `Run failed: ${message}`;
    }
  } finally {
    finishRun();
    sources.refresh();
    runs.refresh();
  }
}

function startRun() {
  form.clearErrors();
  clear($("#run-failure"));
  $("#results-empty").hidden = Boolean(lastResult);
  current = { controller: new AbortController(), started: performance.now(), timer: null };
  runButton.disabled = true;
  formEl.setAttribute("aria-busy", "true");
  resultsEl.setAttribute("aria-busy", "true");
  progress.hidden = false;
  cancelButton.hidden = false;
  statusEl.textContent = "Running query…";
  elapsedEl.textContent = "0.0 s";
  current.timer = setInterval(() => {
    elapsedEl.textContent = `${((performance.now() - current.started) / 1000).toFixed(1)} s`;
  }, 100);
}

function finishRun() {
  clearInterval(current.timer);
  current = null;
  runButton.disabled = false;
  formEl.removeAttribute("aria-busy");
  resultsEl.removeAttribute("aria-busy");
  progress.hidden = true;
  cancelButton.hidden = true;
}

function showResult(result) {
  lastResult = result;
  resultsEl.dataset.state = "ready";
  $("#results-empty").hidden = true;
  $("#results-body").hidden = false;
  renderBanner($("#result-banner"), result);
  renderSummary(result);
  renderDownloads($("#downloads"), result.downloads);
  fillChartFields(result);
  drawChart();
  table.render(result);
  renderReport($("#run-report"), result);
}

function renderSummary(result) {
  const host = clear($("#result-summary"));
  const count = result.row_count ?? (result.rows || []).length;
  host.append(
    h("strong", { text: pluralize(count, "row") }),
    h("span", { className: "muted", text: result.group_by === "company_period" ? " per company and period" : " per company" }),
    h("span", { className: "sep", "aria-hidden": "true", text: "·" }),
    h("span", { className: `badge ${result.complete ? "badge-ok" : "badge-warn"}`,
      text: result.complete ? "complete" : "partial" }),
    h("span", { className: "sep", "aria-hidden": "true", text: "·" }),
    h("span", { className: "muted", text: `run ${result.run_id || ""}` }),
    result.created_at ? h("span", { className: "muted", text: ` at ${formatTimestamp(result.created_at)}` }) : null,
  );
}

function fillChartFields(result) {
  const previous = chartField.value;
  const numeric = numericColumns(result);
  const fields = (result.fields || []).filter((f) => numeric.includes(f));
  const options = fields.length ? fields : numeric;
  clear(chartField);
  for (const name of options) chartField.append(h("option", { value: name, text: columnLabel(name) }));
  chartField.value = options.includes(previous) ? previous : options[0] || "";
  $("#chart-panel").hidden = !options.length;
}

function numericColumns(result) {
  const rows = result.rows || [];
  return (result.columns || []).filter((col) =>
    !["company_id", "period_end"].includes(col) && rows.some((r) => typeof r[col] === "number"));
}

function drawChart() {
  if (!lastResult || !chartField.value) return;
  const field = chartField.value;
  $("#chart-title").textContent = lastResult.group_by === "company_period"
    ? `${columnLabel(field)} by period`
    : `${columnLabel(field)} by company`;
  renderChart(chartHost, lastResult.rows || [], field, lastResult.group_by, columnLabel(field));
}

async function loadSchema() {
  try {
    form.loadSchema(await getSchema());
  } catch (err) {
    const host = clear($("[data-role=field-groups]"));
    host.append(h("p", { className: "field-error", role: "alert", text: `Could not load fields: ${err.message}` }));
  }
}

formEl.addEventListener("submit", onSubmit);
cancelButton.addEventListener("click", () => current && current.controller.abort());
chartField.addEventListener("change", drawChart);
let chartWidth = 0;
new ResizeObserver(debounce(() => {
  // Redraw on width changes only: the chart itself changes the height.
  if (chartHost.clientWidth === chartWidth) return;
  chartWidth = chartHost.clientWidth;
  drawChart();
}, 150)).observe(chartHost);
sources.refresh();
runs.refresh();
loadSchema();
