"""Compact JSON forms of membership entries and load reports, validated on the way in.

A member entry says "node n, run (epoch e), incarnation i, is in state s":
    {"n": id, "a": "host:port", "e": epoch, "i": inc, "s": "a"|"s"|"d"|"l", "f": from}
A load entry carries one node's latest load, versioned by (epoch, q):
    {"n": id, "e": epoch, "q": seq, "c": cpu %, "m": mem %, "d": disk free B,
     "w": net B/s, "h": channels used, "x": {small extra dict}}
Parsing raises `WireError` (a ValueError); membership drops the entry or the message.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from node.membership._types import LoadReport, MemberState

_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_DIGEST = re.compile(r"[0-9a-f]{16}")
MAX_ADDRESS_LEN = 100
MAX_U63 = 2**63 - 1
MAX_EXTRA_KEYS = 8
MAX_EXTRA_STR = 64

STATE_CODES: dict[MemberState, str] = {"alive": "a", "suspect": "s", "dead": "d", "left": "l"}
CODE_STATES: dict[str, MemberState] = {v: k for k, v in STATE_CODES.items()}


class WireError(ValueError):
    """A membership payload or entry is malformed."""


@dataclass(frozen=True)
class Entry:
    node_id: str
    address: str
    epoch: int
    incarnation: int
    state: MemberState
    origin: str | None = None  # who suspected / declared it (suspect, dead)

    @property
    def key(self) -> tuple[int, int]:
        return (self.epoch, self.incarnation)


def check_node_id(value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise WireError("bad node id")
    return value


def check_address(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_ADDRESS_LEN or not value.isprintable():
        raise WireError("bad address")
    return value


def uint(value: Any, name: str, limit: int = MAX_U63) -> int:
    if type(value) is not int or not 0 <= value <= limit:
        raise WireError(f"bad {name}")
    return value


def _number(value: Any, name: str, limit: float) -> float:
    # Bounds first: math.isfinite() of an int too large for a float raises OverflowError.
    if type(value) not in (int, float) or not 0 <= value <= limit or not math.isfinite(value):
        raise WireError(f"bad {name}")
    return float(value)


def entry_to_json(e: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "n": e.node_id,
        "a": e.address,
        "e": e.epoch,
        "i": e.incarnation,
        "s": STATE_CODES[e.state],
    }
    if e.origin is not None:
        out["f"] = e.origin
    return out


def entry_from_json(d: Any) -> Entry:
    if not isinstance(d, dict) or not {"n", "a", "e", "i", "s"} <= set(d) <= {
        "n",
        "a",
        "e",
        "i",
        "s",
        "f",
    }:
        raise WireError("bad entry fields")
    address = check_address(d["a"])
    state = CODE_STATES.get(d["s"]) if isinstance(d["s"], str) else None
    if state is None:
        raise WireError("bad state")
    origin = check_node_id(d["f"]) if "f" in d else None
    return Entry(
        check_node_id(d["n"]), address, uint(d["e"], "epoch"), uint(d["i"], "inc"), state, origin
    )


@dataclass(frozen=True)
class LoadEntry:
    node_id: str
    epoch: int
    seq: int
    load: LoadReport

    @property
    def key(self) -> tuple[int, int]:
        return (self.epoch, self.seq)


def load_to_json(e: LoadEntry) -> dict[str, Any]:
    r = e.load
    out: dict[str, Any] = {
        "n": e.node_id,
        "e": e.epoch,
        "q": e.seq,
        "c": round(r.cpu_percent, 1),
        "m": round(r.mem_percent, 1),
        "d": r.disk_free_bytes,
        "w": round(r.net_bytes_per_s),
        "h": r.channels_used,
    }
    if r.extra:
        out["x"] = r.extra
    return out


def load_from_json(d: Any) -> LoadEntry:
    fields = {"n", "e", "q", "c", "m", "d", "w", "h"}
    if not isinstance(d, dict) or not fields <= set(d) <= fields | {"x"}:
        raise WireError("bad load fields")
    extra = d.get("x", {})
    if not isinstance(extra, dict) or len(extra) > MAX_EXTRA_KEYS:
        raise WireError("bad load extra")
    for k, v in extra.items():
        if len(k) > MAX_EXTRA_STR or not (
            isinstance(v, bool | int)
            or (isinstance(v, float) and math.isfinite(v))
            or (isinstance(v, str) and len(v) <= MAX_EXTRA_STR)
        ):
            raise WireError("bad load extra")
    load = LoadReport(
        cpu_percent=_number(d["c"], "cpu", 100_000),
        mem_percent=_number(d["m"], "mem", 100),
        disk_free_bytes=uint(d["d"], "disk"),
        net_bytes_per_s=_number(d["w"], "net", 1e15),
        channels_used=uint(d["h"], "channels", 100_000),
        extra=dict(extra),
    )
    return LoadEntry(check_node_id(d["n"]), uint(d["e"], "epoch"), uint(d["q"], "load seq"), load)


def validate_load(load: LoadReport) -> LoadReport:
    """Check a local load report the same way a remote one is checked."""
    load_from_json(load_to_json(LoadEntry("x", 0, 0, load)))
    return load


def table_digest(entries: list[Entry]) -> str:
    """A short hash of a member table (who, which run and incarnation, what state, where),
    the same on two nodes that agree on every member whatever the order."""
    rows = sorted(f"{e.node_id} {e.epoch} {e.incarnation} {e.state} {e.address}" for e in entries)
    return hashlib.blake2b("\n".join(rows).encode(), digest_size=8).hexdigest()


def size_of(obj: Any) -> int:
    """Bytes `obj` takes in a payload list (JSON plus the separating comma)."""
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()) + 1


def parse_list(payload: dict[str, Any], name: str) -> list[Any]:
    value = payload.get(name, [])
    if not isinstance(value, list):
        raise WireError(f"{name} must be a list")
    return value


def chunk_entries(entries: list[dict[str, Any]], room: int) -> list[list[dict[str, Any]]]:
    """Split entries into lists of at most `room` bytes each (never an empty list)."""
    chunks: list[list[dict[str, Any]]] = [[]]
    left = room
    for e in entries:
        cost = size_of(e)
        if cost > left and chunks[-1]:
            chunks.append([])
            left = room
        chunks[-1].append(e)
        left -= cost
    return chunks


@dataclass(frozen=True)
class ParsedPayload:
    me: Entry  # the sender's own entry (alive or left)
    updates: list[Entry]  # piggybacked ("u") and full-state ("m") entries
    loads: list[LoadEntry]
    body: dict[str, Any]  # type-specific fields: t, k, ta (ping, ping_req, ack), r, h (sync)
    bad_entries: int  # malformed entries skipped (the rest of the message is used)


def parse_payload(msg_type: str, sender: str, payload: Any) -> ParsedPayload:
    """Validate a membership message; raise WireError if the message as a whole is bad."""
    if not isinstance(payload, dict) or "me" not in payload:
        raise WireError("payload must be an object with 'me'")
    me = entry_from_json(payload["me"])
    if me.node_id != sender or me.state not in ("alive", "left"):
        raise WireError("sender entry does not match the sender")
    body: dict[str, Any] = {}
    if msg_type in ("ping", "ping_req"):
        body["t"] = check_node_id(payload.get("t"))
        body["k"] = uint(payload.get("k"), "seq")
        if msg_type == "ping_req":
            body["ta"] = check_address(payload.get("ta"))
    elif msg_type == "ack":
        body["k"] = uint(payload.get("k"), "seq")
    elif msg_type == "sync":
        body["r"] = payload.get("r", False) is True
        digest = payload.get("h")
        body["h"] = digest if isinstance(digest, str) and _DIGEST.fullmatch(digest) else None
    elif msg_type != "gossip":
        raise WireError(f"unknown message type {msg_type!r}")
    updates: list[Entry] = []
    loads: list[LoadEntry] = []
    bad = 0
    for raw in parse_list(payload, "u") + parse_list(payload, "m"):
        try:  # one bad entry is skipped, not the whole message
            updates.append(entry_from_json(raw))
        except WireError:
            bad += 1
    for raw in parse_list(payload, "l"):
        try:
            loads.append(load_from_json(raw))
        except WireError:
            bad += 1
    return ParsedPayload(me, updates, loads, body, bad)
