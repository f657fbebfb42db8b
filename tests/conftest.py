"""Shared fixtures for every test tier."""
