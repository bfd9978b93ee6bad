"""The console in the local stack: a demo host page and the static files of console/.

Local only, never deployed: in AWS the console is served by its own distribution with its own host
page (console/index.html), and the HTTP API of template.yaml serves no page. Locally the gateway
(local/gateway.py) answers these GET and HEAD requests before looking for a template route:

    /                          local/console_demo.html: mounts <payment-action-center>, signed in
                               as the demo admin (?lang=fr-CA, the default, or ?lang=en-CA)
    /_local/console-demo.js    local/console_demo.js, the demo page's script (a file, not inline,
                               so that the strict Content-Security-Policy below holds)
    /console/<path>            a regular file of console/, typed by its extension; the standalone
                               host page is /console/index.html, signing in at the local
                               identity provider (local/oidc.py)
    /console/config.json       that page's configuration (console/host.js), made by the stack
                               as tools/deploy_console.py writes it in AWS: the API, the issuer
                               and the audience of the template's JWT authorizer

Every answer carries the security headers the production distribution will send, so that a
console that works here does not break there on its CSP; connect-src names the identity
provider's origin as the template's names the issuer's. A path that is not such a file (a
folder, a `..` or hidden segment, a symlink leading out of console/, an unknown extension) gets
the gateway's 404 `{"message": "Not Found", "code": "not_found"}`.
"""

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from local.gateway import NOT_FOUND, Response
from tools.console_files import CONTENT_TYPES, HOST_CONFIG_NAME

HERE = Path(__file__).resolve().parent
CONSOLE_DIR = HERE.parent / "console"
DEMO_PAGE = HERE / "console_demo.html"
DEMO_SCRIPT = HERE / "console_demo.js"

DEMO_PAGE_PATH = "/"
DEMO_SCRIPT_PATH = "/_local/console-demo.js"
CONSOLE_PREFIX = "/console/"
HOST_CONFIG_PATH = f"{CONSOLE_PREFIX}{HOST_CONFIG_NAME}"
DEMO_LANGUAGES = ("fr-CA", "en-CA")  # the demo page's ?lang=, first is the default


def content_security_policy(connect: Sequence[str] = ()) -> str:
    """What the production distribution sends with the console (template.yaml,
    ConsoleResponseHeadersPolicy); `connect` are the origins it may call besides its own.
    `style-src 'unsafe-inline'` is for the <style> of the component's shadow root."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; connect-src {' '.join(("'self'", *connect))}; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
    )


def security_headers(connect: Sequence[str] = ()) -> tuple[tuple[str, str], ...]:
    return (
        ("content-security-policy", content_security_policy(connect)),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    )


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


METHODS = ("GET", "HEAD")
# A template route that would answer one of these is refused (local/gateway.py, Pages.samples).
SAMPLE_PATHS = (DEMO_PAGE_PATH, DEMO_SCRIPT_PATH, f"{CONSOLE_PREFIX}payment-action-center.js")
# One path segment the file system reads as itself: no `.`/`..`, no dotfile, no separator or NUL.
SAFE_SEGMENT = re.compile(r"[^./\\\x00][^/\\\x00]*")


def typed(content_type: str, body: bytes, security: Sequence[tuple[str, str]]) -> Response:
    headers = [("content-type", content_type), ("cache-control", "no-cache"), *security]
    return Response(200, headers, body)


def console_file(root: Path, relative: str) -> Path | None:
    """The regular file `relative` (a URL path below /console/, decoded) names inside `root`, or
    None: empty, a folder, a `.`, `..` or hidden segment, a symlink whose target is outside
    `root`, a missing file, or an extension not in CONTENT_TYPES."""
    segments: Sequence[str] = relative.split("/")
    if not all(SAFE_SEGMENT.fullmatch(segment) for segment in segments):
        return None
    base = root.resolve()
    try:
        found = base.joinpath(*segments).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a symlink loop, a name too long
        return None
    if not found.is_relative_to(base) or not found.is_file():
        return None
    if found.suffix.lower() not in CONTENT_TYPES:
        return None
    return found


class ConsolePages:
    """What the gateway serves besides the API and /_local/: `answer(method, path)` is the
    Response, or None when the request is not for these pages (the gateway routes it on).

    `host_config` is the standalone page's config.json (keys of console/host.js); without it
    that path is a 404, as on a distribution nobody deployed the console to.
    """

    def __init__(
        self,
        console_dir: Path = CONSOLE_DIR,
        demo_page: Path = DEMO_PAGE,
        demo_script: Path = DEMO_SCRIPT,
        host_config: Mapping[str, str] | None = None,
    ) -> None:
        self.console_dir = console_dir
        self.pages = {DEMO_PAGE_PATH: demo_page, DEMO_SCRIPT_PATH: demo_script}
        self.samples = SAMPLE_PATHS
        self.host_config = dict(host_config) if host_config is not None else None
        issuer = (host_config or {}).get("issuer")
        self.security = security_headers([origin_of(issuer)] if issuer else [])

    def not_found(self) -> Response:
        return Response(NOT_FOUND.status, [*NOT_FOUND.headers, *self.security], NOT_FOUND.body)

    def file(self, path: Path) -> Response:
        return typed(CONTENT_TYPES[path.suffix.lower()], path.read_bytes(), self.security)

    def claims(self, path: str) -> bool:
        """Whether a GET of this decoded path is one of ours (even if the file is missing)."""
        return path in self.pages or path.startswith(CONSOLE_PREFIX)

    def answer(self, method: str, path: str) -> Response | None:
        """`path` is the decoded URL path, without the query (the demo page reads ?lang= itself)."""
        if method not in METHODS or not self.claims(path):
            return None
        page = self.pages.get(path)
        if page is not None:
            return self.file(page)
        if path == HOST_CONFIG_PATH and self.host_config is not None:
            body = json.dumps(self.host_config).encode()
            return typed(CONTENT_TYPES[".json"], body, self.security)
        found = console_file(self.console_dir, path.removeprefix(CONSOLE_PREFIX))
        return self.not_found() if found is None else self.file(found)
