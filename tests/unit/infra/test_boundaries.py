"""Which code may import which, beyond the layer's own contracts (pyproject.toml,
`[tool.importlinter]`): tests do not reach into the local stack except where they test it, the
benchmarks import no test, and the deployed layer and functions import neither."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# Where each top-level package of the repository may not be imported from.
FORBIDDEN = {
    "local": ["layers", "functions", "tests/unit", "tests/shared"],
    "tests": ["layers", "functions", "bench", "local", "tools"],
    "tools": ["layers", "functions"],
    "bench": ["layers", "functions", "local", "tools"],
}


def imported_roots(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_is_not_imported_where_it_does_not_belong(package: str) -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for place in FORBIDDEN[package]
        for path in (ROOT / place).rglob("*.py")
        if "node_modules" not in path.parts and package in imported_roots(path)
    ]
    assert offenders == [], f"{package} imported from {offenders}"
