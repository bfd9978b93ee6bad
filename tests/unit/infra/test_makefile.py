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


def pytest_runs(target: str, **environment: str) -> list[list[str]]:
    """The pytest commands `make <target>` would run, as make expands them (`make -n` prints and
    runs nothing)."""
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split()[1:] for line in printed.splitlines() if " -m pytest " in line]


def test_make_test_runs_the_unit_tests_on_two_workers_and_every_other_test_in_one_process() -> None:
    unit, rest = pytest_runs("test", PAC_UNIT_WORKERS="")

    # Every test once: tests/unit in the first run, everything else under tests/ in the second.
    assert [a for a in unit if a.startswith("tests")] == ["tests/unit"]
    assert unit[unit.index("-n") + 1] == "2" and unit[unit.index("--dist") + 1] == "loadfile"
    assert [a for a in rest if a.startswith("tests")] == ["tests"]
    assert "--ignore=tests/unit" in rest
    # DynamoDB Local and the local stacks are started once per session, in a single process.
    assert "-n" not in rest and not any(a.startswith("--dist") for a in rest)


def test_make_unit_runs_the_unit_tests_as_make_test_does_and_the_local_stack_parts_after() -> None:
    unit, local_stack = pytest_runs("unit", PAC_UNIT_WORKERS="")

    assert unit == pytest_runs("test", PAC_UNIT_WORKERS="")[0]
    assert [a for a in local_stack if a.startswith("tests")] == ["tests/local_stack"]
    assert "-n" not in local_stack


def test_the_unit_tests_run_in_one_process_when_asked() -> None:
    unit, _ = pytest_runs("unit", PAC_UNIT_WORKERS="0")

    assert unit[unit.index("-n") + 1] == "0"


def test_the_workers_plugin_is_pinned_for_make_install() -> None:
    pins = (ROOT / "requirements" / "dev.txt").read_text(encoding="utf-8").splitlines()

    assert any(re.fullmatch(r"pytest-xdist==[0-9.]+", line) for line in pins)


def recipe(target: str) -> str:
    """The lines `make -n <target>` prints (nothing runs)."""
    return subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_install_and_the_checks_before_the_tests_run_side_by_side():
    """A fresh clone's `make test` (the CI) spends minutes installing: the three venvs, the
    DynamoDB Local jar and the browser are independent, as are lint, validate and the scan (after
    the build it scans)."""
    install = recipe("install")
    assert re.search(
        r"-j3 --output-sync=target \.venv/\.installed \.venv-tools/\.installed "
        r"\.venv-scan/\.installed",
        install,
    )
    assert "local/node_modules/.installed" in install
    test = recipe("test")
    assert re.search(r"-j3 --output-sync=target lint validate scan", test)
    assert test.index("lint validate scan") < test.index("pytest tests/unit")
