// Sortable, paginated results table. Cells keep the raw value in data-value so
// copies and tests see exact numbers while people see formatted ones.

import { clear, h } from "./dom.js";
import { columnDecimals, formatNumber, isNumber, labelFor } from "./format.js";

const PAGE_SIZES = [25, 50, 100];
const SUFFIXES = { _count: "n", _min: "min", _max: "max" };

export function createResultsTable(root) {
  const table = root.querySelector("table");
  const pager = root.querySelector("[data-role=pager]");
  const state = { columns: [], rows: [], sort: null, dir: 1, page: 0, size: PAGE_SIZES[0], meta: {} };

  function render(result) {
    state.columns = result.columns || Object.keys((result.rows || [])[0] || {});
    state.rows = result.rows || [];
    state.meta = columnMeta(state.columns, state.rows);
    state.sort = null;
    state.page = 0;
    draw();
  }

  function draw() {
    const rows = sortedRows();
    const pages = Math.max(1, Math.ceil(rows.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * state.size;
    clear(table);
    table.append(
      h("caption", { className: "visually-hidden", text: captionText() }),
      h("thead", {}, h("tr", {}, state.columns.map((col) => headerCell(col)))),
      h("tbody", {}, rows.slice(start, start + state.size).map((row) => bodyRow(row))),
    );
    drawPager(rows.length, start, pages);
  }

  function headerCell(col) {
    const meta = state.meta[col];
    const sorted = state.sort === col;
    return h("th", {
      scope: "col",
      className: meta.numeric ? "num" : "",
      "aria-sort": sorted ? (state.dir > 0 ? "ascending" : "descending") : "none",
      dataset: { column: col },
    }, h("button", { type: "button", className: "sort-button", onClick: () => sortBy(col) },
      h("span", { text: columnLabel(col) }),
      h("span", { className: "sort-icon", "aria-hidden": "true" })));
  }

  function bodyRow(row) {
    return h("tr", {}, state.columns.map((col, i) => cell(col, row[col], i === 0)));
  }

  function cell(col, value, isHeader) {
    const meta = state.meta[col];
    const props = { dataset: { column: col, value: value ?? "" } };
    if (value === null || value === undefined || value === "") {
      return h(isHeader ? "th" : "td", { ...props, className: "empty", text: "—" });
    }
    if (meta.numeric && isNumber(value)) {
      return h("td", { ...props, className: `num${value < 0 ? " neg" : ""}`,
        title: String(value), text: formatNumber(value, meta.decimals) });
    }
    return h(isHeader ? "th" : "td", { ...props, scope: isHeader ? "row" : null, text: String(value) });
  }

  function sortBy(col) {
    state.dir = state.sort === col ? -state.dir : state.meta[col].numeric ? -1 : 1;
    state.sort = col;
    state.page = 0;
    draw();
    table.querySelector(`th[data-column="${CSS.escape(col)}"] button`).focus();
  }

  // Empty values sort last in both directions: they are never the interesting end.
  function sortedRows() {
    if (!state.sort) return state.rows;
    const col = state.sort;
    const numeric = state.meta[col].numeric;
    return [...state.rows].sort((a, b) => {
      const x = a[col];
      const y = b[col];
      const xe = x === null || x === undefined || x === "";
      const ye = y === null || y === undefined || y === "";
      if (xe || ye) return xe === ye ? 0 : xe ? 1 : -1;
      const cmp = numeric ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
      return cmp * state.dir;
    });
  }

  function drawPager(total, start, pages) {
    clear(pager);
    const go = (page) => () => {
      state.page = page;
      draw();
    };
    const end = Math.min(start + state.size, total);
    pager.append(
      h("span", { className: "pager-status", "aria-live": "polite",
        text: total ? `Rows ${fmt(start + 1)}–${fmt(end)} of ${fmt(total)}` : "No rows" }),
      h("span", { className: "pager-buttons" },
        pagerButton("« First", state.page === 0, go(0)),
        pagerButton("‹ Prev", state.page === 0, go(state.page - 1)),
        h("span", { className: "pager-page", text: `Page ${state.page + 1} of ${pages}` }),
        pagerButton("Next ›", state.page >= pages - 1, go(state.page + 1)),
        pagerButton("Last »", state.page >= pages - 1, go(pages - 1))),
      pageSizeSelect());
  }

  function pageSizeSelect() {
    const select = h("select", { id: "page-size", onChange: (e) => {
      state.size = Number(e.target.value);
      state.page = 0;
      draw();
      pager.querySelector("#page-size").focus();
    } }, PAGE_SIZES.map((n) => h("option", { value: n, text: n, selected: n === state.size })));
    return h("span", { className: "page-size" },
      h("label", { htmlFor: "page-size", text: "Rows per page" }), select);
  }

  function captionText() {
    const base = `Aggregated results, ${fmt(state.rows.length)} rows`;
    if (!state.sort) return base;
    return `${base}, sorted by ${columnLabel(state.sort)} ${state.dir > 0 ? "ascending" : "descending"}`;
  }

  return { render };
}

function pagerButton(text, disabled, onClick) {
  return h("button", { type: "button", className: "btn btn-small", text, disabled, onClick });
}

function columnMeta(columns, rows) {
  const meta = {};
  for (const col of columns) {
    const values = rows.map((r) => r[col]);
    const numeric = values.some(isNumber) && values.every((v) => v == null || isNumber(v));
    const big = values.some((v) => isNumber(v) && Math.abs(v) >= 1e5);
    meta[col] = { numeric, decimals: numeric && !big ? columnDecimals(values) : 0 };
  }
  return meta;
}

export function columnLabel(col) {
  if (col === "company_id") return "Company";
  if (col === "period_end") return "Period";
  for (const [suffix, label] of Object.entries(SUFFIXES)) {
    if (col.endsWith(suffix)) return `${labelFor(col.slice(0, -suffix.length))} · ${label}`;
  }
  return labelFor(col);
}

function fmt(n) {
  return formatNumber(n);
}
