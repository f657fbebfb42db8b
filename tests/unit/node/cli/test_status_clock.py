"""`camkeep status` prints a line for a clock that is off."""

from __future__ import annotations

from node.cli._status import clock_lines


def test_lines_for_this_server_and_for_a_peer() -> None:
    status = {
        "clock_warning": "this server's clock differs from the other servers by about 3600 s",
        "servers": [
            {"name": "a", "clock": "ok", "clock_warning": None},
            {"name": "x", "clock": "refused", "clock_warning": "the clock of server x differs"},
            {"name": "b", "clock": None, "clock_warning": None},
        ],
    }
    assert clock_lines(status) == [
        "clock       this server's clock differs from the other servers by about 3600 s",
        "clock       x (refused): the clock of server x differs",
    ]
    assert clock_lines({"clock_warning": None, "servers": [{"name": "a", "clock": "ok"}]}) == []
