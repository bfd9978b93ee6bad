"""The local stack (README, local stack): `python -m local.stack [--demo]`, which `make dev` runs.

DynamoDB Local, a moto server and an OpenID Connect provider (local/oidc.py, whose issuer is the
template's JwtIssuer) on loopback, the template's resources created there, the gateway
routing HTTP to the real handlers in worker processes (and serving the console on a demo host
page, local/static.py), the SQS event sources polling their queues into the functions, a tap on
the event buses, and the schedules run on demand. `LocalStack` is the same as a context manager,
for the e2e tests.

With demo data, the stack is ready once the data is in: until then the gateway answers every
request but the loader's 503 (code `starting`, local/gateway.py), GET /_local/health included.
The console shows the banner, one line per request and the functions' warnings and errors
(local/console.py); the banner comes again when the stack is ready, so it is the last thing shown.
"""

import argparse
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from local import auth, config, console, demo, endpoints, scheduler
from local import dynamodb as dynamodb_local
from local.dynamodb import DynamoDBLocal
from local.eventbus import EventsTap
from local.fake_stripe import FakeStripe, LocalStripe
from local.gateway import Gateway
from local.moto_server import MotoServer
from local.oidc import IdentityProvider
from local.outbox import OutboxMessage, fetch
from local.pollers import EventSourceMappings
from local.resources import Endpoints, provision
from local.sandbox import Sandbox
from local.services import LocalServiceError, free_port, port_is_free
from local.static import DEMO_LANGUAGES, ConsolePages
from local.template import (
    TEMPLATE_PATH,
    LocalValues,
    Schedule,
    TemplateError,
    cloudformation,
    environment,
    functions,
    jwt_authorizers,
    load,
    routes,
    schedules,
    sqs_event_sources,
)
from local.workers import Workers, runtime
from tools.console_files import host_config

log = logging.getLogger("local.stack")

DEMO_ADMIN = {
    "org_id": config.DEMO_ORG_ID,
    "sub": "user_demo_admin",
    "email": "admin@centre-demo.example",
    "groups": ["billing_admin"],
}
# Known to the identity provider from the start (one click on its sign-in form): a browser that
# signs in as user_demo_admin gets the demo admin's claims.
DEMO_ADMIN_CLAIMS = {name: value for name, value in DEMO_ADMIN.items() if name != "sub"}


class LocalStack:
    """`with LocalStack() as stack:` ... `stack.url`. A port given as None is a free one.

    `queue_visibility_timeout` (seconds) replaces the template queues' VisibilityTimeout: how long
    a message a function failed on waits before its redelivery (tests shorten it).

    `processor` is the template's Processor: "sandbox", or "stripe" for the Stripe adapter
    against the fake Stripe API (local/fake_stripe.py), which the stack serves on `stripe_port`
    (None: a free one) and the functions that talk to the processor reach (STRIPE_API_BASE).
    """

    def __init__(
        self,
        gateway_port: int | None = config.DEFAULT_PORTS["gateway"],
        dynamodb_port: int | None = config.DEFAULT_PORTS["dynamodb"],
        moto_port: int | None = config.DEFAULT_PORTS["moto"],
        oidc_port: int | None = config.DEFAULT_PORTS["oidc"],
        *,
        demo: bool = False,
        template_path: Path = TEMPLATE_PATH,
        host: str = "127.0.0.1",
        queue_visibility_timeout: int | None = None,
        processor: str = "sandbox",
        stripe_port: int | None = None,
    ) -> None:
        if processor not in config.PROCESSORS:
            raise LocalServiceError(
                f"{config.PROCESSOR_VARIABLE} must be {' or '.join(config.PROCESSORS)},"
                f" not {processor!r}"
            )
        self.processor = processor
        self.ports = {
            "gateway": gateway_port or free_port(host),
            "dynamodb": dynamodb_port or free_port(host),
            "moto": moto_port or free_port(host),
            "oidc": oidc_port or free_port(host),
        }
        if processor == "stripe":
            self.ports["stripe"] = stripe_port or free_port(host)
        self.demo = demo
        self.template_path = template_path
        self.host = host
        self.dynamodb = DynamoDBLocal(self.ports["dynamodb"], host)
        self.moto = MotoServer(self.ports["moto"], host)
        self.identity = IdentityProvider(
            self.ports["oidc"], host, users={str(DEMO_ADMIN["sub"]): DEMO_ADMIN_CLAIMS}
        )
        self.queue_visibility_timeout = queue_visibility_timeout
        self.workers: Workers | None = None
        self.gateway: Gateway | None = None
        self.event_sources: EventSourceMappings | None = None
        self.events_tap: EventsTap | None = None
        self._sandbox: Sandbox | None = None
        self._stripe: LocalStripe | None = None
        self.schedules: dict[str, Schedule] = {}
        self.values = LocalValues()
        self.demo_outcomes: list[str] = []

    @classmethod
    def from_env(cls, demo: bool = False) -> Self:
        """Ports from PAC_GATEWAY_PORT, PAC_DYNAMODB_PORT, PAC_MOTO_PORT and PAC_OIDC_PORT (or the
        defaults); the processor from PROCESSOR (default sandbox) and, with stripe, the fake
        Stripe API's port from PAC_STRIPE_PORT (default: a free one)."""

        def port(variable: str, default: str) -> int:
            value = os.environ.get(variable) or default
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise LocalServiceError(f"{variable} must be a port number, not {value!r}")
            return int(value)

        gateway, dynamodb, moto, oidc = (
            port(config.PORT_VARIABLES[service], str(config.DEFAULT_PORTS[service]))
            for service in ("gateway", "dynamodb", "moto", "oidc")
        )
        processor = os.environ.get(config.PROCESSOR_VARIABLE) or "sandbox"
        stripe = os.environ.get(config.STRIPE_PORT_VARIABLE)
        return cls(
            gateway,
            dynamodb,
            moto,
            oidc,
            demo=demo,
            processor=processor,
            stripe_port=port(config.STRIPE_PORT_VARIABLE, stripe) if stripe else None,
        )

    @property
    def url(self) -> str:
        """The gateway: the HTTP API as clients see it."""
        return f"http://{self.host}:{self.ports['gateway']}"

    @property
    def console_url(self) -> str:
        """The console on the demo host page, in French (`?lang=en-CA` for English)."""
        return f"{self.url}/?lang={DEMO_LANGUAGES[0]}"

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(dynamodb=self.dynamodb.endpoint, aws=self.moto.endpoint, gateway=self.url)

    def start(self) -> None:
        """Start everything; with `demo`, return once the demo data is in and the stack ready."""
        self.launch()
        if self.demo:
            self.load_demo()

    def launch(self) -> None:
        """Start the services and the gateway; with `demo`, the gateway answers 503 (starting)
        to all but the loader until `load_demo`."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def load_demo(self) -> None:
        """Deliver the demo data through the gateway with its loader pass, then open the gateway
        to everyone: the stack is ready."""
        if self.gateway is None:
            raise RuntimeError("the local stack is not running")
        try:
            if self._stripe is not None:
                for payment, failure in demo.refunded_payments():
                    self._stripe.fake.add_payment(
                        demo.stripe_account(config.DEMO_ORG_ID),
                        payment,
                        failure.amount,
                        "CAD",
                        failure.token,
                    )
            self.demo_outcomes = demo.load(self.url, headers=self.gateway.loader_headers)
        except BaseException:
            self.stop()
            raise
        self.gateway.open()

    @property
    def ready(self) -> bool:
        """Running and serving everyone (GET /_local/health answers 200)."""
        return self.gateway is not None and self.gateway.ready

    def _start(self) -> None:
        variables = {**config.PORT_VARIABLES, "stripe": config.STRIPE_PORT_VARIABLE}
        taken = [
            f"{self.host}:{port} ({variables[service]})"
            for service, port in self.ports.items()
            if not port_is_free(port, self.host)
        ]
        if taken:
            raise LocalServiceError(
                f"ports already in use: {', '.join(taken)}. Is another local stack running?"
                " Stop it, or choose other ports with those variables."
            )
        # Read once, as SAM's translator expands it: every reader below takes it as it is.
        template = cloudformation(load(self.template_path))
        self.identity.start()  # its URL is the JwtIssuer of the template's authorizers
        self.dynamodb.launch()  # both start at once: Java and moto's imports take seconds
        self.moto.launch()
        self.dynamodb.wait_until_ready()
        self.moto.wait_until_ready()

        self.values = LocalValues.of(
            template, JwtIssuer=self.identity.issuer, Processor=self.processor
        )
        if self.processor == "stripe":
            self._stripe = LocalStripe(
                self.url,
                api_key=config.STRIPE_API_KEY,
                webhook_secret=config.STRIPE_WEBHOOK_SECRET,
                port=self.ports["stripe"],
                host=self.host,
                search_lag=config.STRIPE_SEARCH_LAG_SECONDS,
                hang_seconds=config.STRIPE_HANG_SECONDS,
            )
            self._stripe.start()
        provision(
            template,
            self.values,
            self.endpoints,
            queue_visibility_timeout=self.queue_visibility_timeout,
        )
        code_root = self.template_path.parent
        template_functions = functions(template, code_root)
        runtimes = {
            name: runtime(
                function,
                self._environment(environment(function, self.values)),
                dynamodb_endpoint=self.dynamodb.endpoint,
                aws_endpoint=self.moto.endpoint,
            )
            for name, function in template_functions.items()
        }
        self.workers = Workers(runtimes)
        self.schedules = schedules(template)
        if self.processor == "sandbox":
            self._sandbox = Sandbox(
                dynamodb_local.client(self.dynamodb.endpoint),
                self.values.refs.get("Table", config.TABLE_NAME),
                self.url,
            )
        # Clients are made here, in one thread: boto3's default session is not thread-safe.
        self.events_tap = EventsTap.of(template, self.values, self.endpoints)
        self.event_sources = EventSourceMappings(
            sqs_event_sources(template), self.values, self.endpoints, self.workers.invoke
        )
        self.events_tap.start()
        self.event_sources.start()
        self.gateway = Gateway(
            routes(template),
            jwt_authorizers(template, self.values),
            self.workers.invoke,
            endpoints.bound(self),
            port=self.ports["gateway"],
            host=self.host,
            starting=self.demo,
            pages=ConsolePages(
                host_config=host_config(
                    self.url, self.identity.issuer, self.values.refs["JwtAudience"]
                )
            ),
            keys=auth.DiscoveredKeys(),
        )
        self.gateway.start()

    def stop(self) -> None:
        """Stop everything this stack started; safe to call twice or after a failed start."""
        if self.event_sources is not None:
            self.event_sources.stop()  # no new batch from now on
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        if self.events_tap is not None:
            self.events_tap.stop()
            self.events_tap = None
        if self.workers is not None:
            self.workers.close()  # a batch being handled ends now (its messages stay queued)
            self.workers = None
        if self.event_sources is not None:
            self.event_sources.join(timeout=30)
            self.event_sources = None
        if self._stripe is not None:
            self._stripe.stop()
        self.moto.stop()
        self.dynamodb.stop()
        self.identity.stop()

    def _environment(self, variables: dict[str, str]) -> dict[str, str]:
        """A function's variables, and where its Stripe calls go if it talks to the processor
        (PROCESSOR) and that is the fake Stripe API: the adapter sends them to STRIPE_API_BASE."""
        if self._stripe is not None and config.PROCESSOR_VARIABLE in variables:
            return {**variables, "STRIPE_API_BASE": self._stripe.url}
        return variables

    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        """Invoke a function of the template as Lambda would (for event sources and schedules)."""
        if self.workers is None:
            raise RuntimeError("the local stack is not running")
        return self.workers.invoke(function_id, event)

    def wait_for_queues_idle(self, timeout: float) -> bool:
        """Wait until no message is visible or in flight in any queue a function polls and no
        batch is being handled; False if that did not happen within `timeout` seconds.

        Messages that a function failed on and that wait out their visibility timeout do not
        count: their redelivery is a later run (see local/pollers.py).
        """
        if self.event_sources is None:
            raise RuntimeError("the local stack is not running")
        return self.event_sources.wait_for_idle(timeout)

    def run_schedule(
        self,
        name: str,
        now: datetime | None = None,
        *,
        timeout: float = config.FANOUT_TIMEOUT_SECONDS,
    ) -> dict[str, Any]:
        """Fire the schedule `name` at `now` (default: the real time) as EventBridge Scheduler
        would, then wait for its fan-out (the queues idle): {"schedule", "now", "result"}.

        KeyError for an unknown name; FunctionError if the function failed; scheduler.FanoutTimeout
        if the queues were not idle within `timeout` seconds.
        """
        schedule = self.schedules[name]
        at = now or datetime.now(UTC)
        result = self.invoke(schedule.function_id, scheduler.payload(schedule, self.values, at))
        summary = {"schedule": name, "now": scheduler.scheduled_time(at), "result": result}
        if not self.wait_for_queues_idle(timeout):
            assert self.event_sources is not None
            busy = ", ".join(self.event_sources.busy_queues()) or "a batch still being handled"
            raise scheduler.FanoutTimeout(
                f"{name} ran, but its fan-out did not finish within {timeout:g} s: {busy}",
                result,
            )
        return summary

    def outbox(self) -> list[OutboxMessage]:
        """Every email SES (the moto server) accepted so far, oldest first:
        [{"to": [bare addresses], "subject", "html", "text"}]."""
        return fetch(self.moto.endpoint)

    def events(self) -> list[dict[str, Any]]:
        """Every event put on the template's buses so far, oldest first: [{detail_type, detail}]."""
        if self.events_tap is None:
            raise RuntimeError("the local stack is not running")
        return self.events_tap.events()

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox processor's calls and settlements (GET/POST /_local/sandbox/...)."""
        if self._sandbox is None:
            raise RuntimeError("the local stack is not running with the sandbox processor")
        return self._sandbox

    @property
    def stripe(self) -> LocalStripe:
        """The fake Stripe API's calls, objects, faults and settlements (/_local/stripe/...)."""
        if self._stripe is None:
            raise RuntimeError("the local stack is not running with the stripe processor")
        return self._stripe

    @property
    def fake_stripe(self) -> FakeStripe:
        """The fake Stripe API itself (PROCESSOR=stripe)."""
        return self.stripe.fake

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def banner(stack: LocalStack) -> str:
    """What `make dev` prints once the gateway listens, and again once the stack is ready."""
    state = "running" if stack.ready else "starting"
    lines = [
        "",
        f"Payment Action Center: local stack {state} (laptop only; nothing here is AWS)",
        f"  API (gateway)    {stack.url}",
        f"  DynamoDB Local   {stack.dynamodb.endpoint}   table {config.TABLE_NAME}",
        f"  moto server      {stack.moto.endpoint}   SES, SQS, EventBridge, Scheduler, Secrets",
        f"  Identity provider (OpenID Connect) {stack.identity.issuer}"
        f"   client id {config.JWT_AUDIENCE}",
        processor_line(stack),
        "",
        "Webhook secrets (Standard Webhooks; Stripe's own signature for /webhooks/stripe):",
        f"  POST {stack.url}/webhooks/payments   {config.PAYMENTS_WEBHOOK_SECRET}",
        f"  POST {stack.url}/webhooks/billing    {config.BILLING_WEBHOOK_SECRET}",
        f"  POST {stack.url}/webhooks/stripe     {config.STRIPE_WEBHOOK_SECRET}",
        "",
        *local_endpoints(stack),
    ]
    if not stack.ready:
        return "\n".join([*lines, *loading(stack)])
    if stack.demo:
        failures = len(demo.FAILURES)
        lines += [f"Demo data: {failures} failed payments of {config.DEMO_ORG_ID} delivered.", ""]
    token = stack.identity.sign_in(str(DEMO_ADMIN["sub"]), config.JWT_AUDIENCE)
    lines += [
        f"Console: {stack.console_url}  (English: ?lang={DEMO_LANGUAGES[1]}), signed in as the"
        f" demo admin ({DEMO_ADMIN['email']})",
        "",
        f"Token: billing_admin of {config.DEMO_ORG_ID}, valid"
        f" {config.TOKEN_LIFETIME_SECONDS // 3600} h (more: POST {stack.url}/_local/token):",
        f"  {token}",
        "",
        "Try:",
        f'  curl -s -H "Authorization: Bearer {token}" {stack.url}/transactions',
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def processor_line(stack: LocalStack) -> str:
    """Which payment processor the retries go to (PROCESSOR)."""
    if stack.processor == "stripe":
        return (
            f"  Processor        stripe: the Stripe adapter against the fake Stripe API"
            f" {stack.stripe.url}"
        )
    return "  Processor        sandbox: decides by token, charges nobody (PROCESSOR=stripe: Stripe)"


def loading(stack: LocalStack) -> list[str]:
    return [
        f"Loading the demo data ({len(demo.FAILURES)} failed payments of {config.DEMO_ORG_ID}):"
        " until it is in, every request answers 503 (Retry-After: 1).",
        f"GET {stack.url}/_local/health answers 200 once the stack is ready;"
        " this banner is printed again then.",
    ]


def local_endpoints(stack: LocalStack) -> list[str]:
    """The banner's list of the local-only endpoints and of what runs in the background."""
    listed = [
        ("POST /_local/token", "{org_id, sub, email, groups} -> a JWT"),
        ("GET  /_local/webhook-secrets", "the two Standard Webhooks keys"),
        *(
            (f"POST /_local/schedules/{name}", f"run {schedule.function_id} now ({{now}} optional)")
            for name, schedule in stack.schedules.items()
        ),
        ("GET  /_local/outbox", "emails sent through SES, oldest first"),
        ("GET  /_local/events", "events put on the event bus, oldest first"),
        *processor_endpoints(stack),
        ("GET  /_local/health", '200 {"status": "ready"} once ready (503 while starting)'),
        ("GET  /", "the console on a demo host page (?lang=fr-CA or en-CA)"),
        ("GET  /console/<file>", "the console's static files (console/)"),
        ("GET  /console/index.html", "the standalone page: signs in at the identity provider"),
    ]
    width = max(len(route) for route, _ in listed)
    lines = [
        "Local-only endpoints (never deployed):",
        *(f"  {route:<{width}}  {what}" for route, what in listed),
        "",
    ]
    if stack.event_sources is not None and stack.event_sources.pollers:
        lines.append("SQS event sources (polled as Lambda would):")
        lines += [
            f"  {poller.mapping.queue_name} -> {poller.mapping.function_id}"
            for poller in stack.event_sources.pollers
        ]
        lines.append("")
    return lines


def processor_endpoints(stack: LocalStack) -> list[tuple[str, str]]:
    """The banner's local-only endpoints of the processor the stack runs with."""
    if stack.processor == "stripe":
        return [
            ("GET  /_local/stripe/requests", "the calls the fake Stripe API received, its objects"),
            ("POST /_local/stripe/settle", "{transaction_id, outcome}: settle a pending e-check"),
            ("POST /_local/stripe/faults", "{kind, count}: the next calls fail (rate_limit, ...)"),
        ]
    return [
        ("GET  /_local/sandbox/charges", "the calls the sandbox processor received"),
        ("POST /_local/sandbox/settle", "{transaction_id, outcome}: settle a pending e-check"),
    ]


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__)
    parser.add_argument("--demo", action="store_true", help="load the org_demo demo data")
    args = parser.parse_args(argv)
    console.configure()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly on SIGTERM as on Ctrl-C

    try:
        stack = LocalStack.from_env(demo=args.demo)
    except LocalServiceError as error:
        print(f"The local stack did not start: {error}", file=sys.stderr)
        return 2
    print("Starting DynamoDB Local, the moto server and the gateway...", flush=True)
    try:
        stack.launch()
        if stack.demo:
            print(banner(stack), flush=True)
            stack.load_demo()
        print(banner(stack), flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    except (LocalServiceError, FileNotFoundError, TemplateError, demo.DeliveryRefused) as error:
        print(f"\nThe local stack did not start: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan anything
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        print("\nLocal stack stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
