"""The node's HTTP client for other members: every request signed with the system
secret, answers checked to be JSON objects."""

from __future__ import annotations

from typing import Any

import httpx

from node.security import InternodeAuth, SystemKeys

TIMEOUT_S = 5.0
INTERNAL_CALL_TIMEOUT_S = 2.0


class InternalHttp:
    def __init__(self, keys: SystemKeys) -> None:
        self._keys = keys
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        self._client = httpx.AsyncClient(
            auth=InternodeAuth(self._keys.internode_credentials),
            timeout=TIMEOUT_S,
            trust_env=False,
        )

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def client(self) -> httpx.AsyncClient:
        """The signed client (for streams and other calls that want the raw answer)."""
        if self._client is None:
            raise RuntimeError("node not started")
        return self._client

    async def get(self, url: str, path: str) -> dict[str, Any]:
        """GET another member's internal route; its JSON answer (raises on errors)."""
        answer = await self.client().get(
            f"{url.rstrip('/')}{path}", timeout=INTERNAL_CALL_TIMEOUT_S
        )
        return _json_object(answer)

    async def post(self, url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to another member's internal route; its JSON answer (raises on errors)."""
        answer = await self.client().post(
            f"{url.rstrip('/')}{path}", json=body, timeout=INTERNAL_CALL_TIMEOUT_S
        )
        return _json_object(answer)


def _json_object(answer: httpx.Response) -> dict[str, Any]:
    answer.raise_for_status()
    data = answer.json()
    if not isinstance(data, dict):
        raise ValueError("internal answer is not an object")
    return data
