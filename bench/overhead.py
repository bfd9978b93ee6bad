"""What a handler costs beyond its AWS calls: `overhead.webhook` and `overhead.list` of `make bench`
(bench/__main__.py), each the throughput of a function's handler invoked in this process ÷ the
throughput of the bare boto3 calls that handler makes, on DynamoDB Local.

- webhook: the Webhooks function's `lambda_handler` (functions/webhooks/app.py) given API Gateway
  HTTP API (payload 2.0) events of signed payment.failed webhooks, each a payment of its own (so
  each opens an entry), against the TransactWriteItems it sends (its only request once the
  webhook secret is cached), replayed with the same items into a second table of the same
  definition (the first already holds them).
- list: the Api function's handler (functions/api/app.py) for GET /transactions?limit=50 (the
  sample events/api_list_transactions.json, claims as API Gateway's JWT authorizer passes them)
  over an organization with more open entries than a page, against the same Query it sends.

The functions run as the local stack runs them (local/stack.py): the template's resources
provisioned on DynamoDB Local and a moto server (local/resources.py), each function's template
environment with the AWS endpoint variables (local/workers.py `runtime`), the handlers imported
from their code directories. The bare calls go through the handlers' own DynamoDB client (the
layer's adapters/clients.py), so both sides share its configuration and connection pool.

Rounds alternate a handler batch and the bare batch of the same calls; the figure is the ratio of
the median throughputs. A last handler batch runs under cProfile: the detail `top_costs` names the
three largest costs beside the AWS calls (module:function, share of the batch's time).
"""

import copy
import cProfile
import importlib.util
import json
import os
import pstats
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.client

from bench.counts import EVENTS, PAYMENT_FAILED, DiscardingPublisher, accepted, webhook
from local import config, demo
from local.dynamodb import DynamoDBLocal
from local.dynamodb import client as local_client
from local.lambda_worker import NO_METRICS_WARNING, LambdaContext
from local.moto_server import MotoServer
from local.resources import Endpoints, provision
from local.services import free_port
from local.template import Function, LocalValues, cloudformation, environment, functions, load
from local.workers import runtime
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook
from tools.send_event import http_sample, sample_body
from tools.template import create_table

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 20
BATCH = 20  # invocations (or bare calls) a batch
WARM_UP = 10
WEBHOOK_ORG = "org_bench_webhooks"
LIST_ORG = "org_bench_list"
LIST_ENTRIES = 60  # more than the page of 50
LIST_SAMPLE = EVENTS / "api_list_transactions.json"
# Set in the process environment, not in this one's: they are about starting a process.
PROCESS_ONLY = frozenset({"PATH", "PYTHONPATH", "PYTHONUNBUFFERED", "LANG", "TZ"})
# What the AWS calls cost in a profile: the SDK and what it sends with.
SDK_MODULES = frozenset({"boto3", "botocore", "urllib3", "http", "socket", "ssl", "s3transfer"})
type Key = tuple[str, int, str]  # a profiled function: file, line, name


# --- the functions, as the local stack runs them -------------------------------------------------


@dataclass(frozen=True)
class LocalFunctions:
    """The template's resources on local services, and each function's environment there."""

    dynamodb: str  # DynamoDB Local's endpoint
    aws: str  # the moto server's
    table: str
    values: LocalValues
    functions: dict[str, Function]

    def environment(self, name: str) -> dict[str, str]:
        """The process environment Lambda would give function `name`, its AWS calls sent here."""
        function = self.functions[name]
        return dict(
            runtime(
                function,
                environment(function, self.values),
                dynamodb_endpoint=self.dynamodb,
                aws_endpoint=self.aws,
            ).environment
        )


@contextmanager
def provisioned(table: str) -> Iterator[LocalFunctions]:
    """DynamoDB Local and a moto server with the template's resources (local/resources.py), the
    functions' table being `table`, created here."""
    with (
        DynamoDBLocal(free_port()) as dynamodb,
        MotoServer(free_port()) as moto,
    ):
        template = cloudformation(load())
        values = LocalValues.of(template, JwtIssuer="https://issuer.example.com")
        provision(template, values, Endpoints(dynamodb=dynamodb.endpoint, aws=moto.endpoint))
        create_table(local_client(dynamodb.endpoint), table)
        values.refs["Table"] = table
        yield LocalFunctions(
            dynamodb.endpoint, moto.endpoint, table, values, functions(template, ROOT)
        )


@contextmanager
def function_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """This process's environment as a function's (restored after)."""
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in variables.items() if k not in PROCESS_ONLY})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_handler(function: Function, name: str) -> Callable[[dict[str, Any], Any], Any]:
    """The function's handler, its module imported from its code directory under `name`: two
    functions' `app` modules live side by side. The directory is on the path while it imports
    (app.py imports its siblings by their plain names), which are then dropped from
    sys.modules, so that another function's module of the same name is not taken for them."""
    module_name, _, attribute = function.handler.rpartition(".")
    directory = function.code_dir
    spec = importlib.util.spec_from_file_location(name, directory / f"{module_name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    siblings = {path.stem for path in directory.glob("*.py")}
    for sibling in siblings:
        sys.modules.pop(sibling, None)
    sys.path.insert(0, str(directory))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(directory))
        for sibling in siblings:
            loaded = sys.modules.get(sibling)
            if isinstance(loaded, ModuleType) and _defined_in(loaded, directory):
                del sys.modules[sibling]
    return getattr(module, attribute)


def _defined_in(module: ModuleType, directory: Path) -> bool:
    file = getattr(module, "__file__", None)
    return file is not None and Path(file).parent == directory


def context(function: str) -> LambdaContext:
    arn = f"arn:aws:lambda:{config.REGION}:{config.ACCOUNT_ID}:function:{function}"
    return LambdaContext(arn, "bench", int(time.time() * 1000) + 60_000)


# --- what a handler sends ----------------------------------------------------------------------


@contextmanager
def all_calls() -> Iterator[Counter[str]]:
    """Every AWS API call made in the block, by any client of any session: `service.Operation`."""
    calls: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls[f"{self.meta.service_model.service_name}.{operation_name}"] += 1
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


class Recorder:
    """Keeps the parameters of the calls a client makes while `on`: what a bare batch replays.
    Registered once, it runs for the handler's calls and for the bare ones alike."""

    def __init__(self, client: Any) -> None:
        self.on = False
        self.params: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params.dynamodb", self._keep)

    def _keep(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.on:
            self.params.append((model.name, params))

    @contextmanager
    def recording(self) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        self.params, self.on = [], True
        try:
            yield self.params
        finally:
            self.on = False


def bare_call(client: Any, operation: str, params: dict[str, Any]) -> Callable[[], Any]:
    """The call again, as the handler made it. The idempotency token the SDK added to the
    handler's transaction is left out: the SDK adds one to this call as well."""
    method = getattr(client, botocore.xform_name(operation))
    kept = {k: v for k, v in copy.deepcopy(params).items() if k != "ClientRequestToken"}
    return lambda: method(**kept)


def renamed(params: dict[str, Any], table: str, other: str) -> dict[str, Any]:
    """The parameters with every TableName `table` made `other`."""
    text = json.dumps(params).replace(json.dumps(table), json.dumps(other))
    return json.loads(text)  # type: ignore[no-any-return]


# --- measuring --------------------------------------------------------------------------------


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """The handlers' log lines and metrics (JSON on stdout, as in Lambda) to /dev/null: written,
    so paid for, but not shown. At the descriptor: Powertools holds sys.stdout from its start."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def timed(calls: list[Callable[[], Any]]) -> tuple[float, list[Any]]:
    """Operations a second over the batch, and what each call returned."""
    started = time.perf_counter()
    answers = [call() for call in calls]
    return len(calls) / (time.perf_counter() - started), answers


@dataclass
class Rounds:
    handler: list[float]
    bare: list[float]

    def figure(self, **details: Any) -> dict[str, Any]:
        handler, bare = statistics.median(self.handler), statistics.median(self.bare)
        return {
            "ratio": round(handler / bare, 3),
            "handler_ops_per_s": round(handler, 1),
            "bare_ops_per_s": round(bare, 1),
            "rounds": len(self.handler),
            "batch": BATCH,
            **details,
        }


def top_costs(profile: cProfile.Profile, count: int = 3) -> dict[str, str]:
    """Where a profiled batch's time goes beside its AWS calls: `beside_calls`, the share spent
    outside the SDK's functions altogether, then the `count` largest cumulative costs there as
    {"module:function": share of the batch's time}. The SDK's side is left out: its functions,
    what only they call (the standard library's HTTP, JSON of a response), and every function
    that leads to them (the handler, the resolver, the store's write), whose time is mostly the
    call. A function called from both sides counts for its calls from the handler's side; a
    function inside one already named is not named again."""
    stats = pstats.Stats(profile)
    table: dict[Key, Any] = stats.stats  # type: ignore[attr-defined]
    total = max(entry[3] for entry in table.values())
    callers: dict[Key, dict[Key, Any]] = {key: entry[4] for key, entry in table.items()}
    callees: dict[Key, set[Key]] = {}
    for key, by_caller in callers.items():
        for caller in by_caller:
            callees.setdefault(caller, set()).add(key)
    by_callee = {caller: dict.fromkeys(found) for caller, found in callees.items()}
    sdk = {key for key in table if _in_sdk(key)}
    changed = True
    while changed:  # what only the SDK calls is the SDK's
        inner = {k for k in table if k not in sdk and callers[k] and set(callers[k]) <= sdk}
        sdk |= inner
        changed = bool(inner)
    leading = _reaching(sdk, callers) - sdk

    def cost(key: Key) -> float:
        """Its time when called from the handler's side; calls from inside itself (recursion)
        are in its callers' time already."""
        outside = set(callers[key]) - sdk - _reaching({key}, by_callee)
        if not callers[key]:
            return float(table[key][3])
        return float(sum(callers[key][caller][3] for caller in outside))

    in_calls = sum(
        stats_of[3] for key in sdk for caller, stats_of in callers[key].items() if caller not in sdk
    )
    named: list[tuple[Key, float]] = []
    inside: set[Key] = set()
    candidates = [k for k in table if k not in sdk and k not in leading and k[0] != "~"]
    for key in sorted(candidates, key=cost, reverse=True):
        if len(named) == count:
            break
        if key not in inside:
            named.append((key, cost(key)))
            inside |= _reaching({key}, by_callee)
    return {
        "beside_calls": f"{1 - in_calls / total:.1%}",
        **{_where(key): f"{spent / total:.1%}" for key, spent in named},
    }


def _reaching(start: set[Key], edges: Mapping[Key, Mapping[Key, Any]]) -> set[Key]:
    """`start` and every function reached from it along `edges`."""
    found, frontier = set(start), list(start)
    while frontier:
        for other in edges.get(frontier.pop(), {}):
            if other not in found:
                found.add(other)
                frontier.append(other)
    return found


def _in_sdk(key: Key) -> bool:
    module = _module(key)
    return bool(module) and module[0] in SDK_MODULES


def _module(key: Key) -> tuple[str, ...]:
    """The dotted module path of a profiled function's file: from site-packages, the standard
    library or the repository's root (the layer's code from its package)."""
    if key[0].startswith("<frozen "):  # the standard library's frozen modules: <frozen os>
        return (key[0].removeprefix("<frozen ").removesuffix(">"),)
    path = Path(key[0])
    parts = path.with_suffix("").parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1 :]
    if path.is_relative_to(ROOT):
        parts = path.relative_to(ROOT).with_suffix("").parts
        return parts[2:] if parts[:2] == ("layers", "core") else parts
    for n, part in enumerate(parts):
        if part.startswith("python3."):
            return parts[n + 1 :]
    return parts[-1:]


def _where(key: Key) -> str:
    """module:function"""
    return f"{'.'.join(_module(key)).removesuffix('.__init__')}:{key[2]}"


def profiled(calls: list[Callable[[], Any]]) -> cProfile.Profile:
    profile = cProfile.Profile()
    profile.enable()
    for call in calls:
        call()
    profile.disable()
    return profile


# --- the two figures ---------------------------------------------------------------------------


class WebhookDeliveries:
    """Signed payment.failed webhooks of WEBHOOK_ORG, each a payment of its own, as API Gateway
    passes them to the function (the sample events/webhooks_payments_failed.json, signed now as
    tools/send_event.py signs it)."""

    def __init__(self) -> None:
        self.sample = http_sample(PAYMENT_FAILED)
        self.body = json.loads(sample_body(self.sample))
        self.sent = 0

    def next(self) -> dict[str, Any]:
        self.sent += 1
        now = datetime.now(UTC)
        body = copy.deepcopy(self.body)
        body["data"] |= {"organization_id": WEBHOOK_ORG, "payment_id": f"pay_oh_{self.sent:06d}"}
        body["occurred_at"] = demo.rfc3339(now, timespec="milliseconds")
        text = json.dumps(body, ensure_ascii=False)
        secret = config.PAYMENTS_WEBHOOK_SECRET
        signed = demo.signed_headers(secret, f"msg_oh_{self.sent:06d}", text, now)
        event = copy.deepcopy(self.sample)
        event["headers"] |= signed | {"content-length": str(len(text.encode()))}
        return event | {"body": text, "isBase64Encoded": False}


def webhook_overhead(stack: LocalFunctions, handler: Any, ddb: Any, rounds: int) -> dict[str, Any]:
    bare_table = f"{stack.table}-bare"
    create_table(ddb, bare_table)
    deliveries = WebhookDeliveries()
    recorder = Recorder(ddb)
    ctx = context("WebhooksFunction")

    def invocation(event: dict[str, Any]) -> Callable[[], Any]:
        return lambda: handler(event, ctx)

    def check(answers: list[Any]) -> None:
        for answer in answers:
            assert answer["statusCode"] == 200, answer
            assert json.loads(answer["body"]) == {"status": "accepted"}, answer

    with quiet_stdout():  # the first call also reads the webhook secret (cached 300 s)
        check([handler(deliveries.next(), ctx) for _ in range(WARM_UP)])
    with all_calls() as calls, quiet_stdout():
        check([handler(deliveries.next(), ctx)])
    assert calls == {"dynamodb.TransactWriteItems": 1}, calls
    found = Rounds([], [])
    for _ in range(rounds):
        batch = [invocation(deliveries.next()) for _ in range(BATCH)]
        with recorder.recording() as sent, quiet_stdout():
            ops, answers = timed(batch)
        check(answers)
        found.handler.append(ops)
        replays = [
            bare_call(ddb, operation, renamed(params, stack.table, bare_table))
            for operation, params in sent
        ]
        assert len(replays) == BATCH, sent
        with quiet_stdout():
            ops, _ = timed(replays)
        found.bare.append(ops)
    with quiet_stdout():
        profile = profiled([invocation(deliveries.next()) for _ in range(BATCH)])
    return found.figure(by_api=dict(calls), top_costs=top_costs(profile))


def list_event(organization_id: str = LIST_ORG) -> dict[str, Any]:
    """GET /transactions?limit=50 by a billing admin of the organization (the sample's claims,
    its organization changed)."""
    event = json.loads(LIST_SAMPLE.read_text())
    event["requestContext"]["authorizer"]["jwt"]["claims"]["org_id"] = organization_id
    return event  # type: ignore[no-any-return]


def seed_list(ddb: Any, table: str) -> None:
    """LIST_ENTRIES open failures of LIST_ORG, written by the webhook's use case."""
    store = DynamoEntryStore(ddb, table)
    for n in range(LIST_ENTRIES):
        at = f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:00:00.000000000Z"
        delivery, body = webhook(
            PAYMENT_FAILED, f"msg_list_{n}", at, organization_id=LIST_ORG, payment_id=f"pay_{n}"
        )
        accepted(payment_webhook.handle_payment_event(store, DiscardingPublisher(), delivery, body))


def list_overhead(stack: LocalFunctions, handler: Any, ddb: Any, rounds: int) -> dict[str, Any]:
    seed_list(ddb, stack.table)
    recorder = Recorder(ddb)
    ctx = context("ApiFunction")
    event = list_event()

    def invocation() -> Any:
        return handler(event, ctx)

    def check(answer: dict[str, Any]) -> None:
        assert answer["statusCode"] == 200, answer
        assert len(json.loads(answer["body"])["items"]) == 50, answer

    with quiet_stdout():
        for _ in range(WARM_UP):
            check(invocation())
    with all_calls() as calls, recorder.recording() as sent, quiet_stdout():
        check(invocation())
    assert calls == {"dynamodb.Query": 1}, calls
    ((operation, params),) = sent
    bare = bare_call(ddb, operation, params)
    assert len(bare()["Items"]) == 51  # a page and one more, to know it is not the last
    found = Rounds([], [])
    for _ in range(rounds):
        with quiet_stdout():
            ops, answers = timed([invocation] * BATCH)
        check(answers[-1])
        found.handler.append(ops)
        with quiet_stdout():
            ops, _ = timed([bare] * BATCH)
        found.bare.append(ops)
    with quiet_stdout():
        profile = profiled([invocation] * BATCH)
    return found.figure(by_api=dict(calls), top_costs=top_costs(profile))


def measure(table: str, rounds: int = ROUNDS) -> dict[str, dict[str, Any]]:
    """Both figures, in one run on fresh local services."""
    warnings.filterwarnings("ignore", message=NO_METRICS_WARNING, category=UserWarning)
    with provisioned(table) as stack:
        variables = stack.environment("WebhooksFunction") | stack.environment("ApiFunction")
        with function_environment(variables):
            webhooks = load_handler(stack.functions["WebhooksFunction"], "_bench_webhooks_app")
            api = load_handler(stack.functions["ApiFunction"], "_bench_api_app")
            from payment_action_center.adapters.clients import client

            ddb = client("dynamodb")  # the handlers' own, made with their environment
            return {
                "webhook": webhook_overhead(stack, webhooks, ddb, rounds),
                "list": list_overhead(stack, api, ddb, rounds),
            }
