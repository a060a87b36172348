// The query builder: turns the form into a POST /api/aggregate body and puts
// API errors back next to the inputs that caused them.

import { searchCompanies } from "./api.js";
import { createCompanyPicker } from "./company_picker.js";
import { clear, h } from "./dom.js";
import { clearFieldErrors, showFieldError } from "./field_errors.js";
import { renderFieldGroups, selectFields } from "./field_groups.js";
import { createFilters } from "./filters.js";
import { labelFor, sentence } from "./format.js";

const GROUP_LABELS = { company: "Per company", company_period: "Per company and period" };

export function createQueryForm(form) {
  const picker = createCompanyPicker(form.querySelector("[data-role=company-picker]"));
  const filters = createFilters(form.querySelector("[data-role=filters]"), () => {
    clearFieldErrors(form, "filters");
  });
  const fieldsHost = form.querySelector("[data-role=field-groups]");
  const groupHost = form.querySelector("[data-role=group-by]");
  const runError = form.querySelector("[data-role=run-error]");

  function loadSchema(schema) {
    const fields = (schema && schema.fields) || [];
    filters.configure(fields, schema && schema.operators, schema && schema.text_operators);
    renderFieldGroups(fieldsHost, fields);
    renderGroupBy(groupHost, (schema && schema.group_by) || Object.keys(GROUP_LABELS));
  }

  function payload() {
    const data = new FormData(form);
    const period = {};
    if (data.get("period_start")) period.start = data.get("period_start");
    if (data.get("period_end")) period.end = data.get("period_end");
    const body = {
      filters: filters.values(),
      group_by: data.get("group_by") || "company",
      auto_correct: data.has("auto_correct"),
      require_all_sources: data.has("require_all_sources"),
      pushdown: data.has("pushdown"),
      formats: ["csv", "parquet", "json"],
    };
    const chosen = data.getAll("fields");
    if (chosen.length) body.fields = chosen;
    const companies = picker.values();
    if (companies.length) body.companies = companies;
    if (Object.keys(period).length) body.period = period;
    return body;
  }

  // Checks the server cannot do better: empty filter values.
  function validate(body) {
    clearErrors();
    let ok = true;
    body.filters.forEach((f, i) => {
      const values = Array.isArray(f.value) ? f.value : [f.value];
      if (values.length === 0 || values.some((v) => v === "")) {
        showFieldError(form, `filters[${i}].value`, "Enter a value for this filter.");
        ok = false;
      }
    });
    if (!ok) focusFirstError();
    return ok;
  }

  // Returns the message as shown, for the status line.
  function showApiError(err) {
    clearErrors();
    const path = err.details && err.details.field;
    const message = sentence(path ? readableMessage(err.message, path) : err.message);
    let shown = null;
    if (err.code === "unknown_company") shown = showUnknownCompany(err);
    else if (path) shown = showFieldError(form, path, message);
    if (!shown) showRunError(err);
    focusFirstError();
    return message;
  }

  function showUnknownCompany(err) {
    const groups = normalizeSuggestions(err.details);
    picker.markUnknown(groups.map((g) => g.raw).filter(Boolean));
    const extra = h("span", { className: "suggestions" },
      groups.map((group) => suggestionLine(group, groups.length > 1)));
    return showFieldError(form, err.details.field || "companies", err.message, extra);
  }

  function suggestionLine(group, several) {
    if (!group.candidates.length) {
      return h("span", { className: "suggestion-line",
        text: group.raw ? `No close match for “${group.raw}”.` : "No close match." });
    }
    return h("span", { className: "suggestion-line" },
      several && group.raw ? `For “${group.raw}”, did you mean ` : "Did you mean ",
      group.candidates.map((c) => suggestionButton(group, c)), "?");
  }

  function suggestionButton(group, company) {
    const button = h("button", {
      type: "button", className: "btn-link suggestion", text: company.id,
      onClick: () => {
        picker.replace(group.raw || company.id, { id: company.id, name: button.dataset.name });
        clearFieldErrors(form, "companies");
        picker.input.focus();
      },
    });
    nameOf(company.id).then((name) => {
      if (!name) return;
      button.dataset.name = name;
      button.append(h("span", { className: "suggestion-name", text: ` · ${name}` }));
    });
    return button;
  }

  function showRunError(err) {
    clear(runError);
    runError.append(h("strong", { text: errorTitle(err) }), " ", sentence(err.message));
    if (err.requestId) {
      runError.append(h("span", { className: "request-id", text: ` (request ${err.requestId})` }));
    }
    runError.hidden = false;
    return runError;
  }

  function clearErrors() {
    clearFieldErrors(form);
    clear(runError);
    runError.hidden = true;
  }

  function focusFirstError() {
    const invalid = form.querySelector("[aria-invalid=true]");
    if (invalid) invalid.focus();
  }

  function fill(query) {
    if (!query) return;
    picker.setValues(query.companies || []);
    selectFields(fieldsHost, query.fields || []);
    filters.reset(query.filters || []);
    const period = query.period || { start: query.period_start, end: query.period_end };
    form.elements.period_start.value = period.start || "";
    form.elements.period_end.value = period.end || "";
    const group = form.querySelector(`input[name=group_by][value="${CSS.escape(query.group_by || "company")}"]`);
    if (group) group.checked = true;
    for (const name of ["auto_correct", "require_all_sources", "pushdown"]) {
      if (name in query) form.elements[name].checked = Boolean(query[name]);
    }
  }

  form.addEventListener("input", (event) => {
    const path = event.target.dataset && event.target.dataset.fieldPath;
    if (path && event.target.getAttribute("aria-invalid")) clearFieldErrors(form, path);
  });
  picker.onChange(() => clearFieldErrors(form, "companies"));

  return { loadSchema, payload, validate, showApiError, clearErrors, fill };
}

function renderGroupBy(host, options) {
  clear(host);
  options.forEach((value, i) => {
    const id = `group-by-${value}`;
    host.append(h("label", { className: "radio", htmlFor: id },
      h("input", { type: "radio", id, name: "group_by", value, checked: i === 0 }),
      h("span", { text: GROUP_LABELS[value] || labelFor(value) })));
  });
}

// details: {field, company, suggestions: [ids], unknown: [{field, company, suggestions}]}
function normalizeSuggestions(details = {}) {
  const unknown = Array.isArray(details.unknown) && details.unknown.length ? details.unknown : [details];
  return unknown.map((u) => ({ raw: u.company || null, candidates: candidates(u.suggestions) }));
}

function candidates(list) {
  return (Array.isArray(list) ? list : [])
    .map((c) => (typeof c === "string" ? { id: c } : { id: c.id || c.company_id, name: c.name }))
    .filter((c) => c.id);
}

// The API prefixes messages with the path ("filters[0].value: must be ...");
// next to the input, a label reads better than the path.
function readableMessage(message, path) {
  if (!path || !message.startsWith(`${path}: `)) return message;
  return `${pathLabel(path)} ${message.slice(path.length + 2)}`;
}

function pathLabel(path) {
  const rules = [
    [/^filters\[(\d+)\]\.value\[(\d+)\]$/, (m) => `Filter ${+m[1] + 1} value ${+m[2] + 1}`],
    [/^filters\[(\d+)\]\.op$/, (m) => `Filter ${+m[1] + 1} operator`],
    [/^filters\[(\d+)\]\.(\w+)$/, (m) => `Filter ${+m[1] + 1} ${m[2]}`],
    [/^filters\[(\d+)\]$/, (m) => `Filter ${+m[1] + 1}`],
    [/^companies\[(\d+)\]$/, (m) => `Company ${+m[1] + 1}`],
    [/^fields\[(\d+)\]$/, (m) => `Field ${+m[1] + 1}`],
    [/^period\.(start|end)$/, (m) => `Period ${m[1]}`],
  ];
  for (const [pattern, label] of rules) {
    const match = pattern.exec(path);
    if (match) return label(match);
  }
  return labelFor(path);
}

// Suggestions carry ids only; the name is what lets an analyst confirm the pick.
async function nameOf(id) {
  try {
    const body = await searchCompanies(id, 3);
    const match = ((body && body.companies) || []).find((c) => c.id === id);
    return match ? match.name : "";
  } catch {
    return "";
  }
}

function errorTitle(err) {
  if (err.status === 0) return "Aggregator unreachable.";
  if (err.status === 503 || err.status === 502) return "Sources unavailable.";
  if (err.status === 408) return "Timed out.";
  return err.status >= 500 ? "Server error." : "Query refused.";
}
