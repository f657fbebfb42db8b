"""The check for decimal numbers in outside text: what it takes, int() can read."""

from __future__ import annotations

import pytest

from node.cli._cameras import _onvif
from node.cli._client import CliError
from node.digits import is_digits
from node.membership import parse_address


@pytest.mark.parametrize("text", ["0", "7", "0042", "65535"])
def test_ascii_digits_are_taken(text: str) -> None:
    assert is_digits(text) and int(text) >= 0


@pytest.mark.parametrize(
    "text", ["", "²", "١٢", "-1", "+1", " 1", "1 ", "1_0", "1.0", "0x1", None, 5]
)
def test_anything_else_is_not(text: object) -> None:
    assert not is_digits(text)


def test_str_isdigit_alone_would_let_a_value_error_through() -> None:
    assert "²".isdigit()
    with pytest.raises(ValueError):
        int("²")


def test_parsers_of_outside_text_answer_with_their_own_error() -> None:
    with pytest.raises(ValueError, match="is not host:port"):
        parse_address("127.0.0.1:²")  # a gossiped address
    with pytest.raises(CliError, match="is not HOST\\[:PORT\\]"):
        _onvif("10.0.0.1:²", None, None)  # camkeep cameras add --onvif
