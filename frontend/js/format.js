// Number, date and label formatting shared by the table, chart and report.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const compact = new Intl.NumberFormat(undefined, {
  notation: "compact",
  maximumFractionDigits: 1,
});

const STATEMENT_LABELS = {
  pnl: "Profit & loss",
  balance_sheet: "Balance sheet",
  cash_flow: "Cash flow",
};

export function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

// Accounting style: negatives in parentheses so they survive a grey-scale print.
export function formatNumber(value, decimals = 0) {
  if (!isNumber(value)) return "";
  const fmt = decimals > 0 ? decimal : integer;
  const text = fmt.format(Math.abs(value));
  return value < 0 ? `(${text})` : text;
}

export function formatCompact(value) {
  if (!isNumber(value)) return "";
  return compact.format(value);
}

export function columnDecimals(values) {
  return values.some((v) => isNumber(v) && !Number.isInteger(v)) ? 2 : 0;
}

export function labelFor(name) {
  if (STATEMENT_LABELS[name]) return STATEMENT_LABELS[name];
  const text = String(name).replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// Quarter-end ISO dates read better as 2024Q3 on axes.
export function periodLabel(value) {
  const match = /^(\d{4})-(\d{2})-\d{2}/.exec(String(value ?? ""));
  if (!match) return String(value ?? "");
  return `${match[1]}Q${Math.ceil(Number(match[2]) / 3)}`;
}

export function formatTimestamp(value, withYear = true) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, {
    year: withYear ? "numeric" : undefined,
    month: "short",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export function formatMs(value) {
  if (!isNumber(value)) return "–";
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

// API messages are lower-case fragments ("no data source answered").
export function sentence(text) {
  const value = String(text || "").trim();
  const capital = value.charAt(0).toUpperCase() + value.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

export function pluralize(count, word, plural = `${word}s`) {
  return `${integer.format(count)} ${count === 1 ? word : plural}`;
}
