// Hand-written SVG charts: bars across companies, lines over periods.

import { clear, h, svg, uid } from "./dom.js";
import { formatCompact, formatNumber, isNumber, periodLabel } from "./format.js";

const HEIGHT = 280;
const MAX_BARS = 60;
const MAX_BAR_WIDTH = 56;
const MAX_LINES = 8;
const PALETTE = ["#2563eb", "#d97706", "#059669", "#9333ea", "#dc2626",
  "#0891b2", "#65a30d", "#db2777"];

export function renderChart(host, rows, field, groupBy, label = field) {
  clear(host);
  const width = Math.max(280, Math.floor(host.clientWidth || 640));
  const spec = { field, label };
  if (groupBy === "company_period") return lineChart(host, rows, spec, width);
  return barChart(host, rows, spec, width);
}

function barChart(host, rows, { field, label }, width) {
  const all = rows.filter((r) => isNumber(r[field]))
    .map((r) => ({ key: String(r.company_id), value: r[field] }))
    .sort((a, b) => b.value - a.value);
  const items = all.slice(0, MAX_BARS);
  if (!items.length) return emptyNote(host, label);
  const rotate = (width - 70) / items.length < 64;
  const m = { top: 12, right: 12, bottom: rotate ? 78 : 28, left: 64 };
  const plot = { w: width - m.left - m.right, h: HEIGHT - m.top - m.bottom };
  const y = scale(items.map((d) => d.value), plot.h);
  const band = plot.w / items.length;
  const every = rotate ? Math.ceil(13 / band) : 1; // rotated labels need ~13px each
  const titleId = uid("chart-title");
  const chart = svg("svg", { class: "chart chart-bar", width, height: HEIGHT,
    viewBox: `0 0 ${width} ${HEIGHT}`, role: "img", "aria-labelledby": titleId },
    svg("title", { id: titleId }, `Bar chart of ${label} across ${items.length} companies`),
    svg("g", { transform: `translate(${m.left},${m.top})` },
      yAxis(y, plot.w),
      items.map((d, i) => bar(d, i, band, y, label)),
      band >= 40 ? items.map((d, i) => barValue(d, (i + 0.5) * band, y)) : null,
      items.map((d, i) => (i % every === 0 ? xLabel(d.key, (i + 0.5) * band, plot.h, rotate) : null)),
      svg("line", { class: "axis-zero", x1: 0, x2: plot.w, y1: y.at(0), y2: y.at(0) })));
  host.append(chart);
  if (all.length > items.length) {
    host.append(note(`Showing the ${MAX_BARS} largest of ${all.length} companies.`));
  }
  const missing = rows.length - all.length;
  if (missing > 0) host.append(note(`${missing} without a value for ${label} not shown.`));
  return chart;
}

function bar(d, i, band, y, label) {
  const width = Math.max(1, Math.min(band - Math.min(6, band * 0.2), MAX_BAR_WIDTH));
  const top = Math.min(y.at(d.value), y.at(0));
  const height = Math.max(1, Math.abs(y.at(d.value) - y.at(0)));
  return svg("rect", { class: d.value < 0 ? "bar bar-neg" : "bar", x: i * band + (band - width) / 2,
    y: top, width, height, "data-company": d.key, "data-value": d.value },
  svg("title", {}, `${d.key}: ${label} ${formatNumber(d.value, 2)}`));
}

function barValue(d, x, y) {
  const below = d.value < 0;
  return svg("text", { class: "bar-value", x, y: y.at(d.value) + (below ? 12 : -4),
    "text-anchor": "middle" }, formatCompact(d.value));
}

function lineChart(host, rows, { field, label }, width) {
  const periods = [...new Set(rows.map((r) => r.period_end).filter(Boolean))].sort();
  const series = topSeries(rows, field);
  if (!series.length || !periods.length) return emptyNote(host, label);
  const m = { top: 12, right: 28, bottom: 32, left: 64 };
  const plot = { w: width - m.left - m.right, h: HEIGHT - m.top - m.bottom };
  const y = scale(series.flatMap((s) => s.points.map((p) => p.value)), plot.h);
  const step = periods.length > 1 ? plot.w / (periods.length - 1) : 0;
  const x = (period) => (periods.length > 1 ? periods.indexOf(period) * step : plot.w / 2);
  const every = Math.ceil(periods.length / Math.max(1, Math.floor(plot.w / 56)));
  const titleId = uid("chart-title");
  const chart = svg("svg", { class: "chart chart-line", width, height: HEIGHT,
    viewBox: `0 0 ${width} ${HEIGHT}`, role: "img", "aria-labelledby": titleId },
    svg("title", { id: titleId }, `Line chart of ${label} over ${periods.length} periods`),
    svg("g", { transform: `translate(${m.left},${m.top})` },
      yAxis(y, plot.w),
      periods.map((p, i) => (i % every === 0 ? xLabel(periodLabel(p), x(p), plot.h, false) : null)),
      series.map((s, i) => seriesNode(s, i, x, y, label))));
  host.append(chart, legend(series));
  const total = new Set(rows.map((r) => r.company_id)).size;
  if (total > series.length) {
    host.append(note(`Showing ${series.length} of ${total} companies (largest by average ${label}).`));
  }
  return chart;
}

function topSeries(rows, field) {
  const byCompany = new Map();
  for (const row of rows) {
    if (!isNumber(row[field])) continue;
    const key = String(row.company_id);
    if (!byCompany.has(key)) byCompany.set(key, []);
    byCompany.get(key).push({ period: row.period_end, value: row[field] });
  }
  const mean = (pts) => pts.reduce((s, p) => s + Math.abs(p.value), 0) / pts.length;
  return [...byCompany.entries()]
    .map(([key, points]) => ({ key, points: points.sort((a, b) => (a.period < b.period ? -1 : 1)) }))
    .sort((a, b) => mean(b.points) - mean(a.points))
    .slice(0, MAX_LINES);
}

function seriesNode(s, i, x, y, label) {
  const color = PALETTE[i % PALETTE.length];
  const d = s.points.map((p, j) => `${j ? "L" : "M"}${x(p.period).toFixed(1)},${y.at(p.value).toFixed(1)}`).join("");
  return svg("g", { class: "series", "data-company": s.key },
    svg("path", { class: "line", d, stroke: color }),
    s.points.map((p) => svg("circle", { class: "point", cx: x(p.period), cy: y.at(p.value), r: 3, fill: color },
      svg("title", {}, `${s.key} ${periodLabel(p.period)}: ${label} ${formatNumber(p.value, 2)}`))));
}

function legend(series) {
  return h("ul", { className: "chart-legend" }, series.map((s, i) => h("li", {},
    h("span", { className: "swatch", style: `background:${PALETTE[i % PALETTE.length]}` }),
    s.key)));
}

function yAxis(y, width) {
  return svg("g", { class: "axis axis-y" }, y.ticks.map((t) => svg("g", {},
    svg("line", { class: "grid", x1: 0, x2: width, y1: y.at(t), y2: y.at(t) }),
    svg("text", { x: -8, y: y.at(t), dy: "0.32em", "text-anchor": "end" }, formatCompact(t)))));
}

function xLabel(text, x, plotHeight, rotate) {
  const attrs = rotate
    ? { transform: `translate(${x},${plotHeight + 8}) rotate(-55)`, "text-anchor": "end", dy: "0.32em" }
    : { x, y: plotHeight + 18, "text-anchor": "middle" };
  return svg("text", { class: "axis-label", ...attrs }, text);
}

// Linear scale over [min(0, lo), max(0, hi)] with "nice" 1/2/5 ticks.
export function scale(values, height) {
  let lo = Math.min(0, ...values);
  let hi = Math.max(0, ...values);
  if (lo === hi) hi = lo + 1;
  const step = niceStep((hi - lo) / 5);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const ticks = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { ticks, at: (v) => height - ((v - lo) / (hi - lo)) * height };
}

function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

function note(text) {
  return h("p", { className: "chart-note muted", text });
}

function emptyNote(host, label) {
  host.append(note(`No values for ${label} to chart.`));
  return null;
}
