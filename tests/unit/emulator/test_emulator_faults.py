"""FaultBoard: modes, the one-shot drop, subscribers, bad input."""

from __future__ import annotations

import pytest

from emulator.faults import FaultBoard, FaultError


def test_modes_and_notifications() -> None:
    board = FaultBoard(3)
    seen: list[tuple[int, str]] = []
    board.subscribe(lambda index, mode: seen.append((index, mode)))
    assert board.mode(1) == "ok" and board.accepts(1)
    board.set(2, "stall")
    assert board.mode(2) == "stall" and board.accepts(2)
    board.set(2, "offline")
    assert board.mode(2) == "offline" and not board.accepts(2)
    board.set(2, "drop")  # an event: announced, then the camera is ok
    assert board.mode(2) == "ok"
    board.set_all("stall")
    assert [board.mode(i) for i in (1, 2, 3)] == ["stall"] * 3
    board.set_all("ok")
    assert seen == [(2, "stall"), (2, "offline"), (2, "drop"), (1, "stall"), (2, "stall"),
                    (3, "stall"), (1, "ok"), (2, "ok"), (3, "ok")]  # fmt: skip


def test_bad_mode_or_camera_changes_nothing() -> None:
    board = FaultBoard(2)
    with pytest.raises(FaultError):
        board.set(1, "explode")  # type: ignore[arg-type]
    with pytest.raises(FaultError):
        board.set(3, "stall")
    with pytest.raises(FaultError):
        board.set(0, "stall")
    assert board.mode(1) == "ok"


def test_a_failing_subscriber_does_not_hide_the_fault() -> None:
    board = FaultBoard(1)
    seen = []

    def broken(index: int, mode: str) -> None:
        raise RuntimeError("boom")

    board.subscribe(broken)
    board.subscribe(lambda index, mode: seen.append(mode))
    board.set(1, "offline")
    assert seen == ["offline"] and board.mode(1) == "offline"
