"""camkeep recorder package."""
