"""The [live] settings: STUN/TURN servers as a list or comma-separated text, anything
else refused with the key named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from node.config import LiveConfig


def test_ice_servers() -> None:
    assert LiveConfig().ice_servers == ()
    text = LiveConfig(ice_servers="stun:stun.example:3478, turn:turn.example:3478")
    assert text.ice_servers == ("stun:stun.example:3478", "turn:turn.example:3478")
    with pytest.raises(ValidationError, match="ice_servers"):
        LiveConfig(ice_servers=["http://not-ice"])
    with pytest.raises(ValidationError, match="playback_window_s"):
        LiveConfig(playback_window_s=1)
