"""Lambda functions run locally: each in its own worker processes, never in the caller's.

A function's module state (Powertools' resolver keeps the current event on a module global), its
environment and its `app` module are its own, as in Lambda. Each function has a pool of up to
MAX_WORKERS_PER_FUNCTION processes, started on demand (a cold start) and reused (warm starts).
What a worker prints reaches the console through local/console.py (its warnings and errors).

`Workers.observe(callback)` reports each invocation's timings (`InvokeTiming`: the wait for a free
worker, the round trip through the pipes, the handler's own time) for bench/throughput.py; without
an observer nothing is timed beyond what the worker reports.
"""

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from local import config, console
from local.template import Function

WORKER_SCRIPT = Path(__file__).resolve().parent / "lambda_worker.py"


class FunctionError(Exception):
    """The function failed: its handler raised, its init failed, or its process died."""

    def __init__(self, function: str, error_type: str, message: str) -> None:
        super().__init__(f"{function}: {error_type}: {message}")
        self.error_type = error_type
        self.message = message


class FunctionTimeout(FunctionError):
    """The handler ran past the function's Timeout; its worker was killed."""


@dataclass(frozen=True)
class InvokeTiming:
    """Where one invocation's time went, in seconds."""

    function: str
    queued: float  # waiting for an idle worker, a cold start's init included
    call: float  # the request written to the worker's pipe until its reply is read
    handler: float  # in the handler, as the worker measured it (`call` less the pipes and JSON)
    handler_cpu: float  # of which on a CPU (the rest: waiting for its AWS calls, or for a core)
    cold: bool  # a new worker was started for it


type InvokeObserver = Callable[[InvokeTiming], None]


@dataclass(frozen=True)
class FunctionRuntime:
    """All a worker needs: the handler, where its code is and the process's whole environment."""

    name: str
    handler: str
    code_dir: Path
    timeout: float
    environment: Mapping[str, str]

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{config.REGION}:{config.ACCOUNT_ID}:function:{self.name}"


def runtime(
    function: Function, variables: Mapping[str, str], *, dynamodb_endpoint: str, aws_endpoint: str
) -> FunctionRuntime:
    """The function as Lambda would run it, its AWS calls sent to the local services."""
    environment = {
        **variables,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        # As Lambda: the function's code first, then its layers (the layer's python/ root).
        "PYTHONPATH": os.pathsep.join(str(p) for p in (function.code_dir, *function.layer_dirs)),
        "PYTHONUNBUFFERED": "1",
        "LAMBDA_TASK_ROOT": str(function.code_dir),
        "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.logical_id}",
        "AWS_REGION": config.REGION,
        "AWS_DEFAULT_REGION": config.REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_CONFIG_FILE": os.devnull,  # the user's ~/.aws must not leak in
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
    }
    return FunctionRuntime(
        name=function.logical_id,
        handler=function.handler,
        code_dir=function.code_dir,
        timeout=float(function.timeout),
        environment=environment,
    )


class Worker:
    """One execution environment: a `lambda_worker.py` process and its protocol pipes."""

    def __init__(self, function: FunctionRuntime) -> None:
        self.function = function
        self.calls = 0
        self.handler_seconds = 0.0  # the last invocation's, as the worker measured it
        self.handler_cpu_seconds = 0.0
        self._buffer = b""
        self._process = subprocess.Popen(
            [sys.executable, "-P", str(WORKER_SCRIPT), function.handler, function.arn],
            cwd=function.code_dir,
            env=dict(function.environment),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self._process.stderr is not None
        self._output = threading.Thread(
            target=console.forward,
            args=(self._process.stderr, function.name),
            kwargs={"verbose": console.verbose()},
            name=f"output-{function.name}",
            daemon=True,
        )
        self._output.start()

    def wait_ready(self, timeout: float) -> None:
        reply = self._receive(timeout, "Runtime.InitTimeout", "the handler's import (init)")
        if not reply.get("ready"):
            self.kill()
            error = reply.get("error") or {}
            raise FunctionError(
                self.function.name,
                f"Runtime.InitError ({error.get('errorType')})",
                str(error.get("errorMessage")),
            )

    def call(self, event: Any) -> Any:
        self.calls += 1
        started = time.time()
        request = {
            "event": event,
            "request_id": str(uuid.uuid4()),
            "deadline_ms": int((started + self.function.timeout) * 1000),
        }
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(request).encode() + b"\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            raise self._exited() from None
        reply = self._receive(self.function.timeout, "Sandbox.Timedout", "the function's Timeout")
        self.handler_seconds = float(reply.get("handler_ms", 0.0)) / 1000
        self.handler_cpu_seconds = float(reply.get("handler_cpu_ms", 0.0)) / 1000
        if "error" in reply:
            error = reply["error"]
            raise FunctionError(self.function.name, error["errorType"], error["errorMessage"])
        return reply["result"]

    def _receive(self, timeout: float, timeout_type: str, limit: str) -> dict[str, Any]:
        assert self._process.stdout is not None
        descriptor = self._process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([descriptor], [], [], max(0.0, remaining))
            if not readable:
                self.kill()
                raise FunctionTimeout(
                    self.function.name,
                    timeout_type,
                    f"no answer within {timeout:g} s ({limit}); the process was killed",
                )
            chunk = os.read(descriptor, 1 << 16)
            if not chunk:
                raise self._exited()
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return dict(json.loads(line))

    def _exited(self) -> FunctionError:
        code = self._process.wait()
        return FunctionError(
            self.function.name, "Runtime.ExitError", f"the process exited ({code})"
        )

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> None:
        self._process.kill()
        self._process.wait()
        self._close_pipes()

    def stop(self, grace: float = 2.0) -> None:
        """End the process: EOF on its input ends its loop; a busy one is killed after `grace`."""
        if self._process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()
        # Its last words (a traceback) are on the console before the stop returns; a process it
        # started that still holds the pipe must not hold the stop up.
        self._output.join(timeout=2)


class Pool:
    """A function's workers: an idle one serves the next invocation, else a new one starts.

    Invocations that find every worker busy wait their turn, first come first served: a worker
    released goes to the one waiting longest, never to one that came in meanwhile (with more
    callers than workers, a condition's wait() let newcomers take it and the unlucky wait on).
    """

    def __init__(self, function: FunctionRuntime, size: int) -> None:
        self.function = function
        self.size = size
        self.cold_starts = 0
        self.observer: InvokeObserver | None = None
        self._idle: list[Worker] = []
        self._workers: set[Worker] = set()
        self._slots = 0  # workers alive or starting
        self._closed = False
        self._lock = threading.Lock()
        self._waiting: deque[threading.Condition] = deque()  # one per caller, in arrival order

    def invoke(self, event: Any) -> Any:
        asked = time.perf_counter()
        worker = self._acquire()
        acquired, cold = time.perf_counter(), worker.calls == 0
        healthy = False
        try:
            result = worker.call(event)
            healthy = True
            return result
        except FunctionTimeout:
            raise
        except FunctionError:
            healthy = worker.alive  # the handler raised: the environment lives on, as in Lambda
            raise
        finally:
            try:
                if self.observer is not None:  # before the release: the worker's figures are ours
                    self.observer(
                        InvokeTiming(
                            function=self.function.name,
                            queued=acquired - asked,
                            call=time.perf_counter() - acquired,
                            handler=worker.handler_seconds,
                            handler_cpu=worker.handler_cpu_seconds,
                            cold=cold,
                        )
                    )
            finally:
                self._release(worker, healthy)

    def _acquire(self) -> Worker:
        with self._lock:
            turn = threading.Condition(self._lock)
            self._waiting.append(turn)
            try:
                while not self._closed and (self._waiting[0] is not turn or not self._available()):
                    turn.wait()
            finally:
                self._waiting.remove(turn)
                self._wake_next()  # a second worker may be free; else it waits, first in line
            if self._closed:
                raise FunctionError(self.function.name, "Runtime.Shutdown", "the stack is stopping")
            if self._idle:
                return self._idle.pop()
            self._slots += 1
            self.cold_starts += 1
        try:
            worker = Worker(self.function)
        except BaseException:
            self._free_slot(None)
            raise
        with self._lock:
            self._workers.add(worker)
        try:
            worker.wait_ready(config.INIT_TIMEOUT_SECONDS)
        except BaseException:
            self._free_slot(worker)
            raise
        return worker

    def _available(self) -> bool:
        return bool(self._idle) or self._slots < self.size

    def _wake_next(self) -> None:
        """Tell the caller first in line that a worker or a slot may be free (lock held)."""
        if self._waiting:
            self._waiting[0].notify()

    def _release(self, worker: Worker, healthy: bool) -> None:
        with self._lock:
            if healthy and worker.alive and not self._closed:
                self._idle.append(worker)
                self._wake_next()
                return
        self._free_slot(worker)

    def _free_slot(self, worker: Worker | None) -> None:
        if worker is not None:
            worker.kill()
        with self._lock:
            self._slots -= 1
            if worker is not None:
                self._workers.discard(worker)
            self._wake_next()

    def close(self) -> None:
        """Stop every worker: idle ones end their loop, busy ones (a hanging handler) are killed."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = self._workers - set(idle)
            for turn in self._waiting:
                turn.notify()
        for worker in busy:
            worker.kill()
        for worker in idle:
            worker.stop()


class Workers:
    """Every function of the stack: `invoke(function_id, event)` as Lambda's Invoke would."""

    def __init__(
        self, functions: Mapping[str, FunctionRuntime], size: int = config.MAX_WORKERS_PER_FUNCTION
    ) -> None:
        self.pools = {name: Pool(function, size) for name, function in functions.items()}

    def observe(self, observer: InvokeObserver | None) -> None:
        """Report every invocation's timings to `observer` from now on (None: stop)."""
        for pool in self.pools.values():
            pool.observer = observer

    def invoke(self, function_id: str, event: Any) -> Any:
        """The handler's result; FunctionError if it raised, FunctionTimeout past its Timeout."""
        pool = self.pools.get(function_id)
        if pool is None:
            raise KeyError(f"no function {function_id!r} in template.yaml")
        return pool.invoke(event)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
