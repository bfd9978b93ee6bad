"""`make help` is the list a newcomer reads: every target they are told about, and the port the
local stack will really use."""

import os
import re
import subprocess

import pytest

from tests.shared.lambdas import ROOT


def help_text(**environment: str) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def listed_targets(text: str) -> set[str]:
    return set(re.findall(r"^  make (\S+)", text, flags=re.MULTILINE))


def test_help_lists_every_target_the_readme_names():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`make ([a-z0-9-]+)", readme))

    assert named
    assert named <= listed_targets(help_text())


@pytest.mark.parametrize(
    "target", ["dev", "test", "unit", "integration", "e2e", "clean", "deploy", "send-event"]
)
def test_help_lists_the_targets_people_run(target):
    assert target in listed_targets(help_text())


def test_help_prints_the_gateway_port_the_stack_will_use():
    assert "http://127.0.0.1:3000" in help_text(PAC_GATEWAY_PORT="")
    moved = help_text(PAC_GATEWAY_PORT="3456")

    assert "http://127.0.0.1:3456" in moved
    assert "3000" not in moved
