"""The typed views of server and camera records: one defaults rule for every reader."""

from __future__ import annotations

import pytest

from node.system import MAX_CHANNELS, Camera, Priority, Server, new_server_record


def test_server_limit_defaults_to_its_licence_and_never_exceeds_it() -> None:
    assert Server.from_record({"id": "a", "licensed_channels": 32}).max_cameras == 32
    assert (
        Server.from_record({"id": "a", "licensed_channels": 32, "max_cameras": 64}).max_cameras
        == 32
    )
    assert (
        Server.from_record({"id": "a", "licensed_channels": 32, "max_cameras": 8}).max_cameras == 8
    )
    assert Server.from_record({"id": "a", "max_cameras": -3}).max_cameras == 0


def test_server_licence_defaults_to_and_is_capped_at_the_channel_ceiling() -> None:
    assert Server.from_record({"id": "a"}).licensed_channels == MAX_CHANNELS == 128
    assert Server.from_record({"id": "a", "licensed_channels": 500}).licensed_channels == 128


@pytest.mark.parametrize("junk", [None, "12", 3.5, True, [1]])
def test_server_numbers_of_the_wrong_type_take_the_defaults(junk: object) -> None:
    server = Server.from_record({"id": "a", "licensed_channels": junk, "max_cameras": junk})
    assert (server.licensed_channels, server.max_cameras) == (128, 128)


def test_failover_is_on_only_when_the_record_says_true() -> None:
    assert Server.from_record({"id": "a", "failover_enabled": True}).failover_enabled
    assert not Server.from_record({"id": "a", "failover_enabled": "yes"}).failover_enabled
    assert not Server.from_record({"id": "a"}).failover_enabled


def test_a_new_server_record_has_failover_off_and_its_licence_as_limit() -> None:
    record = new_server_record("n1", "http://127.0.0.1:7480", 16)
    server = Server.from_record({**record, "id": "x"})
    assert (server.failover_enabled, server.max_cameras, server.licensed_channels) == (
        False,
        16,
        16,
    )
    assert server.name == "n1" and server.url == "http://127.0.0.1:7480"


def test_camera_priority_and_continuous_recording_defaults() -> None:
    camera = Camera.from_record({"id": "c", "name": "Door"})
    assert camera.priority is Priority.MEDIUM
    assert camera.continuous_recording is True
    assert Camera.from_record({"id": "c", "priority": "bogus"}).priority is Priority.MEDIUM
    assert Camera.from_record({"id": "c", "priority": "never"}).priority is Priority.NEVER
    assert (
        Camera.from_record({"id": "c", "continuous_recording": False}).continuous_recording is False
    )


def test_priority_ranks_put_high_first_and_never_last() -> None:
    ranks = [p.rank for p in (Priority.HIGH, Priority.MEDIUM, Priority.LOW, Priority.NEVER)]
    assert ranks == sorted(ranks, reverse=True) and Priority.NEVER.rank == 0
    assert [p.value for p in Priority] == ["high", "medium", "low", "never"]
