"""`Service.pause()` / `resume()` (local/services.py), what tests/e2e/test_faults.py uses to
freeze DynamoDB Local or the moto server: the whole process tree stops, a guarded program
included, and answers again once resumed; `stop()` ends a paused service."""

import socket
import sys
import time
from collections.abc import Iterator, Sequence

import pytest

from local.services import Service, free_port, process_tree

# One line in, the same line out, for each connection: the program a guard runs here, as
# local.guard runs DynamoDB Local's Java.
ECHO = """
import socket, sys
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    connection, _ = server.accept()
    with connection:
        connection.sendall(connection.recv(64))
"""


class GuardedEcho(Service):
    name = "echo"
    guarded = True

    def command(self) -> Sequence[str]:
        return [sys.executable, "-c", ECHO, str(self.port)]


def echo(port: int, timeout: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(b"ping")
        return connection.recv(64)


@pytest.fixture
def service(loopback_only: None) -> Iterator[GuardedEcho]:
    with GuardedEcho(free_port(), start_timeout=20) as running:
        yield running


def test_a_paused_service_accepts_but_answers_nothing_until_resumed(
    service: GuardedEcho,
) -> None:
    assert echo(service.port, timeout=10) == b"ping"
    assert service._process is not None
    assert len(process_tree(service._process.pid)) == 2  # the guard and the program it runs
    service.pause()
    assert service.paused
    with pytest.raises(TimeoutError):  # connected by the kernel; nobody reads the request
        echo(service.port, timeout=0.5)
    service.resume()
    assert not service.paused
    assert echo(service.port, timeout=10) == b"ping"


def test_a_paused_service_stops(service: GuardedEcho) -> None:
    assert service._process is not None
    tree = {pid: started(pid) for pid in process_tree(service._process.pid)}
    service.pause()
    service.stop()
    assert service._process is None
    # The guard ends its program as it exits; on a busy machine the program's own exit may lag
    # the guard's by a moment, so give the tree a few seconds (a survivor never ends at all).
    deadline = time.monotonic() + 10
    while any(alive(*process) for process in tree.items()) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid, start in tree.items():
        assert not alive(pid, start), f"process {pid} outlived the stop"


def stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command's parenthesis (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat") as found:
            return found.read().rpartition(")")[2].split()
    except FileNotFoundError:
        return None


def started(pid: int) -> str:
    fields = stat(pid)
    assert fields is not None, pid
    return fields[19]  # starttime: with the pid, one process (a pid is reused once it ends)


def alive(pid: int, start: str) -> bool:
    fields = stat(pid)
    return fields is not None and fields[19] == start and fields[0] != "Z"
