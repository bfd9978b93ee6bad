"""The moto server (SES, SQS, EventBridge, Scheduler, Secrets Manager) in a process of its own.

`MotoServer(port)` runs `python -m local.moto_server --port N`. moto keeps what it received in this
process's memory (sent emails are not served over HTTP), so whatever must read moto's backends
directly, such as the local outbox, belongs in this process: this module is where to add it.
"""

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from local.lambda_worker import exit_with_parent
from local.services import Service


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
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
