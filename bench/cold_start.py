"""Cold starts as ratios: each function's handler module imported in a fresh Python process, with
its template environment, against the floor, a process that imports boto3 and creates one
DynamoDB client (what any Python function talking to DynamoDB pays at least).

Rounds alternate the function and the floor, so that both share the machine's noise; the ratio
is of the medians. Time is measured inside the process, around the imports only: the
interpreter's own start is the same for both and is left out. The handler is imported as Lambda
imports it: `app` from the function's code directory, the layer's code on the path.

Also the size of what Lambda unzips for each function: its built code plus its layers
(build/sam, `make build`), or None when nothing is built.
"""

import os
import statistics
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import config
from local.template import Function, LocalValues, environment, functions
from tools.template import load

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "sam"
LAYER_CODE = ROOT / "layers" / "core"

# A process's code, timed from inside: the interpreter's own start is left out of both.
TIMED = (
    "import time\nstarted = time.perf_counter()\n{}\nprint((time.perf_counter() - started) * 1000)"
)
FLOOR = "import boto3\nboto3.client('dynamodb')"

# What the Lambda runtime sets that the code reads at import (region, credentials for clients).
RUNTIME_ENVIRONMENT = {
    "AWS_REGION": config.REGION,
    "AWS_DEFAULT_REGION": config.REGION,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
}


@dataclass(frozen=True)
class ColdStart:
    function: str
    import_ms: float
    floor_ms: float
    unzipped_mb: float | None

    @property
    def ratio(self) -> float:
        return self.import_ms / self.floor_ms


def placeholder_values(template: Mapping[str, Any]) -> LocalValues:
    """Template values as a deployed stack would give them, named after each resource: enough
    for every function's settings to load (names, ARNs, queue URLs)."""
    values = LocalValues.of(template, JwtIssuer="https://issuer.example.com")
    prefix = f"{config.REGION}:{config.ACCOUNT_ID}"
    for logical_id, resource in template["Resources"].items():
        arn = f"arn:aws:{resource['Type'].split('::')[1].lower()}:{prefix}:{logical_id}"
        values.refs[logical_id] = arn if "Secret" in logical_id else logical_id
        values.attributes[(logical_id, "Arn")] = arn
        values.attributes[(logical_id, "QueueName")] = logical_id
        values.attributes[(logical_id, "QueueUrl")] = (
            f"https://sqs.{config.REGION}.amazonaws.com/{config.ACCOUNT_ID}/{logical_id}"
        )
    return values


def process_environment(function: Function, values: LocalValues) -> dict[str, str]:
    """A process started with this is the function's cold start: its template variables, what
    the runtime sets, the function's code then the layer's on the path."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(function.code_dir), str(LAYER_CODE)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        # Libraries that behave differently outside Lambda look at it (the X-Ray SDK did).
        "LAMBDA_TASK_ROOT": str(function.code_dir),
        **RUNTIME_ENVIRONMENT,
        **environment(function, values),
    }


@dataclass(frozen=True)
class ColdProcess:
    """Where and with what a function's cold start runs (tests/unit/infra/test_cold_imports.py
    starts the same processes to see what they load)."""

    code_dir: Path
    env: dict[str, str]
    module: str  # the handler's module, `app`


def cold_processes() -> dict[str, ColdProcess]:
    template = load()
    values = placeholder_values(template)
    return {
        name: ColdProcess(
            function.code_dir,
            process_environment(function, values),
            function.handler.rsplit(".", 1)[0],
        )
        for name, function in functions(template, ROOT).items()
    }


def run_cold(code: str, process: ColdProcess) -> str:
    """`code` run in a fresh process started as the function's cold start: its last line out."""
    ran = subprocess.run(
        [sys.executable, "-c", code],
        env=process.env,
        cwd=process.code_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if ran.returncode != 0:
        raise RuntimeError(f"{process.code_dir.name}: {ran.stderr.strip()[-2000:]}")
    return ran.stdout.strip().splitlines()[-1]


def timed(code: str, process: ColdProcess) -> float:
    """Milliseconds `code` takes in a fresh cold-start process."""
    return float(run_cold(TIMED.format(code), process))


def unzipped_mb(build: Path = BUILD) -> dict[str, float]:
    """Each built function's code plus the built layers it uses, in MB (10^6 bytes), read from
    the built template (empty when nothing is built)."""
    if not (build / "template.yaml").is_file():
        return {}
    return {
        name: sum(size_of(part) for part in (function.code_dir, *function.layer_dirs)) / 1e6
        for name, function in functions(load(build / "template.yaml"), build).items()
    }


def size_of(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def measure(rounds: int = 15, only: Iterable[str] = ()) -> list[ColdStart]:
    wanted = set(only)
    sizes = unzipped_mb()
    found = []
    for name, process in sorted(cold_processes().items()):
        if wanted and name not in wanted:
            continue
        imports, floors = [], []
        for _ in range(rounds):
            imports.append(timed(f"import {process.module}", process))
            floors.append(timed(FLOOR, process))
        found.append(
            ColdStart(name, statistics.median(imports), statistics.median(floors), sizes.get(name))
        )
    return found
