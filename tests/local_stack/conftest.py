"""The local stack's own parts (gateway, console, demo data, sandbox tools), with no
network. AWS calls go to moto in-process (tests/shared/moto_aws.py); sockets are refused, but to
127.0.0.1 in a test that asks for `loopback_only` (the identity provider it starts itself)."""

import socket
from typing import Any

import pytest

from tests.shared.moto_aws import aws, no_network

__all__ = ["aws", "loopback_only", "no_network"]

CONNECT = socket.socket.connect
CREATE_CONNECTION = socket.create_connection
LOOPBACK = "127.0.0.1"


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch, no_network: None) -> None:
    """Sockets may connect to 127.0.0.1, and nowhere else."""

    def connect(self: socket.socket, address: Any) -> None:
        if not (isinstance(address, tuple) and address[0] == LOOPBACK):
            raise RuntimeError(f"a local stack test tried to reach {address!r}")
        CONNECT(self, address)

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] != LOOPBACK:
            raise RuntimeError(f"a local stack test tried to reach {address!r}")
        return CREATE_CONNECTION(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
