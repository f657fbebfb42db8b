"""The node's HTTP API (FastAPI) under /api/v1."""

from node.api.app import create_app

__all__ = ["create_app"]
