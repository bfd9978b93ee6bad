"""A local API Gateway HTTP API: real HTTP in, payload format 2.0 events to the functions.

Routes come from template.yaml; a route with the JWT authorizer needs a token the authorizer would
accept (local/auth.py). Paths under /_local/ are the local-only endpoints (local/endpoints.py).
"""

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local import auth, config
from local.services import LocalServiceError
from local.template import JwtAuthorizer, Route
from local.workers import FunctionError, FunctionTimeout

log = logging.getLogger("local.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API's payload limit

type Reply = tuple[int, Any]  # status and a JSON-serialisable body
type Invoke = Callable[[str, dict[str, Any]], Any]


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


class Gateway:
    """`with Gateway(routes, authorizers, invoke, local_endpoints, port=3000) as api:` api.url"""

    def __init__(
        self,
        routes: Sequence[Route],
        authorizers: Mapping[str, JwtAuthorizer],
        invoke: Invoke,
        local_endpoints: Mapping[str, LocalEndpoint],
        *,
        port: int = config.DEFAULT_PORTS["gateway"],
        host: str = "127.0.0.1",
    ) -> None:
        missing = {r.authorizer for r in routes if r.authorizer} - set(authorizers)
        if missing:
            raise LocalServiceError(f"template.yaml: no JWT authorizer named {sorted(missing)}")
        self.routes = sorted((CompiledRoute.of(r) for r in routes), key=lambda r: r.precedence)
        self.authorizers = authorizers
        self.invoke = invoke
        self.local_endpoints = local_endpoints
        self._local_patterns = [  # "POST /_local/schedules/{name}": a route with parameters
            (CompiledRoute.of(Route(*key.split(" ", 1), function_id="", authorizer=None)), call)
            for key, call in local_endpoints.items()
            if "{" in key
        ]
        self.host, self.port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        gateway = self

        class Handler(_RequestHandler):
            pass

        Handler.gateway = gateway
        try:
            self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as error:
            raise LocalServiceError(
                f"gateway: cannot listen on {self.host}:{self.port} ({error.strerror});"
                " stop what uses it or choose another port (PAC_GATEWAY_PORT)."
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="gateway", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> "Gateway":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def local_endpoint(self, method: str, path: str) -> tuple[LocalEndpoint, dict[str, str]] | None:
        """The local-only endpoint for this request and its path parameters, if any."""
        endpoint = self.local_endpoints.get(f"{method} {path}")
        if endpoint is not None:
            return endpoint, {}
        for compiled, call in self._local_patterns:
            found = compiled.route.method == method and compiled.pattern.fullmatch(path)
            if found:
                return call, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for compiled in self.routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            found = compiled.pattern.fullmatch(path)
            if found:
                return compiled.route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None


@dataclass(frozen=True)
class Response:
    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes

    @classmethod
    def json(cls, status: int, body: Any, headers: Sequence[tuple[str, str]] = ()) -> "Response":
        data = json.dumps(body).encode()
        return cls(status, [("content-type", "application/json"), *headers], data)


NOT_FOUND = Response.json(404, {"message": "Not Found"})
UNAUTHORIZED = Response.json(
    401,
    {"code": "unauthorized", "message": "Unauthorized"},
    [("www-authenticate", 'Bearer error="invalid_token"')],
)
INTERNAL_ERROR = Response.json(500, {"message": "Internal Server Error"})
UNAVAILABLE = Response.json(503, {"message": "Service Unavailable"})
TOO_LARGE = Response.json(413, {"message": "Request Entity Too Large"})
BAD_REQUEST = Response.json(400, {"message": "Bad Request"})


class _RequestHandler(BaseHTTPRequestHandler):
    gateway: Gateway
    protocol_version = "HTTP/1.1"  # keep-alive: every answer has a Content-Length
    server_version = "local-api-gateway"

    def do_request(self) -> None:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        try:
            response = self.answer(request_id)
        except Exception:
            log.exception("gateway: %s %s failed", self.command, self.path)
            response = INTERNAL_ERROR
        self.send(response, request_id)
        elapsed = (time.perf_counter() - started) * 1000
        log.info("%s %s -> %d (%.0f ms)", self.command, self.path, response.status, elapsed)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_request

    def answer(self, request_id: str) -> Response:
        try:
            body = self.read_body()
        except ValueError:  # a Content-Length or chunk size that is not a number
            self.close_connection = True
            return BAD_REQUEST
        if body is None:
            return TOO_LARGE
        url = urlsplit(self.path)
        path = url.path or "/"
        local = self.gateway.local_endpoint(self.command, path)
        if local is not None:
            return self.call_local(*local, path=path, query=url.query, body=body)
        matched = self.gateway.match(self.command, path)
        if matched is None:
            return NOT_FOUND
        return self.call_function(*matched, query=url.query, body=body, request_id=request_id)

    def call_function(
        self,
        route: Route,
        path_parameters: dict[str, str],
        *,
        query: str,
        body: bytes,
        request_id: str,
    ) -> Response:
        claims = None
        if route.authorizer is not None:
            try:
                claims = auth.verify(
                    self.headers.get("authorization"), self.gateway.authorizers[route.authorizer]
                )
            except auth.Unauthorized as refused:
                log.info("gateway: 401 for %s %s: %s", self.command, self.path, refused)
                return UNAUTHORIZED
        event = self.event(
            route, path_parameters, query=query, body=body, claims=claims, request_id=request_id
        )
        try:
            result = self.gateway.invoke(route.function_id, event)
        except FunctionTimeout as error:
            log.error("gateway: %s", error)
            return UNAVAILABLE
        except FunctionError as error:
            log.error("gateway: %s", error)
            return INTERNAL_ERROR
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

    def call_local(
        self,
        endpoint: LocalEndpoint,
        path_parameters: dict[str, str],
        *,
        path: str,
        query: str,
        body: bytes,
    ) -> Response:
        request = LocalRequest(
            method=self.command,
            path=path,
            query=dict(parse_qsl(query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
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
        query: str,
        body: bytes,
        claims: dict[str, str] | None,
        request_id: str,
    ) -> dict[str, Any]:
        """The payload format 2.0 event API Gateway would send for this request."""
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
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
                "path": unquote(urlsplit(self.path).path),
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
            "rawPath": urlsplit(self.path).path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": False,
        }
        if cookie:
            event["cookies"] = [c.strip() for c in cookie.split(";") if c.strip()]
        parameters: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
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
