"""Camera state tables: versions on material change, deltas, confirmation, staleness."""

from __future__ import annotations

import pytest

from node.camerastate import (
    STALE_AFTER_S,
    CameraReport,
    OwnTable,
    RemoteReport,
    RemoteTables,
    StateError,
    best_remote,
    freshness,
    material_change,
)

REC = CameraReport("recording", None, 25.0, 4_000_000.0, "2026-01-01T00:00:00Z")


def test_only_material_changes_are_news() -> None:
    assert material_change(None, REC)
    assert not material_change(REC, CameraReport("recording", None, 24.6, 4_300_000.0, "later"))
    assert material_change(REC, CameraReport("recording", None, 12.0, 4_000_000.0))
    assert material_change(REC, CameraReport("recording", None, 25.0, 1_000_000.0))
    assert material_change(REC, CameraReport("reconnecting", "refused"))


def test_own_table_versions_and_deltas() -> None:
    table = OwnTable("e1")
    assert table.update({"c1": REC, "c2": REC})
    assert table.digest == "e1.1"
    assert not table.update({"c1": REC, "c2": CameraReport("recording", None, 25.2, 4_100_000.0)})
    assert table.update({"c1": REC})  # c2 stopped
    delta = table.message(since=1)
    assert delta["base"] == 1 and delta["version"] == 2
    assert delta["cameras"] == {"c2": CameraReport("stopped").to_json()}
    assert set(table.message()["cameras"]) == {"c1"}


def test_remote_tables_apply_deltas_in_order_and_ask_for_the_rest() -> None:
    own, remote = OwnTable("e1"), RemoteTables()
    own.update({"c1": REC})
    assert remote.apply("b", own.message(), now=10.0)
    own.update({"c1": REC, "c2": REC})
    own.update({"c2": REC})
    assert not remote.apply("b", own.message(since=2), now=11.0)  # we hold 1, not 2
    assert remote.needs_fetch("b", own.digest)
    assert remote.apply("b", own.message(), now=11.0)
    assert [r.server_id for r in remote.reports("c2")] == ["b"] and remote.reports("c1") == []
    assert not remote.needs_fetch("b", own.digest)
    assert remote.needs_fetch("b", "e2.1")  # the source restarted
    for bad in ("e2", "e2.x", "e2.²", ".3", None):  # a gossiped digest that is no digest
        assert not remote.needs_fetch("b", bad)


def test_confirmation_and_staleness() -> None:
    own, remote = OwnTable("e1"), RemoteTables()
    own.update({"c1": REC})
    remote.apply("b", own.message(), now=100.0)
    remote.confirm("b", "e1.1", now=110.0)
    report = remote.reports("c1")[0]
    assert report.confirmed_at == 110.0
    remote.confirm("b", "e1.9", now=120.0)  # we are behind: not confirmed
    assert remote.reports("c1")[0].confirmed_at == 110.0
    assert freshness(110.0, True, 110.0 + STALE_AFTER_S - 0.1) == (
        False,
        round(STALE_AFTER_S - 0.1, 1),
    )
    assert freshness(110.0, True, 120.0) == (True, 10.0)
    assert freshness(110.0, False, 110.5)[0]  # source not alive: stale at once


def test_best_remote_prefers_alive_recording_then_recent() -> None:
    quiet = RemoteReport("a", REC, 50.0)
    trying = RemoteReport("b", CameraReport("reconnecting", "x"), 60.0)
    live = RemoteReport("c", REC, 40.0)
    assert best_remote([quiet, trying, live], {"b", "c"}) == live
    assert best_remote([quiet, trying], {"b"}) == trying
    assert best_remote([], {"a"}) is None


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"epoch": "", "version": 1, "base": None, "cameras": {}},
        {"epoch": "e", "version": -1, "base": None, "cameras": {}},
        {"epoch": "e", "version": 1, "base": "x", "cameras": {}},
        {"epoch": "e", "version": 1, "base": None, "cameras": {"c": {"state": "dancing"}}},
        {
            "epoch": "e",
            "version": 1,
            "base": None,
            "cameras": {"c": {"state": "recording", "fps": "x"}},
        },
    ],
)
def test_malformed_tables_are_refused(bad: object) -> None:
    with pytest.raises(StateError):
        RemoteTables().apply("b", bad, now=0.0)
