"""Gossip codec: round trip, and every bad datagram raises GossipRejected only."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.membership._codec import (
    MAGIC,
    MAX_DATAGRAM_BYTES,
    MAX_PAYLOAD_BYTES,
    REPLAY_WINDOW_SEQS,
    GossipCodec,
    GossipRejected,
    GossipTooLarge,
)
from node.security import PURPOSE_GOSSIP, derive_key

SECRET = b"s" * 32
NOW = 1_700_000_000_000


def pair(secret_b: bytes = SECRET, system_b: str = "sys1") -> tuple[GossipCodec, GossipCodec]:
    return GossipCodec("sys1", "node-a", SECRET, boot=1), GossipCodec(
        system_b, "node-b", secret_b, boot=2
    )


def reason(codec: GossipCodec, data: bytes, now: int = NOW) -> str:
    with pytest.raises(GossipRejected) as info:
        codec.decode(data, now)
    return info.value.reason


def test_round_trip() -> None:
    a, b = pair()
    env = b.decode(a.encode("ping", {"x": [1, "é"]}, incarnation=3, now_ms=NOW), NOW)
    assert (env.sender, env.type, env.incarnation, env.payload) == (
        "node-a",
        "ping",
        3,
        {"x": [1, "é"]},
    )
    assert (env.system_id, env.boot, env.seq, env.ts_ms) == ("sys1", 1, 0, NOW)


def test_key_is_derived_not_the_secret() -> None:
    assert derive_key(SECRET, PURPOSE_GOSSIP) != SECRET
    with pytest.raises(ValueError):
        derive_key(b"", PURPOSE_GOSSIP)


def test_forged_with_wrong_secret_rejected() -> None:
    a, _ = pair()
    _, b = pair(secret_b=b"other")
    assert reason(b, a.encode("ping", {}, incarnation=0, now_ms=NOW)) == "bad_mac"


def test_wrong_system_rejected_even_with_same_secret() -> None:
    a, _ = pair()
    b = GossipCodec("sys2", "node-b", SECRET)
    assert reason(b, a.encode("ping", {}, incarnation=0, now_ms=NOW)) == "wrong_system"


def test_flipped_body_byte_rejected() -> None:
    a, b = pair()
    data = bytearray(a.encode("ping", {"k": "value"}, incarnation=0, now_ms=NOW))
    data[-3] ^= 0x01
    assert reason(b, bytes(data)) == "bad_mac"


def test_replay_rejected_and_state_unchanged_by_rejection() -> None:
    a, b = pair()
    first = a.encode("ping", {}, incarnation=0, now_ms=NOW)
    second = a.encode("ping", {}, incarnation=0, now_ms=NOW)
    b.decode(first, NOW)
    assert reason(b, first) == "replayed"
    b.decode(second, NOW)  # a fresh datagram still passes
    assert reason(b, second, NOW + 1000) == "replayed"


def test_reordered_within_window_accepted_once() -> None:
    a, b = pair()
    datagrams = [a.encode("ping", {}, incarnation=0, now_ms=NOW) for _ in range(5)]
    for data in reversed(datagrams):
        b.decode(data, NOW)
    for data in datagrams:
        assert reason(b, data) == "replayed"


def test_too_old_sequence_rejected() -> None:
    a, b = pair()
    old = a.encode("ping", {}, incarnation=0, now_ms=NOW)
    for _ in range(REPLAY_WINDOW_SEQS):
        b.decode(a.encode("ping", {}, incarnation=0, now_ms=NOW), NOW)
    assert reason(b, old) == "replayed"


def test_restarted_sender_new_boot_accepted() -> None:
    a, b = pair()
    b.decode(a.encode("ping", {}, incarnation=0, now_ms=NOW), NOW)
    restarted = GossipCodec("sys1", "node-a", SECRET, boot=99)
    b.decode(restarted.encode("ping", {}, incarnation=0, now_ms=NOW), NOW)


def test_timestamp_window() -> None:
    a, b = pair()
    assert reason(b, a.encode("ping", {}, incarnation=0, now_ms=NOW - 30_001)) == "stale"
    assert reason(b, a.encode("ping", {}, incarnation=0, now_ms=NOW + 30_001)) == "future"
    b.decode(a.encode("ping", {}, incarnation=0, now_ms=NOW - 29_000), NOW)


def test_replay_after_window_is_stale() -> None:
    a, b = pair()
    data = a.encode("ping", {}, incarnation=0, now_ms=NOW)
    b.decode(data, NOW)
    # state for the boot may be pruned by now, but the timestamp check catches it
    b.decode(
        GossipCodec("sys1", "node-c", SECRET).encode("x", {}, incarnation=0, now_ms=NOW + 70_000),
        NOW + 70_000,
    )
    assert reason(b, data, NOW + 70_000) == "stale"


def test_own_datagram_reflected_rejected() -> None:
    a, _ = pair()
    other = GossipCodec("sys1", "node-a", SECRET, boot=5)
    assert reason(a, other.encode("ping", {}, incarnation=0, now_ms=NOW)) == "from_self"


def test_oversized_input_rejected_before_parsing() -> None:
    _, b = pair()
    assert reason(b, b"x" * (MAX_DATAGRAM_BYTES + 1)) == "too_large"


def test_encode_refuses_oversized_payload_and_fits_budget() -> None:
    a = GossipCodec("s" * 64, "n" * 64, SECRET, boot=2**63 - 1)
    with pytest.raises(GossipTooLarge):
        a.encode("ping", {"x": "y" * 1400}, incarnation=0, now_ms=NOW)
    # a payload of exactly the budget fits even with the longest header fields
    payload = {"x": "y" * (MAX_PAYLOAD_BYTES - 8)}
    assert len(json.dumps(payload, separators=(",", ":"))) == MAX_PAYLOAD_BYTES
    assert (
        len(a.encode("ping_req_xxxxxxx", payload, incarnation=2**64 - 1, now_ms=NOW))
        <= MAX_DATAGRAM_BYTES
    )


def signed(body: bytes) -> bytes:
    key = derive_key(SECRET, PURPOSE_GOSSIP)
    return MAGIC + hmac.new(key, MAGIC + body, hashlib.sha256).digest() + body


GOOD_BODY = {
    "v": 1,
    "sys": "sys1",
    "from": "node-a",
    "boot": 1,
    "inc": 0,
    "type": "ping",
    "seq": 0,
    "ts": NOW,
    "p": {},
}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"[" * 600 + b"]" * 600,
        json.dumps({**GOOD_BODY, "v": 2}).encode(),
        json.dumps({**GOOD_BODY, "extra": 1}).encode(),
        json.dumps({k: v for k, v in GOOD_BODY.items() if k != "p"}).encode(),
        json.dumps({**GOOD_BODY, "p": []}).encode(),
        json.dumps({**GOOD_BODY, "seq": -1}).encode(),
        json.dumps({**GOOD_BODY, "seq": 1.5}).encode(),
        json.dumps({**GOOD_BODY, "seq": True}).encode(),
        json.dumps({**GOOD_BODY, "inc": 2**64}).encode(),
        json.dumps({**GOOD_BODY, "ts": "now"}).encode(),
        json.dumps({**GOOD_BODY, "from": ""}).encode(),
        json.dumps({**GOOD_BODY, "from": "a b"}).encode(),
        json.dumps({**GOOD_BODY, "type": "PING"}).encode(),
        json.dumps({**GOOD_BODY, "p": {"x": float("nan")}}).encode(),
    ],
)
def test_malformed_but_authentic_bodies_rejected(body: bytes) -> None:
    _, b = pair()
    assert reason(b, signed(body)) == "malformed"


def test_signed_good_body_accepted() -> None:
    _, b = pair()
    assert b.decode(signed(json.dumps(GOOD_BODY).encode()), NOW).type == "ping"


@given(st.binary(max_size=1600))
@settings(max_examples=300)
def test_fuzz_random_bytes_only_gossip_rejected(data: bytes) -> None:
    _, b = pair()
    with pytest.raises(GossipRejected):
        b.decode(data, NOW)


@given(
    st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 200),
)
@settings(max_examples=300)
def test_fuzz_mutated_valid_packets_rejected(edits: list[tuple[int, int]], cut: int) -> None:
    a, b = pair()
    data = bytearray(a.encode("ping", {"u": [{"n": "node-c", "i": 4}]}, incarnation=1, now_ms=NOW))
    original = bytes(data)
    for pos, value in edits:
        data[pos % len(data)] = value
    mutated = bytes(data[: len(data) - cut])
    if mutated == original:
        return
    with pytest.raises(GossipRejected):
        b.decode(mutated, NOW)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=30,
    )
)
@settings(max_examples=200)
def test_fuzz_signed_arbitrary_json_only_gossip_rejected_or_valid(obj: object) -> None:
    _, b = pair()
    with contextlib.suppress(GossipRejected):
        b.decode(signed(json.dumps(obj).encode()), NOW)


def test_time_refusal_names_the_sender_and_its_clock_offset() -> None:
    a, b = pair()
    with pytest.raises(GossipRejected) as ahead:
        b.decode(a.encode("ping", {}, incarnation=0, now_ms=NOW + 3_600_000), NOW)
    assert (ahead.value.reason, ahead.value.sender, ahead.value.offset_ms) == (
        "future",
        "node-a",
        3_600_000,
    )
    with pytest.raises(GossipRejected) as behind:
        b.decode(a.encode("ping", {}, incarnation=0, now_ms=NOW - 45_000), NOW)
    assert (behind.value.reason, behind.value.sender, behind.value.offset_ms) == (
        "stale",
        "node-a",
        -45_000,
    )


def test_unauthentic_refusal_names_nobody() -> None:
    a, b = pair(secret_b=b"t" * 32)
    with pytest.raises(GossipRejected) as info:
        b.decode(a.encode("ping", {}, incarnation=0, now_ms=NOW + 3_600_000), NOW)
    assert info.value.reason == "bad_mac"
    assert info.value.sender is None and info.value.offset_ms is None


def test_wild_timestamp_offset_is_clipped() -> None:
    a, b = pair()
    with pytest.raises(GossipRejected) as info:
        b.decode(a.encode("ping", {}, incarnation=0, now_ms=2**64 - 1), NOW)
    assert info.value.reason == "future"
    assert info.value.offset_ms is not None and 0 < info.value.offset_ms <= 10 * 366 * 86_400_000
