"""The camera picture: right size, moves from frame to frame, differs per camera."""

from __future__ import annotations

import numpy as np

from emulator.picture import draw_picture


def test_picture_size_and_motion() -> None:
    first = draw_picture("Camera 1", 320, 180, 0, 25, "12:00:00")
    second = draw_picture("Camera 1", 320, 180, 1, 25, "12:00:00")
    assert first.size == (320, 180) and first.mode == "RGB"
    assert np.abs(np.asarray(first, int) - np.asarray(second, int)).mean() > 1


def test_name_and_clock_are_drawn() -> None:
    a = np.asarray(draw_picture("Camera 1", 320, 180, 5, 25, "12:00:00"), int)
    b = np.asarray(draw_picture("Camera 2", 320, 180, 5, 25, "12:00:00"), int)
    c = np.asarray(draw_picture("Camera 1", 320, 180, 5, 25, "13:11:11"), int)
    assert (a != b).any() and (a != c).any()


def test_tiny_pictures_do_not_fail() -> None:
    assert draw_picture("x", 16, 16, 99, 1, "").size == (16, 16)
