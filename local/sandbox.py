"""The sandbox payment processor, seen from outside: what it was asked (GET /_local/sandbox/charges)
and the settlement webhook it sends for a pending e-check (POST /_local/sandbox/settle).

The processor itself is the layer's `payment_action_center.processors.sandbox.SandboxProcessor`,
which keeps its ledger in the table: this module only reads and settles it, and delivers the
webhook through the gateway, signed as the processor would sign it.
"""

import importlib
import sys
import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from local import config, demo

MODULE = "payment_action_center.processors.sandbox"


class SandboxMissing(LookupError):
    """No layer of the template has the sandbox processor."""


class Sandbox:
    """`Sandbox(dynamodb_client, table, layer_dirs, gateway_url)`: calls(), settle(...)."""

    def __init__(
        self, client: Any, table_name: str, layer_dirs: Iterable[Path], gateway_url: str
    ) -> None:
        self._client = client
        self._table = table_name
        self._layer_dirs = list(layer_dirs)
        self._gateway_url = gateway_url
        self._processor: Any = None
        self._lock = threading.Lock()

    def processor(self) -> Any:
        """The layer's SandboxProcessor on the local table (the layer imported on first use)."""
        with self._lock:
            if self._processor is None:
                module = _import(self._layer_dirs)
                self._processor = module.SandboxProcessor(self._client, self._table)
            return self._processor

    def calls(self) -> list[dict[str, Any]]:
        return list(self.processor().calls())

    def settle(self, transaction_id: str, outcome: str) -> dict[str, Any] | None:
        """Settle the entry's pending retry and deliver the processor's webhook to the gateway.

        The webhook handler's answer; None if no retry of that entry is pending at the sandbox.
        demo.DeliveryRefused if the handler did not answer 200.
        """
        body = self.processor().settle(transaction_id, outcome, demo.rfc3339(datetime.now(UTC)))
        if body is None:
            return None
        try:
            with requests.Session() as session:
                return demo.deliver(
                    session,
                    f"{self._gateway_url}/webhooks/payments",
                    config.PAYMENTS_WEBHOOK_SECRET,
                    f"msg_sandbox_{uuid.uuid4().hex}",
                    body,
                )
        except Exception:
            # Not delivered: the charge is pending again, so a later settle can deliver it.
            self.processor().reopen(transaction_id, outcome)
            raise


def _import(layer_dirs: list[Path]) -> Any:
    """The sandbox module, from the first layer that has it (put on sys.path if need be)."""
    relative = Path(*MODULE.split(".")).with_suffix(".py")
    for directory in layer_dirs:
        if (directory / relative).exists():
            if str(directory) not in sys.path:
                sys.path.append(str(directory))
            return importlib.import_module(MODULE)
    raise SandboxMissing(
        f"no layer of the template has {relative} (searched {', '.join(map(str, layer_dirs))})"
    )
