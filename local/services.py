"""Local services: a child process started, waited for until it answers, stopped (`Service`),
or an HTTP server served by a thread of this process (`ThreadedServer`)."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import HTTPServer
from pathlib import Path
from typing import IO, Self


class LocalServiceError(RuntimeError):
    """A local service could not start; the message tells the user what to do."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


ROOT = Path(__file__).resolve().parent.parent


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, each parent before its children (from /proc on Linux, else
    from `pgrep -P`)."""
    tree, index = [pid], 0
    while index < len(tree):
        tree += children(tree[index])
        index += 1
    return tree


def children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    if tasks.is_dir():
        found: list[int] = []
        for task in tasks.iterdir():
            with contextlib.suppress(OSError):
                found += [int(child) for child in (task / "children").read_text().split()]
        return found
    listed = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(child) for child in listed.stdout.split()]


class Service:
    """Subclasses give `name`, `command()` and `ready()`; `with Service(port):` runs it."""

    name = "service"
    guarded = False  # run through local.guard: for a program that cannot watch its parent

    def __init__(self, port: int, host: str = "127.0.0.1", start_timeout: float = 60.0) -> None:
        self.port = port
        self.host = host
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._started = 0.0
        self._paused: list[int] = []

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> Sequence[str]:
        raise NotImplementedError

    def cwd(self) -> Path:
        return ROOT

    def ready(self) -> bool:
        """True once the service answers; the default: it accepts connections."""
        with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 1):
            return True
        return False

    def start(self) -> None:
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        """Start the process; `wait_until_ready` then waits for it (start several at once)."""
        if not port_is_free(self.port, self.host):
            raise LocalServiceError(
                f"{self.name}: port {self.port} on {self.host} is taken; stop what uses it"
                " or choose another port (see PAC_*_PORT in the README)."
            )
        self._log = tempfile.TemporaryFile(prefix=f"{self.name}-")  # noqa: SIM115 (stop closes it)
        command = [*self.command()]
        if self.guarded:
            command = [sys.executable, "-m", "local.guard", *command]
        self._process = subprocess.Popen(
            command,
            cwd=self.cwd(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._started = time.monotonic()

    def wait_until_ready(self) -> None:
        assert self._process is not None, "launch() first"
        try:
            while not self.ready():
                if self._process.poll() is not None:
                    raise LocalServiceError(
                        f"{self.name} exited at start (port {self.port}):\n{self.output()}"
                    )
                if time.monotonic() > self._started + self.start_timeout:
                    raise LocalServiceError(
                        f"{self.name} did not answer on {self.endpoint} within"
                        f" {self.start_timeout:.0f} s:\n{self.output()}"
                    )
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def output(self) -> str:
        """The end of what the process printed."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    @property
    def paused(self) -> bool:
        return bool(self._paused)

    def pause(self) -> None:
        """SIGSTOP the service and every process it started (a guarded Java): it accepts
        connections (the kernel does) but answers nothing until `resume()`. For fault tests."""
        assert self._process is not None, "launch() first"
        if self._paused:
            return
        for pid in process_tree(self._process.pid):  # parents first: none reacts to a child
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
            self._paused.append(pid)

    def resume(self) -> None:
        """SIGCONT what `pause()` stopped, children first."""
        while self._paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._paused.pop(), signal.SIGCONT)

    def stop(self) -> None:
        self.resume()  # a stopped process would not act on SIGTERM
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class ThreadedServer:
    """An HTTP server of this process, served by a daemon thread: subclasses give `name` and
    `make_server()` (which raises LocalServiceError if it cannot listen); `start()` serves it,
    `stop()` shuts it down and waits for the thread; `with` does both."""

    name = "server"
    poll_interval = 0.5  # seconds between serve_forever's checks for a shutdown
    _server: HTTPServer | None = None
    _thread: threading.Thread | None = None

    def make_server(self) -> HTTPServer:
        raise NotImplementedError

    def start(self) -> None:
        server = self._server = self.make_server()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=self.name,
            daemon=True,
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

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
