// The aggregator's JSON API (/api/*): the only thing the dashboard talks to.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `Request failed (HTTP ${status})`);
    this.status = status;
    this.code = error.code || (status === 0 ? "network_error" : "http_error");
    this.details = error.details || {};
    this.requestId = error.request_id || "";
  }
}

async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, {
      ...options,
      headers: { Accept: "application/json", ...(options.headers || {}) },
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, {
      error: { message: "Cannot reach the FinSync aggregator. Is it running?" },
    });
  }
  const body = await readJson(response);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export function getSources() {
  return request("/api/sources");
}

export function getSchema() {
  return request("/api/schema");
}

export function searchCompanies(q, limit = 12, signal) {
  const params = new URLSearchParams({ q, limit: String(limit) });
  return request(`/api/companies?${params}`, { signal });
}

export function getRuns() {
  return request("/api/runs");
}

export function aggregate(payload, signal) {
  return request("/api/aggregate", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
    signal,
  });
}

export function downloadUrl(runId, format) {
  const params = new URLSearchParams({ format });
  return `/api/runs/${encodeURIComponent(runId)}/download?${params}`;
}
