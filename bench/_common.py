"""What the benchmarks share: replacing one's own section of bench/RESULTS.md.

Import as `from bench._common import ...` with the repository root on sys.path.
"""

from __future__ import annotations

import re
from pathlib import Path


def replace_section(path: Path, section: str, text: str) -> None:
    """Put `text` (which starts with the `section` heading line) in place of that section
    of the results file, or append it; every other section is kept as it is."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda _: text + "\n", old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new.rstrip("\n") + "\n")
