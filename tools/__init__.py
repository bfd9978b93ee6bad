"""Developer tools, run from the repository's root as `.venv/bin/python -m tools.<name>`.

They read the layer's package as the functions do: layers/core is put on the import path here, so
no tool needs PYTHONPATH set.
"""

import sys
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "core")
if _LAYER not in sys.path:
    sys.path.append(_LAYER)
