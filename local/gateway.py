"""A local API Gateway HTTP API: real HTTP in, payload format 2.0 events to the functions.

Routes come from template.yaml; a route with the JWT authorizer needs a token the authorizer would
accept (local/auth.py: RS256, checked with the keys its issuer publishes). Paths under /_local/
are the local-only endpoints (local/endpoints.py).
Given `pages` (local/static.py: the console's demo host page at / and its files under /console/),
the gateway asks them first: a GET or HEAD they answer never reaches a route.
The request target is read as UTF-8, raw or percent-encoded, as API Gateway reads it.

Gateway-level errors: the answers given before or instead of a function's. Each has API Gateway's
status and exact `message`, plus a `code` as every handler error has, so that a client written
against either shape works (docs/local-gateway.md compares them with AWS, which sends no `code`):

    400 bad_request             a malformed request, or a path or query that is not UTF-8
    401 unauthorized            no token, or one the JWT authorizer refuses (+ www-authenticate)
    404 not_found               no route for this method and path (TRACE, CONNECT... have none)
    413 payload_too_large       a body over 10 MB ("Request Entity Too Large")
    500 internal_error          the function raised, failed its init, or its process died
    503 service_unavailable     the function ran past its Timeout
    503 starting                the stack is still loading its demo data (+ retry-after: 1)

What http.server itself refuses (a request line or headers too long, an HTTP version it cannot
speak) has the same shape: the status's phrase as `message`, in snake case as `code`.

Each request makes one console line (method, target, status, milliseconds, and why for a 401 or a
5xx); a client that leaves before its answer is written makes a debug line, not a traceback.
`Gateway.observer`, when set (bench/throughput.py), is told each request's time, from its headers
read to its answer written.
"""

import base64
import hmac
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from local import auth, config
from local.services import LocalServiceError, ThreadedServer
from local.template import JwtAuthorizer, Route
from local.workers import FunctionError, FunctionTimeout

log = logging.getLogger("local.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API's payload limit
# While the stack loads its demo data, only requests with this header, the gateway's random pass
# as value, get through (local/demo.py's deliveries); the functions never see it.
LOADER_HEADER = "x-pac-local-loader"
# The client went away before its answer was written: nothing to answer, nothing to report.
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)

type Reply = tuple[int, Any]  # status and a JSON-serialisable body
type Invoke = Callable[[str, dict[str, Any]], Any]
type RequestObserver = Callable[["RequestTiming"], None]


@dataclass(frozen=True)
class RequestTiming:
    """One request as the gateway served it."""

    method: str
    target: str  # as sent
    status: int
    seconds: float  # from its headers read to its answer written


class BadRequest(Exception):
    """A local endpoint refuses its input: 400 with the message."""


@dataclass(frozen=True)
class LocalRequest:
    """What a local-only endpoint receives."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    path_parameters: Mapping[str, str] = field(default_factory=dict)  # {name} in its route

    def json(self, default: Any = None) -> Any:
        """The body parsed as JSON (`default` when empty); BadRequest if it is not JSON."""
        if not self.body.strip():
            return default
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise BadRequest(f"the body is not JSON: {error}") from None


type LocalEndpoint = Callable[[LocalRequest], Reply]


class Pages(Protocol):
    """Static pages served beside the API (local/static.py's ConsolePages)."""

    @property
    def samples(self) -> Sequence[str]:
        """One path of each kind they answer (/, /console/x.js...): what no route may match."""
        ...

    def answer(self, method: str, path: str) -> "Response | None":
        """The answer to this method and decoded path, or None: not theirs, route it on."""
        ...


@dataclass(frozen=True)
class Target:
    """The request target as API Gateway reads it: UTF-8, whether sent raw or percent-encoded."""

    path: str  # as sent, percent-encoding kept: rawPath, and what routes match
    query: str  # as sent: rawQueryString
    parameters: list[tuple[str, str]]  # the query decoded, in order

    @classmethod
    def of(cls, request_target: str) -> "Target":
        """UnicodeDecodeError if the target is not UTF-8, raw or once percent-decoded.

        http.server gives the request line as Latin-1 text: its bytes are what the client sent.
        """
        url = urlsplit(request_target.encode("latin-1").decode("utf-8"))
        target = cls(
            path=url.path or "/",
            query=url.query,
            parameters=parse_qsl(url.query, keep_blank_values=True, errors="strict"),
        )
        target.decoded_path()  # refused now rather than when the event is built
        return target

    def decoded_path(self) -> str:
        return unquote(self.path, errors="strict")


def readable_target(request_target: str) -> str:
    """The target for a console line: UTF-8 where it is, never an error."""
    return request_target.encode("latin-1", "replace").decode("utf-8", "replace")


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, route: Route) -> "CompiledRoute":
        if route.path == "$default":
            return cls(route, re.compile(r"(?s).*"))
        pattern = ""
        for segment in route.path.strip("/").split("/"):
            name = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
            if name is None:
                pattern += "/" + re.escape(segment)
            else:
                pattern += f"/(?P<{name[1]}>{'.+' if name[2] else '[^/]+'})"
        return cls(route, re.compile(pattern or "/"))

    @property
    def precedence(self) -> tuple[int, int, int, int]:
        """HTTP API's order: literal paths first, then fewer parameters, greedy last, ANY last."""
        path = self.route.path
        return (path == "$default", path.count("+}"), path.count("{"), self.route.method == "ANY")


class Gateway(ThreadedServer):
    """`with Gateway(routes, authorizers, invoke, local_endpoints, port=3000) as api:` api.url

    `starting=True`: every request answers 503 (code `starting`) until `open()`, except those
    carrying `loader_headers` (the demo loader's deliveries).

    `keys` are where the JWT authorizers find their issuers' public keys (local/auth.py; by
    default the issuers' own discovery documents and JWKS, as API Gateway does).

    `pages` are asked before any route. A template route that would answer a GET of one of their
    paths is refused (LocalServiceError) rather than silently shadowed; `$default`, the catch-all,
    only gets what nothing else takes, there as in AWS.
    """

    name = "gateway"

    def __init__(
        self,
        routes: Sequence[Route],
        authorizers: Mapping[str, JwtAuthorizer],
        invoke: Invoke,
        local_endpoints: Mapping[str, LocalEndpoint],
        *,
        port: int = config.DEFAULT_PORTS["gateway"],
        host: str = "127.0.0.1",
        starting: bool = False,
        pages: Pages | None = None,
        keys: auth.KeySource | None = None,
    ) -> None:
        missing = {r.authorizer for r in routes if r.authorizer} - set(authorizers)
        if missing:
            raise LocalServiceError(f"template.yaml: no JWT authorizer named {sorted(missing)}")
        self.routes = sorted((CompiledRoute.of(r) for r in routes), key=lambda r: r.precedence)
        self.pages = pages
        if pages is not None:
            shadowed = shadowed_routes(self.routes, pages)
            if shadowed:
                raise LocalServiceError(
                    f"template.yaml: the routes {', '.join(shadowed)} would answer paths the local"
                    " gateway keeps for the console (/, /console/...; local/static.py)"
                )
        self.authorizers = authorizers
        self.keys: auth.KeySource = keys or auth.DiscoveredKeys()
        self.invoke = invoke
        self.local_endpoints = local_endpoints
        self._local_patterns = [  # "POST /_local/schedules/{name}": a route with parameters
            (CompiledRoute.of(Route(*key.split(" ", 1), function_id="", authorizer=None)), call)
            for key, call in local_endpoints.items()
            if "{" in key
        ]
        self.host, self.port = host, port
        self.observer: RequestObserver | None = None
        self._loader_pass = secrets.token_urlsafe(24)  # per gateway: nobody outside can guess it
        self._open = threading.Event()
        if not starting:
            self._open.set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def loader_headers(self) -> dict[str, str]:
        """The header that lets a request through while the gateway is starting."""
        return {LOADER_HEADER: self._loader_pass}

    @property
    def ready(self) -> bool:
        return self._open.is_set()

    def open(self) -> None:
        """Serve everyone from now on."""
        self._open.set()

    def admits(self, loader_pass: str | None) -> bool:
        """Open to everyone, or a request of the loader (its LOADER_HEADER, if any)."""
        if self._open.is_set():
            return True
        given = (loader_pass or "").encode("latin-1", "replace")
        return hmac.compare_digest(given, self._loader_pass.encode())

    def make_server(self) -> ThreadingHTTPServer:
        class Handler(_RequestHandler):
            pass

        Handler.gateway = self
        try:
            return _Server((self.host, self.port), Handler)
        except OSError as error:
            raise LocalServiceError(
                f"gateway: cannot listen on {self.host}:{self.port} ({error.strerror});"
                " stop what uses it or choose another port (PAC_GATEWAY_PORT)."
            ) from None

    def local_endpoint(self, method: str, path: str) -> tuple[LocalEndpoint, dict[str, str]] | None:
        """The local-only endpoint for this request and its path parameters, if any."""
        endpoint = self.local_endpoints.get(f"{method} {path}")
        if endpoint is not None:
            return endpoint, {}
        for compiled, call in self._local_patterns:
            found = compiled.route.method == method and compiled.pattern.fullmatch(path)
            if found:
                return call, {k: unquote(v, errors="strict") for k, v in found.groupdict().items()}
        return None

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for compiled in self.routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            found = compiled.pattern.fullmatch(path)
            if found:
                parameters = {k: unquote(v, errors="strict") for k, v in found.groupdict().items()}
                return compiled.route, parameters
        return None


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5. When more clients connect at once than the accept
    # loop takes in time (32 webhook senders, bench/throughput.py), Linux drops their handshake's
    # last ACK: their requests hang for seconds (SYN-ACK retries: 1, 2, 4... s), and after 31 s
    # the client gets a reset. API Gateway refuses no connection; 256 holds a burst of that many.
    request_queue_size = 256


def shadowed_routes(routes: Sequence[CompiledRoute], pages: Pages) -> list[str]:
    """The keys of the routes (but `$default`) that would answer a GET of one of the pages'
    sample paths: matched as a request would be, so that a `/{proxy+}` is caught too."""
    return [
        compiled.route.key
        for compiled in routes
        if compiled.route.path != "$default"
        and compiled.route.method in ("GET", "HEAD", "ANY")
        and any(compiled.pattern.fullmatch(sample) for sample in pages.samples)
    ]


@dataclass(frozen=True)
class Response:
    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes
    note: str = ""  # why, for the console line; never sent

    @classmethod
    def json(cls, status: int, body: Any, headers: Sequence[tuple[str, str]] = ()) -> "Response":
        data = json.dumps(body).encode()
        return cls(status, [("content-type", "application/json"), *headers], data)


# status -> (code, API Gateway's message); other statuses: the phrase, and the phrase as code.
GATEWAY_ERROR_WORDS = {
    400: ("bad_request", "Bad Request"),
    401: ("unauthorized", "Unauthorized"),
    404: ("not_found", "Not Found"),
    413: ("payload_too_large", "Request Entity Too Large"),  # RFC 9110 says "Content Too Large"
    500: ("internal_error", "Internal Server Error"),
    503: ("service_unavailable", "Service Unavailable"),
}


def gateway_error(status: int, code: str = "", headers: Sequence[tuple[str, str]] = ()) -> Response:
    """A gateway-level error: API Gateway's status and `message`, and a `code` (see above)."""
    phrase = HTTPStatus(status).phrase
    default = (re.sub(r"\W+", "_", phrase).lower(), phrase)
    known_code, message = GATEWAY_ERROR_WORDS.get(status, default)
    return Response.json(status, {"message": message, "code": code or known_code}, headers)


BAD_REQUEST = gateway_error(400)
UNAUTHORIZED = gateway_error(401, headers=[("www-authenticate", 'Bearer error="invalid_token"')])
NOT_FOUND = gateway_error(404)
TOO_LARGE = gateway_error(413)
INTERNAL_ERROR = gateway_error(500)
UNAVAILABLE = gateway_error(503)
STARTING = gateway_error(503, "starting", headers=[("retry-after", "1")])


class _RequestHandler(BaseHTTPRequestHandler):
    gateway: Gateway
    protocol_version = "HTTP/1.1"  # keep-alive: every answer has a Content-Length
    server_version = "local-api-gateway"
    # An answer is written in two sends, its headers then its body. With Nagle's algorithm the body
    # waits for the client's ACK of the headers, which a keep-alive client delays (about 40 ms on
    # Linux): every request would take 40 ms more (bench/throughput.py's `outside`).
    disable_nagle_algorithm = True

    def handle(self) -> None:
        try:
            super().handle()
        except CLIENT_GONE as gone:
            log.debug("gateway: the client left before its answer was written (%s)", gone)

    def do_request(self) -> None:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        try:
            response = self.answer(request_id)
        except Exception:
            log.exception("gateway: %s %s failed", self.command, readable_target(self.path))
            response = INTERNAL_ERROR
        self.log_answer(response, started)
        self.send(response, request_id)
        observer = self.gateway.observer
        if observer is not None:
            seconds = time.perf_counter() - started
            observer(RequestTiming(self.command, self.path, response.status, seconds))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_request

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method with no do_<METHOD> 501 in HTML. An HTTP API's routes take
        # seven methods (and ANY of them): no route matches another, hence its 404.
        if name.startswith("do_"):
            return self.refuse_method
        raise AttributeError(name)

    def refuse_method(self) -> None:
        self.close_connection = True  # its body, if any, is not read
        self.log_answer(NOT_FOUND, time.perf_counter())
        self.send(NOT_FOUND, str(uuid.uuid4()))

    def log_answer(self, response: Response, started: float) -> None:
        """The request's one console line. Logged before the answer is written: once the client
        has its answer, the line is there (tests read it)."""
        elapsed = (time.perf_counter() - started) * 1000
        why = f": {response.note}" if response.note else ""
        target = readable_target(self.path)
        log.info("%s %s -> %d (%.0f ms)%s", self.command, target, response.status, elapsed, why)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What http.server refuses before any route is looked up (a request line or headers too
        long, an unknown HTTP version), in the gateway's JSON shape instead of its HTML page."""
        self.close_connection = True
        log.info("%r -> %d (%s)", self.requestline, code, message or HTTPStatus(code).phrase)
        self.send(gateway_error(code), str(uuid.uuid4()))

    def answer(self, request_id: str) -> Response:
        try:
            body = self.read_body()
        except ValueError:  # a Content-Length or chunk size that is not a number
            self.close_connection = True
            return BAD_REQUEST
        if body is None:
            return TOO_LARGE
        if not self.gateway.admits(self.headers.get(LOADER_HEADER)):
            return STARTING
        try:
            target = Target.of(self.path)
        except UnicodeDecodeError:
            return replace(BAD_REQUEST, note="the path or the query is not UTF-8")
        return self.route(target, body, request_id)

    def route(self, target: Target, body: bytes, request_id: str) -> Response:
        if self.gateway.pages is not None:
            page = self.gateway.pages.answer(self.command, target.decoded_path())
            if page is not None:
                return page
        local = self.gateway.local_endpoint(self.command, target.path)
        if local is not None:
            return self.call_local(*local, target=target, body=body)
        matched = self.gateway.match(self.command, target.path)
        if matched is None:
            return NOT_FOUND
        return self.call_function(*matched, target=target, body=body, request_id=request_id)

    def call_function(
        self,
        route: Route,
        path_parameters: dict[str, str],
        *,
        target: Target,
        body: bytes,
        request_id: str,
    ) -> Response:
        claims = None
        if route.authorizer is not None:
            try:
                claims = auth.verify(
                    self.headers.get("authorization"),
                    self.gateway.authorizers[route.authorizer],
                    self.gateway.keys,
                )
            except auth.Unauthorized as refused:
                return replace(UNAUTHORIZED, note=str(refused))
        event = self.event(
            route, path_parameters, target=target, body=body, claims=claims, request_id=request_id
        )
        try:
            result = self.gateway.invoke(route.function_id, event)
        except FunctionTimeout as error:
            return replace(UNAVAILABLE, note=str(error))
        except FunctionError as error:
            return replace(INTERNAL_ERROR, note=str(error))
        return function_response(result)

    def read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self.read_chunked()
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def read_chunked(self) -> bytes | None:
        body = b""
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            body += self.rfile.read(size)
            self.rfile.readline()
            if len(body) > MAX_BODY_BYTES:
                self.close_connection = True
                return None
        while self.rfile.readline().strip():  # trailers
            pass
        return body

    def request_headers(self) -> dict[str, str]:
        """The headers as HTTP API passes them on: names in lower case, repeats comma-joined,
        without the loader's pass."""
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            if key != LOADER_HEADER:
                headers[key] = f"{headers[key]},{value}" if key in headers else value
        return headers

    def call_local(
        self,
        endpoint: LocalEndpoint,
        path_parameters: dict[str, str],
        *,
        target: Target,
        body: bytes,
    ) -> Response:
        request = LocalRequest(
            method=self.command,
            path=target.path,
            query=dict(target.parameters),
            headers={k.lower(): v for k, v in self.headers.items() if k.lower() != LOADER_HEADER},
            body=body,
            path_parameters=path_parameters,
        )
        try:
            status, reply = endpoint(request)
        except BadRequest as error:
            return Response.json(400, {"code": "bad_request", "message": str(error)})
        return Response.json(status, reply)

    def event(
        self,
        route: Route,
        path_parameters: dict[str, str],
        *,
        target: Target,
        body: bytes,
        claims: dict[str, str] | None,
        request_id: str,
    ) -> dict[str, Any]:
        """The payload format 2.0 event API Gateway would send for this request."""
        headers = self.request_headers()
        cookie = headers.pop("cookie", None)
        headers.setdefault("x-forwarded-for", self.client_address[0])
        headers.setdefault("x-forwarded-proto", "http")
        headers.setdefault("x-forwarded-port", str(self.gateway.port))
        now = datetime.now(UTC)
        context: dict[str, Any] = {
            "accountId": config.ACCOUNT_ID,
            "apiId": "local",
            "domainName": headers.get("host", self.gateway.host).split(":")[0],
            "domainPrefix": "local",
            "http": {
                "method": self.command,
                "path": target.decoded_path(),
                "protocol": self.request_version,
                "sourceIp": self.client_address[0],
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        }
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": target.path,
            "rawQueryString": target.query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": False,
        }
        if cookie:
            event["cookies"] = [c.strip() for c in cookie.split(";") if c.strip()]
        parameters: dict[str, str] = {}
        for name, value in target.parameters:
            parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
        if parameters:
            event["queryStringParameters"] = parameters
        if path_parameters:
            event["pathParameters"] = path_parameters
        if body:
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        return event

    def send(self, response: Response, request_id: str) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("apigw-requestid", request_id)
        self.send_header("content-length", str(len(response.body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


def function_response(result: Any) -> Response:
    """The HTTP answer for a function's result, read as HTTP API reads payload format 2.0."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return Response.json(200, result)
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    headers += [("set-cookie", str(cookie)) for cookie in result.get("cookies") or []]
    body = result.get("body")
    if body is None:
        data = b""
    elif result.get("isBase64Encoded"):
        data = base64.b64decode(body)
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
    return Response(int(result["statusCode"]), headers, data)
