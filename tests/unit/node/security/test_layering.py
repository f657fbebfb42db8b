"""node/security sits at the bottom of node: every other subpackage may use it, so it
imports nothing of node except node.config."""

from __future__ import annotations

import ast
from pathlib import Path

SECURITY = Path(__file__).resolve().parents[4] / "node" / "security"
ALLOWED = ("node.security", "node.config")


def test_security_imports_nothing_else_of_node() -> None:
    files = sorted(SECURITY.glob("*.py"))
    assert len(files) > 3
    for path in files:
        for item in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            modules = []
            if isinstance(item, ast.Import):
                modules = [alias.name for alias in item.names]
            elif isinstance(item, ast.ImportFrom):
                assert item.level == 0, f"{path.name}: relative import"
                modules = [item.module or ""]
            for module in modules:
                if module == "node" or module.startswith("node."):
                    assert module.startswith(ALLOWED), f"{path.name} imports {module}"
