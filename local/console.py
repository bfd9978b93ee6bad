"""What the local stack prints (README, local stack): the banner, one line per request from the
gateway, and what the functions print that is a warning or an error. Their JSON logs and metrics
below WARNING stay off the console unless PAC_VERBOSE=1: in AWS they go to CloudWatch, here they
would scroll the banner away at every request.
"""

import json
import logging
import os
from typing import IO

log = logging.getLogger("local.functions")

SHOWN_LEVELS = ("WARNING", "ERROR", "CRITICAL")


def configure() -> None:
    """The stack command's console: plain lines, from INFO up; the identity provider's
    (local/oidc.py) from WARNING up, as its every sign-in would make a line."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("oidc_provider_mock").setLevel(logging.WARNING)


def verbose() -> bool:
    return os.environ.get("PAC_VERBOSE") == "1"


def shown(line: str, *, verbose: bool) -> bool:
    """Whether a line a function printed belongs on the console.

    A Powertools log record (a JSON object) only from WARNING up; a metrics record (JSON, no
    level) never; anything else, a traceback, a warning or a print(), always.
    """
    if verbose:
        return True
    try:
        record = json.loads(line)
    except ValueError:
        return True
    if not isinstance(record, dict):
        return True
    return str(record.get("level", "")).upper() in SHOWN_LEVELS


def forward(output: IO[bytes], function: str, *, verbose: bool) -> None:
    """Copy what a function's worker prints to the console, line by line, until it exits."""
    with output:
        for raw in output:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.strip() and shown(line, verbose=verbose):
                log.warning("%s | %s", function, line)
