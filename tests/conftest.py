"""Shared fixtures for every test tier."""

from hypothesis import settings

# Property tests check what code does, not how fast: on a shared, loaded machine an
# example can take longer than Hypothesis' default 200 ms deadline without anything
# being wrong, so no deadline (each test's example count still bounds its time).
settings.register_profile("camkeep", deadline=None)
settings.load_profile("camkeep")
