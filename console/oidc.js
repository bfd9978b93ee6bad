// OpenID Connect sign-in for a public browser client (console/host.js): the authorization code
// flow with PKCE (RFC 7636, method S256), `state` against cross-site request forgery and `nonce`
// against a replayed ID token (OpenID Connect Core 1.0, §3.1.2.1 and §3.1.3.7).
//
// The ID token's signature is not checked here: the page holds no key, and the HTTP API's JWT
// authorizer checks the signature, issuer, audience and expiry on every call. The page reads the
// claims only to refuse a token that is not the answer to its own request (nonce, issuer,
// audience, expiry) and to show who is signed in.
//
// What crosses the redirect lives in sessionStorage (one tab, gone when it closes): the sign-in
// under way (PENDING) until the answer comes back, then the session (SESSION).

const PENDING = "payment-action-center.sign-in";
const SESSION = "payment-action-center.session";
// Set by a sign-out: the next sign-in asks the provider to authenticate again (`prompt=login`),
// so that a provider keeping its own session (one with no end_session_endpoint) does not sign the
// next person at this browser straight back in.
const SIGNED_OUT = "payment-action-center.signed-out";
// An OAuth error code as RFC 6749 §4.1.2.1 defines them; anything else is shown as "unknown".
const ERROR_CODE = /^[a-z_]{1,64}$/;
// A token this close to its expiry is not used: a call made with it could be refused mid-way.
const EXPIRY_MARGIN_SECONDS = 30;

export class SignInError extends Error {
  // code: "provider" (discovery failed), "refused" (the provider said no), "state" (an answer to
  // no request of this tab), "token" (the token endpoint failed), "claims" (not our token).
  constructor(code, detail = "") {
    super(`${code}${detail ? `: ${detail}` : ""}`);
    this.code = code;
    this.detail = detail;
  }
}

export function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// 32 random bytes: a 43-character verifier, within RFC 7636's 43 to 128.
export function randomString(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

export async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export function claimsOf(token) {
  const payload = String(token).split(".")[1];
  if (!payload) throw new SignInError("claims", "not a JWT");
  const text = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(text, (character) => character.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// The provider's metadata; its `issuer` must be exactly the configured one (OpenID Connect
// Discovery 1.0, §4.3), or tokens would be refused by the authorizer anyway.
export async function discover(issuer) {
  const url = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  let metadata;
  try {
    const answer = await fetch(url, { headers: { accept: "application/json" } });
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    metadata = await answer.json();
  } catch (error) {
    throw new SignInError("provider", String(error.message || error));
  }
  if (metadata.issuer !== issuer) {
    throw new SignInError("provider", `the provider names itself ${metadata.issuer}`);
  }
  for (const name of ["authorization_endpoint", "token_endpoint"]) {
    if (typeof metadata[name] !== "string") throw new SignInError("provider", `no ${name}`);
  }
  return metadata;
}

// Where to send the browser to sign in; `returnTo` (path, query and hash) is where it comes back.
export async function beginSignIn(config, metadata, redirectUri, returnTo, storage) {
  const reauthenticate = storage.getItem(SIGNED_OUT) !== null;
  const pending = {
    state: randomString(16),
    nonce: randomString(16),
    verifier: randomString(32),
    redirect_uri: redirectUri,
    return_to: returnTo,
  };
  storage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(metadata.authorization_endpoint);
  const query = {
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: redirectUri,
    scope: config.scope || "openid email",
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await challengeOf(pending.verifier),
    code_challenge_method: "S256",
    ...(reauthenticate ? { prompt: "login" } : {}),
  };
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url.href;
}

// The provider's answer (`params`: the redirect's query) turned into a session, or SignInError.
// The sign-in under way is forgotten whatever happens: a code is good once. Nothing of an answer
// to no request of this tab is shown (a link could otherwise put words on the console's page):
// `state` is checked first, and of a refusal only its error code is kept.
export async function completeSignIn(config, metadata, params, storage, now) {
  const pending = readJson(storage, PENDING);
  storage.removeItem(PENDING);
  if (!pending || !params.get("state") || params.get("state") !== pending.state) {
    throw new SignInError("state");
  }
  if (params.has("error")) {
    const code = params.get("error");
    throw new SignInError("refused", ERROR_CODE.test(code) ? code : "unknown");
  }
  const form = new URLSearchParams({
    grant_type: "authorization_code",
    code: params.get("code") || "",
    redirect_uri: pending.redirect_uri,
    client_id: config.client_id,
    code_verifier: pending.verifier,
  });
  let answer;
  let body = {};
  try {
    answer = await fetch(metadata.token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: form,
    });
    body = await answer.json().catch(() => ({}));
  } catch (error) {
    throw new SignInError("token", String(error.message || error));
  }
  if (!answer.ok || typeof body.id_token !== "string") {
    throw new SignInError("token", body.error_description || body.error || `HTTP ${answer.status}`);
  }
  const claims = claimsOf(body.id_token);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.nonce !== pending.nonce) throw new SignInError("claims", "nonce");
  if (claims.iss !== config.issuer) throw new SignInError("claims", "iss");
  if (!audiences.includes(config.client_id)) throw new SignInError("claims", "aud");
  if (!(claims.exp > now + EXPIRY_MARGIN_SECONDS)) throw new SignInError("claims", "exp");
  const session = { token: body.id_token, expires_at: claims.exp, email: claims.email || claims.sub };
  storage.setItem(SESSION, JSON.stringify(session));
  storage.removeItem(SIGNED_OUT);
  return { session, returnTo: pending.return_to };
}

// The session of this tab, or null when there is none or its token is about to expire.
export function currentSession(storage, now) {
  const session = readJson(storage, SESSION);
  if (!session || typeof session.token !== "string" || !(session.expires_at > now + EXPIRY_MARGIN_SECONDS)) {
    storage.removeItem(SESSION);
    return null;
  }
  return session;
}

export function forgetSession(storage) {
  storage.removeItem(SESSION);
}

// A sign-out: the session is forgotten and the next sign-in authenticates again.
export function signOut(storage) {
  storage.removeItem(SESSION);
  storage.setItem(SIGNED_OUT, "1");
}

// Where to come back after a sign-in: only a path of this page's origin (`/…`, never `//…` or
// a URL), else the page itself.
export function safeReturn(returnTo, location) {
  if (typeof returnTo !== "string" || !returnTo.startsWith("/") || returnTo.startsWith("//")) {
    return location.pathname;
  }
  const url = new URL(returnTo, location.href);
  return url.origin === location.origin ? `${url.pathname}${url.search}${url.hash}` : location.pathname;
}

function readJson(storage, key) {
  try {
    return JSON.parse(storage.getItem(key) || "null");
  } catch {
    return null;
  }
}
