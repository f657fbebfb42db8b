"""camkeep discovery package."""
