"""Lambda functions run locally: each in its own worker processes, never in the caller's.

A function's module state (Powertools' resolver keeps the current event on a module global), its
environment and its `app` module are its own, as in Lambda. Each function has a pool of up to
MAX_WORKERS_PER_FUNCTION processes, started on demand (a cold start) and reused (warm starts).
What a worker prints reaches the console through local/console.py (its warnings and errors).
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
from collections.abc import Mapping
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
    """A function's workers: an idle one serves the next invocation, else a new one starts."""

    def __init__(self, function: FunctionRuntime, size: int) -> None:
        self.function = function
        self.size = size
        self.cold_starts = 0
        self._idle: list[Worker] = []
        self._workers: set[Worker] = set()
        self._slots = 0  # workers alive or starting
        self._closed = False
        self._changed = threading.Condition()

    def invoke(self, event: Any) -> Any:
        worker = self._acquire()
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
            self._release(worker, healthy)

    def _acquire(self) -> Worker:
        with self._changed:
            while not self._idle and self._slots >= self.size and not self._closed:
                self._changed.wait()
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
        with self._changed:
            self._workers.add(worker)
        try:
            worker.wait_ready(config.INIT_TIMEOUT_SECONDS)
        except BaseException:
            self._free_slot(worker)
            raise
        return worker

    def _release(self, worker: Worker, healthy: bool) -> None:
        with self._changed:
            if healthy and worker.alive and not self._closed:
                self._idle.append(worker)
                self._changed.notify()
                return
        self._free_slot(worker)

    def _free_slot(self, worker: Worker | None) -> None:
        if worker is not None:
            worker.kill()
        with self._changed:
            self._slots -= 1
            if worker is not None:
                self._workers.discard(worker)
            self._changed.notify()

    def close(self) -> None:
        """Stop every worker: idle ones end their loop, busy ones (a hanging handler) are killed."""
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = self._workers - set(idle)
            self._changed.notify_all()
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
