"""Keep in the built layer only the Babel locale data the service formats with (`make build`,
through layers/core/Makefile): Babel ships every CLDR locale (~32 MB, half the layer), the emails
use two (payment_action_center.domain.entries.Locale) and the locales they inherit from.

    python prune_babel.py <the layer's python/ folder>

Which files a locale needs is asked of Babel itself: its data is loaded for each locale in use,
and every file `babel.localedata.load` opened (the locale, its parents, `root`) is kept. Never
shipped: only layers/core/Makefile runs it, on the folder it is building.
"""

import sys
from pathlib import Path
from typing import get_args


def needed(python_dir: Path) -> set[str]:
    """The locale-data names (without `.dat`) Babel loads for the service's locales."""
    sys.path[:0] = [str(python_dir), str(Path(__file__).resolve().parent)]
    import babel.localedata  # noqa: PLC0415 (the layer's Babel, not this interpreter's)
    from babel import Locale  # noqa: PLC0415

    from payment_action_center.domain.entries import Locale as Used  # noqa: PLC0415

    loaded: set[str] = set()
    load = babel.localedata.load

    def recording(name: str, merge_inherited: bool = True) -> dict[str, object]:
        loaded.add(Path(name).name)
        return load(name, merge_inherited)

    babel.localedata.load = recording  # load() finds its parents through this module name
    for locale in get_args(Used):
        parsed = Locale.parse(locale.replace("-", "_"))
        assert parsed.number_symbols and parsed.date_formats  # the data is read, not just named
    return loaded


def prune(python_dir: Path) -> list[str]:
    """Delete the other locales' files; the names kept."""
    keep = needed(python_dir)
    data = python_dir / "babel" / "locale-data"
    for path in data.glob("*.dat"):
        if path.stem not in keep:
            path.unlink()
    kept = sorted(path.stem for path in data.glob("*.dat"))
    if not {"root"} < set(kept):
        raise SystemExit(f"prune_babel: kept {kept}, expected root and the service's locales")
    return kept


if __name__ == "__main__":
    print("babel locale data kept:", " ".join(prune(Path(sys.argv[1]))))
