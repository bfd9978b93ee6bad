// The Action Center's HTTP API as the console calls it (docs/contract.md §4.2): JSON in and out,
// the host's token as a Bearer, and every failure as an ApiError a person can be shown.

export class ApiError extends Error {
  // status 0: the API could not be reached; otherwise the HTTP status, with the API's own
  // `code` and `message` ({"code", "message"}) when it sent them, and a refused retry's
  // `retry_allowed_at` (409 `retry_not_allowed`).
  constructor(status, code, message, retryAllowedAt = undefined) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.apiMessage = message;
    this.retryAllowedAt = retryAllowedAt;
  }
}

export class Api {
  constructor(base, token) {
    this.base = (base || "").replace(/\/+$/, "");
    this.token = token;
  }

  async request(method, path, { query, body } = {}) {
    const url = new URL(this.base + path, window.location.href);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const headers = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "unreachable", "");
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (!response.ok) {
      throw new ApiError(
        response.status,
        payload?.code,
        payload?.message,
        payload?.retry_allowed_at,
      );
    }
    return payload;
  }

  transactions(filters, cursor) {
    return this.request("GET", "/transactions", { query: { ...filters, cursor } });
  }

  transaction(id) {
    return this.request("GET", `/transactions/${encodeURIComponent(id)}`);
  }

  retry(id) {
    return this.request("POST", `/transactions/${encodeURIComponent(id)}/retry`);
  }

  dismiss(id, reason) {
    return this.request("POST", `/transactions/${encodeURIComponent(id)}/dismiss`, {
      body: reason ? { reason } : {},
    });
  }

  paymentMethodLink(id) {
    return this.request("GET", `/transactions/${encodeURIComponent(id)}/payment-method-link`);
  }

  organization() {
    return this.request("GET", "/organization");
  }

  // The organization's recovery figures (GET /metrics/recovery); without dates, the last 30 days.
  recovery(from, to) {
    return this.request("GET", "/metrics/recovery", { query: { from, to } });
  }

  expiringCards(cursor) {
    return this.request("GET", "/expiring-cards", { query: { cursor } });
  }

  preferences() {
    return this.request("GET", "/me/notification-preferences");
  }

  savePreferences(preferences) {
    return this.request("PUT", "/me/notification-preferences", { body: preferences });
  }

  retryPolicy() {
    return this.request("GET", "/retry-policy");
  }

  saveRetryPolicy(policy) {
    return this.request("PUT", "/retry-policy", { body: policy });
  }
}
