"""Dependencies point one way, and every package is importable on its own.

- emulator imports no other camkeep package; recorder and discovery never import node.
- Inside node/, subpackages import only downwards:
  cli -> api -> app -> gapfill -> {failover, recordings} -> system -> {replication, membership}
  -> security -> config (with recorder and discovery below node altogether).
  Nothing imports `app` but `api` and the `run` command; imports written under
  `if TYPE_CHECKING:` count like any other (no hidden back-imports).
- Outside a node subpackage, its private modules (`_x.py`) are not imported: other
  packages use what its `__init__` lists in `__all__`.
- Each package imports in a fresh interpreter (no import cycles).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("node", "recorder", "discovery", "emulator")
FORBIDDEN = {
    "emulator": {"node", "recorder", "discovery"},
    "recorder": {"node"},
    "discovery": {"node"},
}
# Higher layers may import lower ones, never the reverse or sideways.
NODE_LAYERS = {
    "timefmt": 0,
    "digits": 0,
    "urls": 0,
    "config": 1,
    "security": 2,
    "membership": 3,
    "replication": 3,
    "system": 4,
    "events": 4,
    "camerastate": 4,
    "metrics": 4,
    "failover": 5,
    "recordings": 5,
    "notify": 5,
    "live": 6,
    "gapfill": 6,
    "app": 7,
    "api": 8,
    "cli": 9,
}
APP_IMPORTERS = ("node/api/", "node/cli/_run.py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: list[str] = []
    for item in ast.walk(tree):
        if isinstance(item, ast.Import):
            modules += [alias.name for alias in item.names]
        elif isinstance(item, ast.ImportFrom) and item.level == 0 and item.module:
            modules.append(item.module)
    return modules


def _node_part(path: Path) -> str:
    """The node subpackage (or top module: config, timefmt...) a file belongs to."""
    parts = path.relative_to(ROOT / "node").parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _node_files() -> list[Path]:
    return sorted((ROOT / "node").rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_one_way(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    for path in files:
        bad = {m.split(".")[0] for m in _imports(path)} & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_every_node_part_has_a_layer() -> None:
    parts = {_node_part(p) for p in _node_files()} - {"__init__"}
    assert parts <= set(NODE_LAYERS), f"no layer for {sorted(parts - set(NODE_LAYERS))}"


def test_node_subpackages_import_downwards_only() -> None:
    wrong = []
    for path in _node_files():
        here = _node_part(path)
        if here == "__init__":
            continue
        for module in _imports(path):
            names = module.split(".")
            if names[0] != "node" or len(names) < 2 or names[1] == here:
                continue
            there = names[1]
            if there in NODE_LAYERS and NODE_LAYERS[there] >= NODE_LAYERS[here]:
                wrong.append(f"{path.relative_to(ROOT)} ({here}) imports {module}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_only_the_api_and_the_run_command_import_the_app() -> None:
    wrong = []
    for path in _node_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("node/app/", *APP_IMPORTERS)):
            continue
        wrong += [f"{rel} imports {m}" for m in _imports(path) if m.startswith("node.app")]
    assert not wrong, "\n".join(wrong)


def test_other_packages_use_a_subpackage_through_its_face() -> None:
    wrong = []
    for path in _node_files():
        here = _node_part(path)
        for module in _imports(path):
            names = module.split(".")
            private = len(names) >= 3 and names[2].startswith("_")
            if private and names[0] == "node" and names[1] != here:
                wrong.append(f"{path.relative_to(ROOT)} imports private {module}")
    assert not wrong, "\n".join(wrong)


def test_each_subpackage_declares_its_face() -> None:
    for package in sorted(p.parent for p in (ROOT / "node").glob("*/__init__.py")):
        tree = ast.parse((package / "__init__.py").read_text())
        assert ast.get_docstring(tree), f"{package.name}/__init__.py says nothing of its job"
        names = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets}
        assert "__all__" in names, f"{package.name}/__init__.py has no __all__"


SUBPACKAGES = sorted(
    [f"node.{p.parent.name}" for p in (ROOT / "node").glob("*/__init__.py")]
    + ["node.config", "recorder", "discovery", "emulator"]
)


@pytest.mark.parametrize("module", SUBPACKAGES)
def test_imports_in_a_fresh_interpreter(module: str) -> None:
    """A cycle shows only when a package is the first one imported: try each alone."""
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
