"""tests/sim: simulations over a fake clock and network. Make `tests.sim.*` importable
however pytest was started (the repository root on sys.path)."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
