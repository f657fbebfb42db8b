"""The CLI's one rule from what the user typed to a record: exact id, exact name, id
prefix; one clear error for no match and for an ambiguity."""

from __future__ import annotations

import pytest

from node.cli._client import CliError
from node.cli._resolve import CAMERA, SERVER, USER, match

CAMERAS = [
    {"id": "3f2a9c00-0000-4000-8000-000000000001", "name": "gate"},
    {"id": "3f2a9c11-0000-4000-8000-000000000002", "name": "yard"},
    {"id": "77aa0000-0000-4000-8000-000000000003", "name": "dup"},
    {"id": "88bb0000-0000-4000-8000-000000000004", "name": "dup"},
    {"id": "99cc0000-0000-4000-8000-000000000005", "name": "77aa"},
]
USERS = [{"username": "alice", "role": "owner"}, {"username": "al", "role": "viewer"}]


def test_exact_id_name_and_prefix() -> None:
    assert match(CAMERAS, CAMERA, CAMERAS[1]["id"]) is CAMERAS[1]
    assert match(CAMERAS, CAMERA, "gate") is CAMERAS[0]
    assert match(CAMERAS, CAMERA, "3f2a9c1") is CAMERAS[1]


def test_a_name_wins_over_an_id_prefix() -> None:
    assert match(CAMERAS, CAMERA, "77aa") is CAMERAS[4]


@pytest.mark.parametrize("wanted", ["ghost", "", "3f2a9c00-0000-4000-8000-00000000000x"])
def test_unknown_is_one_clear_error(wanted: str) -> None:
    with pytest.raises(CliError) as info:
        match(CAMERAS, CAMERA, wanted)
    assert str(info.value) == f"no camera {wanted!r}"


@pytest.mark.parametrize("wanted", ["dup", "3f2a9c"])
def test_ambiguous_names_and_prefixes_are_refused(wanted: str) -> None:
    with pytest.raises(CliError, match=f"'{wanted}' matches 2 cameras") as info:
        match(CAMERAS, CAMERA, wanted)
    assert "give the id" in str(info.value)


def test_servers_follow_the_same_rule() -> None:
    servers = [{"id": "abcdef", "name": "alpha"}, {"id": "abc999", "name": None}]
    assert match(servers, SERVER, "abcd")["name"] == "alpha"
    with pytest.raises(CliError, match="no server 'nosuch'"):
        match(servers, SERVER, "nosuch")


def test_user_names_are_never_shortened() -> None:
    assert match(USERS, USER, "al") is USERS[1]
    assert match(USERS, USER, "alice") is USERS[0]
    with pytest.raises(CliError, match="no user 'ali'"):
        match(USERS, USER, "ali")  # a prefix of alice: refused, it could delete the wrong one
