"""The layer's Babel pruning (layers/core/prune_babel.py, run by layers/core/Makefile at `sam
build`): on a copy of this environment's Babel, it keeps the locales the service formats with and
their parents, and the emails render with nothing else, in both languages (their tests run again
with the pruned Babel first on the path). tests/integration/test_deploy_package.py checks the
built layer itself."""

import shutil
import subprocess
import sys
from pathlib import Path

import babel
import pytest

ROOT = Path(__file__).resolve().parents[3]
PRUNE = ROOT / "layers" / "core" / "prune_babel.py"


@pytest.fixture(scope="module")
def pruned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = tmp_path_factory.mktemp("layer") / "python"
    shutil.copytree(Path(babel.__file__).parent, python / "babel")
    ran = subprocess.run(
        [sys.executable, str(PRUNE), str(python)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return python


def test_only_the_service_locales_and_their_parents_are_kept(pruned: Path) -> None:
    kept = {path.stem for path in (pruned / "babel" / "locale-data").glob("*.dat")}

    assert kept == {"root", "en", "en_CA", "fr", "fr_CA"}
    assert (pruned / "babel" / "global.dat").is_file()


def test_the_emails_render_with_the_pruned_babel(pruned: Path) -> None:
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, babel, pytest\n"
            f"assert babel.__file__.startswith({str(pruned)!r}), babel.__file__\n"
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', sys.argv[1]]))",
            "tests/unit/adapters/test_emails.py",
        ],
        cwd=ROOT,
        env={"PYTHONPATH": f"{pruned}:{ROOT / 'layers' / 'core'}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout
