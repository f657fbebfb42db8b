"""The `camkeep` command line: one module per command group, one HTTP client, the demo."""

from node.cli._main import main

__all__ = ["main"]
