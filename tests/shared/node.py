"""The console's ES modules run under Node from the tests: a script that prints one JSON line."""

import json
import subprocess
from typing import Any

from tests.shared.lambdas import ROOT


def node_json(script: str) -> Any:
    """Run `script` as an ES module from the repository's root; what it printed, as JSON."""
    ran = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)
