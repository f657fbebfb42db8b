"""Detach planning and the 5-second confirmation token."""

from __future__ import annotations

import pytest

from node.system._detach import (
    CONFIRM_VALID_S,
    CONFIRM_WAIT_S,
    LAST_SERVER_WARNING,
    OFFLINE_WARNING,
    ConfirmError,
    camera_deletions,
    check_confirm_token,
    mint_confirm_token,
    plan_detach,
)

SECRET = b"s" * 32
SERVERS = [{"id": "a"}, {"id": "b"}]
CAMERAS = [
    {"id": "c1", "home_server_id": "b"},
    {"id": "c2", "home_server_id": "a"},
    {"id": "c3", "home_server_id": "b"},
]


def test_plan_keep_and_remove() -> None:
    keep = plan_detach("b", True, servers=SERVERS, cameras=CAMERAS, online=True, this_node_id="a")
    assert keep.camera_ids == ["c1", "c3"] and not keep.last_server and not keep.this_node
    assert camera_deletions(keep) == []
    assert keep.to_json()["warnings"] == []
    remove = plan_detach(
        "b", False, servers=SERVERS, cameras=CAMERAS, online=True, this_node_id="b"
    )
    assert camera_deletions(remove) == ["c1", "c3"] and remove.this_node
    assert "removed" in remove.to_json()["summary"]


def test_offline_and_last_server_warn() -> None:
    offline = plan_detach(
        "b", True, servers=SERVERS, cameras=CAMERAS, online=False, this_node_id="a"
    )
    assert offline.to_json()["warnings"] == [OFFLINE_WARNING]
    last = plan_detach("a", True, servers=[{"id": "a"}], cameras=[], online=True, this_node_id="a")
    assert last.last_server and last.to_json()["warnings"] == [LAST_SERVER_WARNING]


def test_confirm_only_after_the_wait_and_before_expiry() -> None:
    token, valid_from, expires_at = mint_confirm_token(SECRET, "b", True, now=100.0)
    assert valid_from == 100.0 + CONFIRM_WAIT_S
    assert expires_at == valid_from + CONFIRM_VALID_S
    with pytest.raises(ConfirmError, match="wait"):
        check_confirm_token(token, SECRET, "b", True, now=104.9)
    check_confirm_token(token, SECRET, "b", True, now=105.0)
    with pytest.raises(ConfirmError, match="expired"):
        check_confirm_token(token, SECRET, "b", True, now=expires_at)


def test_confirm_bound_to_server_choice_and_secret() -> None:
    token, *_ = mint_confirm_token(SECRET, "b", True, now=0.0)
    with pytest.raises(ConfirmError, match="another server"):
        check_confirm_token(token, SECRET, "a", True, now=10.0)
    with pytest.raises(ConfirmError, match="another server or camera choice"):
        check_confirm_token(token, SECRET, "b", False, now=10.0)
    with pytest.raises(ConfirmError, match="forged"):
        check_confirm_token(token, b"other", "b", True, now=10.0)


@pytest.mark.parametrize("bad", ["", "ckd1", "ckd1.a.b", "x.y.z", "ckd1." * 300])
def test_malformed_confirm_refused(bad: str) -> None:
    with pytest.raises(ConfirmError):
        check_confirm_token(bad, SECRET, "b", True, now=10.0)
