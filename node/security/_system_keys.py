"""The keys of this node's system, derived from the replicated system record: its
secret, the session-token signer and the node-to-node credentials. All None while
the node is undefined; the signer follows a new secret (a new system) by itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from node.security._session_token import TokenSigner


class SystemKeys:
    def __init__(
        self,
        node_id: str,
        system: Callable[[], Mapping[str, Any] | None],
        clock: Callable[[], float],
    ) -> None:
        self._node_id = node_id
        self._system = system
        self._clock = clock
        self._signer: tuple[str, TokenSigner] | None = None

    def system_id(self) -> str | None:
        system = self._system()
        return None if system is None else system["id"]

    def secret(self) -> bytes | None:
        system = self._system()
        return None if system is None else bytes.fromhex(system["secret"])

    def internode_credentials(self) -> tuple[str, str, bytes] | None:
        """(system id, this node's id, secret) that sign node-to-node requests."""
        system = self._system()
        if system is None:
            return None
        return system["id"], self._node_id, bytes.fromhex(system["secret"])

    def signer(self) -> TokenSigner | None:
        """The session token signer of this node's system (None while undefined)."""
        system = self._system()
        if system is None:
            return None
        if self._signer is None or self._signer[0] != system["secret"]:
            signer = TokenSigner(bytes.fromhex(system["secret"]), system["id"], self._clock)
            self._signer = (system["secret"], signer)
        return self._signer[1]
