"""camkeep emulator package."""
