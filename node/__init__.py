"""The camkeep node process: CLI, configuration, membership, planner, API."""

__version__ = "0.1.0"
