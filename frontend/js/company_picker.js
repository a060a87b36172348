// Company combobox (ARIA 1.2 pattern): autocomplete over GET /api/companies,
// chosen companies shown as removable chips.

import { searchCompanies } from "./api.js";
import { clear, debounce, h, uid } from "./dom.js";

export function createCompanyPicker(root) {
  const input = root.querySelector("input[role=combobox]");
  const listbox = root.querySelector("[role=listbox]");
  const chips = root.querySelector("[data-role=chips]");
  const state = { selected: [], options: [], active: -1, controller: null, seq: 0 };
  const changeHandlers = [];

  const search = debounce((q) => runSearch(q), 150);

  // An empty query only searches on ArrowDown: browsing, not typing.
  async function runSearch(q, browse = false) {
    if (state.controller) state.controller.abort();
    if (!q.trim() && !browse) return close();
    state.controller = new AbortController();
    const seq = ++state.seq;
    try {
      const body = await searchCompanies(q.trim(), 12, state.controller.signal);
      if (seq === state.seq) open((body && body.companies) || []);
    } catch (err) {
      if (err.name !== "AbortError" && seq === state.seq) open([], err.message);
    }
  }

  function open(options, message) {
    if (document.activeElement !== input) return;
    state.options = options.filter((c) => !isChosen(c.id));
    state.active = state.options.length ? 0 : -1;
    clear(listbox);
    state.options.forEach((company, i) => listbox.append(optionNode(company, i)));
    if (!state.options.length) {
      listbox.append(h("li", { className: "option-empty", text: message || "No matching company" }));
    }
    listbox.hidden = false;
    input.setAttribute("aria-expanded", "true");
    highlight();
  }

  // A late search answer must not reopen a list the user just closed.
  function cancelSearch() {
    search.cancel();
    state.seq += 1;
    if (state.controller) state.controller.abort();
  }

  function close() {
    cancelSearch();
    state.options = [];
    state.active = -1;
    listbox.hidden = true;
    clear(listbox);
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function optionNode(company, index) {
    return h(
      "li",
      {
        id: `${listbox.id}-opt-${index}`,
        role: "option",
        className: "option",
        "aria-selected": "false",
        dataset: { companyId: company.id },
        onMousedown: (event) => {
          event.preventDefault(); // keep focus in the input
          choose(index);
        },
      },
      h("span", { className: "option-id", text: company.id }),
      h("span", { className: "option-name", text: company.name || "" }),
      company.ticker ? h("span", { className: "option-ticker", text: company.ticker }) : null,
    );
  }

  function highlight() {
    const nodes = listbox.querySelectorAll("[role=option]");
    nodes.forEach((node, i) => {
      const on = i === state.active;
      node.setAttribute("aria-selected", String(on));
      node.classList.toggle("is-active", on);
      if (on) {
        input.setAttribute("aria-activedescendant", node.id);
        node.scrollIntoView({ block: "nearest" });
      }
    });
    if (state.active < 0) input.removeAttribute("aria-activedescendant");
  }

  function move(delta) {
    if (listbox.hidden) return runSearch(input.value, true);
    const count = state.options.length;
    if (!count) return undefined;
    state.active = (state.active + delta + count) % count;
    highlight();
    return undefined;
  }

  function choose(index) {
    const company = state.options[index];
    if (company) add({ id: company.id, name: company.name, ticker: company.ticker });
    input.value = "";
    close();
  }

  // Free text is kept as typed: the server resolves it (or reports it unknown).
  function addTyped() {
    const parts = input.value.split(/[,;\n]+/).map((p) => p.trim()).filter(Boolean);
    for (const raw of parts) {
      const exact = state.options.find((c) => sameKey(c, raw));
      add(exact ? { id: exact.id, name: exact.name, ticker: exact.ticker } : { id: raw });
    }
    input.value = "";
    close();
  }

  function add(company) {
    if (isChosen(company.id)) return;
    state.selected.push(company);
    renderChips();
  }

  function remove(id) {
    state.selected = state.selected.filter((c) => c.id !== id);
    renderChips();
    input.focus();
  }

  function isChosen(id) {
    return state.selected.some((c) => c.id.toUpperCase() === String(id).toUpperCase());
  }

  function renderChips() {
    clear(chips);
    for (const company of state.selected) chips.append(chipNode(company));
    changeHandlers.forEach((fn) => fn(values()));
  }

  function chipNode(company) {
    const label = company.name ? `${company.id} · ${company.name}` : company.id;
    return h(
      "li",
      {
        className: `chip${company.unknown ? " is-unknown" : ""}`,
        dataset: { companyId: company.id },
        title: company.unknown ? "Unknown company" : company.name || null,
      },
      h("span", { className: "chip-label", text: label }),
      h("button", {
        type: "button",
        className: "chip-remove",
        "aria-label": `Remove ${company.id}`,
        text: "×",
        onClick: () => remove(company.id),
      }),
    );
  }

  function onKeydown(event) {
    const handlers = {
      ArrowDown: () => move(1),
      ArrowUp: () => move(-1),
      Enter: () => {
        if (!listbox.hidden && state.active >= 0) choose(state.active);
        else if (input.value.trim()) addTyped();
        else return false; // empty input: let Enter submit the form
        return true;
      },
      Escape: () => (listbox.hidden ? false : close()),
      Backspace: () => {
        if (input.value || !state.selected.length) return false;
        remove(state.selected[state.selected.length - 1].id);
        return true;
      },
    };
    const handler = handlers[event.key];
    if (handler && handler() !== false) event.preventDefault();
  }

  function values() {
    return state.selected.map((c) => c.id);
  }

  function setValues(ids) {
    state.selected = ids.map((id) => ({ id }));
    renderChips();
  }

  function markUnknown(raws) {
    const upper = new Set(raws.map((r) => String(r).toUpperCase()));
    state.selected.forEach((c) => {
      c.unknown = upper.has(c.id.toUpperCase());
    });
    renderChips();
  }

  function replace(raw, company) {
    const index = state.selected.findIndex((c) => c.id.toUpperCase() === raw.toUpperCase());
    if (index >= 0) state.selected.splice(index, 1);
    if (!isChosen(company.id)) {
      state.selected.splice(index >= 0 ? index : state.selected.length, 0, company);
    }
    renderChips();
  }

  listbox.id = listbox.id || uid("companies-listbox");
  input.setAttribute("aria-controls", listbox.id);
  input.addEventListener("input", () => search(input.value));
  input.addEventListener("keydown", onKeydown);
  input.addEventListener("blur", () => setTimeout(close, 100));
  close();

  return {
    input,
    values,
    setValues,
    markUnknown,
    replace,
    onChange: (fn) => changeHandlers.push(fn),
  };
}

function sameKey(company, raw) {
  const key = raw.toUpperCase();
  return [company.id, company.ticker].some((v) => v && String(v).toUpperCase() === key);
}
