"""Membership state machine, message by message (no network, explicit time)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.membership._codec import MAX_PAYLOAD_BYTES, GossipCodec
from node.membership._machine import Membership
from node.membership._queue import BroadcastQueue, retransmit_limit, suspicion_timeout
from node.membership._types import LoadReport, MembershipConfig, Message, Outgoing
from node.membership._wire import Entry, WireError, entry_from_json, load_from_json

CFG = MembershipConfig()


def entry(node: str, inc: int = 0, state: str = "a", epoch: int = 0, **extra: Any) -> dict:
    return {"n": node, "a": f"{node}:1", "e": epoch, "i": inc, "s": state, **extra}


def msg(
    sender: str, kind: str = "gossip", *, inc: int = 0, epoch: int = 0, **payload: Any
) -> Message:
    return Message(kind, sender, {"me": entry(sender, inc, epoch=epoch), **payload}, inc)


def node(name: str = "me", **cfg: Any) -> Membership:
    return Membership(name, MembershipConfig(**cfg), address=f"{name}:1", rng=random.Random(1))


def joined(m: Membership, *peers: str, now: float = 0.0) -> Membership:
    for p in peers:
        m.on_message(msg(p), now)
    m.pop_events()
    return m


def kinds(out: list[Outgoing]) -> list[tuple[str, str | None]]:
    return [(o.message.type, o.to) for o in out]


def first_ping(m: Membership) -> tuple[float, Outgoing]:
    """Tick from 0 s in 50 ms steps until `m` sends its first direct ping: (time, ping)."""
    t = 0.0
    out = m.on_tick(t)
    while not any(o.message.type == "ping" for o in out):
        t += 0.05
        out = m.on_tick(t)
    return t, next(o for o in out if o.message.type == "ping")


# ---------------------------------------------------------------- pure math


@pytest.mark.parametrize(
    ("confirmations", "expected"),
    [(0, 0.9), (1, 0.9 - 0.4 * 0.6309), (2, 0.5), (5, 0.5)],
)
def test_suspicion_timeout_shrinks_with_confirmations(confirmations: int, expected: float) -> None:
    assert suspicion_timeout(confirmations, 2, 0.5, 0.9) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(("members", "limit"), [(1, 4), (9, 4), (10, 8), (99, 8), (100, 12)])
def test_retransmit_limit_grows_with_log_of_members(members: int, limit: int) -> None:
    assert retransmit_limit(4, members) == limit


def test_broadcast_queue_replaces_per_node_and_drops_after_limit() -> None:
    q = BroadcastQueue()
    q.push(Entry("a", "a:1", 0, 1, "alive"))
    q.push(Entry("a", "a:1", 0, 2, "suspect"))
    q.push(Entry("b", "b:1", 0, 0, "alive"))
    assert len(q) == 2
    taken, used = q.take(10_000, limit=2)
    assert {e["n"]: e["i"] for e in taken} == {"a": 2, "b": 0} and used > 0
    q.take(10_000, limit=2)
    assert len(q) == 0


def test_broadcast_queue_respects_budget_least_sent_first() -> None:
    q = BroadcastQueue()
    for i in range(50):
        q.push(Entry(f"node{i:02d}", "x:1", 0, 0, "alive"))
    first, used = q.take(300, limit=3)
    assert used <= 300 and 0 < len(first) < 50
    second, _ = q.take(300, limit=3)
    assert not {e["n"] for e in first} & {e["n"] for e in second}


def test_config_validation() -> None:
    for bad in (
        {"probe_interval_s": 0},
        {"probe_timeout_s": 0.3},
        {"suspicion_min_s": 2.0},
        {"indirect_probes": 0},
        {"max_payload_bytes": 5000},
        {"probe_interval_s": float("nan")},
    ):
        with pytest.raises(ValueError):
            MembershipConfig(**bad)


# ---------------------------------------------------------------- wire


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {"n": "a"},
        entry("a b"),
        entry("a", -1),
        entry("a", state="x"),
        entry("a", True),
        {**entry("a"), "a": 5},
        {**entry("a"), "z": 1},
        entry("a", f="bad id"),
    ],
)
def test_entry_from_json_rejects(raw: Any) -> None:
    with pytest.raises(WireError):
        entry_from_json(raw)


def test_load_from_json_rejects_bad_values() -> None:
    good = {"n": "a", "e": 0, "q": 1, "c": 1.0, "m": 2.0, "d": 3, "w": 4, "h": 5}
    load_from_json(good)
    for patch in (
        {"c": -1},
        {"m": 101},
        {"d": 1.5},
        {"c": float("inf")},
        {"x": {"k" * 65: 1}},
        {"x": {str(i): i for i in range(9)}},
        {"x": {"k": [1]}},
        {"q": "1"},
    ):
        with pytest.raises(WireError):
            load_from_json({**good, **patch})


# ---------------------------------------------------------------- behaviour


def test_unknown_sender_joins_and_ping_is_acked() -> None:
    m = node()
    out = m.on_message(msg("peer", "ping", t="me", k=7), 1.0)
    assert ("ack", "peer") in kinds(out)
    ack = next(o for o in out if o.message.type == "ack")
    assert ack.message.payload["k"] == 7 and ack.address == "peer:1"
    assert m.members()["peer"].state == "alive"
    assert [e.kind for e in m.pop_events()] == ["joined"]


def test_ping_for_another_node_is_not_acked() -> None:
    m = node()
    assert ("ack", "peer") not in kinds(m.on_message(msg("peer", "ping", t="other", k=7), 1.0))


def test_probe_without_ack_goes_indirect_then_suspect_then_dead() -> None:
    m = joined(node(), "a", "b", "c", "d")
    t, ping = first_ping(m)
    target = ping.to
    out = m.on_tick(t + CFG.probe_timeout_s)
    reqs = [o for o in out if o.message.type == "ping_req"]
    assert len(reqs) == 3 and all(o.to != target for o in reqs)
    assert ("ping", target) in kinds(out)  # and a second direct ping
    assert all(o.message.payload["t"] == target for o in reqs)
    out = m.on_tick(t + CFG.probe_interval_s)
    assert m.members()[target].state == "suspect"
    assert ("gossip", target) in kinds(out)  # the suspect is told directly
    m.on_tick(t + CFG.probe_interval_s + CFG.suspicion_max_s + 0.001)
    assert m.members()[target].state == "dead"
    assert [e.kind for e in m.pop_events() if e.node_id == target] == ["suspect", "dead"]


def test_ack_through_relay_keeps_target_alive() -> None:
    m = joined(node(), "a", "b", "c", "d")
    t, ping = first_ping(m)
    m.on_tick(t + CFG.probe_timeout_s)
    helper = next(p for p in "abcd" if p != ping.to)
    m.on_message(msg(helper, "ack", k=ping.message.payload["k"]), t + 0.15)
    m.on_tick(t + CFG.probe_interval_s)
    assert m.members()[ping.to].state == "alive"


def test_relay_forwards_ping_and_ack() -> None:
    m = joined(node(), "req", "target")
    out = m.on_message(msg("req", "ping_req", t="target", ta="target:1", k=42), 1.0)
    ping = next(o for o in out if o.message.type == "ping")
    assert ping.to == "target" and ping.address == "target:1"
    out = m.on_message(msg("target", "ack", k=ping.message.payload["k"]), 1.01)
    ack = next(o for o in out if o.message.type == "ack")
    assert ack.to == "req" and ack.message.payload["k"] == 42


def test_suspicion_about_self_is_refuted_with_higher_incarnation() -> None:
    m = joined(node(), "a")
    out = m.on_message(msg("a", u=[entry("me", 0, "s", f="a")]), 1.0)
    assert m.incarnation == 1
    refute = [o for o in out if o.to == "a" and o.message.type == "gossip"]
    assert refute and refute[0].message.payload["u"][0] == entry("me", 1)
    # an old suspicion (lower incarnation) is ignored
    m.on_message(msg("a", u=[entry("me", 0, "d")]), 2.0)
    assert m.incarnation == 1


def test_suspect_cleared_only_by_higher_incarnation() -> None:
    m = joined(node(), "a", "b")
    m.on_message(msg("b", u=[entry("a", 0, "s", f="b")]), 1.0)
    assert m.members()["a"].state == "suspect"
    m.on_message(msg("b", u=[entry("a", 0, "a")]), 1.1)  # same incarnation: stale
    assert m.members()["a"].state == "suspect"
    m.on_message(msg("b", u=[entry("a", 1, "a")]), 1.2)
    assert m.members()["a"].state == "alive"
    assert [e.kind for e in m.pop_events()] == ["suspect", "alive"]


def test_message_from_suspect_itself_prompts_direct_notice() -> None:
    m = joined(node(), "a", "b")
    m.on_message(msg("b", u=[entry("a", 0, "s", f="b")]), 1.0)
    out = m.on_message(msg("a"), 1.1)
    notice = [o for o in out if o.to == "a"]
    assert notice and notice[0].message.payload["u"][0]["s"] == "s"


def test_dead_not_revived_by_same_incarnation_but_by_new_epoch() -> None:
    m = joined(node(), "a", "b")
    m.on_message(msg("b", u=[entry("a", 3, "d", f="b")]), 1.0)
    assert m.members()["a"].state == "dead"
    m.on_message(msg("b", u=[entry("a", 3, "a")]), 1.1)
    assert m.members()["a"].state == "dead"
    m.on_message(msg("a", epoch=5), 1.2)  # restarted process: larger epoch, incarnation 0
    assert m.members()["a"].state == "alive" and m.members()["a"].epoch == 5


def test_death_rumour_about_a_member_heard_just_now_is_checked_as_a_suspicion() -> None:
    # a healed partition: b (cut off until now) still holds a dead at a's incarnation
    m = joined(node(), "a", "b", now=1.0)
    out = m.on_message(msg("b", u=[entry("a", 0, "d", f="b")]), 1.1)
    assert m.members()["a"].state == "suspect"  # alive for failover: nothing moves
    notice = [o for o in out if o.to == "a"]
    assert notice and notice[0].message.payload["u"][0]["s"] == "s"  # a refutes at once
    assert m.stats["doubted_deaths"] == 1
    m.on_message(msg("a", inc=1), 1.12)  # the refutation
    assert m.members()["a"].state == "alive" and m.members()["a"].incarnation == 1


def test_death_rumour_is_believed_once_the_member_has_been_silent_long_enough() -> None:
    m = joined(node(), "a", "b", now=1.0)
    m.on_message(msg("b"), 1.0 + CFG.death_rumour_silence_s)  # b speaks, a stays silent
    m.on_message(msg("b", u=[entry("a", 0, "d", f="b")]), 1.0 + CFG.death_rumour_silence_s)
    assert m.members()["a"].state == "dead"


def test_rumour_silence_zero_believes_every_death_at_once() -> None:
    assert CFG.death_rumour_silence_s == CFG.detection_bound_s
    m = joined(node(rumour_silence_s=0.0), "a", "b", now=1.0)
    m.on_message(msg("b", u=[entry("a", 0, "d", f="b")]), 1.0)
    assert m.members()["a"].state == "dead"
    with pytest.raises(ValueError, match="rumour_silence_s"):
        MembershipConfig(rumour_silence_s=-1.0)


def test_confirmations_shorten_suspicion() -> None:
    m = joined(node(), "a", "b", "c", "d")
    m.on_message(msg("b", u=[entry("a", 0, "s", f="b")]), 1.0)
    m.on_message(msg("c", u=[entry("a", 0, "s", f="c")]), 1.0)
    m.on_message(msg("d", u=[entry("a", 0, "s", f="d")]), 1.0)
    m.on_tick(1.0 + CFG.suspicion_min_s + 0.001)
    assert m.members()["a"].state == "dead"


def test_leave_tells_everyone_then_goes_quiet() -> None:
    m = joined(node(), "a", "b")
    out = m.leave(1.0)
    assert sorted(o.to for o in out) == ["a", "b"]
    assert all(o.message.payload["u"][0]["s"] == "l" for o in out)
    assert m.on_tick(2.0) == [] and m.on_message(msg("a", "ping", t="me", k=1), 2.0) == []
    other = joined(node("a"), "b")
    other.on_message(msg("me"), 0.5)
    other.on_message(out[0].message, 1.0)
    assert other.members()["me"].state == "left"


def test_add_peer_sends_sync_to_seed_address() -> None:
    m = node()
    m.add_peer(None, "seed:1")
    assert m.next_deadline() is None
    out = m.on_tick(0.0)
    assert [(o.message.type, o.address, o.message.payload["r"]) for o in out] == [
        ("sync", "seed:1", True)
    ]


def test_sync_reply_carries_full_state_in_several_datagrams() -> None:
    m = joined(node(), *[f"peer{i:03d}" for i in range(60)])
    out = m.on_message(msg("asker", "sync", r=True), 1.0)
    syncs = [o for o in out if o.message.type == "sync"]
    assert len(syncs) > 1
    seen = {e["n"] for o in syncs for e in o.message.payload["m"]}
    assert seen == {"me", "asker"} | {f"peer{i:03d}" for i in range(60)}


def periodic_sync(m: Membership) -> Outgoing:
    t, out = 0.0, []
    while not any(o.message.type == "sync" for o in out):
        t += 0.1
        out = m.on_tick(t)
    return next(o for o in out if o.message.type == "sync")


def test_periodic_sync_sends_only_a_digest_of_the_table() -> None:
    m = joined(node(), *[f"peer{i:03d}" for i in range(60)])
    sync = periodic_sync(m)
    payload = sync.message.payload
    assert payload["r"] is True and len(payload["h"]) == 16
    assert "m" not in payload and "l" not in payload  # one small datagram


def test_digest_sync_answered_only_when_tables_differ() -> None:
    peers = [f"peer{i:03d}" for i in range(20)]
    a, b = joined(node("a"), "b", *peers), joined(node("b"), "a", *peers)
    request = periodic_sync(a).message
    assert b.on_message(request, 1.0) == []  # same table: nothing to heal
    b.on_message(msg("peer000", "gossip", u=[entry("peer001", 0, "s", f="peer000")]), 1.0)
    answer = b.on_message(request, 1.0)
    assert answer and {o.message.type for o in answer} == {"sync"}
    assert answer[0].message.payload["r"] is True  # the asker sends its table back
    assert "peer001" in {e["n"] for o in answer for e in o.message.payload["m"]}
    back = a.on_message(answer[0].message, 1.0)
    assert next(o.message.payload["r"] for o in back if o.message.type == "sync") is False


def test_malformed_sync_digest_is_treated_as_a_whole_table_request() -> None:
    m = joined(node(), "asker", "other")
    for bad in ("ZZ", 7, "0" * 17):
        out = m.on_message(msg("asker", "sync", r=True, h=bad), 1.0)
        assert [o.message.payload["r"] for o in out] == [False]
        assert {e["n"] for e in out[0].message.payload["m"]} == {"me", "asker", "other"}


def test_every_message_fits_one_datagram_with_many_members_and_loads() -> None:
    codec = GossipCodec("sys", "me", b"k" * 32)
    m = node()
    m.set_load(LoadReport(1.0, 2.0, 3, 4.0, 5, {f"k{i}": "v" * 60 for i in range(8)}))
    peers = [f"peer-with-a-long-name-{i:03d}" for i in range(150)]
    for i, p in enumerate(peers):
        load = {
            "n": p,
            "e": 0,
            "q": 1,
            "c": 1.5,
            "m": 2.5,
            "d": 10**12,
            "w": 10**9,
            "h": 7,
            "x": {f"k{j}": "v" * 60 for j in range(8)},
        }
        m.on_message(msg(p, l=[load], u=[entry(peers[i - 1], 0, "s", f=p)]), 0.0)
    outs = m.on_tick(0.0) + m.on_tick(5.0) + m.on_message(msg(peers[0], "sync", r=True), 5.0)
    outs += m.on_message(msg(peers[1], "ping", t="me", k=1), 5.0)
    assert outs
    for o in outs:
        data = codec.encode(o.message.type, o.message.payload, incarnation=0, now_ms=0)
        assert len(data) <= MAX_PAYLOAD_BYTES + 320


def test_loads_are_versioned_and_newest_wins() -> None:
    m = joined(node(), "a")
    load = {"n": "a", "e": 0, "q": 5, "c": 50.0, "m": 1.0, "d": 1, "w": 1, "h": 3}
    m.on_message(msg("a", l=[load]), 1.0)
    m.on_message(msg("a", l=[{**load, "q": 4, "c": 10.0}]), 1.1)
    view = m.members()["a"].load
    assert view is not None and view.cpu_percent == 50.0 and view.channels_used == 3


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"me": entry("other")},
        {"me": entry("peer", state="d")},
        {"me": entry("peer"), "u": "x"},
        {"me": entry("peer"), "t": "me"},
        {"me": entry("peer"), "l": {}},
    ],
)
def test_malformed_payloads_are_counted_and_dropped(payload: dict) -> None:
    m = node()
    kind = "ping" if "t" in payload else "gossip"
    assert m.on_message(Message(kind, "peer", payload), 1.0) == []
    assert m.stats["malformed"] == 1 and "peer" not in m.members()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**64) | st.text(max_size=12),
    lambda c: (
        st.lists(c, max_size=4)
        | st.dictionaries(st.sampled_from([*list("naeisftkurlmq"), "me", "ta"]), c, max_size=6)
    ),
    max_leaves=25,
)


@given(
    st.sampled_from(["ping", "ack", "ping_req", "gossip", "sync", "bogus"]),
    json_values,
    json_values,
)
@settings(max_examples=300)
def test_fuzz_on_message_never_raises(kind: str, me: Any, rest: Any) -> None:
    m = joined(node(), "peer")
    payload = dict(rest) if isinstance(rest, dict) else {}
    payload["me"] = me if not isinstance(me, dict) else {**entry("peer"), **me}
    m.on_message(Message(kind, "peer", payload), 1.0)
    m.on_tick(2.0)
    m.members()


valid_entry = st.builds(
    entry,
    st.sampled_from(["me", "a", "b", "c"]),
    st.integers(0, 5),
    st.sampled_from(["a", "s", "d", "l"]),
    st.integers(0, 2),
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["ping", "ack", "ping_req", "gossip", "sync"]),
            st.lists(valid_entry, max_size=4),
            st.floats(0, 0.5),
        ),
        max_size=30,
    )
)
@settings(max_examples=200)
def test_property_valid_message_sequences_keep_invariants(steps: list) -> None:
    m = node()
    now, last_version = 0.0, (m.epoch, m.incarnation)
    for sender, kind, updates, dt in steps:
        now += dt
        body: dict[str, Any] = {"u": updates}
        if kind in ("ping", "ping_req"):
            body |= {"t": "me" if kind == "ping" else "c", "ta": "c:1", "k": 1}
        elif kind == "ack":
            body["k"] = 1
        m.on_message(msg(sender, kind, **body), now)
        m.on_tick(now)
        version = (m.epoch, m.incarnation)
        assert version >= last_version  # our own version never goes back
        last_version = version
        views = m.members()
        assert views["me"].state == "alive"
        assert all(v.state in ("alive", "suspect", "dead", "left") for v in views.values())
        deadline = m.next_deadline()
        assert deadline is None or deadline > now - 1e-9
