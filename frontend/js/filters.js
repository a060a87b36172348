// Filter rows (field, operator, value) with add/remove; values parsed by field type.

import { h, uid } from "./dom.js";
import { labelFor } from "./format.js";

const OPERATOR_LABELS = {
  "=": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥",
  between: "between", in: "in list",
};

export function createFilters(root, onRemoveRow) {
  const list = root.querySelector("[data-role=filter-rows]");
  const addButton = root.querySelector("[data-role=add-filter]");
  const config = {
    fields: [],
    operators: Object.keys(OPERATOR_LABELS),
    textOperators: ["=", "!=", "in"],
  };

  function configure(fields, operators, textOperators) {
    config.fields = fields;
    if (operators && operators.length) config.operators = operators;
    if (textOperators && textOperators.length) config.textOperators = textOperators;
  }

  function addRow(filter = {}) {
    const row = buildRow(filter, config, removeRow);
    list.append(row);
    reindex();
    return row;
  }

  function removeRow(row) {
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    reindex();
    onRemoveRow();
    (next ? next.querySelector("select") : addButton).focus();
  }

  // Paths and labels follow row order so server errors ("filters[1].value") land here.
  function reindex() {
    [...list.children].forEach((row, i) => {
      const n = i + 1;
      const [field, op, value, upper] = row.querySelectorAll("select, input");
      row.dataset.fieldPath = `filters[${i}]`;
      setLabel(row, field, `Filter ${n} field`, `filters[${i}].field`);
      setLabel(row, op, `Filter ${n} operator`, `filters[${i}].op`);
      setLabel(row, value, `Filter ${n} value`, `filters[${i}].value`);
      setLabel(row, upper, `Filter ${n} upper value`, `filters[${i}].value[1]`);
      row.querySelector(".btn-icon").setAttribute("aria-label", `Remove filter ${n}`);
    });
  }

  function values() {
    return [...list.children].map((row) => readRow(row, config.fields));
  }

  function reset(filters = []) {
    list.replaceChildren();
    filters.forEach((f) => addRow(f));
  }

  addButton.addEventListener("click", () => addRow().querySelector("select").focus());
  return { configure, values, reset };
}

function buildRow(filter, config, onRemove) {
  const id = uid("filter");
  const field = control("select", `${id}-field`);
  const op = control("select", `${id}-op`);
  const value = control("input", `${id}-value`);
  const upper = control("input", `${id}-upper`);
  field.input.append(...config.fields.map((f) =>
    h("option", { value: f.name, text: labelFor(f.name), selected: f.name === filter.field })));
  const row = h("li", { className: "filter-row", dataset: { errorHost: "" } },
    field.label, field.input, op.label, op.input, value.label, value.input,
    upper.label, upper.input,
    h("button", { type: "button", className: "btn-icon", text: "×", onClick: () => onRemove(row) }));

  const refresh = () => {
    const text = fieldType(config.fields, field.input.value) === "text";
    const allowed = text ? config.textOperators : config.operators;
    const keep = allowed.includes(op.input.value) ? op.input.value : filter.op;
    op.input.replaceChildren(...allowed.map((o) =>
      h("option", { value: o, text: OPERATOR_LABELS[o] || o, selected: o === keep })));
    const between = op.input.value === "between";
    upper.input.hidden = !between;
    value.input.inputMode = text ? "text" : "decimal";
    value.input.placeholder = op.input.value === "in" ? "a, b, c" : between ? "from" : "value";
    upper.input.placeholder = "to";
  };
  field.input.addEventListener("change", refresh);
  op.input.addEventListener("change", refresh);
  refresh();
  fillValues(filter, value.input, upper.input);
  return row;
}

function fillValues(filter, value, upper) {
  const values = Array.isArray(filter.value) ? filter.value : [filter.value ?? ""];
  value.value = filter.op === "in" ? values.join(", ") : values[0] ?? "";
  upper.value = filter.op === "between" ? values[1] ?? "" : "";
}

function readRow(row, fields) {
  const [field, op, value, upper] = row.querySelectorAll("select, input");
  const numeric = fieldType(fields, field.value) === "numeric";
  const parse = (text) => parseValue(text, numeric);
  let parsed;
  if (op.value === "between") parsed = [parse(value.value), parse(upper.value)];
  else if (op.value === "in") parsed = value.value.split(",").map((v) => v.trim()).filter(Boolean).map(parse);
  else parsed = parse(value.value);
  return { field: field.value, op: op.value, value: parsed };
}

function fieldType(fields, name) {
  const spec = fields.find((f) => f.name === name);
  return spec ? spec.type : "numeric";
}

// Anything that is not a clean number goes to the server as typed: it owns validation.
function parseValue(text, numeric) {
  const trimmed = String(text).trim();
  if (!numeric || trimmed === "") return trimmed;
  const cleaned = trimmed.replace(/[,_\s]/g, "").replace(/^\((.*)\)$/, "-$1");
  const number = Number(cleaned);
  return cleaned !== "" && Number.isFinite(number) ? number : trimmed;
}

function control(tag, id) {
  const props = tag === "input" ? { id, type: "text", autocomplete: "off" } : { id };
  return { input: h(tag, props), label: h("label", { htmlFor: id, className: "visually-hidden" }) };
}

function setLabel(row, node, text, path) {
  row.querySelector(`label[for="${CSS.escape(node.id)}"]`).textContent = text;
  node.dataset.fieldPath = path;
}
