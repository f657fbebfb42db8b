"""The fuzz harnesses of camkeep's parsers: their names, their entry points, and where
their seed corpus and crash regression inputs live.

A harness is a module `fuzz_<name>.py` beside this file with `fuzz_one(data: bytes)`:
it feeds `data` to one parser and lets only that parser's documented errors pass
(any other exception, or a broken invariant, is a crash). The seeds in
`corpus/<name>/` are real inputs (written by make_corpus.py); `crashes/<name>/` keeps
every input that once crashed, so the fix stays in place.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CORPUS = HERE / "corpus"
CRASHES = HERE / "crashes"

for _path in (str(HERE), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)


def names() -> list[str]:
    return sorted(path.stem.removeprefix("fuzz_") for path in HERE.glob("fuzz_*.py"))


def load(name: str) -> Callable[[bytes], None]:
    if name not in names():
        raise KeyError(f"no fuzz harness {name!r}; known: {', '.join(names())}")
    return importlib.import_module(f"fuzz_{name}").fuzz_one


def inputs(name: str) -> list[Path]:
    """The seed corpus and the crash regression inputs of one harness."""
    found = []
    for folder in (CORPUS / name, CRASHES / name):
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if p.is_file())
    return found
