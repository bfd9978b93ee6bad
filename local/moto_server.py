"""The moto server (SES, SQS, EventBridge, Scheduler, Secrets Manager) in a process of its own.

`MotoServer(port)` runs `python -m local.moto_server --port N`. moto keeps what it received in this
process's memory (sent emails are not served over HTTP), so whatever must read moto's backends
directly belongs in this process: `GET /_local/outbox` here lists the emails SES accepted
(local/outbox.py), and the gateway's /_local/outbox forwards to it.
"""

import argparse
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from local import config, outbox
from local.lambda_worker import exit_with_parent
from local.services import Service

type WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class MotoServer(Service):
    """`with MotoServer(5000) as moto:` ... `moto.endpoint` (AWS_ENDPOINT_URL for the functions)."""

    name = "moto server"

    def command(self) -> Sequence[str]:
        return [
            sys.executable,
            "-m",
            "local.moto_server",
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]


def sent_messages() -> list[Any]:
    """What moto's SES (v1 and v2 alike) accepted in the local account and region, oldest first."""
    from moto.ses.models import ses_backends

    return list(ses_backends[config.ACCOUNT_ID][config.REGION].sent_messages)


def with_outbox(app: WsgiApp) -> WsgiApp:
    """moto's WSGI app, plus GET OUTBOX_PATH: {"messages": [...]} (local/outbox.py)."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != outbox.OUTBOX_PATH:
            return app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "GET":
            start_response("405 Method Not Allowed", [("Allow", "GET"), ("Content-Length", "0")])
            return [b""]
        body = json.dumps({"messages": outbox.messages(sent_messages())}).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return serve


def main(argv: Sequence[str] | None = None) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the stack; it stops us
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    exit_with_parent()
    server = make_server(
        args.host,
        args.port,
        with_outbox(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
