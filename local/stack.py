"""The local stack (design §5): `python -m local.stack [--demo]`, which `make dev` runs.

DynamoDB Local and a moto server on loopback, the template's resources created there, and the
gateway routing HTTP to the real handlers in worker processes. `LocalStack` is the same as a
context manager, for the e2e tests.
"""

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Self

from local import auth, config, demo, endpoints
from local.dynamodb import DynamoDBLocal
from local.gateway import Gateway
from local.moto_server import MotoServer
from local.resources import Endpoints, provision
from local.services import LocalServiceError, free_port, port_is_free
from local.template import (
    TEMPLATE_PATH,
    LocalValues,
    environment,
    functions,
    jwt_authorizers,
    load,
    routes,
)
from local.workers import Workers, runtime

log = logging.getLogger("local.stack")

DEMO_ADMIN = {
    "org_id": config.DEMO_ORG_ID,
    "sub": "user_demo_admin",
    "email": "admin@centre-demo.example",
    "groups": ["billing_admin"],
}


class LocalStack:
    """`with LocalStack() as stack:` ... `stack.url`. A port given as None is a free one."""

    def __init__(
        self,
        gateway_port: int | None = config.DEFAULT_PORTS["gateway"],
        dynamodb_port: int | None = config.DEFAULT_PORTS["dynamodb"],
        moto_port: int | None = config.DEFAULT_PORTS["moto"],
        *,
        demo: bool = False,
        template_path: Path = TEMPLATE_PATH,
        host: str = "127.0.0.1",
    ) -> None:
        self.ports = {
            "gateway": gateway_port or free_port(host),
            "dynamodb": dynamodb_port or free_port(host),
            "moto": moto_port or free_port(host),
        }
        self.demo = demo
        self.template_path = template_path
        self.host = host
        self.dynamodb = DynamoDBLocal(self.ports["dynamodb"], host)
        self.moto = MotoServer(self.ports["moto"], host)
        self.workers: Workers | None = None
        self.gateway: Gateway | None = None
        self.values = LocalValues()
        self.demo_outcomes: list[str] = []

    @classmethod
    def from_env(cls, demo: bool = False) -> Self:
        """Ports from PAC_GATEWAY_PORT, PAC_DYNAMODB_PORT and PAC_MOTO_PORT (or the defaults)."""

        def port(service: str) -> int:
            variable = config.PORT_VARIABLES[service]
            value = os.environ.get(variable) or str(config.DEFAULT_PORTS[service])
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise LocalServiceError(f"{variable} must be a port number, not {value!r}")
            return int(value)

        return cls(port("gateway"), port("dynamodb"), port("moto"), demo=demo)

    @property
    def url(self) -> str:
        """The gateway: the HTTP API as clients see it."""
        return f"http://{self.host}:{self.ports['gateway']}"

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(dynamodb=self.dynamodb.endpoint, aws=self.moto.endpoint)

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        taken = [
            f"{self.host}:{port} ({config.PORT_VARIABLES[service]})"
            for service, port in self.ports.items()
            if not port_is_free(port, self.host)
        ]
        if taken:
            raise LocalServiceError(
                f"ports already in use: {', '.join(taken)}. Is another local stack running?"
                " Stop it, or choose other ports with those variables."
            )
        template = load(self.template_path)
        self.dynamodb.launch()  # both start at once: Java and moto's imports take seconds
        self.moto.launch()
        self.dynamodb.wait_until_ready()
        self.moto.wait_until_ready()

        self.values = LocalValues.of(template)
        provision(template, self.values, self.endpoints)
        code_root = self.template_path.parent
        runtimes = {
            name: runtime(
                function,
                environment(function, self.values),
                dynamodb_endpoint=self.dynamodb.endpoint,
                aws_endpoint=self.moto.endpoint,
            )
            for name, function in functions(template, code_root).items()
        }
        self.workers = Workers(runtimes)
        self.gateway = Gateway(
            routes(template),
            jwt_authorizers(template, self.values),
            self.workers.invoke,
            endpoints.bound(self),
            port=self.ports["gateway"],
            host=self.host,
        )
        self.gateway.start()
        if self.demo:
            self.demo_outcomes = demo.load(self.url)

    def stop(self) -> None:
        """Stop everything this stack started; safe to call twice or after a failed start."""
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        if self.workers is not None:
            self.workers.close()
            self.workers = None
        self.moto.stop()
        self.dynamodb.stop()

    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        """Invoke a function of the template as Lambda would (for event sources and schedules)."""
        if self.workers is None:
            raise RuntimeError("the local stack is not running")
        return self.workers.invoke(function_id, event)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def banner(stack: LocalStack) -> str:
    token = auth.mint_token(**DEMO_ADMIN)  # type: ignore[arg-type]
    lines = [
        "",
        "Payment Action Center: local stack running (laptop only; nothing here is AWS)",
        f"  API (gateway)    {stack.url}",
        f"  DynamoDB Local   {stack.dynamodb.endpoint}   table {config.TABLE_NAME}",
        f"  moto server      {stack.moto.endpoint}   SES, SQS, EventBridge, Scheduler, Secrets",
        "",
        "Webhook secrets (Standard Webhooks):",
        f"  POST {stack.url}/webhooks/payments   {config.PAYMENTS_WEBHOOK_SECRET}",
        f"  POST {stack.url}/webhooks/billing    {config.BILLING_WEBHOOK_SECRET}",
        "",
    ]
    if stack.demo:
        failures = len(demo.FAILURES)
        lines += [f"Demo data: {failures} failed payments of {config.DEMO_ORG_ID} delivered.", ""]
    lines += [
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


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__)
    parser.add_argument("--demo", action="store_true", help="load the org_demo demo data")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly on SIGTERM as on Ctrl-C

    try:
        stack = LocalStack.from_env(demo=args.demo)
    except LocalServiceError as error:
        print(f"The local stack did not start: {error}", file=sys.stderr)
        return 2
    print("Starting DynamoDB Local, the moto server and the gateway...", flush=True)
    try:
        stack.start()
        print(banner(stack), flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    except (LocalServiceError, FileNotFoundError, demo.DeliveryRefused) as error:
        print(f"\nThe local stack did not start: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan anything
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        print("\nLocal stack stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
