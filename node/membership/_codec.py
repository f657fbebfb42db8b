"""Gossip datagram codec: authenticated, replay-protected, size-bounded. Pure (no sockets).

Wire format of one UDP datagram (at most `MAX_DATAGRAM_BYTES`):

    b"CKG1" | HMAC-SHA256(key, b"CKG1" + body) (32 bytes) | body

`body` is compact UTF-8 JSON: {"v": 1, "sys": system_id, "from": sender node id,
"boot": sender's codec boot id, "inc": incarnation, "type": message type, "seq": per-boot
sequence number, "ts": sender wall clock ms, "p": payload object}.

The key is node.security's derive_key(system secret, PURPOSE_GOSSIP) (HMAC(secret,
"camkeep gossip v1" || 0x01)), so the secret itself never keys a MAC and other uses of
the secret get other keys. `decode()` checks, in this order:
size, magic, MAC (constant time), JSON shape, system id, timestamp window (±30 s by
default, `now_ms` injected; a refusal for it names the sender and its clock offset)
and replay (per (sender, boot): a sliding window of sequence numbers, IPsec style).
Every failure raises `GossipRejected(reason)` and nothing else; a rejected datagram
changes no state.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from node.membership._clock_offsets import clip_offset_ms
from node.security import PURPOSE_GOSSIP, derive_key, mac, same_mac

MAGIC = b"CKG1"
TAG_BYTES = 32
# One UDP datagram on an Ethernet LAN without fragmentation (1500 MTU - IP/UDP headers
# with room to spare).
MAX_DATAGRAM_BYTES = 1400
# What a payload may take so the whole datagram fits: header fields are bounded below
# (node ids <= 64, system id <= 64, numbers <= 20 digits): at most 302 bytes with magic+tag.
MAX_PAYLOAD_BYTES = MAX_DATAGRAM_BYTES - 320
DEFAULT_WINDOW_MS = 30_000  # accepted clock skew / message age, either way
REPLAY_WINDOW_SEQS = 1024  # how far behind the newest seq a late datagram may arrive
MAX_REPLAY_STATES = 4096  # (sender, boot) pairs remembered; only authenticated ones

_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_TYPE_PATTERN = re.compile(r"[a-z_]{1,16}")
_MAX_U64 = 2**64 - 1


class GossipRejected(Exception):
    """A datagram was refused. `reason` is one short token, safe to log and count.

    For "stale" and "future" (refused after the MAC check, so the sender is known)
    `sender` and `offset_ms` (its clock minus ours, clipped) say whose clock is off and
    by how much; they are None for every other reason."""

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        sender: str | None = None,
        offset_ms: int | None = None,
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.sender = sender
        self.offset_ms = offset_ms


class GossipTooLarge(ValueError):
    """encode() was given a payload that does not fit in one datagram (a local bug)."""


@dataclass(frozen=True)
class Envelope:
    system_id: str
    sender: str
    boot: int
    incarnation: int
    type: str
    seq: int
    ts_ms: int
    payload: dict[str, Any]


def payload_size(payload: Mapping[str, Any]) -> int:
    """Bytes a payload takes on the wire (used to pack messages under the limit)."""
    return len(_dumps(payload))


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


@dataclass
class _ReplayState:
    """Sequence numbers seen from one (sender, boot): newest, and a bitmap behind it."""

    highest: int
    bitmap: int  # bit i set = seq (highest - i) seen
    last_accept_ms: int = field(default=0)

    def seen(self, seq: int) -> bool:
        if seq > self.highest:
            return False
        behind = self.highest - seq
        return behind >= REPLAY_WINDOW_SEQS or bool(self.bitmap >> behind & 1)

    def mark(self, seq: int) -> None:
        if seq > self.highest:
            shift = seq - self.highest
            mask = (1 << REPLAY_WINDOW_SEQS) - 1
            self.bitmap = ((self.bitmap << shift) | 1) & mask
            self.highest = seq
        else:
            self.bitmap |= 1 << (self.highest - seq)


class GossipCodec:
    """Encodes this node's datagrams and decodes (authenticates, de-duplicates) others'.

    `boot` identifies this process run (random by default) so a restarted node's
    sequence numbers start afresh without looking like replays.
    """

    def __init__(
        self,
        system_id: str,
        node_id: str,
        system_secret: bytes,
        *,
        boot: int | None = None,
        window_ms: int = DEFAULT_WINDOW_MS,
    ) -> None:
        for name, value in (("system_id", system_id), ("node_id", node_id)):
            if not _ID_PATTERN.fullmatch(value):
                raise ValueError(f"{name} must match {_ID_PATTERN.pattern}")
        self.system_id = system_id
        self.node_id = node_id
        self.boot = secrets.randbits(63) if boot is None else boot
        self.window_ms = window_ms
        self._key = derive_key(system_secret, PURPOSE_GOSSIP)
        self._next_seq = 0
        self._replay: dict[tuple[str, int], _ReplayState] = {}

    # ------------------------------------------------------------------ encode

    def encode(
        self, msg_type: str, payload: Mapping[str, Any], *, incarnation: int, now_ms: int
    ) -> bytes:
        """One datagram carrying `payload`; raises GossipTooLarge if it does not fit."""
        if not _TYPE_PATTERN.fullmatch(msg_type):
            raise ValueError(f"message type must match {_TYPE_PATTERN.pattern}")
        body = _dumps(
            {
                "v": 1,
                "sys": self.system_id,
                "from": self.node_id,
                "boot": self.boot,
                "inc": incarnation,
                "type": msg_type,
                "seq": self._next_seq,
                "ts": now_ms,
                "p": dict(payload),
            }
        )
        datagram = MAGIC + self._tag(body) + body
        if len(datagram) > MAX_DATAGRAM_BYTES:
            raise GossipTooLarge(f"{len(datagram)} bytes > {MAX_DATAGRAM_BYTES}")
        self._next_seq += 1
        return datagram

    def _tag(self, body: bytes) -> bytes:
        return mac(self._key, MAGIC + body)

    # ------------------------------------------------------------------ decode

    def decode(self, data: bytes, now_ms: int) -> Envelope:
        """Authenticate and parse one datagram; raise GossipRejected on any problem."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise GossipRejected("malformed", "not bytes")
        if len(data) > MAX_DATAGRAM_BYTES:
            raise GossipRejected("too_large", f"{len(data)} bytes")
        data = bytes(data)
        if len(data) < len(MAGIC) + TAG_BYTES + 2:
            raise GossipRejected("too_short")
        if data[: len(MAGIC)] != MAGIC:
            raise GossipRejected("bad_magic")
        tag, body = data[len(MAGIC) : len(MAGIC) + TAG_BYTES], data[len(MAGIC) + TAG_BYTES :]
        if not same_mac(tag, self._tag(body)):
            raise GossipRejected("bad_mac")
        envelope = self._parse_body(body)
        if envelope.system_id != self.system_id:
            raise GossipRejected("wrong_system")
        if envelope.sender == self.node_id:
            raise GossipRejected("from_self")  # our own datagram reflected back
        offset_ms = clip_offset_ms(envelope.ts_ms - now_ms)
        if envelope.ts_ms < now_ms - self.window_ms:
            raise GossipRejected(
                "stale", f"{-offset_ms} ms old", sender=envelope.sender, offset_ms=offset_ms
            )
        if envelope.ts_ms > now_ms + self.window_ms:
            raise GossipRejected(
                "future", f"{offset_ms} ms ahead", sender=envelope.sender, offset_ms=offset_ms
            )
        self._check_and_mark_replay(envelope, now_ms)
        return envelope

    def _parse_body(self, body: bytes) -> Envelope:
        try:
            obj = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise GossipRejected("malformed", type(exc).__name__) from None
        expected = {"v", "sys", "from", "boot", "inc", "type", "seq", "ts", "p"}
        if not isinstance(obj, dict) or set(obj) != expected or obj["v"] != 1:
            raise GossipRejected("malformed", "bad envelope fields")
        for name in ("sys", "from"):
            if not isinstance(obj[name], str) or not _ID_PATTERN.fullmatch(obj[name]):
                raise GossipRejected("malformed", f"bad {name}")
        if not isinstance(obj["type"], str) or not _TYPE_PATTERN.fullmatch(obj["type"]):
            raise GossipRejected("malformed", "bad type")
        for name in ("boot", "inc", "seq", "ts"):
            value = obj[name]
            if type(value) is not int or not 0 <= value <= _MAX_U64:
                raise GossipRejected("malformed", f"bad {name}")
        if not isinstance(obj["p"], dict):
            raise GossipRejected("malformed", "payload must be an object")
        return Envelope(
            system_id=obj["sys"],
            sender=obj["from"],
            boot=obj["boot"],
            incarnation=obj["inc"],
            type=obj["type"],
            seq=obj["seq"],
            ts_ms=obj["ts"],
            payload=obj["p"],
        )

    def _check_and_mark_replay(self, env: Envelope, now_ms: int) -> None:
        key = (env.sender, env.boot)
        state = self._replay.get(key)
        if state is not None and state.seen(env.seq):
            raise GossipRejected("replayed", f"seq {env.seq} from {env.sender}")
        if state is None:
            self._prune(now_ms)
            state = self._replay[key] = _ReplayState(highest=env.seq, bitmap=0)
        state.mark(env.seq)
        state.last_accept_ms = now_ms

    def _prune(self, now_ms: int) -> None:
        # A datagram accepted at r0 can only be replayed while |ts - now| <= window, that
        # is until r0 + 2 * window; state older than that protects nothing.
        horizon = now_ms - 2 * self.window_ms
        for key in [k for k, s in self._replay.items() if s.last_accept_ms < horizon]:
            del self._replay[key]
        while len(self._replay) >= MAX_REPLAY_STATES:
            oldest = min(self._replay, key=lambda k: self._replay[k].last_accept_ms)
            del self._replay[oldest]
