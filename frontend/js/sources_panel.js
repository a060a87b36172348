// "Sources at a glance": one card per statement service, refreshed on a timer.

import { getSources } from "./api.js";
import { clear, h } from "./dom.js";
import { formatMs, formatNumber, labelFor } from "./format.js";

const REFRESH_MS = 15000;

export function createSourcesPanel(root) {
  const list = root.querySelector("[data-role=source-list]");
  const updated = root.querySelector("[data-role=sources-updated]");
  const button = root.querySelector("[data-role=sources-refresh]");
  let timer = null;
  let inFlight = null;

  async function refresh() {
    if (inFlight) return inFlight;
    clearTimeout(timer);
    root.setAttribute("aria-busy", "true");
    inFlight = getSources()
      .then((body) => render(list, (body && body.sources) || []))
      .then(() => {
        updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      })
      .catch((err) => renderFailure(list, updated, err))
      .finally(() => {
        inFlight = null;
        root.removeAttribute("aria-busy");
        timer = setTimeout(tick, REFRESH_MS);
      });
    return inFlight;
  }

  // A hidden tab keeps its timer but skips the request.
  function tick() {
    if (document.hidden) timer = setTimeout(tick, REFRESH_MS);
    else refresh();
  }

  button.addEventListener("click", () => refresh());
  return { refresh };
}

function render(list, sources) {
  clear(list);
  if (!sources.length) {
    list.append(h("li", { className: "muted", text: "No sources configured." }));
    return;
  }
  for (const source of sources) list.append(sourceCard(source));
}

function sourceCard(source) {
  const up = source.status === "up";
  return h(
    "li",
    {
      className: `source-card ${up ? "is-up" : "is-down"}`,
      dataset: { source: source.name, status: source.status },
    },
    h(
      "div",
      { className: "source-head" },
      h("span", { className: "source-name", title: source.url || null, text: labelFor(source.name) }),
      h("span", {
        className: `badge ${up ? "badge-ok" : "badge-bad"}`,
        text: up ? "Up" : "Down",
      }),
    ),
    h(
      "dl",
      { className: "source-stats" },
      stat("Latency", up ? formatMs(source.latency_ms) : "–"),
      stat("Rows", up && source.rows != null ? formatNumber(source.rows) : "–"),
      stat("Data version", source.data_version || "–", source.data_version),
    ),
    up || !source.url ? null : h("div", { className: "source-url", text: source.url }),
  );
}

function stat(label, value, title) {
  return h(
    "div",
    { className: "stat" },
    h("dt", { text: label }),
    h("dd", { text: value, title: title || null }),
  );
}

function renderFailure(list, updated, err) {
  clear(list);
  list.append(
    h("li", { className: "source-card is-down", role: "alert" }, h("span", { text: err.message })),
  );
  updated.textContent = `Last attempt ${new Date().toLocaleTimeString()}`;
}
