"""One Lambda execution environment: import a function's handler once, then run its invocations.

local/workers.py starts it as `python -P lambda_worker.py <module.function> <function ARN>`, in the
function's code directory, with the function's environment. Standard library only, so that the
handler sees no module of the local stack.

Protocol, one JSON object per line: at start the worker says {"ready": true} (or {"ready": false,
"error": ...} and exits); then for each {"event", "request_id", "deadline_ms"} read, it answers
{"result": ...} or {"error": {"errorType", "errorMessage", "stackTrace"}}, with "handler_ms" and
"handler_cpu_ms": the handler's own time and CPU time, which local/workers.py reports to a
benchmark's observer. The protocol runs on the pipes first given as stdin and stdout, moved to
other descriptors at start: whatever the handler prints (Powertools logs JSON to stdout) goes to
stderr and cannot corrupt it. local/workers.py reads that stderr and shows what the console needs
(local/console.py).
"""

import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any, BinaryIO

# Powertools' @metrics.log_metrics warns at every invocation that adds no metric. In Lambda that
# is a line in CloudWatch; here it would be a warning with its source line on the console at every
# request. Silenced in the worker only: the functions' code is as deployed.
NO_METRICS_WARNING = "No application metrics to publish"


def silence_local_noise() -> None:
    warnings.filterwarnings("ignore", message=NO_METRICS_WARNING, category=UserWarning)


def exit_with_parent(on_exit: Callable[[], object] = lambda: None, interval: float = 1.0) -> None:
    """End this process when the process that started it is gone (killed without cleanup)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        on_exit()
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class LambdaContext:
    """What Lambda passes as `context` (the attributes Powertools and handlers read)."""

    def __init__(self, function_arn: str, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def describe(error: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def send(channel: BinaryIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message).encode() + b"\n")
    channel.flush()


def load(handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


def invoke(handler: Any, function_arn: str, request: dict[str, Any]) -> dict[str, Any]:
    context = LambdaContext(function_arn, request["request_id"], request["deadline_ms"])
    try:
        result = handler(request["event"], context)
    except Exception as error:
        traceback.print_exc()
        return {"error": describe(error)}
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    try:
        json.dumps(result)
    except (TypeError, ValueError) as error:
        return {"error": {"errorType": "Runtime.MarshalError", "errorMessage": str(error)}}
    return {"result": result}


def main() -> int:
    handler_name, function_arn = sys.argv[1], sys.argv[2]
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)  # print() and stdout logging now land on stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the stack; it stops us
    exit_with_parent()
    silence_local_noise()

    try:
        handler = load(handler_name)
    except BaseException as error:  # an init error: Lambda reports it and retries a cold start
        traceback.print_exc()
        send(replies, {"ready": False, "error": describe(error)})
        return 1
    send(replies, {"ready": True})

    for line in requests:
        request = json.loads(line)
        started, cpu = time.perf_counter(), time.process_time()
        reply = invoke(handler, function_arn, request)
        reply["handler_ms"] = (time.perf_counter() - started) * 1000
        reply["handler_cpu_ms"] = (time.process_time() - cpu) * 1000
        send(replies, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
