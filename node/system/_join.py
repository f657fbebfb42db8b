"""Adding an undefined server to a system: the handshake between the two nodes.

Trust model
-----------
An undefined server has no secret yet, so nothing can authenticate the system to it.
It accepts a join (`POST /api/v1/internal/join`) only while it is undefined: that is
the same trust as `POST /api/v1/system/setup`, which anyone who can reach an undefined
server may call (an undefined server holds no configuration and records nothing).
The system side is where the check is: a system node sends the join only after the
caller proved the owner's authority (owner user name + password, or a join token
signed with the system secret). The join carries the system id, the secret and every
record; the request is signed with that secret (node/security/_internode.py) so a join
mangled in transit is refused. The secret crosses the LAN in that one call: on an
untrusted LAN put the nodes behind TLS (a reverse proxy, `https://` URLs) or a VPN.
From then on every node-to-node message is authenticated with the secret and carries
a timestamp and nonce (replay protection): gossip by node/membership/_codec.py, HTTP by
node/security/_internode.py.

Steps of `add_server(node, url)` on the system node:
1. `GET url/api/v1/health`: unreachable -> 502, timeout -> 504; a server of another
   system (or already of ours) -> 409. Nothing has changed yet.
2. `POST url/api/v1/internal/join {"system_id", "records": [...every record...]}`.
   The undefined node stores them, writes its own server record and answers it.
3. The system node stores that server record and pushes it to every live member; the
   new node also pushes it. Gossip is told the new address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import httpx

from node.replication import (
    Record,
    RecordStore,
    ReplicaError,
    parse_records,
    record_from_json,
    record_to_json,
)
from node.security import InternodeAuthError, InternodeVerifier, sign_request
from node.system._state import SystemState

T = TypeVar("T")

JOIN_PATH = "/api/v1/internal/join"
HEALTH_TIMEOUT_S = 3.0
JOIN_TIMEOUT_S = 10.0


class JoinHost(Protocol):
    """What joining needs from the node, on either side of the handshake."""

    node_id: str
    state: SystemState
    store: RecordStore
    join_lock: asyncio.Lock
    internode_verifier: InternodeVerifier

    def http_client(self) -> httpx.AsyncClient: ...

    async def write(self, operation: Callable[..., T], *args: Any) -> T: ...

    async def apply_remote_records(self, records: list[Record]) -> int: ...

    def server_record(self) -> dict[str, Any]: ...

    async def on_joined_system(self) -> None: ...

    async def after_server_added(self, record: Record) -> None: ...


class JoinError(Exception):
    """Adding a server failed; `status` is the HTTP status to answer, nothing changed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _network_error(url: str, exc: Exception) -> JoinError:
    if isinstance(exc, httpx.TimeoutException):
        return JoinError(504, f"server at {url} did not answer in time")
    return JoinError(502, f"cannot reach a camkeep server at {url}: {type(exc).__name__}")


def join_bundle(system_id: str, records: list[Record]) -> dict[str, Any]:
    return {"system_id": system_id, "records": [record_to_json(r) for r in records]}


def parse_join_bundle(body: Any) -> tuple[dict[str, Any], list[Record]]:
    """(system record value, records) of a join; JoinError 422 when malformed."""
    if not isinstance(body, dict):
        raise JoinError(422, "join body must be an object")
    try:
        records = parse_records(body.get("records"))
    except ReplicaError as exc:
        raise JoinError(422, f"join records malformed: {exc}") from None
    systems = [r for r in records if r.kind == "system" and r.key == "system" and r.value]
    if len(systems) != 1:
        raise JoinError(422, "join must carry the system record")
    system = systems[0].value or {}
    secret = system.get("secret")
    if system.get("id") != body.get("system_id") or not isinstance(secret, str):
        raise JoinError(422, "join system record does not match its system id")
    try:
        bytes.fromhex(secret)
    except ValueError:
        raise JoinError(422, "join system secret malformed") from None
    return system, records


def check_join_signature(
    verifier: InternodeVerifier,
    system: dict[str, Any],
    method: str,
    target: str,
    headers: Any,
    body: bytes,
) -> None:
    try:
        verifier.verify(
            method,
            target,
            headers,
            body,
            system_id=system["id"],
            system_secret=bytes.fromhex(system["secret"]),
        )
    except InternodeAuthError as exc:
        raise JoinError(401, f"join refused: {exc}") from None


async def fetch_health(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    try:
        answer = await client.get(f"{url}/api/v1/health", timeout=HEALTH_TIMEOUT_S)
        health = answer.json()
    except (httpx.HTTPError, OSError) as exc:
        raise _network_error(url, exc) from None
    except ValueError:
        raise JoinError(502, f"{url} is not a camkeep server (health is not JSON)") from None
    if not isinstance(health, dict) or not isinstance(health.get("node_id"), str):
        raise JoinError(502, f"{url} is not a camkeep server (no node_id in health)")
    return health


async def add_server(node: JoinHost, url: str) -> dict[str, Any]:
    """Make the undefined server at `url` a member; its server record. JoinError if not."""
    url = url.rstrip("/")
    system = node.state.system()
    if system is None:
        raise JoinError(409, "this server is undefined")
    client = node.http_client()
    health = await fetch_health(client, url)
    if health["node_id"] == node.node_id:
        raise JoinError(409, "that URL is this server itself")
    other_system = health.get("system_id")
    if other_system == system["id"] and node.state.server(health["node_id"]) is not None:
        raise JoinError(409, f"server {health['node_id']} is already in this system")
    if other_system is not None and other_system != system["id"]:
        raise JoinError(
            409,
            f"server {health.get('name') or health['node_id']} belongs to another system:"
            " detach it from that system first",
        )
    body = join_bundle(system["id"], node.store.all_since(None))
    raw = httpx.Request("POST", f"{url}{JOIN_PATH}", json=body)
    content = raw.read()
    headers = sign_request(
        bytes.fromhex(system["secret"]),
        system["id"],
        node.node_id,
        "POST",
        raw.url.raw_path.decode("ascii"),
        content,
    )
    try:
        answer = await client.post(
            f"{url}{JOIN_PATH}",
            content=content,
            timeout=JOIN_TIMEOUT_S,
            headers={**headers, "content-type": "application/json"},
        )
    except (httpx.HTTPError, OSError) as exc:
        raise _network_error(url, exc) from None
    try:
        reply = answer.json()
    except ValueError:
        reply = {}
    if answer.status_code != 200:
        reason = reply.get("error") if isinstance(reply, dict) else None
        status = 409 if answer.status_code == 409 else 502
        raise JoinError(status, f"{url} refused the join: {reason or answer.status_code}")
    try:
        record = record_from_json(reply.get("server"))
    except (ReplicaError, AttributeError) as exc:
        raise JoinError(502, f"{url} answered the join with a bad server record: {exc}") from None
    if record.kind != "server" or record.key != health["node_id"] or record.value is None:
        raise JoinError(502, f"{url} answered the join with another server's record")
    await node.apply_remote_records([record])
    await node.after_server_added(record)
    return record.value


async def accept_join(
    node: JoinHost, method: str, target: str, headers: Any, body: bytes, parsed: Any
) -> Record:
    """The undefined node's side: become a member of the system in the join."""
    async with node.join_lock:
        if node.state.system() is not None:
            raise JoinError(409, "this server already belongs to a system")
        system, records = parse_join_bundle(parsed)
        check_join_signature(node.internode_verifier, system, method, target, headers, body)
        await node.apply_remote_records(records)
        own = await node.write(node.state.add_self, node.server_record())
        await node.on_joined_system()
    return own


async def wait_for(predicate: Any, timeout_s: float, step_s: float = 0.05) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step_s)
    return bool(predicate())
