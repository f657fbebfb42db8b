"""The `camkeep` command line: one module per command group, one HTTP client, the demo."""

from node.cli._child_process import start_process, stop_process
from node.cli._main import main

__all__ = ["main", "start_process", "stop_process"]
