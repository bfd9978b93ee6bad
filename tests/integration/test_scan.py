"""`make scan` fails on a finding the template neither fixes nor skips: the Makefile's own
checkov command (read from `make -n scan`), on a copy of template.yaml with one fix undone and
one skip removed. The template itself passes in `make test` (`make scan`)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def scan_command(template: Path) -> str:
    """The checkov line of the scan recipe, on `template` alone."""
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "scan", f"SCAN_TEMPLATES={template}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    command = recipe[recipe.index("BC_SKIP_MAPPING") :].replace("\\\n", " ")
    return command.splitlines()[0]


def test_a_finding_neither_fixed_nor_skipped_fails_the_scan(tmp_path: Path) -> None:
    text = (ROOT / "template.yaml").read_text()
    # Undo a fix: the access log group without the stack's key.
    broken, undone = re.subn(
        r"(  HttpApiAccessLogGroup:\n(?:    .*\n)*?)      KmsKeyId: !GetAtt EncryptionKey.Arn\n",
        r"\1",
        text,
    )
    # Remove a skip: the console bucket's access-logging reason.
    broken, removed = re.subn(
        r"(  ConsoleBucket:\n(?:    .*\n)*?)    Metadata:\n      checkov:\n        skip:\n"
        r"          - id: CKV_AWS_18\n(?:            .*\n)+",
        r"\1",
        broken,
    )
    assert (undone, removed) == (1, 1)
    copy = tmp_path / "template.yaml"
    copy.write_text(broken)

    run = subprocess.run(
        ["bash", "-c", scan_command(copy)], check=False, cwd=ROOT, capture_output=True, text=True
    )

    assert run.returncode == 1, run.stdout + run.stderr
    failed = set(
        re.findall(r"Check: (CKV_AWS_\d+).*\n\s+FAILED for resource: \S+\.(\w+)", run.stdout)
    )
    assert failed == {("CKV_AWS_158", "HttpApiAccessLogGroup"), ("CKV_AWS_18", "ConsoleBucket")}
    assert re.search(r"Failed checks: 2, Skipped checks: \d+", run.stdout), run.stdout
