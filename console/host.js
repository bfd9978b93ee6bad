// The standalone host page's script (console/index.html): read config.json, sign the admin in
// with OpenID Connect (console/oidc.js), mount <payment-action-center> with the ID token.
//
// config.json: {"api_base": the HTTP API's URL, "issuer": the JWT authorizer's issuer,
// "client_id": its audience, "scope": optional, "openid email" by default}. tools/deploy_console.py
// writes it from the stack; the local stack serves its own (local/static.py).
//
// The page's states, on <main data-host-state>: "starting", "signing-in" (on the way to the
// provider), "signed-in" (the component is mounted), "signed-out" (a Sign in button, after a sign
// out, an ended session or a refused sign-in) and "failed" (no configuration, no provider, no
// component: a message and nothing to click but a reload).

import { DEFAULT_LOCALE, LOCALES, t } from "./messages.js";
import {
  SignInError,
  beginSignIn,
  completeSignIn,
  currentSession,
  discover,
  forgetSession,
  safeReturn,
  signOut as endSession,
} from "./oidc.js";

const CONFIG_URL = new URL("./config.json", import.meta.url);
const COMPONENT_URL = new URL("./payment-action-center.js", import.meta.url);
// After a sign out, the provider sends the browser back here with this query: no new sign-in.
const SIGNED_OUT = "signed-out";

const main = document.querySelector("main");
const notice = main.querySelector(".host-notice");
const signInButton = main.querySelector(".host-sign-in");
const signOutButton = document.querySelector(".host-sign-out");
const user = document.querySelector(".host-user");
const storage = window.sessionStorage;

let locale = chooseLocale();

function chooseLocale() {
  const asked = new URLSearchParams(window.location.search).get("lang");
  if (LOCALES.includes(asked)) return asked;
  for (const preferred of navigator.languages || []) {
    const found = LOCALES.find((candidate) => candidate.startsWith(preferred.slice(0, 2)));
    if (found) return found;
  }
  return DEFAULT_LOCALE;
}

function label() {
  document.documentElement.lang = locale;
  document.title = t(locale, "host.title");
  document.querySelector(".host-name").textContent = t(locale, "host.title");
  signInButton.textContent = t(locale, "host.sign_in");
  signOutButton.textContent = t(locale, "host.sign_out");
}

function show(state, key = "", values = {}) {
  main.dataset.hostState = state;
  notice.textContent = key ? t(locale, key, values) : "";
  signInButton.hidden = state !== "signed-out";
}

// Where the provider sends the browser back: this page, without its query (the exact URI the
// identity provider has registered for the client).
function redirectUri() {
  return `${window.location.origin}${window.location.pathname}`;
}

async function readConfig() {
  const answer = await fetch(CONFIG_URL, { headers: { accept: "application/json" }, cache: "no-cache" });
  if (!answer.ok) throw new Error(`config.json: HTTP ${answer.status}`);
  const config = await answer.json();
  for (const name of ["api_base", "issuer", "client_id"]) {
    if (typeof config[name] !== "string" || !config[name]) throw new Error(`config.json: no ${name}`);
  }
  return config;
}

async function signIn(config, metadata) {
  show("signing-in", "host.signing_in");
  const back = new URLSearchParams(window.location.search).has(SIGNED_OUT)
    ? window.location.pathname
    : `${window.location.pathname}${window.location.search}${window.location.hash}`;
  window.location.assign(await beginSignIn(config, metadata, redirectUri(), back, storage));
}

// RP-initiated logout where the provider offers it (its end_session_endpoint; the
// post_logout_redirect_uri below must be registered there); else the console forgets its token
// and its next sign-in asks the provider to authenticate again (console/oidc.js, prompt=login).
async function signOut(config, metadata, session) {
  endSession(storage);
  if (metadata.end_session_endpoint) {
    const url = new URL(metadata.end_session_endpoint);
    url.searchParams.set("client_id", config.client_id);
    url.searchParams.set("id_token_hint", session.token);
    url.searchParams.set("post_logout_redirect_uri", `${redirectUri()}?${SIGNED_OUT}=1&lang=${locale}`);
    window.location.assign(url.href);
    return;
  }
  window.location.assign(`${redirectUri()}?${SIGNED_OUT}=1&lang=${locale}`);
}

async function mount(config, session, metadata) {
  try {
    await import(COMPONENT_URL.href); // defined before the element exists: see local/console_demo.js
  } catch {
    show("failed", "host.error.component");
    return;
  }
  const element = document.createElement("payment-action-center");
  element.setAttribute("api-base", config.api_base);
  element.setAttribute("lang", locale);
  element.token = session.token;
  element.addEventListener("pac-language", (event) => {
    locale = event.detail.locale;
    label();
    user.textContent = t(locale, "host.signed_in_as", { email: session.email });
  });
  element.addEventListener("pac-unauthorized", () => {
    forgetSession(storage);
    element.remove();
    user.hidden = true;
    signOutButton.hidden = true;
    show("signed-out", "host.session_ended");
  });
  user.textContent = t(locale, "host.signed_in_as", { email: session.email });
  user.hidden = false;
  signOutButton.hidden = false;
  signOutButton.onclick = () => signOut(config, metadata, session);
  show("signed-in");
  main.append(element);
}

async function start() {
  label();
  let config;
  let metadata;
  try {
    config = await readConfig();
  } catch {
    show("failed", "host.error.unconfigured");
    return;
  }
  try {
    metadata = await discover(config.issuer);
  } catch (error) {
    show("failed", "host.error.provider", { issuer: config.issuer, detail: error.detail || "" });
    return;
  }
  signInButton.onclick = () => signIn(config, metadata);

  const params = new URLSearchParams(window.location.search);
  if (params.has("code") || params.has("error")) {
    try {
      const { returnTo } = await completeSignIn(config, metadata, params, storage, Date.now() / 1000);
      window.history.replaceState(null, "", safeReturn(returnTo, window.location));
      locale = chooseLocale();
      label();
    } catch (error) {
      window.history.replaceState(null, "", window.location.pathname);
      const code = error instanceof SignInError ? error.code : "token";
      show("signed-out", `host.error.${code}`, { detail: error.detail || String(error) });
      return;
    }
  }
  const session = currentSession(storage, Date.now() / 1000);
  if (session) {
    await mount(config, session, metadata);
  } else if (params.has(SIGNED_OUT)) {
    show("signed-out", "host.signed_out");
  } else {
    await signIn(config, metadata);
  }
}

start().catch(() => show("failed", "host.error.component"));
