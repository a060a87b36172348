// Puts API validation errors next to the control they name (error.details.field,
// e.g. "filters[0].value"), falling back to the nearest named parent.

import { h, uid } from "./dom.js";
import { sentence } from "./format.js";

export function showFieldError(form, path, message, extra = null) {
  const target = findTarget(form, path || "");
  if (!target) return null;
  const id = uid("error");
  const node = h("p", { className: "field-error", id, dataset: { errorFor: target.path } },
    h("span", { className: "field-error-text", text: sentence(message) }), extra);
  const host = target.el.closest("[data-error-host]") || target.el.parentElement;
  host.append(node);
  if (target.el.matches("input, select, textarea")) {
    target.el.setAttribute("aria-invalid", "true");
    const described = target.el.getAttribute("aria-describedby");
    target.el.setAttribute("aria-describedby", described ? `${described} ${id}` : id);
  }
  return node;
}

export function clearFieldErrors(form, path = null) {
  const selector = path ? `.field-error[data-error-for="${CSS.escape(path)}"]` : ".field-error";
  form.querySelectorAll(selector).forEach((node) => node.remove());
  const invalid = path
    ? form.querySelectorAll(`[data-field-path="${CSS.escape(path)}"][aria-invalid]`)
    : form.querySelectorAll("[aria-invalid]");
  invalid.forEach((el) => {
    el.removeAttribute("aria-invalid");
    const kept = (el.getAttribute("aria-describedby") || "")
      .split(" ")
      .filter((id) => id && document.getElementById(id));
    if (kept.length) el.setAttribute("aria-describedby", kept.join(" "));
    else el.removeAttribute("aria-describedby");
  });
}

function findTarget(form, path) {
  let current = path;
  while (current) {
    const el = form.querySelector(`[data-field-path="${CSS.escape(current)}"]`);
    if (el) return { el, path: current };
    current = parentPath(current);
  }
  return null;
}

// "filters[0].value" -> "filters[0]" -> "filters" -> ""
function parentPath(path) {
  const match = /^(.*)(\.[^.[\]]+|\[\d+\])$/.exec(path);
  return match ? match[1] : "";
}
