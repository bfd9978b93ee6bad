// The demo host page's script (local/console_demo.html), served at /_local/console-demo.js by
// local/static.py; local only, never deployed. It does what a host page of the billing platform
// does: get the admin's token, then mount <payment-action-center> with it.
//
// ?lang=fr-CA (the default) or ?lang=en-CA. The signed-in admin is the demo admin of the banner
// (DEMO_ADMIN in local/stack.py; tests/local_stack/test_static.py keeps the two equal). <main>
// gets data-demo-state="mounted" once the component is in the page, or "failed" with the reason
// as its text.

const DEMO_ADMIN = {"org_id": "org_demo", "sub": "user_demo_admin", "email": "admin@centre-demo.example", "groups": ["billing_admin"]};
const LANGUAGES = ["fr-CA", "en-CA"];
const TITLES = {
  "fr-CA": "Centre d’actions de paiement — démo locale",
  "en-CA": "Payment Action Center — local demo",
};
const COMPONENT = "/console/payment-action-center.js";

const main = document.querySelector("main");

function fail(reason) {
  main.dataset.demoState = "failed";
  main.textContent = `Demo page: ${reason}`;
}

async function mount() {
  const asked = new URLSearchParams(window.location.search).get("lang");
  const lang = LANGUAGES.includes(asked) ? asked : LANGUAGES[0];
  document.documentElement.lang = lang;
  document.title = TITLES[lang];

  // Defined before the element is made: a property set on a not-yet-upgraded element would
  // shadow the component's `token` setter.
  try {
    await import(COMPONENT);
  } catch (error) {
    fail(`cannot load ${COMPONENT} (${error})`);
    return;
  }
  const answer = await fetch("/_local/token", {
    method: "POST",
    headers: {"content-type": "application/json"},
    body: JSON.stringify(DEMO_ADMIN),
  });
  if (!answer.ok) {
    fail(`POST /_local/token answered ${answer.status}`);
    return;
  }
  const {token} = await answer.json();

  const element = document.createElement("payment-action-center");
  element.setAttribute("api-base", window.location.origin);
  element.setAttribute("lang", lang);
  element.token = token;
  main.append(element);
  main.dataset.demoState = "mounted";
}

mount().catch((error) => fail(String(error)));
