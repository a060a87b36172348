// Field checkboxes grouped by statement (GET /api/schema), with per-group counts.

import { clear, h } from "./dom.js";
import { labelFor } from "./format.js";

const DEFAULT_FIELDS = ["revenue", "net_income", "cash"];
const SHARED_GROUP = "__shared";

export function renderFieldGroups(host, fields) {
  clear(host);
  const groups = groupFields(fields);
  groups.forEach(([key, members], index) => {
    const anyDefault = members.some((f) => DEFAULT_FIELDS.includes(f.name));
    const boxes = members.map((f) => fieldCheckbox(f, key));
    const details = h("details", { className: "field-group", open: index === 0 || anyDefault },
      h("summary", {},
        h("span", { text: key === SHARED_GROUP ? "In several statements" : labelFor(key) }),
        h("span", { className: "field-count", dataset: { role: "field-count" } })),
      h("div", { className: "field-group-tools" },
        h("button", { type: "button", className: "btn-link", text: "All",
          "aria-label": `Select all ${labelFor(key)} fields`,
          onClick: () => setAll(details, true, host) }),
        h("button", { type: "button", className: "btn-link", text: "None",
          "aria-label": `Clear ${labelFor(key)} fields`,
          onClick: () => setAll(details, false, host) })),
      h("div", { className: "checkbox-grid" }, boxes));
    host.append(details);
  });
  host.addEventListener("change", () => updateFieldCounts(host));
  updateFieldCounts(host);
}

export function selectFields(host, names) {
  const chosen = new Set(names);
  host.querySelectorAll("input[name=fields]").forEach((box) => {
    box.checked = chosen.has(box.value);
  });
  updateFieldCounts(host);
}

// Fields in more than one statement (net_income, cash) get their own group
// instead of appearing twice with checkboxes that could disagree.
function groupFields(fields) {
  const groups = new Map();
  for (const field of fields) {
    const statements = field.statements || [];
    const key = statements.length === 1 ? statements[0] : SHARED_GROUP;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(field);
  }
  return [...groups.entries()].sort(([a], [b]) => (a === SHARED_GROUP ? -1 : b === SHARED_GROUP ? 1 : 0));
}

function fieldCheckbox(field, group) {
  const id = `field-${group}-${field.name}`;
  const note = (field.statements || []).length > 1 ? (field.statements || []).map(labelFor).join(" + ") : "";
  return h("label", { className: "checkbox", htmlFor: id, title: field.description || null },
    h("input", { type: "checkbox", id, name: "fields", value: field.name,
      checked: DEFAULT_FIELDS.includes(field.name) }),
    h("span", {}, labelFor(field.name),
      note ? h("span", { className: "checkbox-note", text: note }) : null));
}

function setAll(details, on, host) {
  details.querySelectorAll("input[type=checkbox]").forEach((box) => {
    box.checked = on;
  });
  updateFieldCounts(host);
}

function updateFieldCounts(host) {
  host.querySelectorAll("details").forEach((details) => {
    const boxes = details.querySelectorAll("input[type=checkbox]");
    const checked = [...boxes].filter((b) => b.checked).length;
    details.querySelector("[data-role=field-count]").textContent = `${checked}/${boxes.length}`;
  });
}
