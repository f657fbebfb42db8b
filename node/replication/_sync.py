"""Replication of the configuration records between the members of a system.

Two paths, both over internode-authenticated HTTP (node/internode_auth.py):

- push: every local write is queued and, on the next loop turn, POSTed to every member
  that is not known dead (`/api/v1/internal/records`), so a change reaches the live
  members in one round trip;
- pull (anti-entropy): every `interval_s` the node exchanges digests with one random
  member (`/internal/sync`, node/replica.py's digest / bucket_versions / plan_sync),
  sends what the peer lacks and fetches what it lacks (`/internal/fetch`). A node that
  was down catches up within a round or two; concurrent edits converge because every
  node keeps the record with the greatest HLC version (RecordStore.apply_remote).

The HTTP and the membership are injected (`post`, `targets`), so this module is plain
asyncio logic around the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from node.replication._records import (
    Record,
    ReplicaError,
    bucket_versions,
    differing_buckets,
    digest_from_json,
    digest_to_json,
    plan_sync,
    record_from_json,
    record_to_json,
    versions_from_json,
    versions_to_json,
)
from node.replication._store import RecordStore

log = logging.getLogger(__name__)

ANTI_ENTROPY_INTERVAL_S = 1.0
MAX_RECORDS_PER_CALL = 400  # records per push / fetch call (bodies stay well under 1 MiB)
RECORDS_PATH = "/api/v1/internal/records"
SYNC_PATH = "/api/v1/internal/sync"
FETCH_PATH = "/api/v1/internal/fetch"

Post = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
Targets = Callable[[], list[tuple[str, str]]]  # [(node id, base url)] of other members
Apply = Callable[[list[Record]], Awaitable[int]]


class Replicator:
    def __init__(
        self,
        store: RecordStore,
        *,
        post: Post,
        targets: Targets,
        apply: Apply,
        interval_s: float = ANTI_ENTROPY_INTERVAL_S,
    ) -> None:
        self._store = store
        self._post = post
        self._targets = targets
        self._apply = apply
        self._interval_s = interval_s
        self._pending: dict[tuple[str, str], Record] = {}
        self._flush_task: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stats: dict[str, int] = {"pushed": 0, "push_failed": 0, "synced": 0, "fetched": 0}

    # ----------------------------------------------------------------- life cycle

    def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._anti_entropy_loop())

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, self._flush_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = self._flush_task = None
        self._pending.clear()

    # ----------------------------------------------------------------------- push

    def queue_push(self, records: list[Record]) -> None:
        """Send these records to every live member soon (call on the event loop)."""
        for record in records:
            self._pending[record.id] = record
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush())

    async def push_now(self, records: list[Record]) -> None:
        """Send records to every live member and wait for the answers (best effort)."""
        await self._send_all([record_to_json(r) for r in records])

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # gather a burst of writes into one call
        while self._pending:
            batch = list(self._pending.values())[:MAX_RECORDS_PER_CALL]
            for record in batch:
                self._pending.pop(record.id, None)
            await self._send_all([record_to_json(r) for r in batch])

    async def _send_all(self, records: list[dict[str, Any]]) -> None:
        targets = self._targets()
        if not targets or not records:
            return
        results = await asyncio.gather(
            *(self._post(url, RECORDS_PATH, {"records": records}) for _, url in targets),
            return_exceptions=True,
        )
        for (node_id, _), result in zip(targets, results, strict=True):
            if isinstance(result, BaseException):
                self.stats["push_failed"] += 1
                log.debug("replication: push to %s failed: %r", node_id, result)
            else:
                self.stats["pushed"] += 1

    # -------------------------------------------------------------- anti-entropy

    async def _anti_entropy_loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s * random.uniform(0.8, 1.2))
            targets = self._targets()
            if not targets:
                continue
            node_id, url = random.choice(targets)
            try:
                await self.sync_with(url)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # peer away or refusing: try another next round
                log.debug("replication: anti-entropy with %s failed: %r", node_id, exc)

    async def sync_with(self, url: str) -> tuple[int, int]:
        """One anti-entropy round with the member at `url`: (records sent, received)."""
        answer = await self._post(url, SYNC_PATH, {"digest": digest_to_json(self._store.digest())})
        try:
            remote = versions_from_json(answer.get("versions", []))
            buckets = [(str(k), int(i)) for k, i in answer.get("buckets", [])]
        except (ReplicaError, TypeError, ValueError) as exc:
            raise ReplicaError(f"bad sync answer: {exc}") from None
        plan = plan_sync(self._store.versions(), remote, buckets)
        self.stats["synced"] += 1
        sent = 0
        for chunk in _chunks(self._store.records(plan.send)):
            await self._post(url, RECORDS_PATH, {"records": [record_to_json(r) for r in chunk]})
            sent += len(chunk)
        received = 0
        for ids in _chunks(plan.request):
            got = await self._post(url, FETCH_PATH, {"ids": [list(i) for i in ids]})
            records = parse_records(got.get("records"))
            received += await self._apply(records)
        self.stats["fetched"] += received
        return sent, received

    # ------------------------------------------------------- answering a peer

    def answer_sync(self, body: Any) -> dict[str, Any]:
        """The versions of our buckets that differ from the peer's digest."""
        if not isinstance(body, dict):
            raise ReplicaError("body must be an object")
        theirs = digest_from_json(body.get("digest"))
        buckets = sorted(differing_buckets(self._store.digest(), theirs))
        versions = bucket_versions(self._store.versions(), buckets)
        return {"versions": versions_to_json(versions), "buckets": [list(b) for b in buckets]}

    def answer_fetch(self, body: Any) -> dict[str, Any]:
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or len(ids) > MAX_RECORDS_PER_CALL:
            raise ReplicaError(f"ids must be a list of at most {MAX_RECORDS_PER_CALL} [kind, key]")
        wanted = []
        for item in ids:
            if not (
                isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
            ):
                raise ReplicaError("each id must be [kind, key]")
            wanted.append((item[0], item[1]))
        return {"records": [record_to_json(r) for r in self._store.records(wanted)]}


def parse_records(data: Any) -> list[Record]:
    """Records from a peer's JSON list; ReplicaError on anything malformed."""
    if not isinstance(data, list) or len(data) > MAX_RECORDS_PER_CALL * 50:
        raise ReplicaError("records must be a list")
    return [record_from_json(item) for item in data]


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + MAX_RECORDS_PER_CALL] for i in range(0, len(items), MAX_RECORDS_PER_CALL)]


async def cancel_quietly(task: asyncio.Task[Any] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
