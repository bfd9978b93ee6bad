// <payment-action-center api-base="https://…" lang="fr-CA">: the Action Center console
// (docs/console.md). The host page supplies the JWT as a property (`element.token = "…"`) and
// hears `pac-unauthorized` when it expires. The filters live in the page's URL (the digest
// email links to `?account_holder_id=…`), so a link opens the same view. No framework, no build
// step: the platform's custom elements, shadow DOM and Intl.

import { Api, ApiError } from "./api.js";
import { LOCALES, supported, t } from "./messages.js";

const FILTERS = [
  "type",
  "method",
  "status",
  "account_holder_id",
  "q",
  "from",
  "to",
  "min_amount",
  "max_amount",
];
const TYPES = ["credit_card_refund", "echeck_payment", "installment", "subscription"];
const METHODS = ["credit_card", "echeck"];
const STATUSES = ["failed", "retry_pending"];
// The API's `recommended_action` values (domain/declines.py), each a `recommended.<value>` message.
const RECOMMENDATIONS = ["change_payment_method", "retry_later", "wait_for_payday", "fund_merchant_account", "review"];
// The API's `decline_class` values (domain/declines.py), each a `decline.<value>` message.
const DECLINE_CLASSES = ["retry_later", "fix_details", "new_payment_method", "never_retry"];
// The card networks a `failure.network` names (domain/entries.py), each a `network.<value>` message.
const NETWORKS = ["visa", "mastercard", "amex", "discover", "interac", "jcb", "diners", "unionpay"];
const PAGE_SIZE = 25;
// A pending retry is asked about again after 1, 2, 4, 8, then every 10 s, until the patience
// runs out: 95 s by default (a dozen asks), the `retry-patience` attribute in seconds otherwise.
// An e-check settles later, by webhook; the row keeps its clock meanwhile, and offers "Check
// again" once the patience has run out.
const POLL_FIRST_MS = 1000;
const POLL_MAX_MS = 10000;
const POLL_PATIENCE_S = 95;

const STYLE = `
:host { display: block; font: 15px/1.45 system-ui, sans-serif; color: #1d1d1f; }
* { box-sizing: border-box; }
h1 { font-size: 1.5rem; margin: 0 0 .75rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; }
header { display: flex; justify-content: space-between; align-items: baseline; gap: 1rem;
  flex-wrap: wrap; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end;
  margin-bottom: 1rem; }
label { display: flex; flex-direction: column; font-size: .85rem; gap: .15rem; }
label.inline { flex-direction: row; align-items: center; gap: .4rem; font-size: 1rem; }
input, select, textarea, button { font: inherit; }
input, select, textarea { padding: .3rem .4rem; border: 1px solid #8a8a8e; border-radius: 4px; }
button { padding: .35rem .7rem; border-radius: 4px; border: 1px solid #0a4fa6;
  background: #fff; color: #0a4fa6; cursor: pointer; }
button.primary { background: #0a4fa6; color: #fff; }
button:disabled, button[aria-disabled=true] { opacity: .55; cursor: default; }
:focus-visible { outline: 3px solid #1f3a8a; outline-offset: 2px; } /* 10:1 on white (WCAG 2.4.11 asks 3:1) */
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { text-align: left; padding: .45rem .5rem; border-bottom: 1px solid #d2d2d7;
  vertical-align: top; }
th { background: #f5f5f7; font-weight: 600; }
td.amount, th.amount, td.attempts { text-align: right; font-variant-numeric: tabular-nums; }
.actions { display: flex; flex-wrap: wrap; gap: .35rem; }
.pending { display: inline-flex; align-items: center; gap: .3rem; color: #b35c00; }
.pending svg { width: 1.1rem; height: 1.1rem; }
[role=status] { min-height: 1.4rem; color: #1e6b2e; }
[role=alert] { color: #a3000b; font-weight: 600; }
[role=alert]:empty, [role=status]:empty { display: none; }
.message-area { margin: .5rem 0; }
.empty, .loading { padding: 1rem 0; color: #515154; }
.recommendation, .decline { display: block; margin-top: .2rem; font-size: .85rem; color: #515154; }
.refusal { margin: .3rem 0 0; max-width: 24rem; font-size: .85rem; color: #515154; }
.refusal > span { display: block; }
.auto-retry { margin: .3rem 0 0; font-size: .85rem; color: #515154; }
.recovery dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; margin: .5rem 0; }
.recovery dt { font-weight: 600; }
.recovery dd { margin: 0; font-variant-numeric: tabular-nums; }
.recovery table.figures { width: auto; min-width: 20rem; margin: .75rem 0; }
.recovery .chart svg { display: block; width: 100%; max-width: 24rem; height: 6rem; }
.recovery .legend { font-size: .85rem; color: #515154; margin: .25rem 0; }
.swatch { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 .6rem; vertical-align: -.1rem; }
.swatch.failed { background: #8a8a8e; }
.swatch.recovered { background: #1e6b2e; }
nav.pages { display: flex; gap: .5rem; margin-top: .75rem; }
section.detail { border: 1px solid #d2d2d7; border-radius: 6px; padding: .75rem 1rem;
  margin-top: 1rem; }
section.detail ol { padding-left: 1.2rem; }
dialog { border: 1px solid #8a8a8e; border-radius: 8px; padding: 1rem 1.25rem; max-width: 28rem; }
dialog form { display: flex; flex-direction: column; gap: .75rem; }
dialog textarea { width: 100%; min-height: 4rem; }
dialog .buttons { display: flex; justify-content: flex-end; gap: .5rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }
`;

// The orange clock of a pending retry (decorative: the label says it in words).
const CLOCK = `<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><circle cx="12"
cy="12" r="10" fill="none" stroke="#e07800" stroke-width="2.5"/><path d="M12 6v6l4 2"
fill="none" stroke="#e07800" stroke-width="2.5" stroke-linecap="round"/></svg>`;

// An element with attributes (`on…` functions become listeners) and children (strings become
// text: nothing a transaction carries is ever parsed as markup).
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name in element && !name.includes("-") && name !== "list") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// The UTC instant of midnight (or the last millisecond of the day) of a calendar date in an IANA
// time zone: the API's `from` and `to` are instants, people pick days.
function dayEdge(date, timeZone, end) {
  const [year, month, day] = date.split("-").map(Number);
  const guess = Date.UTC(year, month - 1, day + (end ? 1 : 0));
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    })
      .formatToParts(new Date(guess))
      .map((part) => [part.type, part.value]),
  );
  const asUtc = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  const instant = new Date(guess - (asUtc - guess) - (end ? 1 : 0));
  return instant.toISOString();
}

export class PaymentActionCenter extends HTMLElement {
  static observedAttributes = ["lang", "api-base"];

  #token = "";
  #organization = null;
  #entries = [];
  #next = null;
  #cursors = [];
  #polls = new Map();
  // The pending retries whose polling gave up: their row offers "Check again".
  #gaveUp = new Set();
  // The pending retries being checked again (their "Check again" stays, unavailable, meanwhile).
  #checking = new Set();
  #detail = null;
  // Where the detail was opened from (#focusInTable), for the focus to go back there on closing.
  #detailOpener = null;
  #connected = false;
  // Each load (a new token, a new page) counts; an answer to an older one is dropped.
  #generation = 0;

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
  }

  get token() {
    return this.#token;
  }

  set token(value) {
    this.#token = value || "";
    if (this.#connected) this.#load();
  }

  // Seconds of polling with backoff a pending retry gets before the component gives up and offers
  // "Check again" (attribute `retry-patience`).
  get retryPatience() {
    const raw = this.getAttribute("retry-patience");
    const seconds = raw === null || raw.trim() === "" ? NaN : Number(raw);
    return Number.isFinite(seconds) && seconds >= 0 ? seconds : POLL_PATIENCE_S;
  }

  set retryPatience(seconds) {
    this.setAttribute("retry-patience", String(seconds));
  }

  get locale() {
    return supported(this.getAttribute("lang") || document.documentElement.lang);
  }

  connectedCallback() {
    this.#connected = true;
    this.#render();
    if (this.#token) this.#load();
  }

  disconnectedCallback() {
    this.#connected = false;
    for (const timer of this.#polls.values()) clearTimeout(timer);
    this.#polls.clear();
    this.#gaveUp.clear();
    this.#checking.clear();
  }

  attributeChangedCallback(name, previous, value) {
    if (!this.#connected || previous === value) return;
    if (name === "lang") {
      this.#render();
      this.#showTable();
      this.#loadRecovery();
      this.#loadCards();
      this.#loadPreferences();
      this.#loadRetryPolicy();
    } else if (this.#token) {
      this.#load();
    }
  }

  #t(key, values) {
    return t(this.locale, key, values);
  }

  get #api() {
    return new Api(this.getAttribute("api-base") || "", this.#token);
  }

  // ------------------------------------------------------------------- the page's skeleton

  // Draws the page again; a control that had the focus and is drawn again (the language select,
  // "Clear filters": `data-focus`) gets it back, so the keyboard is never sent back to the page.
  #render() {
    const root = this.shadowRoot;
    const ready = root.querySelector(".root")?.hasAttribute("data-ready");
    const focused = root.activeElement?.dataset?.focus;
    root.replaceChildren(
      h("style", {}, STYLE),
      h(
        "div",
        { className: "root", lang: this.locale, "data-ready": ready || null },
        h(
          "header",
          {},
          // Focusable by script only: where the focus goes when the table it was in is empty.
          h("h1", { tabIndex: -1 }, this.#t("title")),
          h(
            "label",
            { className: "inline" },
            this.#t("language"),
            h(
              "select",
              {
                name: "language",
                "data-focus": "language",
                onchange: (event) => this.#switchLanguage(event.target.value),
              },
              LOCALES.map((locale) =>
                h(
                  "option",
                  { value: locale, selected: locale === this.locale },
                  this.#t(`language.${locale}`),
                ),
              ),
            ),
          ),
        ),
        this.#filterForm(),
        h(
          "div",
          { className: "message-area" },
          h("p", { role: "status", "aria-live": "polite", id: "status" }),
          h("p", { role: "alert", id: "alert" }),
        ),
        h("div", { id: "table", "aria-busy": "true" }, h("p", { className: "loading" }, this.#t("loading"))),
        h("div", { id: "detail" }),
        h("section", { id: "recovery", "aria-labelledby": "recovery-title" }),
        h("section", { id: "cards", "aria-labelledby": "cards-title" }),
        h("section", { id: "preferences", "aria-labelledby": "preferences-title" }),
        h("section", { id: "retry-policy", "aria-labelledby": "retry-policy-title" }),
      ),
    );
    if (focused) root.querySelector(`[data-focus="${focused}"]`)?.focus();
  }

  #switchLanguage(locale) {
    this.setAttribute("lang", locale);
    const url = new URL(window.location.href);
    url.searchParams.set("lang", locale);
    window.history.replaceState(null, "", url);
    this.dispatchEvent(new CustomEvent("pac-language", { detail: { locale }, bubbles: true }));
  }

  #filters() {
    const params = new URL(window.location.href).searchParams;
    return Object.fromEntries(FILTERS.filter((name) => params.get(name)).map((n) => [n, params.get(n)]));
  }

  #filterForm() {
    const current = this.#filters();
    const choice = (name, values, prefix) =>
      h(
        "label",
        {},
        this.#t(`filter.${name}`),
        h(
          "select",
          { name },
          h("option", { value: "" }, this.#t("filter.any")),
          values.map((value) =>
            h("option", { value, selected: current[name] === value }, this.#t(`${prefix}.${value}`)),
          ),
        ),
      );
    const dollars = (name) =>
      h(
        "label",
        {},
        this.#t(`filter.${name}`),
        h("input", {
          name,
          type: "number",
          min: "0",
          step: "0.01",
          inputMode: "decimal",
          value: current[name] ? (Number(current[name]) / 100).toFixed(2) : "",
        }),
      );
    const day = (name) =>
      h(
        "label",
        {},
        this.#t(`filter.${name}`),
        h("input", { name, type: "date", value: (current[name] || "").slice(0, 10) }),
      );
    return h(
      "form",
      {
        className: "filters",
        role: "search",
        "aria-label": this.#t("filters"),
        onsubmit: (event) => {
          event.preventDefault();
          this.#applyFilters(new FormData(event.target));
        },
      },
      h("label", {}, this.#t("filter.q"), h("input", { name: "q", type: "search", value: current.q || "", maxLength: 200 })),
      choice("type", TYPES, "type"),
      choice("method", METHODS, "method"),
      choice("status", STATUSES, "status"),
      day("from"),
      day("to"),
      dollars("min_amount"),
      dollars("max_amount"),
      h("button", { type: "submit", className: "primary" }, this.#t("filter.apply")),
      h(
        "button",
        {
          type: "button",
          "data-focus": "clear",
          onclick: () => {
            this.#applyFilters(new FormData());
            this.#render();
            this.#load();
          },
        },
        this.#t("filter.clear"),
      ),
    );
  }

  #applyFilters(form) {
    const url = new URL(window.location.href);
    const holder = url.searchParams.get("account_holder_id");
    for (const name of FILTERS) url.searchParams.delete(name);
    if (holder && form.has("q")) url.searchParams.set("account_holder_id", holder);
    for (const [name, raw] of form.entries()) {
      const value = String(raw).trim();
      if (!value) continue;
      if (name === "min_amount" || name === "max_amount") {
        url.searchParams.set(name, String(Math.round(Number(value) * 100)));
      } else {
        url.searchParams.set(name, value);
      }
    }
    window.history.replaceState(null, "", url);
    this.#cursors = [];
    this.#loadTable();
  }

  #apiFilters() {
    const filters = { ...this.#filters(), limit: PAGE_SIZE };
    const zone = this.#organization?.time_zone || Intl.DateTimeFormat().resolvedOptions().timeZone;
    for (const [name, end] of [["from", false], ["to", true]]) {
      const value = filters[name];
      if (value && /^\d{4}-\d{2}-\d{2}$/.test(value)) filters[name] = dayEdge(value, zone, end);
    }
    return filters;
  }

  // ------------------------------------------------------------------------- loading

  async #load() {
    const generation = ++this.#generation;
    const root = this.shadowRoot.querySelector(".root");
    root?.setAttribute("aria-busy", "true");
    this.#say("", "");
    let organization = null;
    try {
      organization = await this.#api.organization();
    } catch (error) {
      if (generation !== this.#generation) return;
      if (!(error instanceof ApiError && error.status === 404)) {
        this.#fail(error);
      }
    }
    if (generation !== this.#generation) return;
    this.#organization = organization;
    this.#cursors = [];
    await Promise.all([
      this.#loadTable(),
      this.#loadRecovery(),
      this.#loadCards(),
      this.#loadPreferences(),
      this.#loadRetryPolicy(),
    ]);
    if (generation !== this.#generation) return;
    root?.setAttribute("aria-busy", "false");
    if (new URL(window.location.href).searchParams.get("view") === "notification-preferences") {
      this.shadowRoot.querySelector("#preferences")?.scrollIntoView();
    }
  }

  async #loadTable(cursor) {
    const place = this.shadowRoot.querySelector("#table");
    if (!place) return;
    place.setAttribute("aria-busy", "true");
    const generation = this.#generation;
    try {
      const page = await this.#api.transactions(this.#apiFilters(), cursor);
      if (generation !== this.#generation) return;
      this.#entries = page.items;
      this.#next = page.next_cursor;
      for (const entry of this.#entries) {
        if (entry.status === "retry_pending") this.#watch(entry);
      }
      this.#showTable();
    } catch (error) {
      if (generation !== this.#generation) return;
      place.replaceChildren();
      this.#fail(error);
    } finally {
      place.setAttribute("aria-busy", "false");
      const root = this.shadowRoot.querySelector(".root");
      if (root && !root.hasAttribute("data-ready")) {
        root.setAttribute("data-ready", "");
        // The first table on screen, for whoever measures it (the browser's Performance API).
        performance.mark("pac-first-table");
      }
    }
  }

  // --------------------------------------------------------------------------- the table

  // Draws the table again. The focus, if it was in the table, goes back to the same control of
  // the same row (#restoreFocus): a redraw never sends a keyboard user back to the page's top.
  #showTable(focus = this.#focusInTable()) {
    const place = this.shadowRoot.querySelector("#table");
    if (!place) return;
    if (this.#entries.length === 0) {
      const filtered = Object.keys(this.#filters()).length > 0;
      place.replaceChildren(h("p", { className: "empty" }, this.#t(filtered ? "empty.filtered" : "empty")));
      place.append(this.#pager());
      this.#restoreFocus(focus);
      return;
    }
    const columns = ["holder", "amount", "type", "method", "payment_id", "reason", "failed_at", "attempts", "actions"];
    place.replaceChildren(
      h(
        "table",
        {},
        h("caption", { className: "visually-hidden" }, this.#t("title")),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            columns.map((column) =>
              h("th", { scope: "col", className: column === "amount" ? "amount" : "" }, this.#t(`column.${column}`)),
            ),
          ),
        ),
        h("tbody", {}, this.#entries.map((entry) => this.#row(entry))),
      ),
      this.#pager(),
    );
    this.#restoreFocus(focus);
  }

  // Where the focus is in the table, if it is: its row's entry and index, and the control's key
  // (`data-focus`: details, holder, retry, dismiss, change, clock, check-again, previous, next).
  #focusInTable() {
    const active = this.shadowRoot.activeElement;
    const place = this.shadowRoot.querySelector("#table");
    if (!active || !place?.contains(active)) return null;
    const line = active.closest("tr[data-entry]");
    return {
      entry: line?.dataset.entry ?? null,
      index: line ? [...line.parentElement.children].indexOf(line) : -1,
      key: active.dataset.focus ?? null,
    };
  }

  // The focus back where #focusInTable saw it: the same control of the same row, else that row's
  // first action; a row gone, the row now at its place (the next one) or the last; the pager's
  // button; with no row left, the heading. Nothing to do when the focus was not in the table.
  #restoreFocus(focus) {
    if (!focus) return;
    const root = this.shadowRoot;
    const lines = [...root.querySelectorAll("#table tr[data-entry]")];
    const inLine = (line) =>
      line &&
      (line.querySelector(`[data-focus="${focus.key}"]`) ??
        line.querySelector(".actions [data-focus]") ??
        line.querySelector("[data-focus]"));
    const target = focus.entry
      ? inLine(lines.find((line) => line.dataset.entry === focus.entry) ?? lines[focus.index] ?? lines.at(-1))
      : (root.querySelector(`#table nav [data-focus="${focus.key}"]`) ??
        root.querySelector("#table nav [data-focus]") ??
        inLine(lines[0]));
    (target ?? root.querySelector("h1"))?.focus();
  }

  #row(entry) {
    const pending = entry.status === "retry_pending";
    return h(
      "tr",
      { "data-entry": entry.id, "data-status": entry.status },
      h("td", {}, this.#holder(entry.account_holder)),
      h("td", { className: "amount" }, this.#money(entry.amount, entry.currency)),
      h("td", {}, this.#t(`type.${entry.type}`)),
      h("td", {}, this.#t(`method.${entry.method}`)),
      h(
        "td",
        {},
        h(
          "button",
          {
            type: "button",
            className: "link",
            "data-focus": "details",
            "aria-label": `${this.#t("details")} ${entry.payment_id}`,
            onclick: () => this.#openDetail(entry.id),
          },
          entry.payment_id,
        ),
      ),
      h(
        "td",
        { className: "reason" },
        entry.failure.message || entry.failure.code,
        this.#recommendation(entry),
        this.#decline(entry),
      ),
      h("td", {}, h("time", { dateTime: entry.failed_at }, this.#date(entry.failed_at, true))),
      h("td", { className: "attempts" }, String(entry.attempts)),
      h(
        "td",
        {},
        pending
          ? h(
              "div",
              { className: "actions" },
              this.#pendingClock(),
              this.#gaveUp.has(entry.id) || this.#checking.has(entry.id) ? this.#checkAgainButton(entry) : null,
            )
          : [h("div", { className: "actions" }, this.#actions(entry)), this.#refusal(entry), this.#automaticRetry(entry)],
      ),
    );
  }

  // What the admin should do about the failure (the API's `recommended_action`, from its code:
  // docs/contract.md §4.2), under the reason it follows from. Nothing for a value it does not know
  // (an API older or newer than the console): no raw key on screen.
  #recommendation(entry, tag = "span") {
    const action = entry.recommended_action;
    if (!RECOMMENDATIONS.includes(action)) return null;
    return h(tag, { className: "recommendation", "data-recommendation": action }, this.#t(`recommended.${action}`));
  }

  // What the failure allows by the network's or the bank's rules (the API's `decline_class`), in
  // words, with the rule that gave it (`decline_reason`, English, as the API says it) as its
  // tooltip; then the codes the network or the bank sent, when the failure carries them. A class
  // or a network it does not know shows nothing; nothing at all when nothing is left.
  #decline(entry, tag = "span") {
    const known = DECLINE_CLASSES.includes(entry.decline_class);
    const reason = typeof entry.decline_reason === "string" ? entry.decline_reason.trim() : "";
    const label = known
      ? h(
          "span",
          { className: "decline-class", title: reason || null },
          this.#t(`decline.${entry.decline_class}`),
        )
      : null;
    const codes = this.#declineCodes(entry.failure);
    if (!label && codes.length === 0) return null;
    return h(
      tag,
      { className: "decline", "data-decline-class": known ? entry.decline_class : null },
      label,
      label && codes.length ? " — " : null,
      codes.length ? h("span", { className: "decline-codes" }, codes.join(", ")) : null,
    );
  }

  // Why the networks' or the banks' rules forbid a retry now (the API's `retry_not_allowed`:
  // {reason, allowed_at}), under the row's actions: the rule as the API says it (English, marked
  // so), then from when a retry is allowed, when waiting is the answer, as `failed_at` is shown.
  // The row may still offer Retry (an installment or a subscription: the API decides, a new
  // payment method lifts the rule). Nothing when the field is missing (an older API) or null.
  #refusal(entry) {
    const refusal = entry.retry_not_allowed;
    if (!refusal || typeof refusal !== "object") return null;
    const reason = typeof refusal.reason === "string" ? refusal.reason.trim() : "";
    const allowed = this.#allowedFrom(refusal.allowed_at);
    if (!reason && !allowed) return null;
    return h(
      "p",
      { className: "refusal", "data-retry-refused": "" },
      reason
        ? h(
            "span",
            { className: "refusal-reason" },
            this.#filled(this.#t("retry.refused"), { reason: h("span", { lang: "en" }, reason) }),
          )
        : null,
      allowed ? h("span", { className: "refusal-allowed-at" }, allowed) : null,
    );
  }

  // When the organization's automatic retry policy next retries the entry (the API's
  // `next_automatic_retry_at`), under the row's actions: "today", "tomorrow", "the day after" or
  // on a date, by the calendar of the organization's time zone; the exact time as the <time>'s
  // title. An instant already past is today's (the next watchdog run makes it). Nothing when the
  // field is missing (an older API), null, or not a date.
  #automaticRetry(entry) {
    const instant = entry.next_automatic_retry_at;
    if (typeof instant !== "string" || Number.isNaN(Date.parse(instant))) return null;
    const days = Math.max(0, this.#calendarDays(new Date(), new Date(instant)));
    const text =
      days <= 2
        ? this.#t(`auto_retry.${["today", "tomorrow", "day_after"][days]}`)
        : this.#t("auto_retry.on", { date: this.#date(instant, false) });
    return h(
      "p",
      { className: "auto-retry", "data-auto-retry": ["today", "tomorrow", "day_after"][days] ?? "later" },
      h("time", { dateTime: instant, title: this.#date(instant, true) }, text),
    );
  }

  // How many calendar days from `from` to `to` in the organization's time zone (negative: before).
  #calendarDays(from, to) {
    const zone = this.#organization?.time_zone || Intl.DateTimeFormat().resolvedOptions().timeZone;
    const day = (moment) => {
      const parts = Object.fromEntries(
        new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
          .formatToParts(moment)
          .map((part) => [part.type, part.value]),
      );
      return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day));
    };
    return Math.round((day(to) - day(from)) / 86400000);
  }

  // "Retry allowed from {date}", its date a <time> formatted as `failed_at` is (#date, in the
  // organization's time zone); null for no date or one that is not a date.
  #allowedFrom(instant) {
    if (typeof instant !== "string" || Number.isNaN(Date.parse(instant))) return null;
    return this.#filled(this.#t("retry.allowed_from"), {
      date: h("time", { dateTime: instant }, this.#date(instant, true)),
    });
  }

  // A message's text with nodes for its placeholders (`{name}`): the parts, for h() to append.
  #filled(text, nodes) {
    return text.split(/\{(\w+)\}/).map((part, index) => (index % 2 ? (nodes[part] ?? `{${part}}`) : part));
  }

  // "Visa 05", "Mastercard advice 03", "ACH R01", "PAD 901": the codes a failure carries, as text.
  #declineCodes(failure) {
    const codes = [];
    const text = (value) => (typeof value === "string" ? value.trim() : "");
    const network = failure?.network;
    const networkCode = text(failure?.network_decline_code);
    if (networkCode && NETWORKS.includes(network)) {
      codes.push(this.#t("decline.network_code", { network: this.#t(`network.${network}`), code: networkCode }));
    }
    const advice = text(failure?.advice_code);
    if (advice) codes.push(this.#t("decline.advice_code", { code: advice }));
    const returned = text(failure?.return_code);
    if (/^R[0-9]{2}$/i.test(returned)) codes.push(this.#t("decline.ach_code", { code: returned.toUpperCase() }));
    else if (/^9[0-9]{2}$/.test(returned)) codes.push(this.#t("decline.pad_code", { code: returned }));
    return codes;
  }

  // Focusable by script only: where the focus goes when the row's Retry turns into the clock.
  #pendingClock() {
    return h(
      "span",
      { className: "pending", role: "img", "aria-label": this.#t("retry_pending"), tabIndex: -1, "data-focus": "clock" },
      this.#clock(),
      h("span", { "aria-hidden": "true" }, this.#t("retry_pending")),
    );
  }

  // Unavailable (aria-disabled, not disabled: a disabled button loses the focus) while it checks.
  #checkAgainButton(entry) {
    return h(
      "button",
      {
        type: "button",
        className: "check-again",
        "data-focus": "check-again",
        "aria-disabled": this.#checking.has(entry.id) ? "true" : null,
        onclick: () => this.#checkAgain(entry),
      },
      this.#t("retry.check_again"),
    );
  }

  #clock() {
    const span = document.createElement("span");
    span.innerHTML = CLOCK; // a constant of this module, never data
    return span.firstElementChild;
  }

  #actions(entry) {
    const buttons = [];
    if (entry.actions.includes("retry")) {
      buttons.push(h("button", { type: "button", className: "primary", "data-focus": "retry", onclick: (event) => this.#retry(entry, event.currentTarget) }, this.#t("retry")));
    }
    if (entry.actions.includes("dismiss")) {
      buttons.push(h("button", { type: "button", "data-focus": "dismiss", onclick: () => this.#askDismiss(entry) }, this.#t("dismiss")));
    }
    if (entry.actions.includes("change_payment_method")) {
      buttons.push(h("button", { type: "button", "data-focus": "change", onclick: (event) => this.#changePaymentMethod(entry, event.currentTarget) }, this.#t("change_payment_method")));
    }
    return buttons;
  }

  #pager() {
    const nav = h("nav", { className: "pages", "aria-label": this.#t("title") });
    if (this.#cursors.length > 0) {
      nav.append(
        h("button", {
          type: "button",
          "data-focus": "previous",
          onclick: () => {
            this.#cursors.pop();
            this.#loadTable(this.#cursors.at(-1));
          },
        }, this.#t("previous")),
      );
    }
    if (this.#next) {
      const next = this.#next;
      nav.append(
        h("button", {
          type: "button",
          "data-focus": "next",
          onclick: () => {
            this.#cursors.push(next);
            this.#loadTable(next);
          },
        }, this.#t("next")),
      );
    }
    return nav;
  }

  #holder(holder) {
    const template = this.#organization?.client_url_template;
    if (!template) return holder.name;
    const href = template.replace("{account_holder_id}", encodeURIComponent(holder.id));
    return h("a", { href, target: "_top", "data-focus": "holder" }, holder.name);
  }

  #money(amount, currency) {
    const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits;
    return new Intl.NumberFormat(this.locale, { style: "currency", currency }).format(
      amount / 10 ** digits,
    );
  }

  #date(instant, withTime) {
    const options = { dateStyle: "medium", timeZone: this.#organization?.time_zone };
    if (withTime) options.timeStyle = "short";
    return new Intl.DateTimeFormat(this.locale, options).format(new Date(instant));
  }

  // ------------------------------------------------------------------------- the actions

  // A button at work is aria-disabled, not disabled: a disabled button loses the focus to the page.
  #busy(button) {
    if (button.getAttribute("aria-disabled") === "true") return false;
    button.setAttribute("aria-disabled", "true");
    return true;
  }

  async #retry(entry, button) {
    if (!this.#busy(button)) return;
    try {
      const pending = await this.#api.retry(entry.id);
      this.#replace(pending);
      this.#say(this.#t("retry.sent", { payment_id: entry.payment_id }));
      this.#watch(pending);
    } catch (error) {
      button.removeAttribute("aria-disabled");
      if (error instanceof ApiError && error.status === 409 && error.code === "retry_not_allowed") {
        return this.#refused(entry, error);
      }
      this.#fail(error);
      if (error instanceof ApiError && error.status === 409) this.#refreshEntry(entry.id);
    }
  }

  // A retry the rules refuse (409 `retry_not_allowed`): the API's message where action errors go
  // (the alert), with from when a retry is allowed (the answer's `retry_allowed_at`), formatted
  // as the row says it. The row, refreshed, shows the refusal too (#refusal).
  #refused(entry, error) {
    const message = error.apiMessage || this.#t("retry.not_allowed");
    const allowed = this.#allowedFrom(error.retryAllowedAt);
    const when = allowed ? allowed.map((part) => part.textContent ?? part).join("") : "";
    this.#say("", when ? `${message} — ${when}` : message);
    this.#refreshEntry(entry.id);
  }

  // Ask again with backoff (1, 2, 4, 8, then every 10 s; `immediately`: now, then 1, 2, 4…) until
  // the retry settles: recovered leaves the table, a second failure comes back with its attempt
  // count. A retry still pending when the patience (`retryPatience`) runs out keeps its clock; the
  // status line says so and the row offers "Check again". Never a silent stop.
  #watch(entry, immediately = false) {
    if (this.#polls.has(entry.id)) return;
    this.#gaveUp.delete(entry.id);
    this.#poll(entry, immediately ? 0 : POLL_FIRST_MS, immediately ? 0 : 1, 0);
  }

  #poll(entry, delay, step, waited) {
    const timer = setTimeout(async () => {
      let current = null;
      let failure = null;
      try {
        current = await this.#api.transaction(entry.id);
      } catch (error) {
        failure = error;
      }
      if (this.#polls.get(entry.id) !== timer) return; // stopped meanwhile (disconnected)
      this.#polls.delete(entry.id);
      if (current && current.status !== "retry_pending") return this.#settled(current);
      if (failure instanceof ApiError && failure.status === 401) {
        this.#giveUp(entry);
        return this.#fail(failure);
      }
      const elapsed = waited + delay;
      const next = Math.min(POLL_FIRST_MS * 2 ** step, POLL_MAX_MS);
      if (elapsed + next <= this.retryPatience * 1000) return this.#poll(entry, next, step + 1, elapsed);
      // Out of patience: why the last ask failed (the API down, say), else "still pending".
      if (failure instanceof ApiError) {
        this.#giveUp(entry);
        return this.#fail(failure);
      }
      this.#giveUp(entry, true);
    }, delay);
    this.#polls.set(entry.id, timer);
  }

  #giveUp(entry, say) {
    this.#checking.delete(entry.id);
    this.#gaveUp.add(entry.id);
    this.#updateRow(entry.id);
    if (say) this.#say(this.#t("retry.still_pending", { payment_id: entry.payment_id }));
  }

  #checkAgain(entry) {
    if (this.#checking.has(entry.id)) return;
    this.#checking.add(entry.id);
    this.#say(this.#t("retry.checking", { payment_id: entry.payment_id }));
    this.#watch(entry, true);
    this.#updateRow(entry.id);
  }

  #settled(entry) {
    this.#gaveUp.delete(entry.id);
    this.#checking.delete(entry.id);
    if (entry.status === "failed") {
      this.#replace(entry);
      this.#say(this.#t("retry.failed_again", { payment_id: entry.payment_id, attempts: entry.attempts }));
    } else {
      this.#remove(entry.id);
      if (entry.status === "recovered") {
        this.#say(this.#t("retry.recovered", { payment_id: entry.payment_id }));
      }
    }
  }

  // The entry as the API has it now, for its row (or its row out); null when it could not be read.
  async #refreshEntry(id) {
    try {
      const current = await this.#api.transaction(id);
      if (current.status === "failed" || current.status === "retry_pending") this.#replace(current);
      else this.#remove(id);
      return current;
    } catch {
      // The message already shown says what went wrong; the row stays as it was.
      return null;
    }
  }

  // The dialog takes the focus (its reason field); closed (Escape, Cancel, Dismiss), it gives it back
  // to the row's Dismiss, or, the row gone, to the row now at its place (#restoreFocus).
  #askDismiss(entry) {
    const opener = this.#focusInTable() ?? { entry: entry.id, index: -1, key: "dismiss" };
    const dialog = h("dialog", { "aria-labelledby": "dismiss-title" });
    const reason = h("textarea", { name: "reason", maxLength: 500, id: "dismiss-reason" });
    const form = h(
      "form",
      {
        method: "dialog",
        onsubmit: async (event) => {
          event.preventDefault();
          if (event.submitter?.value !== "confirm") return dialog.close();
          dialog.close();
          await this.#dismiss(entry, reason.value.trim());
        },
      },
      h("h2", { id: "dismiss-title" }, this.#t("dismiss.title", { payment_id: entry.payment_id })),
      h("label", { htmlFor: "dismiss-reason" }, this.#t("dismiss.reason"), reason),
      h(
        "div",
        { className: "buttons" },
        h("button", { type: "submit", value: "cancel" }, this.#t("dismiss.cancel")),
        h("button", { type: "submit", value: "confirm", className: "primary" }, this.#t("dismiss.confirm")),
      ),
    );
    dialog.append(form);
    dialog.addEventListener("close", () => {
      const hadFocus = dialog.contains(this.shadowRoot.activeElement) || !this.shadowRoot.activeElement;
      dialog.remove();
      if (hadFocus) this.#restoreFocus(opener);
    });
    this.shadowRoot.querySelector(".root").append(dialog);
    dialog.showModal();
    reason.focus();
  }

  async #dismiss(entry, reason) {
    try {
      await this.#api.dismiss(entry.id, reason);
      this.#remove(entry.id);
      this.#say(this.#t("dismiss.done", { payment_id: entry.payment_id }));
    } catch (error) {
      this.#fail(error);
      if (error instanceof ApiError && error.status === 409) this.#refreshEntry(entry.id);
    }
  }

  async #changePaymentMethod(entry, button) {
    if (!this.#busy(button)) return;
    try {
      const { url } = await this.#api.paymentMethodLink(entry.id);
      this.#say(this.#t("link.opened"));
      window.open(url, "_blank", "noopener");
    } catch (error) {
      this.#fail(error);
    } finally {
      button.removeAttribute("aria-disabled");
    }
  }

  #replace(entry) {
    this.#entries = this.#entries.map((known) => (known.id === entry.id ? entry : known));
    this.#showTable();
  }

  // Only that row is drawn again: the focus elsewhere in the table stays where it is, and the focus
  // in that row goes back to the same control (or the row's first action).
  #updateRow(id) {
    const entry = this.#entries.find((known) => known.id === id);
    const line = [...this.shadowRoot.querySelectorAll("tr[data-entry]")].find(
      (tr) => tr.dataset.entry === id,
    );
    if (!entry || !line) return;
    const focus = line.contains(this.shadowRoot.activeElement) ? this.#focusInTable() : null;
    line.replaceWith(this.#row(entry));
    this.#restoreFocus(focus);
  }

  #remove(id) {
    this.#entries = this.#entries.filter((known) => known.id !== id);
    this.#showTable();
    if (this.#detail === id) this.#closeDetail();
  }

  // ------------------------------------------------------------------------ the detail

  // The detail takes the focus; closed (its Close button, Escape), it gives it back to its opener.
  async #openDetail(id) {
    const place = this.shadowRoot.querySelector("#detail");
    this.#detailOpener = this.#focusInTable() ?? { entry: id, index: -1, key: "details" };
    try {
      const detail = await this.#api.transaction(id);
      this.#detail = id;
      let explanation = null;
      if (!detail.actions.includes("change_payment_method")) {
        try {
          await this.#api.paymentMethodLink(id);
        } catch (error) {
          if (error instanceof ApiError && error.status === 409) explanation = error.apiMessage;
        }
      }
      place.replaceChildren(
        h(
          "section",
          {
            className: "detail",
            "aria-labelledby": "detail-title",
            tabIndex: -1,
            onkeydown: (event) => {
              if (event.key !== "Escape") return;
              event.preventDefault();
              this.#closeDetail();
            },
          },
          h("h2", { id: "detail-title" }, this.#t("detail.title", { payment_id: detail.payment_id })),
          this.#recommendation(detail, "p"),
          this.#decline(detail, "p"),
          explanation ? h("p", {}, this.#t("detail.payment_method", { explanation })) : null,
          h(
            "ol",
            {},
            detail.audit.map((event) =>
              h(
                "li",
                { "data-action": event.action },
                h("time", { dateTime: event.at }, this.#date(event.at, true)),
                " — ",
                this.#t(`audit.${event.action}`),
                " — ",
                event.actor.email || this.#t("detail.by_system", { id: event.actor.id }),
                event.detail?.reason ? ` — ${this.#t("detail.reason", { reason: event.detail.reason })}` : "",
                event.detail?.failure?.message ? ` — ${event.detail.failure.message}` : "",
              ),
            ),
          ),
          h("button", { type: "button", onclick: () => this.#closeDetail() }, this.#t("detail.close")),
        ),
      );
      place.querySelector("section").focus();
    } catch (error) {
      this.#fail(error);
    }
  }

  #closeDetail() {
    const place = this.shadowRoot.querySelector("#detail");
    const hadFocus = Boolean(place?.contains(this.shadowRoot.activeElement));
    this.#detail = null;
    place?.replaceChildren();
    if (hadFocus) this.#restoreFocus(this.#detailOpener ?? { entry: null, index: -1, key: null });
  }

  // ------------------------------------------------------------------------- recovery

  // The organization's recovery figures of the last 30 days (GET /metrics/recovery), per
  // currency: the figures in words, how the recoveries came (a table), and a small chart of what
  // failed and what was recovered by week of first failure. The chart is an inline SVG hidden
  // from assistive technology: the table under it says the same.
  async #loadRecovery() {
    const place = this.shadowRoot.querySelector("#recovery");
    if (!place || !this.#token) return;
    const title = h("h2", { id: "recovery-title" }, this.#t("recovery"));
    const generation = this.#generation;
    try {
      const figures = await this.#api.recovery();
      if (generation !== this.#generation) return;
      const period = h(
        "p",
        { className: "period" },
        this.#t("recovery.period", { from: this.#day(figures.from), to: this.#day(figures.to) }),
      );
      if (figures.currencies.length === 0) {
        place.replaceChildren(title, period, h("p", { className: "empty" }, this.#t("recovery.empty")));
        return;
      }
      const several = figures.currencies.length > 1;
      place.replaceChildren(
        title,
        period,
        ...figures.currencies.map((currency) => this.#recoveryOf(currency, figures, several)),
      );
    } catch (error) {
      if (generation !== this.#generation) return;
      place.replaceChildren(title);
      this.#fail(error);
    }
  }

  #recoveryOf(figures, period, named) {
    const money = (tally) => this.#money(tally.amount, figures.currency);
    const tally = (it) => this.#t("recovery.tally", { amount: money(it), count: this.#count(it.count) });
    const rate =
      figures.recovery_rate === null
        ? this.#t("recovery.rate.none")
        : new Intl.NumberFormat(this.locale, { style: "percent", maximumFractionDigits: 1 }).format(figures.recovery_rate);
    const median =
      figures.median_hours_to_recovery === null
        ? this.#t("recovery.median.none")
        : new Intl.NumberFormat(this.locale, { style: "unit", unit: "hour", unitDisplay: "long", maximumFractionDigits: 1 }).format(
            figures.median_hours_to_recovery,
          );
    const shown = [
      ["failed", tally(figures.failed)],
      ["recovered", tally(figures.recovered)],
      ["rate", rate],
      ["at_risk", tally(figures.at_risk)],
      ["dismissed", tally(figures.dismissed)],
      ["median", median],
    ];
    const ways = ["manual_retry", "automatic_retry", "payment_method_changed"];
    const weeks = this.#weeks(figures.days, period.from, period.to);
    // Rows straight under <table> (no <tbody>): the table of transactions is the page's tbody.
    const table = (caption, columns, rows) =>
      h(
        "table",
        { className: "figures" },
        h("caption", {}, caption),
        h("thead", {}, h("tr", {}, columns.map((column, n) => h("th", { scope: "col", className: n ? "amount" : "" }, column)))),
        rows.map((cells) => h("tr", {}, h("th", { scope: "row" }, cells[0]), cells.slice(1).map((cell) => h("td", { className: "amount" }, cell)))),
      );
    return h(
      "div",
      { className: "recovery", "data-currency": figures.currency },
      named ? h("h3", {}, this.#t("recovery.currency", { currency: figures.currency })) : null,
      h("dl", {}, shown.flatMap(([key, value]) => [h("dt", {}, this.#t(`recovery.${key}`)), h("dd", { "data-figure": key }, value)])),
      table(
        this.#t("recovery.by"),
        [this.#t("recovery.how"), this.#t("recovery.amount"), this.#t("recovery.transactions")],
        ways.map((way) => [this.#t(`recovery.by.${way}`), money(figures.recovered_by[way]), this.#count(figures.recovered_by[way].count)]),
      ),
      h(
        "div",
        { className: "chart" },
        this.#chart(weeks),
        h(
          "p",
          { className: "legend", "aria-hidden": "true" },
          h("span", { className: "swatch failed" }),
          this.#t("recovery.failed"),
          " ",
          h("span", { className: "swatch recovered" }),
          this.#t("recovery.recovered"),
        ),
      ),
      table(
        this.#t("recovery.weeks"),
        [this.#t("recovery.week"), this.#t("recovery.failed"), this.#t("recovery.recovered")],
        weeks.map((week) => [this.#day(week.from), money(week.failed), money(week.recovered)]),
      ),
    );
  }

  // The days of the period by week (7 days from `from`; the last may be shorter), with what
  // failed and what of it was recovered.
  #weeks(days, from, to) {
    const dayNumber = (date) => Date.parse(`${date}T00:00:00Z`) / 86_400_000;
    const first = dayNumber(from);
    const weeks = [];
    for (let day = first; day <= dayNumber(to); day += 7) {
      weeks.push({
        from: new Date(day * 86_400_000).toISOString().slice(0, 10),
        failed: { amount: 0, count: 0 },
        recovered: { amount: 0, count: 0 },
      });
    }
    for (const day of days) {
      const week = weeks[Math.floor((dayNumber(day.date) - first) / 7)];
      if (!week) continue;
      for (const key of ["failed", "recovered"]) {
        week[key].amount += day[key].amount;
        week[key].count += day[key].count;
      }
    }
    return weeks;
  }

  // Two bars a week, failed then recovered, to the scale of the largest failed amount.
  #chart(weeks) {
    const svg = (tag, attributes) => {
      const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
      for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
      return element;
    };
    const step = 40;
    const height = 100;
    const largest = Math.max(1, ...weeks.map((week) => week.failed.amount));
    const chart = svg("svg", {
      viewBox: `0 0 ${weeks.length * step} ${height + 2}`,
      "aria-hidden": "true",
      focusable: "false",
      preserveAspectRatio: "none",
    });
    weeks.forEach((week, n) => {
      for (const [key, offset, colour] of [["failed", 6, "#8a8a8e"], ["recovered", 21, "#1e6b2e"]]) {
        const tall = Math.round((week[key].amount / largest) * height * 10) / 10;
        chart.append(svg("rect", { x: n * step + offset, y: height - tall, width: 13, height: tall, fill: colour, "data-bar": key }));
      }
    });
    chart.append(svg("line", { x1: 0, y1: height + 1, x2: weeks.length * step, y2: height + 1, stroke: "#515154", "stroke-width": 1 }));
    return chart;
  }

  #count(count) {
    const form = new Intl.PluralRules(this.locale).select(count) === "one" ? "one" : "other";
    return this.#t(`recovery.count.${form}`, { count: new Intl.NumberFormat(this.locale).format(count) });
  }

  // A UTC calendar date (the figures' days), as the page's language writes it.
  #day(date) {
    return new Intl.DateTimeFormat(this.locale, { dateStyle: "medium", timeZone: "UTC" }).format(new Date(`${date}T00:00:00Z`));
  }

  // ------------------------------------------------------------------- expiring cards

  async #loadCards() {
    const place = this.shadowRoot.querySelector("#cards");
    if (!place || !this.#token) return;
    const title = h("h2", { id: "cards-title" }, this.#t("cards"));
    const generation = this.#generation;
    try {
      const page = await this.#api.expiringCards();
      if (generation !== this.#generation) return;
      if (page.items.length === 0) {
        place.replaceChildren(title, h("p", { className: "empty" }, this.#t("cards.empty")));
        return;
      }
      place.replaceChildren(
        title,
        h(
          "table",
          {},
          h(
            "thead",
            {},
            h("tr", {}, ["holder", "card", "expiry", "payments"].map((c) => h("th", { scope: "col" }, this.#t(`cards.${c}`)))),
          ),
          h(
            "tbody",
            {},
            page.items.map((card) =>
              h(
                "tr",
                { "data-card": card.card_id },
                h("td", {}, this.#holder(card.account_holder)),
                h("td", {}, this.#t("cards.ending", { brand: card.brand, last4: card.last4 })),
                h("td", {}, `${String(card.exp_month).padStart(2, "0")}/${card.exp_year}`),
                h(
                  "td",
                  {},
                  h(
                    "ul",
                    {},
                    card.scheduled_payments.map((payment) =>
                      h(
                        "li",
                        {},
                        this.#t(`kind.${payment.kind}`),
                        payment.next_payment_at ? ` — ${this.#date(payment.next_payment_at, false)}` : "",
                        payment.amount ? ` — ${this.#money(payment.amount, payment.currency)}` : "",
                      ),
                    ),
                  ),
                ),
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      if (generation !== this.#generation) return;
      place.replaceChildren(title);
      this.#fail(error);
    }
  }

  // ---------------------------------------------------------------------- preferences

  async #loadPreferences() {
    const place = this.shadowRoot.querySelector("#preferences");
    if (!place || !this.#token) return;
    const generation = this.#generation;
    try {
      const preferences = await this.#api.preferences();
      if (generation !== this.#generation) return;
      const digest = h("input", { type: "checkbox", name: "digest", checked: preferences.failed_transactions_digest });
      const language = h(
        "select",
        { name: "email-locale" },
        LOCALES.map((locale) => h("option", { value: locale, selected: locale === preferences.locale }, this.#t(`language.${locale}`))),
      );
      place.replaceChildren(
        h("h2", { id: "preferences-title" }, this.#t("preferences")),
        h(
          "form",
          {
            onsubmit: async (event) => {
              event.preventDefault();
              try {
                await this.#api.savePreferences({ failed_transactions_digest: digest.checked, locale: language.value });
                this.#say(this.#t("preferences.saved"));
              } catch (error) {
                this.#fail(error);
              }
            },
          },
          h("label", { className: "inline" }, digest, this.#t("preferences.digest")),
          h("label", {}, this.#t("preferences.locale"), language),
          h("p", {}, h("button", { type: "submit", className: "primary" }, this.#t("preferences.save"))),
        ),
      );
    } catch (error) {
      if (generation !== this.#generation) return;
      place.replaceChildren();
      this.#fail(error);
    }
  }

  // ------------------------------------------------------------ the automatic retry policy

  // The organization's automatic retry policy (GET /retry-policy): on or off, the days after the
  // failure, the local time. Anyone may read it; saving needs billing_admin (the API's 403, or its
  // 400 naming a rule the days or the time break, goes to the alert). Saved, the table is loaded
  // again: its "Automatic retry scheduled …" lines follow the policy.
  async #loadRetryPolicy() {
    const place = this.shadowRoot.querySelector("#retry-policy");
    if (!place || !this.#token) return;
    const generation = this.#generation;
    try {
      const policy = await this.#api.retryPolicy();
      if (generation !== this.#generation) return;
      const enabled = h("input", { type: "checkbox", name: "auto-retry-enabled", checked: policy.enabled });
      const days = h("input", { type: "text", name: "auto-retry-days", value: policy.days.join(", "), inputMode: "numeric" });
      // Text, HH:MM as the API takes it: a time field would show 12-hour clocks in en-CA.
      const time = h("input", { type: "text", name: "auto-retry-time", value: policy.local_time, inputMode: "numeric", placeholder: "09:00" });
      place.replaceChildren(
        h("h2", { id: "retry-policy-title" }, this.#t("retry_policy")),
        h(
          "form",
          {
            onsubmit: async (event) => {
              event.preventDefault();
              const wanted = days.value
                .split(/[\s,;]+/)
                .filter(Boolean)
                .map((day) => (/^[0-9]+$/.test(day) ? Number(day) : day));
              try {
                await this.#api.saveRetryPolicy({ enabled: enabled.checked, days: wanted, local_time: time.value });
                this.#say(this.#t("retry_policy.saved"));
                await this.#loadTable();
              } catch (error) {
                this.#fail(error);
              }
            },
          },
          h("label", { className: "inline" }, enabled, this.#t("retry_policy.enabled")),
          h("label", {}, this.#t("retry_policy.days"), days),
          h("label", {}, this.#t("retry_policy.local_time"), time),
          h("p", {}, h("button", { type: "submit", className: "primary" }, this.#t("retry_policy.save"))),
        ),
      );
    } catch (error) {
      if (generation !== this.#generation) return;
      place.replaceChildren();
      this.#fail(error);
    }
  }

  // -------------------------------------------------------------------------- messages

  #say(status, alert = "") {
    const root = this.shadowRoot;
    const statusLine = root.querySelector("#status");
    const alertLine = root.querySelector("#alert");
    if (statusLine) statusLine.textContent = status;
    if (alertLine) alertLine.textContent = alert;
  }

  #fail(error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 0) return this.#say("", this.#t("error.unreachable"));
    if (error.status === 401) {
      this.dispatchEvent(new CustomEvent("pac-unauthorized", { bubbles: true, composed: true }));
      return this.#say("", this.#t("error.unauthorized"));
    }
    this.#say("", error.apiMessage || this.#t("error.generic", { status: error.status }));
  }
}

customElements.define("payment-action-center", PaymentActionCenter);
